"""One-to-one detection matching at a radius: Hungarian assignment, not greedy nearest."""

from __future__ import annotations

import pytest

from trephine.analysis.images.matching import match_points, score_detections


def test_each_reference_takes_at_most_one_detection() -> None:
    score = score_detections([[10, 10], [11, 10], [12, 10]], [[10, 10]], radius=8)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (1, 2, 0)
    assert score.precision == pytest.approx(1 / 3)
    assert score.recall == 1.0
    assert score.f1 == pytest.approx(0.5)


def test_the_radius_is_inclusive_and_farther_pairs_never_match() -> None:
    assert score_detections([[0, 0]], [[8, 0]], radius=8).true_positives == 1
    assert score_detections([[0, 0]], [[8.01, 0]], radius=8).true_positives == 0


def test_assignment_maximises_matches_where_greedy_nearest_would_lose_one() -> None:
    # Detection A is nearest to reference 1, but taking that pair leaves B with nothing;
    # the optimal assignment pairs A-0 and B-1.
    detected = [[5, 0], [12, 0]]  # A, B
    reference = [[0, 0], [6, 0]]
    pairs = sorted(match_points(detected, reference, radius=8))
    assert pairs == [(0, 0), (1, 1)]


def test_empty_inputs_and_pooling() -> None:
    empty = score_detections([], [[1, 1]], radius=8)
    assert (empty.true_positives, empty.false_negatives, empty.f1) == (0, 1, 0.0)
    pooled = empty + score_detections([[1, 1]], [[1, 1]], radius=8)
    assert (pooled.true_positives, pooled.false_negatives) == (1, 1)
    with pytest.raises(ValueError, match="radii"):
        empty + score_detections([], [], radius=4)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        score_detections([[1, 2, 3]], [[1, 1]])
