"""Nucleus detection on H&E marrow and nucleus density.

The detector (:data:`DETECTOR_NAME`) works in two stages:

1. **Candidates** - local maxima of the haematoxylin channel (colour deconvolution,
   :func:`skimage.color.rgb2hed`) after a difference of Gaussians at two scales (σ 6-16 px for
   ordinary nuclei, σ 10-24 px for large pale ones), at least 6 px apart.
2. **Scoring** - each candidate is described by :data:`N_FEATURES` numbers (haematoxylin at
   four smoothing scales relative to the image median, four differences of Gaussians, Hessian
   eigenvalues at three scales, eosin, mean R, G, B, local haematoxylin spread, a radial
   profile of haematoxylin at 0-16 px, the blue-red balance and the nearness to the image
   edge); a logistic model on the standardised numbers and their pairwise products gives the
   probability that the candidate is an annotated nucleus centre. Candidates at or above
   :attr:`NucleusModel.threshold` are kept, the most probable first, none within
   :attr:`NucleusModel.min_separation` of a kept one.

The smoothings are made one from the other (σ 2 → 4 → ... → 24, variances adding), and the
numbers needed only at the candidates (eosin, colour, the haematoxylin spread) are weighted
sums around each candidate rather than whole-image filters: a 1200×1200 tile's features cost
0.56 s of CPU against version 1's 1.33 s (benchmarks/RESULTS.md).

The model's numbers (``nucleus_model.json`` beside this module) were fitted by
``scripts/fit-nucleus-detector`` on the eight training tiles of the Kainz 2015 bone marrow
set; the threshold and the separation were chosen by leave-one-tile-out cross-validation on
those tiles. The three test tiles (0007_01, 0008_01, 0020_01) were never used for fitting or
choosing. The file holds no image data. Its measured quality on the test tiles
(:attr:`NucleusModel.validation`) is reported with every detection (:meth:`NucleusModel.info`).

The detector works at the scale of those tiles (nuclei about 12-20 px across); images at
another magnification are resampled by the caller (``scale``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import minimize
from scipy.spatial import cKDTree
from skimage.feature import peak_local_max

from trephine.analysis.images.colour import stains

__all__ = [
    "DETECTOR_NAME",
    "NucleusModel",
    "candidate_features",
    "detect_nuclei",
    "fit_model",
    "load_model",
    "nucleus_density",
]

DETECTOR_NAME = "trephine-he-nuclei"
#: Smallest distance between two kept detections (pixels) when the model does not say.
MIN_SEPARATION = 6.0


@dataclass(frozen=True)
class NucleusModel:
    """The fitted scoring model, its threshold and its measured quality."""

    version: str
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    #: Smallest distance between two kept detections (pixels), chosen with the threshold.
    min_separation: float = MIN_SEPARATION
    #: How the model was fitted and how well it did: data set, split, radius, precision,
    #: recall and F1 on the held-out test tiles.
    validation: dict[str, Any] = field(default_factory=dict)

    def probability(self, features: np.ndarray) -> np.ndarray:
        z = _expand((features - self.mean) / self.scale)
        return np.asarray(1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias))))

    def info(self) -> dict[str, Any]:
        """What travels with every detection: name, version, threshold, measured quality."""
        return {
            "name": DETECTOR_NAME,
            "version": self.version,
            "threshold": self.threshold,
            "min_separation_px": self.min_separation,
            "validation": self.validation,
        }

    def summary(self) -> str:
        """One line naming the detector, its parameters and its measured quality, for the
        flags of every stored count it produced."""
        v = self.validation
        return (
            f"detector {DETECTOR_NAME} v{self.version} (threshold {self.threshold:g}, "
            f"separation {self.min_separation:g} px): F1 {v.get('test_f1')} (precision "
            f"{v.get('test_precision')}, recall {v.get('test_recall')}) on the Kainz 2015 test "
            f"tiles at 8 px, cross-validated F1 {v.get('cv_f1_train')} on the training tiles"
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "mean": [float(v) for v in self.mean],
                "scale": [float(v) for v in self.scale],
                "weights": [round(float(v), 8) for v in self.weights],
                "bias": float(self.bias),
                "threshold": self.threshold,
                "min_separation": self.min_separation,
                "validation": self.validation,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> NucleusModel:
        data = json.loads(text)
        return cls(
            version=str(data["version"]),
            mean=np.asarray(data["mean"], dtype=float),
            scale=np.asarray(data["scale"], dtype=float),
            weights=np.asarray(data["weights"], dtype=float),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            min_separation=float(data.get("min_separation", MIN_SEPARATION)),
            validation=dict(data.get("validation", {})),
        )


@cache
def load_model() -> NucleusModel:
    """The shipped model (``nucleus_model.json``)."""
    text = resources.files("trephine.analysis.images").joinpath("nucleus_model.json").read_text()
    return NucleusModel.from_json(text)


def _expand(z: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(z.shape[1])
    return np.hstack([z, z[:, i] * z[:, j]])


#: Smoothing scales (pixels) of the haematoxylin channel, each made from the one before it.
SCALES = (2, 4, 6, 8, 10, 16, 24)
#: Distance from the image edge (pixels) within which a candidate counts as near it.
BORDER_REACH = 16
#: Numbers describing each candidate (:func:`candidate_features`).
N_FEATURES = 30
#: Points whose neighbourhood is gathered at once by :func:`_at_points` (bounds its memory).
_POINT_CHUNK = 512


def _smoothed(h: np.ndarray) -> dict[int, np.ndarray]:
    """Gaussian smoothings of ``h`` at :data:`SCALES` (reflected border, float32), each from
    the previous one (variances add), so the wide ones cost a narrower filter."""
    out: dict[int, np.ndarray] = {}
    previous, done = h, 0.0
    for sigma in SCALES:
        previous = ndi.gaussian_filter(
            previous, float(np.sqrt(sigma * sigma - done * done)), output=np.float32
        )
        out[sigma] = previous
        done = sigma
    return out


def _at_points(
    images: list[np.ndarray], r: np.ndarray, c: np.ndarray, sigma: float
) -> list[np.ndarray]:
    """Each image Gaussian-smoothed at σ, evaluated at the points (r, c) only (reflected
    border, as :func:`scipy.ndimage.gaussian_filter`): a few hundred weighted sums instead of
    filtering the whole image for values needed at the candidates."""
    radius = int(4 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel = (kernel / kernel.sum()).astype(np.float32)
    out = []
    for image in images:
        padded = np.pad(image.astype(np.float32, copy=False), radius, mode="symmetric")
        values = np.empty(len(r), dtype=np.float32)
        for start in range(0, len(r), _POINT_CHUNK):
            rows = r[start : start + _POINT_CHUNK, None] + radius + x
            cols = c[start : start + _POINT_CHUNK, None] + radius + x
            patch = padded[rows[:, :, None], cols[:, None, :]]
            values[start : start + _POINT_CHUNK] = (patch @ kernel) @ kernel
        out.append(values)
    return out


def _hessian_eigenvalues(g: np.ndarray, r: np.ndarray, c: np.ndarray) -> tuple[Any, Any]:
    """Eigenvalues (larger, smaller) of the Hessian of the smoothed image ``g`` at the points,
    by central differences of central differences (``numpy.gradient`` twice)."""
    last_r, last_c = g.shape[0] - 1, g.shape[1] - 1

    def at(dr: int, dc: int) -> np.ndarray:
        return g[np.clip(r + dr, 0, last_r), np.clip(c + dc, 0, last_c)].astype(np.float64)

    centre = at(0, 0)
    hrr = (at(2, 0) - 2 * centre + at(-2, 0)) / 4
    hcc = (at(0, 2) - 2 * centre + at(0, -2)) / 4
    hrc = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / 4
    mid = (hrr + hcc) / 2
    spread = np.sqrt(((hrr - hcc) / 2) ** 2 + hrc**2)
    return mid + spread, mid - spread


def candidate_features(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate centres ``(n, 2)`` as (x, y) and their features ``(n, N_FEATURES)``."""
    hed = stains(rgb)
    h = np.ascontiguousarray(hed[..., 0])
    e = hed[..., 1]
    med = float(np.median(h))
    g = _smoothed(h)
    peaks = peak_local_max(g[6] - g[16], min_distance=6, threshold_abs=0.01, exclude_border=False)
    large = peak_local_max(
        g[10] - g[24], min_distance=10, threshold_abs=0.005, exclude_border=False
    )
    if len(large) and len(peaks):
        distance, _ = cKDTree(peaks).query(large)
        peaks = np.vstack([peaks, large[distance > 5]])
    elif len(large):
        peaks = large
    if len(peaks) == 0:
        return np.zeros((0, 2)), np.zeros((0, N_FEATURES))
    r, c = peaks[:, 0], peaks[:, 1]
    at = {s: g[s][r, c].astype(np.float64) for s in SCALES}
    feats: list[np.ndarray] = [at[s] - med for s in (2, 4, 6, 8)]
    feats += [at[10] - at[24], at[4] - at[16], at[6] - at[16], at[2] - at[6]]
    for s in (4, 6, 10):
        larger, smaller = _hessian_eigenvalues(g[s], r, c)
        feats += [larger * s * s, smaller * s * s]
    e4, red, green, blue = _at_points(
        [
            e,
            rgb[..., 0] / np.float32(255),
            rgb[..., 1] / np.float32(255),
            rgb[..., 2] / np.float32(255),
        ],
        r,
        c,
        4,
    )
    feats.append(e4 - float(np.median(e)))
    feats += [red, green, blue]
    (h2,) = _at_points([h * h], r, c, 8)
    feats.append(np.sqrt(np.maximum(h2 - at[8] ** 2, 0)))
    g1 = ndi.gaussian_filter(h, 1.5, output=np.float32)
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    profile = []
    for radius in (0, 4, 8, 12, 16):
        rr = np.clip(np.round(r[:, None] + radius * np.sin(angles)).astype(int), 0, h.shape[0] - 1)
        cc = np.clip(np.round(c[:, None] + radius * np.cos(angles)).astype(int), 0, h.shape[1] - 1)
        ring = g1[rr, cc]
        profile.append(ring.mean(axis=1) - med)
        if radius:
            feats.append(ring.min(axis=1) - med)
    feats += profile
    feats.append((rgb[r, c, 2].astype(np.float64) - rgb[r, c, 0]) / 255)
    # Nearness to the image edge (0 on it, 1 from BORDER_REACH px in): a nucleus cut by the
    # edge shows only part of itself, and annotators leave most such halves unmarked.
    edge = np.minimum.reduce([r, c, h.shape[0] - 1 - r, h.shape[1] - 1 - c])
    feats.append(np.minimum(edge, BORDER_REACH) / BORDER_REACH)
    xy = np.stack([c, r], axis=1).astype(float)
    return xy, np.stack(feats, axis=1).astype(np.float64)


def _suppress(
    xy: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    min_separation: float = MIN_SEPARATION,
) -> np.ndarray:
    order = np.where(probability >= threshold)[0]
    order = order[np.argsort(-probability[order], kind="stable")]
    if len(order) == 0:
        return order
    tree = cKDTree(xy[order])
    taken = np.zeros(len(order), dtype=bool)
    kept = []
    for k in range(len(order)):
        if taken[k]:
            continue
        kept.append(order[k])
        for j in tree.query_ball_point(xy[order[k]], min_separation):
            if j > k:
                taken[j] = True
    return np.asarray(kept, dtype=int)


def detect_nuclei(
    rgb: np.ndarray, model: NucleusModel | None = None, threshold: float | None = None
) -> np.ndarray:
    """Nucleus centres ``(n, 2)`` as (x = column, y = row), origin top-left, sorted by row."""
    model = model or load_model()
    xy, features = candidate_features(rgb)
    if len(xy) == 0:
        return xy
    keep = _suppress(
        xy,
        model.probability(features),
        model.threshold if threshold is None else threshold,
        model.min_separation,
    )
    found = xy[keep]
    return found[np.lexsort((found[:, 0], found[:, 1]))]


def fit_model(
    features: np.ndarray, labels: np.ndarray, *, l2: float = 3e-3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Fit the logistic scoring model: (mean, scale, weights, bias)."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-9
    z = _expand((features - mean) / scale)
    y = labels.astype(float)
    n, d = z.shape

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        logits = z @ w[:-1] + w[-1]
        value = float(np.mean(np.logaddexp(0, logits) - y * logits) + l2 * np.sum(w[:-1] ** 2))
        residual = (1 / (1 + np.exp(-logits)) - y) / n
        grad = np.concatenate([z.T @ residual + 2 * l2 * w[:-1], [residual.sum()]])
        return value, grad

    solution = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B").x
    return mean, scale, solution[:-1], float(solution[-1])


def nucleus_density(count: int, area_px: int, mpp: float) -> float:
    """Nuclei per mm² of ``area_px`` pixels at ``mpp`` micrometres per pixel."""
    area_mm2 = area_px * (mpp / 1000.0) ** 2
    if area_mm2 <= 0:
        raise ValueError("the measured area is empty")
    return count / area_mm2
