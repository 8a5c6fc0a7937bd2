"""Quality checks that decide whether an image can be measured at all.

Three checks, each with a reason a person can act on when it refuses:

* **tissue** - the fraction of the image that is tissue rather than bare glass (background);
* **focus** - the sharpness of the tissue: the 95th percentile of the gradient magnitude of the
  grey image over tissue pixels (a focused H&E shows crisp nuclear edges; a blurred scan does not);
* **stain** - haematoxylin is present: the 90th percentile of the haematoxylin optical density
  (colour deconvolution, :func:`skimage.color.rgb2hed`) over tissue pixels, and the tissue is
  coloured at all (a greyscale or unstained image has no hue to deconvolve).

The limits are Trephine's operational choices ([I] in the criteria spec's sense), settings of
:class:`QualityLimits`, calibrated on the Kainz 2015 training tiles (all pass) and on blurred,
empty and unstained phantoms (all refused); docs/images.md gives the measured values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from trephine.analysis.images.colour import optical_density, saturation, stains

__all__ = ["QualityLimits", "QualityReport", "check_quality", "tissue_mask"]


@dataclass(frozen=True)
class QualityLimits:
    """The [I] limits of the quality checks (settings, not clinical thresholds)."""

    #: Least tissue fraction of the image.
    min_tissue_fraction: float = 0.05
    #: Least sharpness (95th percentile gradient magnitude of grey levels 0-1 per pixel).
    min_sharpness: float = 0.06
    #: Least 90th percentile haematoxylin optical density over tissue.
    min_haematoxylin: float = 0.03
    #: Least median colour saturation of tissue (HSV, 0-1): below it the image is greyscale.
    min_tissue_saturation: float = 0.04


@dataclass(frozen=True)
class QualityReport:
    """What the checks measured, and the refusals (empty when the image is usable)."""

    tissue_fraction: float
    sharpness: float
    haematoxylin_p90: float
    tissue_saturation: float
    refusals: tuple[str, ...] = field(default=())

    @property
    def usable(self) -> bool:
        return not self.refusals

    def as_dict(self) -> dict[str, object]:
        return {
            "usable": self.usable,
            "tissue_fraction": round(self.tissue_fraction, 4),
            "sharpness": round(self.sharpness, 4),
            "haematoxylin_p90": round(self.haematoxylin_p90, 4),
            "tissue_saturation": round(self.tissue_saturation, 4),
            "refusals": list(self.refusals),
        }


def tissue_mask(rgb: np.ndarray, *, fill_radius: int = 40) -> np.ndarray:
    """Pixels of tissue, fat vacuoles inside tissue included; bare glass excluded.

    Stained pixels (optical density summed over the channels above 0.2, or colour saturation
    above 0.08) are tissue; white spaces enclosed by tissue within ``fill_radius`` pixels
    (adipocytes, sinusoids, small tears) are tissue too, while white regions open to the image
    edge or wider than that are glass. Computed at a quarter of the resolution for speed.
    """
    step = 4
    small = rgb[::step, ::step]
    stained = (optical_density(small).sum(axis=-1) > 0.2) | (saturation(small) > 0.08)
    radius = max(1, fill_radius // step)
    # A closing bridges the thin membranes around fat; filling holes keeps enclosed vacuoles.
    struct = _disk(radius)
    padded = np.pad(stained, radius, mode="constant")
    closed = ndi.binary_closing(padded, structure=struct)[radius:-radius, radius:-radius]
    filled = ndi.binary_fill_holes(closed)
    full = np.repeat(np.repeat(filled, step, axis=0), step, axis=1)
    return full[: rgb.shape[0], : rgb.shape[1]]


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return np.asarray(x * x + y * y <= radius * radius)


def sharpness(grey: np.ndarray, where: np.ndarray) -> float:
    """95th percentile of the Sobel gradient magnitude of ``grey`` (0-1) over ``where``."""
    gx = ndi.sobel(grey, axis=1) / 8.0
    gy = ndi.sobel(grey, axis=0) / 8.0
    magnitude = np.hypot(gx, gy)
    values = magnitude[where]
    return float(np.percentile(values, 95)) if values.size else 0.0


def check_quality(rgb: np.ndarray, limits: QualityLimits | None = None) -> QualityReport:
    """Measure tissue, focus and stain of an RGB image (uint8, H×W×3) against ``limits``."""
    limits = limits or QualityLimits()
    tissue = tissue_mask(rgb)
    fraction = float(tissue.mean())
    stained_tissue = tissue & (optical_density(rgb).sum(axis=-1) > 0.2)
    grey = rgb.astype(np.float32).mean(axis=-1) / 255.0
    sharp = sharpness(grey, stained_tissue)
    h = stains(rgb)[..., 0]
    h_p90 = float(np.percentile(h[stained_tissue], 90)) if stained_tissue.any() else 0.0
    sat = saturation(rgb)
    sat_med = float(np.median(sat[stained_tissue])) if stained_tissue.any() else 0.0
    refusals: list[str] = []
    if fraction < limits.min_tissue_fraction:
        refusals.append(
            f"no tissue: {fraction:.1%} of the image is tissue, at least "
            f"{limits.min_tissue_fraction:.0%} is needed (bare glass or an empty field)"
        )
    else:
        if sat_med < limits.min_tissue_saturation:
            refusals.append(
                f"no stain colour: median tissue saturation {sat_med:.3f} is below "
                f"{limits.min_tissue_saturation} (a greyscale or unstained image cannot be "
                "deconvolved into haematoxylin and eosin)"
            )
        elif h_p90 < limits.min_haematoxylin:
            refusals.append(
                f"no haematoxylin: its 90th percentile optical density {h_p90:.3f} is below "
                f"{limits.min_haematoxylin} (nuclei are not stained)"
            )
        if sharp < limits.min_sharpness:
            refusals.append(
                f"out of focus: sharpness {sharp:.3f} is below {limits.min_sharpness} "
                "(95th percentile gradient of the tissue; rescan in focus)"
            )
    return QualityReport(fraction, sharp, h_p90, sat_med, tuple(refusals))
