"""Intervals and paired tests against hand-computed and published values."""

from __future__ import annotations

import pytest

from trephine.analysis.stats import benjamini_hochberg, clopper_pearson, paired_wilcoxon, wilson
from trephine.errors import ValidationError


def test_wilson_five_percent_of_two_hundred() -> None:
    # The example: 5 % blasts of 200 cells counted is 2.7–9.0 %.
    iv = wilson(10, 200)
    assert round(iv.lower * 100, 1) == 2.7
    assert round(iv.upper * 100, 1) == 9.0
    assert iv.contains(0.05) and not iv.contains(0.1)


def test_wilson_edges_stay_inside_zero_one() -> None:
    assert wilson(0, 20).lower == 0.0
    assert wilson(20, 20).upper == 1.0


def test_clopper_pearson_known_values() -> None:
    # Exact intervals: 0/10 → upper 0.3085; 5/10 → 0.1871–0.8129 (standard tables).
    assert clopper_pearson(0, 10).upper == pytest.approx(0.3085, abs=1e-4)
    iv = clopper_pearson(5, 10)
    assert (iv.lower, iv.upper) == (
        pytest.approx(0.1871, abs=1e-4),
        pytest.approx(0.8129, abs=1e-4),
    )


@pytest.mark.parametrize(
    ("x", "n", "field"), [(3, 0, "n"), (5, 4, "x"), (-1, 4, "x"), (1.5, 4, "x")]
)
def test_intervals_refuse_bad_counts(x: object, n: int, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        wilson(x, n)  # type: ignore[arg-type]
    assert err.value.field == field


def test_paired_wilcoxon_matches_scipy_and_effect_size() -> None:
    from scipy import stats

    before = [12.0, 15.5, 9.0, 20.0, 11.0, 14.0, 8.5]
    after = [8.0, 10.0, 9.0, 13.5, 12.0, 7.0, 5.0]
    res = paired_wilcoxon(before, after)
    ref = stats.wilcoxon(after, before)
    assert res.p_value == pytest.approx(float(ref.pvalue))
    assert res.statistic == pytest.approx(float(ref.statistic))
    assert res.n_pairs == 7 and res.n_nonzero == 6
    # Ranks of |d| (4, 5.5, 6.5, 1, 7, 3.5) → 4, 3, 5, 1, 6, 2; only +1 rose: (1 − 20) / 21.
    assert res.effect_size == pytest.approx((1 - 20) / 21)


def test_paired_wilcoxon_refuses_unequal_lengths() -> None:
    with pytest.raises(ValidationError):
        paired_wilcoxon([1.0, 2.0], [1.0])


def test_benjamini_hochberg_by_hand() -> None:
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([]) == []
