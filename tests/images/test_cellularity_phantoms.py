"""Cellularity on seeded phantoms: held-out seeds (never used to choose the parameters, which
were set on seeds 0-5, the bone parameters of method 2 on seeds 0-11 drawn with bone) within
the 3-point mean absolute error target, and the adversarial parts - glass, bone, a tear, a
fold, an ink mark - excluded rather than counted."""

from __future__ import annotations

import numpy as np
import pytest

from trephine.analysis.images.cellularity import Segment, measure_cellularity, overlay
from trephine.analysis.images.phantoms import PHANTOM_MPP, Label, make_phantom

HELD_OUT = range(1000, 1008)


pytestmark = pytest.mark.slow  # seeded phantoms: seconds each


@pytest.fixture(scope="module")
def held_out() -> list[tuple[float, float, np.ndarray, np.ndarray]]:
    out = []
    for seed in HELD_OUT:
        phantom = make_phantom(seed, 480)
        result = measure_cellularity(phantom.rgb, PHANTOM_MPP)
        out.append(
            (phantom.cellularity_pct, result.cellularity_pct, phantom.labels, result.segments)
        )
    return out


def test_mean_absolute_error_on_held_out_phantoms_is_at_most_3_points(held_out: list) -> None:
    errors = [abs(measured - truth) for truth, measured, _, _ in held_out]
    truths = [truth for truth, *_ in held_out]
    assert max(truths) - min(truths) > 30, "the held-out phantoms must span the range"
    assert float(np.mean(errors)) <= 3.0, errors


def test_adversarial_parts_are_excluded_not_counted(held_out: list) -> None:
    """Pooled over the held-out phantoms, most glass, bone and artefact pixels are excluded
    (single phantoms vary: thin fold and tear rims can read as marrow, glass cut by the edge as
    fat), and the marrow itself is kept."""
    shares: dict[Label, list[float]] = {Label.BACKGROUND: [], Label.ARTEFACT: [], Label.BONE: []}
    for _, _, labels, segments in held_out:
        for label, seen in shares.items():
            where = labels == label
            if where.sum() >= 500:
                seen.append(float(np.mean(segments[where] == Segment.EXCLUDED)))
        marrow = (labels == Label.HAEMATOPOIETIC) | (labels == Label.FAT)
        assert float(np.mean(segments[marrow] != Segment.EXCLUDED)) > 0.85
    for label, seen in shares.items():
        assert seen and float(np.mean(seen)) > 0.75, (label, seen)


def test_counting_the_artefacts_would_miss_the_target() -> None:
    """The exclusions matter: calling every non-fat pixel haematopoietic (no exclusion of bone,
    folds, ink) is far off on phantoms that carry them."""
    phantom = make_phantom(1003, 480, bone=True)
    result = measure_cellularity(phantom.rgb, PHANTOM_MPP)
    fat = int(np.count_nonzero(result.segments == Segment.FAT))
    naive_cells = int(np.count_nonzero(phantom.labels != Label.BACKGROUND)) - fat
    naive = 100 * naive_cells / (naive_cells + fat)
    assert abs(naive - phantom.cellularity_pct) > 5
    assert abs(result.cellularity_pct - phantom.cellularity_pct) <= 3


def test_empty_marrow_and_full_marrow_extremes() -> None:
    packed = make_phantom(7, 400, cellularity=97, artefacts=False, bone=False)
    fatty = make_phantom(8, 400, cellularity=8, artefacts=False, bone=False)
    assert measure_cellularity(packed.rgb, PHANTOM_MPP).cellularity_pct > 90
    assert measure_cellularity(fatty.rgb, PHANTOM_MPP).cellularity_pct < 15


def test_overlay_tints_each_segment() -> None:
    phantom = make_phantom(2, 300)
    result = measure_cellularity(phantom.rgb, PHANTOM_MPP)
    tinted = overlay(phantom.rgb, result.segments)
    assert tinted.shape == phantom.rgb.shape and tinted.dtype == np.uint8
    fat = result.segments == Segment.FAT
    # fat is tinted yellow: blue drops against red
    assert tinted[fat][:, 2].mean() < phantom.rgb[fat][:, 2].mean() - 40
