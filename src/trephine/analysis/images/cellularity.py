"""Trephine H&E cellularity: haematopoietic versus fat area of the marrow space.

Operational definition (docs/images.md): every pixel is one of

* **fat** - an adipocyte: a white (unstained) space enclosed by tissue, at least
  ``min_fat_diameter_um`` across, roughly round, together with the thin membranes between
  neighbouring vacuoles (a closing of ``membrane_um``);
* **haematopoietic** - stained marrow tissue that is neither bone nor artefact, including the
  small white spaces inside it (sinusoids, retraction), which are narrower than a fat cell;
* **excluded** - bare glass (background: white space wider than ``max_fat_diameter_um``, or
  open to the image edge along a longer stretch than that), bone trabeculae (eosinophilic
  tissue with little haematoxylin, both stains averaged over the stained pixels only, in a
  region at least the area of a ``min_bone_diameter_um`` disk), and artefacts: tears (long,
  narrow white spaces), folds (tissue with optical density above ``fold_od`` over a
  nucleus-sized neighbourhood, doubled in eosin as well) and ink or debris (colours outside
  the H&E range: green, blue or grey-black).

**Cellularity % = haematopoietic area / (haematopoietic + fat area) × 100.** The parameters are
Trephine's operational choices ([I]), the fields of :class:`CellularityParameters`, given in
micrometres and converted with the image's pixel size; they were calibrated on seeded phantoms
(:mod:`trephine.analysis.images.phantoms`) and checked on held-out ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage import morphology

from trephine.analysis.images.colour import optical_density, saturation, stains

__all__ = [
    "METHOD_VERSION",
    "CellularityParameters",
    "CellularityResult",
    "Segment",
    "measure_cellularity",
    "overlay",
]

#: The version of this definition and its parameters; stored with every measurement.
METHOD_VERSION = "cellularity-he-3"


class Segment:
    EXCLUDED = 0
    HAEMATOPOIETIC = 1
    FAT = 2


@dataclass(frozen=True)
class CellularityParameters:
    """The [I] operational parameters (micrometres unless stated)."""

    #: Smallest adipocyte (equivalent diameter); smaller white spaces are sinusoids.
    min_fat_diameter_um: float = 12.0
    #: Largest adipocyte; wider white spaces, and white open to the image edge along a longer
    #: stretch, are glass or holes.
    max_fat_diameter_um: float = 80.0
    #: White spaces less round than this solidity and this elongated are tears.
    tear_min_elongation: float = 4.0
    #: Membrane width bridged between neighbouring vacuoles.
    membrane_um: float = 1.5
    #: Unstained pixel: optical density summed over R, G, B below this.
    white_od: float = 0.25
    #: Fold: optical density (summed over R, G, B) above this ...
    fold_od: float = 1.1
    #: ... over a half-width greater than the largest nucleus radius ...
    fold_min_half_width_um: float = 4.0
    #: ... and with an eosin density, averaged over the dark region, at least this many times
    #: the median of the stained tissue's (two layers of tissue; a nucleus is dark in
    #: haematoxylin only).
    fold_min_eosin_ratio: float = 1.5
    #: Bone: haematoxylin density below this and eosin density above ``bone_min_eosin``, both
    #: averaged over the stained pixels within ~``bone_smooth_um`` (Gaussian σ) ...
    bone_max_haematoxylin: float = 0.02
    bone_min_eosin: float = 0.023
    bone_smooth_um: float = 2.0
    #: ... surviving an opening of this radius (thinner pale strands, such as fat-cell
    #: membranes, are not bone) ...
    bone_open_um: float = 1.5
    #: ... in a connected region at least the area of a disk this wide.
    min_bone_diameter_um: float = 20.0


@dataclass(frozen=True)
class CellularityResult:
    cellularity_pct: float
    haematopoietic_px: int
    fat_px: int
    excluded_px: int
    #: Excluded area by reason (pixels): background, bone, tear, fold, ink.
    excluded_by_reason: dict[str, int]
    segments: np.ndarray
    mpp: float
    parameters: CellularityParameters

    def as_dict(self) -> dict[str, object]:
        total = self.segments.size
        return {
            "cellularity_pct": round(self.cellularity_pct, 1),
            "haematopoietic_fraction_of_image": round(self.haematopoietic_px / total, 4),
            "fat_fraction_of_image": round(self.fat_px / total, 4),
            "excluded_fraction_of_image": round(self.excluded_px / total, 4),
            "excluded_by_reason": {
                k: round(v / total, 4) for k, v in self.excluded_by_reason.items()
            },
            "mpp": self.mpp,
            "method": METHOD_VERSION,
            "parameters": asdict(self.parameters),
        }


def _px(um: float, mpp: float) -> float:
    return um / mpp


def _runs(line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The label and length of every run of equal labels along ``line``."""
    starts = np.flatnonzero(np.r_[True, line[1:] != line[:-1]])
    lengths = np.diff(np.r_[starts, line.size])
    return line[starts], lengths


def measure_cellularity(
    rgb: np.ndarray, mpp: float, parameters: CellularityParameters | None = None
) -> CellularityResult:
    """Segment an H&E image (uint8 RGB, ``mpp`` micrometres per pixel) and measure cellularity."""
    p = parameters or CellularityParameters()
    fat, excluded = exclusions(rgb, mpp, p)
    out = np.zeros(fat.shape, dtype=bool)
    for mask in excluded.values():
        out |= mask
    segments = np.full(fat.shape, Segment.HAEMATOPOIETIC, dtype=np.uint8)
    segments[fat & ~out] = Segment.FAT
    segments[out] = Segment.EXCLUDED
    cells = int(np.count_nonzero(segments == Segment.HAEMATOPOIETIC))
    fat_px = int(np.count_nonzero(segments == Segment.FAT))
    pct = 100.0 * cells / (cells + fat_px) if cells + fat_px else float("nan")
    return CellularityResult(
        pct,
        cells,
        fat_px,
        int(np.count_nonzero(out)),
        {k: int(np.count_nonzero(v)) for k, v in excluded.items()},
        segments,
        mpp,
        p,
    )


def exclusions(
    rgb: np.ndarray, mpp: float, p: CellularityParameters
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The fat mask and the excluded masks by reason (background, bone, tear, fold, ink; each
    pixel in at most one), before fat is overruled by an exclusion."""
    od = optical_density(rgb)
    od_sum = od.sum(axis=-1)
    sat = saturation(rgb)
    white = (od_sum < p.white_od) & (sat < 0.12)
    white = morphology.remove_small_holes(white, max_size=4)
    excluded: dict[str, np.ndarray] = {}

    # White spaces. A fat cell is wide: it holds a disk of half the smallest adipocyte's
    # radius. Narrow white (tears, gaps, sinusoids) is split from wide white by an opening made
    # of two distance transforms, so a tear running through fat cells does not join them.
    r_open = _px(p.min_fat_diameter_um, mpp) / 4
    cores = ndi.distance_transform_edt(white) > r_open
    wide = white & (ndi.distance_transform_edt(~cores) <= r_open + 1)
    narrow = white & ~wide
    min_fat_area = np.pi * (_px(p.min_fat_diameter_um, mpp) / 2) ** 2
    max_fat_px = _px(p.max_fat_diameter_um, mpp)
    wide_labels, n_wide = ndi.label(wide)
    areas = np.bincount(wide_labels.ravel(), minlength=n_wide + 1)
    # How wide each white space is: the largest disk it holds, where the image edge is no
    # boundary (the space may go on beyond it), so an adipocyte cut by the edge is judged by
    # its own width and several vacuoles run together by one vacuole's width.
    margin = int(max_fat_px / 2) + 2
    inscribed = ndi.distance_transform_edt(np.pad(wide, margin, constant_values=True))[
        margin:-margin, margin:-margin
    ]
    widths = np.zeros(n_wide + 1, dtype=np.float64)
    np.maximum.at(widths, wide_labels[wide], 2 * inscribed[wide])
    # The longest unbroken stretch of one image edge each white space is open to: a cut
    # adipocyte's is at most its diameter; the glass beside a core runs along the edge.
    contact = np.zeros(n_wide + 1, dtype=np.int64)
    for side in (wide_labels[0], wide_labels[-1], wide_labels[:, 0], wide_labels[:, -1]):
        np.maximum.at(contact, *_runs(side))
    kind = np.zeros(n_wide + 1, dtype=np.uint8)  # 0 marrow space, 1 fat, 2 glass
    kind[areas >= min_fat_area] = 1
    kind[widths > max_fat_px] = 2
    kind[contact > max_fat_px] = 2
    kind[0] = 0
    kinds = kind[wide_labels]
    fat = kinds == 1
    glass = kinds == 2
    # Narrow white: long thin components are tears; the rest is marrow space.
    narrow_labels, n_narrow = ndi.label(narrow, structure=np.ones((3, 3)))
    tear = np.zeros_like(white)
    if n_narrow:
        slices = ndi.find_objects(narrow_labels)
        counts = np.bincount(narrow_labels.ravel(), minlength=n_narrow + 1)
        long_ids = []
        for index, where in enumerate(slices, start=1):
            if where is None:
                continue
            extent = max(where[0].stop - where[0].start, where[1].stop - where[1].start)
            if extent >= _px(p.min_fat_diameter_um, mpp) * 1.5 and (
                extent * extent / max(counts[index], 1) >= p.tear_min_elongation
            ):
                long_ids.append(index)
        tear = np.isin(narrow_labels, long_ids)
    membrane = max(1, round(_px(p.membrane_um, mpp)))
    fat = ndi.binary_closing(fat, structure=morphology.disk(membrane), border_value=0) | fat
    # Fat cells keep the narrow rim the opening shaved off them.
    fat |= narrow & ndi.binary_dilation(fat, iterations=2) & ~tear
    # ... and their own membrane: the pale (not nuclear) rim around each vacuole.
    hed = stains(rgb)
    pale = hed[..., 0] < 0.06
    fat |= ndi.binary_dilation(fat, structure=morphology.disk(membrane)) & pale & ~tear
    # Glass grows over its blurred rim; tears likewise.
    glass = ndi.binary_dilation(glass, iterations=2) & ~fat
    tear = ndi.binary_dilation(tear, iterations=2) & ~fat & ~glass

    # Ink and debris: colours outside the H&E range.
    r = rgb[..., 0].astype(np.int16)
    g = rgb[..., 1].astype(np.int16)
    b = rgb[..., 2].astype(np.int16)
    greenish = (g > r + 10) & (od_sum > 0.3)
    blueish = (b > r + 60) & (od_sum > 0.6)
    grey_black = (od_sum > 1.5) & (sat < 0.25)
    ink = greenish | blueish | grey_black
    ink = ndi.binary_opening(ink, iterations=1)
    ink = ndi.binary_dilation(ink, iterations=2)

    # Folds: doubled tissue, dark over a neighbourhood larger than a nucleus.
    # A fold is dark over a width no nucleus reaches: its core lies farther than a nucleus
    # radius from any lighter pixel; the fold is the dark region grown back from its cores.
    dark = (ndi.gaussian_filter(od_sum, 1.0) > p.fold_od) & ~ink
    reach = _px(p.fold_min_half_width_um, mpp)
    fold_cores = ndi.distance_transform_edt(dark) > reach
    fold = dark & (ndi.distance_transform_edt(~fold_cores) <= reach + 2)
    # Doubled tissue is doubled in eosin too; a nucleus, or a crowd of them, is dark in
    # haematoxylin only (at a higher magnification than assumed, nuclei reach the width).
    fold_labels, n_fold = ndi.label(fold)
    if n_fold:
        tissue = ~white & ~ink
        tissue_eosin = float(np.median(hed[..., 1][tissue])) if tissue.any() else 0.0
        eosin = np.asarray(
            ndi.mean(hed[..., 1], fold_labels, index=np.arange(n_fold + 1)), dtype=np.float64
        )
        doubled = eosin >= p.fold_min_eosin_ratio * max(tissue_eosin, 1e-3)
        doubled[0] = False
        fold = doubled[fold_labels]
    fold = ndi.binary_dilation(fold, iterations=2)

    # Bone: eosinophilic tissue with little haematoxylin. The stain densities are averaged over
    # the stained pixels only (a normalised convolution), so the white of the fat cells that
    # crowd a thin trabecula does not dilute its eosin below the threshold.
    stained = ~white & ~ink & ~fold
    sigma = _px(p.bone_smooth_um, mpp)
    weight = ndi.gaussian_filter(stained.astype(np.float64), sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        h_density = ndi.gaussian_filter(np.where(stained, hed[..., 0], 0.0), sigma) / weight
        e_density = ndi.gaussian_filter(np.where(stained, hed[..., 1], 0.0), sigma) / weight
    bone = stained & (h_density < p.bone_max_haematoxylin) & (e_density > p.bone_min_eosin)
    opening = morphology.disk(max(1, int(_px(p.bone_open_um, mpp))))
    bone = ndi.binary_opening(bone, structure=opening)
    bone_r = _px(p.min_bone_diameter_um, mpp) / 2
    bone = morphology.remove_small_objects(bone, max_size=int(np.pi * bone_r * bone_r))
    bone = ndi.binary_closing(bone, structure=morphology.disk(3)) & ~fat & ~glass

    excluded = {
        "background": glass,
        "bone": bone & ~glass,
        "tear": tear & ~glass & ~bone,
        "fold": fold & ~glass & ~bone & ~tear,
        "ink": ink & ~glass & ~bone & ~tear & ~fold,
    }
    return fat, excluded


#: Overlay colours: haematopoietic magenta, fat yellow, excluded blue-grey.
_TINTS = {
    Segment.HAEMATOPOIETIC: np.array([200, 0, 160], dtype=np.float32),
    Segment.FAT: np.array([255, 210, 0], dtype=np.float32),
    Segment.EXCLUDED: np.array([60, 90, 140], dtype=np.float32),
}


def overlay(rgb: np.ndarray, segments: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The image with each segment tinted, for a person to check the segmentation."""
    out = rgb.astype(np.float32)
    for segment, tint in _TINTS.items():
        where = segments == segment
        out[where] = (1 - alpha) * out[where] + alpha * tint
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
