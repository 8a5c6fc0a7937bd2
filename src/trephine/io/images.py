"""Reading marrow images: tiles (PNG, JPEG, TIFF, WebP) and whole-slide images.

* :func:`read_image` - one tile as an RGB uint8 array (scikit-image / imageio), with its pixel
  size when the file records one.
* :func:`open_slide` - a whole-slide or pyramidal TIFF (SVS, generic tiled TIFF) through
  tiffslide, read region by region (:meth:`Slide.tiles`) so memory stays bounded by the tile
  size whatever the slide size.
* :func:`read_point_annotations` - dot annotations of the Kainz 2015 format (``N 3 0`` then
  ``x y 1`` per point).
* :func:`write_png` - an overlay or mask written as PNG.

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
    "open_slide",
    "read_image",
    "read_point_annotations",
    "write_png",
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


@dataclass
class Slide:
    """A whole-slide image opened with tiffslide, read one region at a time."""

    path: Path
    width: int
    height: int
    mpp: float | None
    _slide: Any

    def read(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        region = self._slide.read_region((x, y), 0, (width, height), as_array=True)
        return _as_rgb(np.asarray(region), self.path)

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
