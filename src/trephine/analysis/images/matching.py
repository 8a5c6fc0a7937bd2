"""One-to-one matching of detected points to reference points, and detection scores.

A detection is a true positive when it is paired with a reference point no farther than the
matching radius, each reference point taking at most one detection and each detection at most
one reference point. Among all such pairings the one with the smallest total distance is taken
(the assignment problem, solved with the Hungarian method of
:func:`scipy.optimize.linear_sum_assignment`); pairs farther apart than the radius are
forbidden, not merely penalised, so the number of matches is the largest possible at that radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

__all__ = ["DetectionScore", "match_points", "score_detections"]

#: A cost larger than any allowed pair's (pixel distances on an image are far below it).
_FORBIDDEN = 1e9


@dataclass(frozen=True)
class DetectionScore:
    """Precision, recall and F1 of detections against reference points at ``radius`` pixels."""

    true_positives: int
    false_positives: int
    false_negatives: int
    radius: float

    @property
    def detected(self) -> int:
        return self.true_positives + self.false_positives

    @property
    def reference(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float:
        return self.true_positives / self.detected if self.detected else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.reference if self.reference else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: DetectionScore) -> DetectionScore:
        """Pooled counts of two images (micro-averaged scores)."""
        if other.radius != self.radius:
            raise ValueError("scores at different matching radii cannot be pooled")
        return DetectionScore(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
            self.radius,
        )


def _points(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return np.zeros((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must be an (n, 2) array of (x, y) points, got {array.shape}")
    return array


def match_points(detected: ArrayLike, reference: ArrayLike, radius: float) -> list[tuple[int, int]]:
    """The one-to-one pairs ``(detected index, reference index)`` at most ``radius`` apart,
    maximal in number and, among maximal pairings, of smallest total distance."""
    det = _points(detected, "detected")
    ref = _points(reference, "reference")
    if len(det) == 0 or len(ref) == 0:
        return []
    # Only pairs within the radius can match: solve on the bipartite components they form,
    # with a sparse candidate list instead of the full distance matrix.
    close = cKDTree(det).query_ball_tree(cKDTree(ref), r=radius)
    rows = sorted({i for i, js in enumerate(close) if js})
    cols = sorted({j for js in close for j in js})
    if not rows:
        return []
    row_at = {i: k for k, i in enumerate(rows)}
    col_at = {j: k for k, j in enumerate(cols)}
    cost = np.full((len(rows), len(cols)), _FORBIDDEN)
    for i, js in enumerate(close):
        for j in js:
            cost[row_at[i], col_at[j]] = float(np.hypot(*(det[i] - ref[j])))
    r_idx, c_idx = linear_sum_assignment(cost)
    return [(rows[r], cols[c]) for r, c in zip(r_idx, c_idx, strict=True) if cost[r, c] <= radius]


def score_detections(
    detected: ArrayLike, reference: ArrayLike, radius: float = 8.0
) -> DetectionScore:
    """True/false positives and false negatives of ``detected`` against ``reference``."""
    det = _points(detected, "detected")
    ref = _points(reference, "reference")
    tp = len(match_points(det, ref, radius))
    return DetectionScore(tp, len(det) - tp, len(ref) - tp, float(radius))
