"""Paired comparisons of one measurement before and after (or diagnosis vs relapse), and the
Benjamini–Hochberg adjustment across many measurements.

The test is scipy's Wilcoxon signed-rank test (two-sided; zero differences dropped, scipy's
``zero_method="wilcox"``); the effect size is the matched-pairs rank-biserial correlation
(Kerby 2014): (sum of positive ranks − sum of negative ranks) / total rank sum, from −1 (every
pair fell) to +1 (every pair rose).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trephine.errors import ValidationError


@dataclass(frozen=True)
class PairedTest:
    n_pairs: int
    #: Pairs with a non-zero difference (those the signed-rank test ranks).
    n_nonzero: int
    statistic: float
    p_value: float
    #: Matched-pairs rank-biserial correlation of after − before.
    effect_size: float
    median_before: float
    median_after: float
    median_difference: float


def paired_wilcoxon(before: Sequence[float], after: Sequence[float]) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test of ``after - before``."""
    if len(before) != len(after):
        raise ValidationError(
            "after", f"{len(after)} values", f"as many values as before ({len(before)})"
        )
    b = np.asarray(before, dtype=float)
    a = np.asarray(after, dtype=float)
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(a))):
        raise ValidationError("before", "a value that is not a finite number", "finite numbers")
    d = a - b
    nonzero = d[d != 0]
    if len(nonzero) < 1:
        raise ValidationError(
            "after", "no pair with a difference", "at least one pair whose values differ"
        )
    from scipy import stats  # heavy (about a second): imported when a test runs, not on import

    res = stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
    ranks = stats.rankdata(np.abs(nonzero))
    pos = float(ranks[nonzero > 0].sum())
    neg = float(ranks[nonzero < 0].sum())
    return PairedTest(
        n_pairs=len(d),
        n_nonzero=len(nonzero),
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        effect_size=(pos - neg) / (pos + neg),
        median_before=float(np.median(b)),
        median_after=float(np.median(a)),
        median_difference=float(np.median(d)),
    )


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q-values), in the order given."""
    if not p_values:
        return []
    ps = np.asarray(p_values, dtype=float)
    if not np.all((ps >= 0) & (ps <= 1)) or any(math.isnan(p) for p in ps):
        raise ValidationError("p_values", list(p_values), "numbers from 0 to 1")
    from scipy import stats

    return [float(q) for q in stats.false_discovery_control(ps, method="bh")]
