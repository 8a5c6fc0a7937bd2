"""Continuous indices on immunohistochemistry and special stains. Research indices, never a
WHO grade: no fibrosis grade, no iron grade and no vessel "score" is derived from them.

* **CD34 microvessel density** (vessels/mm² of tissue): the image is separated into
  haematoxylin and DAB by colour deconvolution (:func:`skimage.color.rgb2hed`); DAB-positive
  pixels (DAB concentration above ``dab_threshold``) are grouped into connected objects and each
  object at least ``min_vessel_um2`` in area counts as one vessel (Weidner's rule: any stained
  endothelial cell or cluster separate from its neighbours is one vessel). CD34+ blasts also
  stain; a round single cell cannot be told from a vessel cross-section here, so the index is
  for comparisons within a study, not a blast count.
* **Perls iron area fraction** (% of tissue): Prussian-blue pixels (blue exceeding red by
  ``blue_margin`` and green by half of it, and stained) over tissue pixels.
* **Reticulin fibre density**: on a silver stain, fibres are thin dark ridges; a ridge filter
  (:func:`skimage.filters.sato`, black ridges at 1-3 px) above ``ridge_threshold`` marks
  fibre pixels. The index is the fibre area as % of tissue; the fibre length per mm² of tissue
  (skeleton length) is reported beside it.

All thresholds are Trephine's operational choices ([I]) and settings of the parameter classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage import morphology
from skimage.filters import sato

from trephine.analysis.images.colour import optical_density, saturation, stains
from trephine.analysis.images.quality import tissue_mask

__all__ = [
    "IHC_VERSION",
    "IhcResult",
    "MvdParameters",
    "PerlsParameters",
    "ReticulinParameters",
    "iron_area_fraction",
    "microvessel_density",
    "reticulin_density",
]

IHC_VERSION = "ihc-indices-1"


@dataclass(frozen=True)
class IhcResult:
    """One index: its name (a measurement index), value and unit, and how it was measured."""

    index: str
    value: float
    unit: str
    tissue_px: int
    objects: int | None
    mask: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "value": round(self.value, 2),
            "unit": self.unit,
            "objects_counted": self.objects,
            "tissue_px": self.tissue_px,
            "method": IHC_VERSION,
            **self.details,
        }


@dataclass(frozen=True)
class MvdParameters:
    dab_threshold: float = 0.03
    min_vessel_um2: float = 20.0


@dataclass(frozen=True)
class PerlsParameters:
    blue_margin: int = 30


@dataclass(frozen=True)
class ReticulinParameters:
    ridge_threshold: float = 0.04


def _tissue(rgb: np.ndarray) -> np.ndarray:
    mask = tissue_mask(rgb, fill_radius=12)
    if not mask.any():
        raise ValueError("no tissue in the image")
    return mask


def _area_mm2(pixels: int, mpp: float) -> float:
    return pixels * (mpp / 1000.0) ** 2


def microvessel_density(
    rgb: np.ndarray, mpp: float, parameters: MvdParameters | None = None
) -> IhcResult:
    """CD34 microvessels per mm² of tissue on a haematoxylin-DAB image."""
    p = parameters or MvdParameters()
    tissue = _tissue(rgb)
    dab = ndi.gaussian_filter(stains(rgb)[..., 2], 1.0)
    positive = (dab > p.dab_threshold) & tissue
    positive = ndi.binary_opening(positive, iterations=1)
    labels, n = ndi.label(positive, structure=np.ones((3, 3)))
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    min_px = p.min_vessel_um2 / (mpp * mpp)
    vessels = int(np.count_nonzero(areas >= min_px))
    kept = np.isin(labels, 1 + np.flatnonzero(areas >= min_px))
    tissue_px = int(tissue.sum())
    density = vessels / _area_mm2(tissue_px, mpp)
    return IhcResult(
        "microvessel density",
        density,
        "vessels/mm2",
        tissue_px,
        vessels,
        kept,
        {"stain": "CD34 (DAB)", "parameters": asdict(p), "tissue_mm2": _area_mm2(tissue_px, mpp)},
    )


def iron_area_fraction(
    rgb: np.ndarray, mpp: float, parameters: PerlsParameters | None = None
) -> IhcResult:
    """Perls Prussian-blue area as % of tissue."""
    p = parameters or PerlsParameters()
    tissue = _tissue(rgb)
    r = rgb[..., 0].astype(np.int16)
    g = rgb[..., 1].astype(np.int16)
    b = rgb[..., 2].astype(np.int16)
    blue = (b - r > p.blue_margin) & (b - g > p.blue_margin // 2)
    blue &= (saturation(rgb) > 0.15) & tissue
    blue = ndi.binary_opening(blue)
    tissue_px = int(tissue.sum())
    pct = 100.0 * float(blue.sum()) / tissue_px
    return IhcResult(
        "iron area fraction",
        pct,
        "%",
        tissue_px,
        None,
        blue,
        {"stain": "Perls Prussian blue", "parameters": asdict(p), "mpp": mpp},
    )


def reticulin_density(
    rgb: np.ndarray, mpp: float, parameters: ReticulinParameters | None = None
) -> IhcResult:
    """Reticulin fibre area as % of tissue, and fibre length per mm² of tissue."""
    p = parameters or ReticulinParameters()
    tissue = _tissue(rgb)
    grey = 1.0 - np.clip(optical_density(rgb).mean(axis=-1), 0, 1)
    ridges = sato(grey, sigmas=(1, 2, 3), black_ridges=True)
    fibres = (ridges > p.ridge_threshold) & tissue
    fibres = morphology.remove_small_objects(fibres, max_size=int(10 / mpp))
    skeleton = morphology.skeletonize(fibres)
    length_mm = float(skeleton.sum()) * mpp / 1000.0
    tissue_px = int(tissue.sum())
    pct = 100.0 * float(fibres.sum()) / tissue_px
    return IhcResult(
        "reticulin index",
        pct,
        "%",
        tissue_px,
        None,
        fibres,
        {
            "stain": "reticulin (silver)",
            "fibre_length_mm_per_mm2": round(length_mm / _area_mm2(tissue_px, mpp), 2),
            "parameters": asdict(p),
        },
    )
