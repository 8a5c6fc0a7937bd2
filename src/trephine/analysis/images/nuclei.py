"""Nucleus detection on H&E marrow and nucleus density.

The detector (:data:`DETECTOR_NAME`) regresses a **proximity map** and takes its local maxima,
the method published with the Kainz 2015 bone marrow tiles (P. Kainz et al., "You Should Use
Regression to Detect Cells", MICCAI 2015), with a small fully-convolutional network in place
of the paper's regression forest:

1. The tile is reduced to half resolution (means of 2×2 pixel blocks; nuclei are then about
   6-10 px across) and given, as RGB in [0, 1], to the network ``nucleus_net.onnx`` (a
   shallow U-Net of about 65,000 weights, run by onnxruntime on one thread). It returns one
   map of the same size, high at nucleus centres: the training target was
   exp(α (1 - d / r)) - 1 (α 3, r 6 half-resolution px, scaled to 1 at the dot) around each
   annotated centre.
2. The map's local maxima at or above :attr:`NucleusModel.threshold` are the candidates,
   placed to a fraction of a pixel by a parabola through each maximum and its neighbours and
   mapped back to full resolution; they are kept the highest first, none within
   :attr:`NucleusModel.min_separation` of a kept one.

The network was trained by ``scripts/train-nucleus-net`` (PyTorch, in its own environment:
never a dependency of Trephine) on six of the eight training tiles of the Kainz 2015 set; the
checkpoint, the threshold and the separation were chosen by ``scripts/fit-nucleus-detector``
on the other two (0004_01, 0006_01). The three test tiles (0007_01, 0008_01, 0020_01) were
never used for training or choosing. ``nucleus_model.json`` beside this module records the
network file's SHA-256, the chosen parameters, the training settings and the measured quality
(:attr:`NucleusModel.validation`), which is reported with every detection
(:meth:`NucleusModel.info`). Neither file holds image data.

The detector works at the scale of those tiles (nuclei about 12-20 px across); images at
another magnification are resampled by the caller (``scale``). Large images are run through
the network in overlapping pieces (:data:`PIECE`, :data:`PIECE_MARGIN`) so memory stays
bounded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from skimage.feature import peak_local_max

from trephine.errors import Location, ParseError

__all__ = [
    "DETECTOR_NAME",
    "NucleusModel",
    "detect_nuclei",
    "half_resolution",
    "load_model",
    "nucleus_density",
    "peaks_of",
    "proximity_map",
]

DETECTOR_NAME = "trephine-he-nuclei"
#: The network and its record, package data beside this module.
NETWORK_FILE = "nucleus_net.onnx"
RECORD_FILE = "nucleus_model.json"
#: The network halves the size twice: its input sides are padded to a multiple of this.
_MULTIPLE = 4
#: Largest side (half-resolution pixels) of one piece given to the network, and the margin
#: read around each piece and then dropped: the network's map is unchanged (measured on a
#: Kainz tile) from 24 half-resolution px inside a cut edge.
PIECE = 768
PIECE_MARGIN = 32


@dataclass(frozen=True)
class NucleusModel:
    """The network, its chosen threshold and separation, and its measured quality."""

    version: str
    network: bytes = field(repr=False)
    threshold: float
    #: Smallest distance between two kept detections (full-resolution pixels).
    min_separation: float
    #: How the network was trained and chosen and how well it did: data set, split, matching
    #: radius, precision, recall and F1 on the validation tiles and on the test tiles.
    validation: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def session(self) -> Any:
        """An onnxruntime session on one thread (the same answer on any machine; a server
        runs several requests side by side rather than one on many threads)."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return onnxruntime.InferenceSession(
            self.network, options, providers=["CPUExecutionProvider"]
        )

    def info(self) -> dict[str, Any]:
        """What travels with every detection: name, version, parameters, measured quality."""
        return {
            "name": DETECTOR_NAME,
            "version": self.version,
            "method": "proximity-map regression (fully-convolutional network) + local maxima",
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
            f"tiles at 8 px, F1 {v.get('validation_f1')} on the validation tiles"
        )


def _read_model(record_text: str, network: bytes, source: str) -> NucleusModel:
    try:
        data = json.loads(record_text)
        version = str(data["version"])
        threshold = float(data["threshold"])
        separation = float(data["min_separation"])
        expected = str(data["network_sha256"])
        validation = dict(data["validation"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ParseError(
            f"not a nucleus detector record ({exc.__class__.__name__}: {exc})",
            location=_location(source, RECORD_FILE),
        ) from None
    digest = hashlib.sha256(network).hexdigest()
    if digest != expected:
        raise ParseError(
            f"the network file's SHA-256 is {digest}, its record says {expected} "
            "(a damaged or replaced file; reinstall Trephine)",
            location=_location(source, NETWORK_FILE),
        )
    return NucleusModel(version, network, threshold, separation, validation)


def _location(source: str, name: str) -> Location:
    return Location(f"{source}/{name}")


@cache
def load_model() -> NucleusModel:
    """The shipped detector (``nucleus_net.onnx`` and its record ``nucleus_model.json``).

    Raises :class:`~trephine.errors.ParseError` naming the file when either is missing,
    unreadable or does not match the other."""
    package = resources.files("trephine.analysis.images")
    try:
        record = package.joinpath(RECORD_FILE).read_text(encoding="utf-8")
        network = package.joinpath(NETWORK_FILE).read_bytes()
    except OSError as exc:
        raise ParseError(
            f"the nucleus detector is not installed ({exc.strerror or exc}); reinstall Trephine",
            location=_location("trephine.analysis.images", getattr(exc, "filename", "") or ""),
        ) from None
    return _read_model(record, network, "trephine.analysis.images")


def half_resolution(rgb: np.ndarray) -> np.ndarray:
    """Means of 2×2 blocks of an RGB ``uint8`` image, as float32 in [0, 1]; an odd last row or
    column is repeated first. Half-resolution pixel ``(i, j)`` is centred on full-resolution
    coordinates ``(2i + 0.5, 2j + 0.5)``."""
    rows, cols = rgb.shape[0], rgb.shape[1]
    if rows % 2 or cols % 2:
        rgb = np.pad(rgb, ((0, rows % 2), (0, cols % 2), (0, 0)), mode="edge")
    x = rgb.astype(np.float32)
    h, w = x.shape[0] // 2, x.shape[1] // 2
    return x.reshape(h, 2, w, 2, 3).mean(axis=(1, 3)) / np.float32(255)


def _run(model: NucleusModel, x: np.ndarray) -> np.ndarray:
    """The network on one half-resolution RGB piece ``(h, w, 3)``: its map ``(h, w)``."""
    h, w = x.shape[:2]
    ph, pw = -h % _MULTIPLE, -w % _MULTIPLE
    if ph or pw:
        x = np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 4 else "edge")
    batch = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
    session = model.session
    (out,) = session.run(None, {session.get_inputs()[0].name: batch})
    return np.asarray(out[0, 0, :h, :w], dtype=np.float32)


def proximity_map(rgb: np.ndarray, model: NucleusModel | None = None) -> np.ndarray:
    """The network's proximity map at half resolution (:func:`half_resolution`), computed in
    pieces of at most :data:`PIECE` px with :data:`PIECE_MARGIN` px of overlap."""
    model = model or load_model()
    x = half_resolution(rgb)
    h, w = x.shape[:2]
    if h <= PIECE and w <= PIECE:
        return _run(model, x)
    out = np.empty((h, w), dtype=np.float32)
    for r in range(0, h, PIECE):
        for c in range(0, w, PIECE):
            r0, c0 = max(r - PIECE_MARGIN, 0), max(c - PIECE_MARGIN, 0)
            r1, c1 = min(r + PIECE + PIECE_MARGIN, h), min(c + PIECE + PIECE_MARGIN, w)
            piece = _run(model, x[r0:r1, c0:c1])
            rr, cc = min(r + PIECE, h), min(c + PIECE, w)
            out[r:rr, c:cc] = piece[r - r0 : rr - r0, c - c0 : cc - c0]
    return out


def _refine(prob: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Sub-pixel positions (row, column) of maxima: the vertex of the parabola through each
    maximum and its two neighbours along each axis (shifted at most half a pixel)."""
    padded = np.pad(prob, 1, mode="edge").astype(np.float64)
    r, c = peaks[:, 0] + 1, peaks[:, 1] + 1
    centre = padded[r, c]
    out = peaks.astype(np.float64)
    for axis, (before, after) in enumerate(
        ((padded[r - 1, c], padded[r + 1, c]), (padded[r, c - 1], padded[r, c + 1]))
    ):
        curvature = before - 2 * centre + after
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.where(curvature < 0, 0.5 * (before - after) / curvature, 0.0)
        out[:, axis] += np.clip(shift, -0.5, 0.5)
    return out


def _suppress(xy: np.ndarray, height: np.ndarray, min_separation: float) -> np.ndarray:
    """Indices of the points kept, the highest first, none within ``min_separation`` of a
    kept one."""
    order = np.argsort(-height, kind="stable")
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


def peaks_of(
    prob: np.ndarray, shape: tuple[int, int], threshold: float, min_separation: float
) -> np.ndarray:
    """Detections (x = column, y = row) at full resolution of an image of ``shape`` (rows,
    columns) from its half-resolution proximity map, sorted by row then column."""
    peaks = peak_local_max(prob, min_distance=1, threshold_abs=threshold, exclude_border=False)
    if len(peaks) == 0:
        return np.zeros((0, 2))
    height = prob[peaks[:, 0], peaks[:, 1]]
    rc = _refine(prob, peaks) * 2 + 0.5
    xy = np.stack([np.clip(rc[:, 1], 0, shape[1] - 1), np.clip(rc[:, 0], 0, shape[0] - 1)], axis=1)
    found = xy[_suppress(xy, height, min_separation)]
    return found[np.lexsort((found[:, 0], found[:, 1]))]


def detect_nuclei(
    rgb: np.ndarray, model: NucleusModel | None = None, threshold: float | None = None
) -> np.ndarray:
    """Nucleus centres ``(n, 2)`` as (x = column, y = row), origin top-left, sorted by row."""
    model = model or load_model()
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
        return np.zeros((0, 2))
    prob = proximity_map(rgb, model)
    return peaks_of(
        prob,
        (rgb.shape[0], rgb.shape[1]),
        model.threshold if threshold is None else threshold,
        model.min_separation,
    )


def nucleus_density(count: int, area_px: int, mpp: float) -> float:
    """Nuclei per mm² of ``area_px`` pixels at ``mpp`` micrometres per pixel."""
    area_mm2 = area_px * (mpp / 1000.0) ** 2
    if area_mm2 <= 0:
        raise ValueError("the measured area is empty")
    return count / area_mm2
