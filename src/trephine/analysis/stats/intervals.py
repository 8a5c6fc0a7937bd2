"""95 % (or other) confidence intervals for a proportion ``x`` of ``n``.

- :func:`wilson` — the Wilson score interval, for counted percentages (differential counts,
  population % of parent): good coverage at small ``n`` and never outside [0, 1].
- :func:`clopper_pearson` — the exact (conservative) interval from the beta distribution, for
  rates reported to others (response rates, complication and adequacy rates).

Both return fractions (0–1); callers multiply by 100 for percentages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from trephine.errors import ValidationError


@dataclass(frozen=True)
class Interval:
    """A proportion with its interval, all as fractions of 1."""

    x: int
    n: int
    estimate: float
    lower: float
    upper: float
    level: float
    method: str

    def contains(self, value: float) -> bool:
        """True when ``value`` (a fraction) lies inside the closed interval."""
        return self.lower <= value <= self.upper


def _check(x: int, n: int, level: float) -> None:
    for name, v in (("x", x), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValidationError(name, v, "a whole number")
    if n <= 0:
        raise ValidationError("n", n, "a whole number of at least 1")
    if not 0 <= x <= n:
        raise ValidationError("x", x, f"a whole number from 0 to n ({n})")
    if not 0 < level < 1:
        raise ValidationError("level", level, "a fraction strictly between 0 and 1")


def wilson(x: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval (Wilson 1927) for ``x`` successes in ``n`` trials."""
    _check(x, n, level)
    # The normal quantile from the standard library: importing scipy.stats for it cost every
    # command that words a differential about a second (the CLI and the docs tests run many).
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At x = 0 (x = n) the lower (upper) bound is exactly 0 (1); the formula leaves rounding dust.
    lower = 0.0 if x == 0 else max(0.0, centre - half)
    upper = 1.0 if x == n else min(1.0, centre + half)
    return Interval(x, n, p, lower, upper, level, "wilson")


def clopper_pearson(x: int, n: int, level: float = 0.95) -> Interval:
    """Exact Clopper–Pearson interval (Clopper & Pearson 1934) from the beta distribution."""
    from scipy.special import betaincinv  # the beta quantile (what scipy.stats.beta.ppf calls)

    _check(x, n, level)
    alpha = 1 - level
    lower = 0.0 if x == 0 else float(betaincinv(x, n - x + 1, alpha / 2))
    upper = 1.0 if x == n else float(betaincinv(x + 1, n - x, 1 - alpha / 2))
    return Interval(x, n, x / n, lower, upper, level, "clopper-pearson")
