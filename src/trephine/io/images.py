"""Reading marrow images: tiles (PNG, JPEG, TIFF, WebP) and whole-slide images.

* :func:`read_image` - one tile as an RGB uint8 array (scikit-image / imageio), with its pixel
  size when the file records one.
* :func:`open_slide` - a whole-slide or pyramidal TIFF (SVS, generic tiled TIFF) through
  tiffslide, read region by region (:meth:`Slide.tiles`) so memory stays bounded by the tile
  size whatever the slide size.
* :func:`read_point_annotations` - dot annotations of the Kainz 2015 format (``N 3 0`` then
  ``x y 1`` per point).
* :func:`write_png` - an overlay or mask written as PNG.
* :func:`write_pyramid` - an RGB image written as a small pyramidal TIFF (a phantom slide).

Errors name the file and what is allowed (:class:`trephine.errors.ValidationError`,
:class:`trephine.errors.ParseError`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trephine.errors import Location, ParseError, ValidationError

__all__ = [
    "SLIDE_SUFFIXES",
    "TILE_SUFFIXES",
    "Image",
    "Slide",
    "SlideRegion",
    "open_slide",
    "read_image",
    "read_point_annotations",
    "write_png",
    "write_pyramid",
]

TILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
SLIDE_SUFFIXES = (".svs", ".tif", ".tiff", ".ndpi", ".scn", ".bif")
#: Largest tile read whole into memory (pixels); larger images go through :func:`open_slide`.
MAX_TILE_PIXELS = 64_000_000


@dataclass(frozen=True)
class Image:
    rgb: np.ndarray
    path: Path
    #: Micrometres per pixel when the file records it, else None.
    mpp: float | None


def _as_rgb(array: np.ndarray, path: Path) -> np.ndarray:
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValidationError(
            "image", str(path), "an RGB or greyscale image", reason=f"array shape {array.shape}"
        )
    array = array[..., :3]
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def read_image(path: str | Path) -> Image:
    """Read one tile (PNG, JPEG, TIFF, WebP, BMP) as RGB uint8."""
    from PIL import Image as PILImage

    p = Path(path)
    if p.suffix.lower() not in TILE_SUFFIXES:
        raise ValidationError("image", str(p), ", ".join(TILE_SUFFIXES), reason="file type")
    if not p.is_file():
        raise ValidationError("image", str(p), "an existing image file", reason="no such file")
    mpp: float | None = None
    try:
        with PILImage.open(p) as probe:
            width, height = probe.size
            mpp = _pil_mpp(probe)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ParseError(f"not a readable image: {exc}", location=Location(str(p))) from None
    if width * height > MAX_TILE_PIXELS:
        raise ValidationError(
            "image",
            str(p),
            f"a tile of at most {MAX_TILE_PIXELS:,} pixels",
            reason=f"{width}×{height}; read whole slides with `trephine image slide`",
        )
    from skimage import io as skio

    try:
        array = np.asarray(skio.imread(str(p)))
    except (OSError, ValueError, SyntaxError) as exc:
        raise ParseError(f"not a readable image: {exc}", location=Location(str(p))) from None
    return Image(_as_rgb(array, p), p, mpp)


def _pil_mpp(image: Any) -> float | None:
    """Micrometres per pixel from a TIFF resolution tag or PNG/JPEG dpi, when set."""
    info = getattr(image, "info", {}) or {}
    dpi = info.get("dpi")
    if dpi and float(dpi[0]) > 300:  # screen defaults (72, 96, 300 dpi) are not a scan's size
        return 25400.0 / float(dpi[0])
    return None


@dataclass(frozen=True)
class SlideRegion:
    """One tile of a slide level, read with a margin around it.

    ``x``, ``y``, ``width`` and ``height`` place the tile (its *core*) on the level, in that
    level's pixels; ``rgb`` is the core plus up to ``margin`` pixels on each side that lie on
    the slide, the core starting at ``(left, top)`` inside it. Every level pixel is in exactly
    one core, so counts summed over the cores count nothing twice, while an object on a seam is
    seen whole by the tile whose core holds its centre."""

    x: int
    y: int
    width: int
    height: int
    left: int
    top: int
    rgb: np.ndarray

    def in_core(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Which of the points (``rgb`` pixel coordinates) lie in the core."""
        return (
            (cols >= self.left)
            & (cols < self.left + self.width)
            & (rows >= self.top)
            & (rows < self.top + self.height)
        )

    def core(self, array: np.ndarray) -> np.ndarray:
        """The core part of an array the shape of ``rgb`` (a mask, a segmentation)."""
        return array[self.top : self.top + self.height, self.left : self.left + self.width]


@dataclass
class Slide:
    """A whole-slide image opened with tiffslide, read one region at a time."""

    path: Path
    width: int
    height: int
    mpp: float | None
    _slide: Any

    @property
    def level_count(self) -> int:
        return int(self._slide.level_count)

    def level_size(self, level: int) -> tuple[int, int]:
        """Width and height of ``level`` (0 is the full resolution)."""
        self._check_level(level)
        width, height = self._slide.level_dimensions[level]
        return int(width), int(height)

    def downsample(self, level: int) -> float:
        """How many level-0 pixels one pixel of ``level`` spans."""
        self._check_level(level)
        return float(self._slide.level_downsamples[level])

    def _check_level(self, level: int) -> None:
        if not 0 <= level < self.level_count:
            raise ValidationError(
                "level",
                level,
                f"a level from 0 to {self.level_count - 1} "
                f"(sizes {', '.join(f'{w}×{h}' for w, h in self._slide.level_dimensions)})",
            )

    def read(self, x: int, y: int, width: int, height: int, level: int = 0) -> np.ndarray:
        """RGB of the region at ``(x, y)`` of ``level``, in that level's pixels."""
        scale = self.downsample(level)
        location = (round(x * scale), round(y * scale))
        region = self._slide.read_region(location, level, (width, height), as_array=True)
        return _as_rgb(np.asarray(region), self.path)

    def regions(self, size: int, *, level: int = 0, margin: int = 0) -> Iterator[SlideRegion]:
        """Tiles of at most ``size``×``size`` pixels of ``level``, row by row, each read with
        ``margin`` pixels around it where the slide has them (:class:`SlideRegion`)."""
        if size < 16 or margin < 0:
            raise ValidationError("tile", size, "a tile of at least 16 px and a margin >= 0")
        width, height = self.level_size(level)
        for y in range(0, height, size):
            for x in range(0, width, size):
                x0, y0 = max(x - margin, 0), max(y - margin, 0)
                x1 = min(x + size + margin, width)
                y1 = min(y + size + margin, height)
                yield SlideRegion(
                    x,
                    y,
                    min(size, width - x),
                    min(size, height - y),
                    x - x0,
                    y - y0,
                    self.read(x0, y0, x1 - x0, y1 - y0, level),
                )

    def tiles(self, size: int) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(x, y, rgb)`` of each tile of at most ``size``×``size`` pixels, row by row."""
        for y in range(0, self.height, size):
            for x in range(0, self.width, size):
                yield x, y, self.read(x, y, min(size, self.width - x), min(size, self.height - y))

    def close(self) -> None:
        self._slide.close()

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_slide(path: str | Path) -> Slide:
    """Open a whole-slide or pyramidal TIFF image with tiffslide."""
    import tiffslide

    p = Path(path)
    if not p.is_file():
        raise ValidationError("slide", str(p), "an existing slide file", reason="no such file")
    try:
        slide = tiffslide.TiffSlide(p)
    except Exception as exc:  # tiffslide raises several types for unreadable files
        raise ParseError(
            f"not a readable whole-slide image ({', '.join(SLIDE_SUFFIXES)}): {exc}",
            location=Location(str(p)),
        ) from None
    width, height = slide.dimensions
    raw = slide.properties.get("tiffslide.mpp-x")
    mpp = float(raw) if raw not in (None, "") else None
    return Slide(p, int(width), int(height), mpp, slide)


def read_point_annotations(path: str | Path) -> np.ndarray:
    """Points ``(n, 2)`` as (x, y) from a dot file: ``N 3 0`` then ``x y 1`` lines."""
    p = Path(path)
    lines = p.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ParseError("empty annotation file", location=Location(str(p)))
    try:
        count = int(lines[0].split()[0])
    except (IndexError, ValueError):
        raise ParseError(
            "first line must be 'N 3 0' (the number of points)", location=Location(str(p), 1)
        ) from None
    points = []
    for row, line in enumerate(lines[1 : 1 + count], start=2):
        parts = line.split()
        try:
            points.append((float(parts[0]), float(parts[1])))
        except (IndexError, ValueError):
            raise ParseError(
                f"expected 'x y 1', got {line!r}", location=Location(str(p), row)
            ) from None
    if len(points) != count:
        raise ParseError(
            f"header says {count} points, file has {len(points)}", location=Location(str(p))
        )
    return np.asarray(points, dtype=float).reshape(-1, 2)


def write_png(path: str | Path, rgb: np.ndarray, mpp: float | None = None) -> Path:
    """Write an RGB uint8 array as PNG (recording its pixel size when ``mpp`` is given)."""
    from PIL import Image as PILImage

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    extra = {} if mpp is None else {"dpi": (25400.0 / mpp, 25400.0 / mpp)}
    PILImage.fromarray(np.ascontiguousarray(rgb)).save(p, format="PNG", **extra)
    return p


def write_pyramid(
    path: str | Path, rgb: np.ndarray, mpp: float | None = None, *, tile: int = 256
) -> Path:
    """Write an RGB uint8 array as a tiled, pyramidal TIFF (the full image, then halvings
    down to about one tile, as reduced-resolution sub-images), with its pixel size in the
    resolution tags when ``mpp`` is given: a small whole-slide image tiffslide reads."""
    import tifffile
    from skimage.transform import downscale_local_mean

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    levels = [np.ascontiguousarray(rgb)]
    while min(levels[-1].shape[:2]) >= 2 * tile:
        half = downscale_local_mean(levels[-1].astype(np.float32), (2, 2, 1))
        levels.append(np.clip(np.round(half), 0, 255).astype(np.uint8))
    with tifffile.TiffWriter(p) as tif:
        for index, level in enumerate(levels):
            extra: dict[str, Any] = {}
            if mpp is not None:
                per_cm = 1e4 / (mpp * 2**index)
                extra = {"resolution": (per_cm, per_cm), "resolutionunit": "CENTIMETER"}
            tif.write(
                level,
                photometric="rgb",
                tile=(tile, tile),
                compression="zlib",
                subifds=len(levels) - 1 if index == 0 else None,
                subfiletype=1 if index else 0,
                **extra,
            )
    return p
