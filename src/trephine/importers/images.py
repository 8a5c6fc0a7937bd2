"""Marrow images → measurements: read, check quality, analyse, and build the ``measurement``
values the CLI stores (``trephine image … --store --specimen ACC``).

Every analysis first runs the quality checks (:mod:`trephine.analysis.images.quality`); an
unusable image is refused with the reasons, naming the file. The pixel size comes from
``mpp`` when given, else from the file; cellularity falls back to :data:`DEFAULT_MPP` with a
warning, densities (per mm²) need a known pixel size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from trephine import __version__
from trephine.analysis.images.cellularity import (
    METHOD_VERSION,
    CellularityResult,
    Segment,
    measure_cellularity,
    overlay,
)
from trephine.analysis.images.ihc import (
    IhcResult,
    iron_area_fraction,
    microvessel_density,
    reticulin_density,
)
from trephine.analysis.images.nuclei import detect_nuclei, load_model, nucleus_density
from trephine.analysis.images.quality import QualityReport, check_quality
from trephine.errors import ValidationError
from trephine.importers.flow_mrd import sha256_of
from trephine.io.images import Image, open_slide, read_image, write_png

__all__ = [
    "DEFAULT_MPP",
    "STAINS",
    "ImageRefused",
    "analyse_cellularity",
    "analyse_ihc",
    "analyse_nuclei",
    "analyse_slide",
    "cellularity_measurement",
    "ihc_measurement",
    "load_checked",
    "nuclei_measurement",
    "slide_measurements",
]

#: Pixel size assumed for cellularity when neither the file nor ``--mpp`` gives one ([I]:
#: a 20x scan). Densities never assume it.
DEFAULT_MPP = 0.5
STAINS = ("cd34", "perls", "reticulin")


class ImageRefused(ValidationError):
    """The image failed a quality check; the reasons name what to fix."""

    def __init__(self, path: Path, report: QualityReport) -> None:
        super().__init__(
            "image",
            str(path),
            "a focused, stained image with tissue",
            reason="; ".join(report.refusals),
        )
        self.report = report


def load_checked(path: Path, *, check: bool = True) -> tuple[Image, QualityReport]:
    image = read_image(path)
    report = check_quality(image.rgb)
    if check and not report.usable:
        raise ImageRefused(path, report)
    return image, report


def _mpp(image: Image, mpp: float | None, *, required: str | None) -> float | None:
    if mpp is not None:
        if not 0.01 <= mpp <= 100:
            raise ValidationError("mpp", mpp, "micrometres per pixel between 0.01 and 100")
        return mpp
    if image.mpp is not None:
        return image.mpp
    if required:
        raise ValidationError(
            "mpp",
            None,
            "micrometres per pixel (the file does not record its pixel size)",
            reason=required,
        )
    return None


@dataclass(frozen=True)
class CellularityRun:
    image: Image
    quality: QualityReport
    result: CellularityResult
    overlay_path: Path | None
    mpp_assumed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.image.path),
            "cellularity_pct": round(self.result.cellularity_pct, 1),
            "overlay": None if self.overlay_path is None else str(self.overlay_path),
            "mpp_assumed": self.mpp_assumed,
            **{k: v for k, v in self.result.as_dict().items() if k != "cellularity_pct"},
            "quality": self.quality.as_dict(),
            "software": f"trephine {__version__}",
        }


def analyse_cellularity(
    path: Path, *, mpp: float | None = None, overlay_path: Path | None = None
) -> CellularityRun:
    image, report = load_checked(path)
    size = _mpp(image, mpp, required=None)
    assumed = size is None
    if size is None:
        warnings.warn(
            f"{path}: the pixel size is not recorded; assumed {DEFAULT_MPP} µm/px "
            "(give the pixel size for another scan)",
            UserWarning,
            stacklevel=2,
        )
        size = DEFAULT_MPP
    result = measure_cellularity(image.rgb, size)
    if result.haematopoietic_px + result.fat_px == 0:
        raise ValidationError(
            "image",
            str(path),
            "an image with marrow space",
            reason="everything was excluded (glass, bone or artefact)",
        )
    out = overlay_path or path.with_name(f"{path.stem}.cellularity.png")
    write_png(out, overlay(image.rgb, result.segments))
    return CellularityRun(image, report, result, out, assumed)


@dataclass(frozen=True)
class NucleiRun:
    image: Image
    quality: QualityReport
    #: Every detected centre (x = column, y = row), wherever it lies.
    nuclei: np.ndarray
    #: How many of them lie in the marrow space (the density's numerator).
    in_marrow: int
    marrow_px: int
    mpp: float | None

    @property
    def density(self) -> float | None:
        if self.mpp is None or self.marrow_px == 0:
            return None
        return nucleus_density(self.in_marrow, self.marrow_px, self.mpp)

    def as_dict(self) -> dict[str, Any]:
        density = self.density
        return {
            "file": str(self.image.path),
            "nuclei": [[round(float(x), 1), round(float(y), 1)] for x, y in self.nuclei],
            "count": len(self.nuclei),
            "count_in_marrow_space": self.in_marrow,
            "marrow_space_px": self.marrow_px,
            "mpp": self.mpp,
            "density_per_mm2": None if density is None else round(density, 0),
            "detector": load_model().info(),
            "quality": self.quality.as_dict(),
            "software": f"trephine {__version__}",
        }


def analyse_nuclei(path: Path, *, mpp: float | None = None, check: bool = True) -> NucleiRun:
    """Every detected nucleus centre, and the density of those in the marrow space
    (haematopoietic + fat area of the cellularity segmentation) when the pixel size is known.

    The list holds every detection: the segmentation's exclusions (glass, bone, folds, ink) are
    a denominator for the density, not a filter on what the detector saw (with method 2 of
    the segmentation, which called dark nuclei folds, dropping them lost a third of the
    annotated ones on the Kainz tiles)."""
    image, report = load_checked(path, check=check)
    size = _mpp(image, mpp, required=None)
    nuclei = detect_nuclei(image.rgb)
    segments = measure_cellularity(image.rgb, size or DEFAULT_MPP).segments
    marrow = segments != Segment.EXCLUDED
    in_marrow = np.zeros(len(nuclei), dtype=bool)
    if len(nuclei):
        cols = np.clip(np.round(nuclei[:, 0]).astype(int), 0, marrow.shape[1] - 1)
        rows = np.clip(np.round(nuclei[:, 1]).astype(int), 0, marrow.shape[0] - 1)
        in_marrow = marrow[rows, cols]
    return NucleiRun(image, report, nuclei, int(in_marrow.sum()), int(marrow.sum()), size)


#: Slide tiles: size and the margin read around each (pixels of the chosen level). The margin
#: is wider than a nucleus and than the reach of the detector's network that matters (its map
#: 32 px from a cut edge differs by at most 0.0007 from the uncut one, on a Kainz tile), so a
#: nucleus on a seam is judged whole by the tile whose core holds its centre.
SLIDE_TILE = 1024
SLIDE_MARGIN = 32
#: Longer side of the slide overlay PNG at most (pixels).
SLIDE_OVERLAY_PX = 2048


@dataclass
class SlideRun:
    """Nuclei and cellularity of a whole slide, summed over its tiles' cores."""

    path: Path
    level: int
    downsample: float
    level_size: tuple[int, int]
    tile: int
    mpp: float | None
    mpp_assumed: bool
    tiles: int = 0
    analysed: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    haematopoietic_px: int = 0
    fat_px: int = 0
    marrow_px: int = 0
    nuclei: int = 0
    overlay_path: Path | None = None

    @property
    def cellularity_pct(self) -> float | None:
        total = self.haematopoietic_px + self.fat_px
        return 100.0 * self.haematopoietic_px / total if total else None

    @property
    def density(self) -> float | None:
        if self.mpp is None or self.mpp_assumed or self.marrow_px == 0:
            return None
        return nucleus_density(self.nuclei, self.marrow_px, self.mpp)

    def as_dict(self) -> dict[str, Any]:
        cellularity, density = self.cellularity_pct, self.density
        return {
            "file": str(self.path),
            "level": self.level,
            "downsample": round(self.downsample, 3),
            "level_size": list(self.level_size),
            "tile_px": self.tile,
            "mpp": None if self.mpp is None else round(self.mpp, 4),
            "mpp_assumed": self.mpp_assumed,
            "tiles": self.tiles,
            "tiles_analysed": self.analysed,
            "tiles_refused": dict(sorted(self.refused.items())),
            "cellularity_pct": None if cellularity is None else round(cellularity, 1),
            "overlay": None if self.overlay_path is None else str(self.overlay_path),
            "haematopoietic_px": self.haematopoietic_px,
            "fat_px": self.fat_px,
            "marrow_space_px": self.marrow_px,
            "nuclei_count": self.nuclei,
            "density_per_mm2": None if density is None else round(density, 0),
            "cellularity_method": METHOD_VERSION,
            "detector": load_model().info(),
            "software": _software(),
        }


def analyse_slide(
    path: Path,
    *,
    level: int = 0,
    tile: int = SLIDE_TILE,
    mpp: float | None = None,
    overlay_path: Path | None = None,
    overlay_px: int = SLIDE_OVERLAY_PX,
) -> SlideRun:
    """Nuclei and cellularity of a whole-slide or pyramidal TIFF at ``level``, tile by tile.

    Each tile is read with a margin (:data:`SLIDE_MARGIN`) and its core quality-checked; a
    refused tile (glass, out of focus, unstained) is counted under its reason and left out,
    while the tiles beside it still see the tissue in their margins. Nuclei whose
    centre lies in a tile's core, and the core's haematopoietic and fat pixels, are summed over
    the slide, so memory is bounded by the tile size whatever the slide size. The pixel size
    is the file's (or ``mpp``, for level 0) times the level's downsample.

    With ``overlay_path``, a PNG of the whole level at most ``overlay_px`` on its longer side
    (every n-th pixel) is written with the cellularity tints of :func:`overlay` on the
    analysed tiles and the plain image on the refused ones."""
    with open_slide(path) as slide:
        scale = slide.downsample(level)
        base = _mpp_of(mpp, slide.mpp)
        assumed = base is None
        if base is None:
            warnings.warn(
                f"{path}: the pixel size is not recorded; cellularity assumes {DEFAULT_MPP} "
                "µm/px at level 0 and no density per mm² is given (give the pixel size)",
                UserWarning,
                stacklevel=2,
            )
        run = SlideRun(
            path,
            level,
            scale,
            slide.level_size(level),
            tile,
            (base or DEFAULT_MPP) * scale,
            assumed,
        )
        assert run.mpp is not None
        width, height = run.level_size
        step = max(1, -(-max(width, height) // overlay_px))
        thumbnail = (
            np.zeros((-(-height // step), -(-width // step), 3), dtype=np.uint8)
            if overlay_path is not None
            else None
        )
        for region in slide.regions(tile, level=level, margin=SLIDE_MARGIN):
            run.tiles += 1
            core_rgb = np.ascontiguousarray(region.core(region.rgb))
            report = check_quality(core_rgb)
            if not report.usable:
                for reason in report.refusals:
                    key = reason.split(":", 1)[0]
                    run.refused[key] = run.refused.get(key, 0) + 1
                if thumbnail is not None:
                    _paste(thumbnail, region.x, region.y, core_rgb, step)
                continue
            run.analysed += 1
            segments = measure_cellularity(region.rgb, run.mpp).segments
            core = region.core(segments)
            if thumbnail is not None:
                _paste(thumbnail, region.x, region.y, overlay(core_rgb, core), step)
            run.haematopoietic_px += int(np.count_nonzero(core == Segment.HAEMATOPOIETIC))
            run.fat_px += int(np.count_nonzero(core == Segment.FAT))
            run.marrow_px += int(np.count_nonzero(core != Segment.EXCLUDED))
            found = detect_nuclei(region.rgb)
            if len(found):
                cols = np.round(found[:, 0]).astype(int)
                rows = np.round(found[:, 1]).astype(int)
                keep = region.in_core(cols, rows)
                keep[keep] = segments[rows[keep], cols[keep]] != Segment.EXCLUDED
                run.nuclei += int(np.count_nonzero(keep))
    if run.analysed == 0 or run.haematopoietic_px + run.fat_px == 0:
        reasons = ", ".join(f"{k} ({v} tiles)" for k, v in sorted(run.refused.items()))
        raise ValidationError(
            "slide",
            str(path),
            "a slide with usable marrow tissue",
            reason=f"no tile of level {level} was usable: {reasons or 'no marrow space'}",
        )
    if thumbnail is not None and overlay_path is not None:
        run.overlay_path = write_png(overlay_path, thumbnail)
    return run


def _paste(thumbnail: np.ndarray, x: int, y: int, image: np.ndarray, step: int) -> None:
    """Every ``step``-th pixel of ``image`` (placed at ``x``, ``y`` of the level) into the
    thumbnail: the level pixels whose row and column are multiples of ``step``."""
    top, left = -y % step, -x % step
    part = image[top::step, left::step]
    row, col = (y + top) // step, (x + left) // step
    thumbnail[row : row + part.shape[0], col : col + part.shape[1]] = part


def _mpp_of(given: float | None, recorded: float | None) -> float | None:
    if given is not None:
        if not 0.01 <= given <= 100:
            raise ValidationError("mpp", given, "micrometres per pixel between 0.01 and 100")
        return given
    return recorded


def analyse_ihc(path: Path, stain: str, *, mpp: float | None = None) -> tuple[Image, IhcResult]:
    if stain not in STAINS:
        raise ValidationError("stain", stain, STAINS)
    image = read_image(path)
    size = _mpp(image, mpp, required=None)
    if size is None:
        if stain == "cd34":
            raise ValidationError(
                "mpp", None, "micrometres per pixel", reason="vessels/mm² needs the pixel size"
            )
        size = DEFAULT_MPP
    try:
        if stain == "cd34":
            return image, microvessel_density(image.rgb, size)
        if stain == "perls":
            return image, iron_area_fraction(image.rgb, size)
        return image, reticulin_density(image.rgb, size)
    except ValueError as exc:
        raise ValidationError("image", str(path), "an image with tissue", reason=str(exc)) from None


def _software() -> str:
    return f"trephine {__version__}"


def cellularity_measurement(run: CellularityRun) -> Any:
    from trephine.domain.quantity import Quantity
    from trephine.domain.results import Measurement, MeasurementMethod

    flags = [f"method {METHOD_VERSION}", "phantom MAE and definition in docs/images.md"]
    if run.mpp_assumed:
        flags.append(f"pixel size assumed {DEFAULT_MPP} µm/px")
    return Measurement.of(
        "cellularity",
        Quantity(Decimal(f"{run.result.cellularity_pct:.1f}"), "%"),
        MeasurementMethod.IMAGE,
        region=f"image {run.image.path.name}",
        stain="H&E",
        source_file=run.image.path.name,
        source_sha256=sha256_of(run.image.path),
        software=_software(),
        flags=tuple(flags),
    )


def nuclei_measurement(run: NucleiRun) -> Any:
    from trephine.domain.quantity import Quantity
    from trephine.domain.results import Measurement, MeasurementMethod

    density = run.density
    if density is None or run.mpp is None:
        raise ValidationError(
            "mpp", None, "micrometres per pixel", reason="a stored density needs the pixel size"
        )
    return Measurement.of(
        "nucleus density",
        Quantity(Decimal(f"{density:.0f}"), "cells/mm2"),
        MeasurementMethod.IMAGE,
        region=f"marrow space of image {run.image.path.name}",
        stain="H&E",
        area_mm2=Decimal(f"{run.marrow_px * (run.mpp / 1000) ** 2:.6f}"),
        objects_counted=run.in_marrow,
        source_file=run.image.path.name,
        source_sha256=sha256_of(run.image.path),
        software=_software(),
        flags=(load_model().summary(),),
    )


def slide_measurements(run: SlideRun) -> list[Any]:
    """The slide's cellularity, and its nucleus density when the pixel size is known, as
    draft ``measurement`` values (region: the slide, its level and the tiles analysed)."""
    from trephine.domain.quantity import Quantity
    from trephine.domain.results import Measurement, MeasurementMethod

    cellularity = run.cellularity_pct
    assert cellularity is not None  # analyse_slide refuses a slide without marrow space
    region = f"whole slide, level {run.level}, {run.analysed} of {run.tiles} tiles analysed"
    common: dict[str, Any] = {
        "region": region,
        "stain": "H&E",
        "source_file": run.path.name,
        "source_sha256": sha256_of(run.path),
        "software": _software(),
    }
    flags = [f"method {METHOD_VERSION}", "phantom MAE and definition in docs/images.md"]
    if run.mpp_assumed:
        flags.append(f"pixel size assumed {DEFAULT_MPP} µm/px at level 0")
    values = [
        Measurement.of(
            "cellularity",
            Quantity(Decimal(f"{cellularity:.1f}"), "%"),
            MeasurementMethod.IMAGE,
            flags=tuple(flags),
            **common,
        )
    ]
    density = run.density
    if density is not None and run.mpp is not None:
        values.append(
            Measurement.of(
                "nucleus density",
                Quantity(Decimal(f"{density:.0f}"), "cells/mm2"),
                MeasurementMethod.IMAGE,
                area_mm2=Decimal(f"{run.marrow_px * (run.mpp / 1000) ** 2:.6f}"),
                objects_counted=run.nuclei,
                flags=(
                    load_model().summary(),
                    f"level {run.level} at {run.mpp:.3g} µm/px",
                ),
                **common,
            )
        )
    return values


def ihc_measurement(image: Image, result: IhcResult) -> Any:
    from trephine.domain.quantity import Quantity
    from trephine.domain.results import Measurement, MeasurementMethod

    area = result.details.get("tissue_mm2")
    return Measurement.of(
        result.index,
        Quantity(Decimal(f"{result.value:.2f}"), result.unit),
        MeasurementMethod.IMAGE,
        region=f"tissue of image {image.path.name}",
        stain=str(result.details.get("stain")),
        area_mm2=None if not area else Decimal(f"{area:.6f}"),
        objects_counted=result.objects,
        source_file=image.path.name,
        source_sha256=sha256_of(image.path),
        software=_software(),
        flags=("continuous research index, not a WHO grade",),
    )
