"""Time-to-event statistics over plain arrays: Kaplan–Meier, log-rank, Aalen–Johansen, Cox.

Every estimate is lifelines' (the brief names it; nothing here re-derives a product-limit
estimator). This module only checks the input, calls lifelines and returns frozen records the CLI,
the pages and the notebook API share:

- :func:`kaplan_meier` — survival curve of one group: n, events, median with its confidence
  interval (lifelines' ``median_survival_times`` of the pointwise log(−log) band), survival at
  chosen times, and the at-risk table at chosen times;
- :func:`logrank` — the (multi-group) log-rank test, χ² with k − 1 degrees of freedom;
- :func:`cumulative_incidence` — Aalen–Johansen cumulative incidence of one cause with the other
  causes (e.g. death without relapse) as competing risks;
- :func:`cox` — Cox proportional hazards. **Ties are handled by Efron's method**, the default of
  R's ``coxph`` and the only one lifelines' ``CoxPHFitter`` implements; it is pinned and reported
  (Breslow's method gives different hazard ratios on tied data, e.g. 4.52 instead of 4.82 for the
  Freireich/Anderson treatment effect), and asking for another method is refused.

Times are in whatever unit the caller's data uses; events are 0 (censored) or 1 (event) — or,
for :func:`cumulative_incidence`, 0 (censored) or a positive cause code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from trephine.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

#: The tie method of :func:`cox` (lifelines' CoxPHFitter implements Efron's only).
TIES = "efron"


def _arrays(times: Sequence[float], events: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    if len(times) != len(events):
        raise ValidationError(
            "event", f"{len(events)} values", f"as many values as time ({len(times)})"
        )
    if len(times) == 0:
        raise ValidationError("time", "no rows", "at least one subject")
    t = np.asarray(times, dtype=float)
    e = np.asarray(events, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValidationError("time", "a negative or missing time", "finite times >= 0")
    if not np.all(np.isin(e, (0.0, 1.0))):
        raise ValidationError("event", "a value other than 0 or 1", "0 (censored), 1 (event)")
    return t, e.astype(int)


def _num(value: Any) -> float | None:
    v = float(value)
    return None if math.isinf(v) or math.isnan(v) else v


@dataclass(frozen=True)
class Curve:
    """One group's Kaplan–Meier curve and the figures reported from it."""

    n: int
    events: int
    #: None when the curve never falls to 0.5 (the median is not reached).
    median: float | None
    #: Confidence interval of the median; either end is None when not reached.
    median_lower: float | None
    median_upper: float | None
    #: S(t) at the requested times (the step function's value at t, right-continuous).
    survival_at: Mapping[float, float]
    #: Number still at risk just before each requested time (the at-risk table).
    at_risk: Mapping[float, int]
    #: The step function: (time, survival, lower, upper) at each distinct time, from 0.
    steps: tuple[tuple[float, float, float, float], ...] = field(repr=False, default=())
    level: float = 0.95

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "events": self.events,
            "median": self.median,
            "median_ci": [self.median_lower, self.median_upper],
            "survival_at": {_key(t): s for t, s in self.survival_at.items()},
            "at_risk": {_key(t): n for t, n in self.at_risk.items()},
        }


def _key(t: float) -> str:
    """A time as a JSON key: ``365`` rather than ``365.0`` for whole numbers."""
    return str(int(t)) if float(t).is_integer() else repr(float(t))


def kaplan_meier(
    times: Sequence[float],
    events: Sequence[int],
    *,
    at: Sequence[float] = (),
    level: float = 0.95,
) -> Curve:
    """Kaplan–Meier estimate of one group (lifelines ``KaplanMeierFitter``)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    if not 0 < level < 1:
        raise ValidationError("level", level, "a fraction strictly between 0 and 1")
    for x in at:
        if not math.isfinite(x) or x < 0:
            raise ValidationError("at", x, "times >= 0")
    t, e = _arrays(times, events)
    kmf = KaplanMeierFitter(alpha=1 - level).fit(t, e)
    median = _num(kmf.median_survival_time_)
    ci = median_survival_times(kmf.confidence_interval_)
    lower, upper = (_num(v) for v in ci.iloc[0].tolist())
    wanted = sorted(set(float(x) for x in at))
    surv = (
        dict(zip(wanted, (float(s) for s in kmf.survival_function_at_times(wanted)), strict=True))
        if wanted
        else {}
    )
    risk = {x: int(np.sum(t >= x)) for x in wanted}
    sf = kmf.survival_function_.iloc[:, 0]
    band = kmf.confidence_interval_
    steps = tuple(
        (float(tt), float(s), float(lo), float(hi))
        for tt, s, lo, hi in zip(
            sf.index,
            sf.to_numpy(),
            band.iloc[:, 0].to_numpy(),
            band.iloc[:, 1].to_numpy(),
            strict=True,
        )
    )
    return Curve(
        n=len(t),
        events=int(e.sum()),
        median=median,
        median_lower=lower,
        median_upper=upper,
        survival_at=surv,
        at_risk=risk,
        steps=steps,
        level=level,
    )


@dataclass(frozen=True)
class LogRank:
    statistic: float
    p: float
    df: int

    def to_json(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "p": self.p, "df": self.df}


def logrank(times: Sequence[float], events: Sequence[int], groups: Sequence[Any]) -> LogRank:
    """The log-rank test of equal survival across the groups (two or more)."""
    from lifelines.statistics import multivariate_logrank_test

    t, e = _arrays(times, events)
    if len(groups) != len(t):
        raise ValidationError("group", f"{len(groups)} values", f"one per subject ({len(t)})")
    labels = [str(g) for g in groups]
    distinct = sorted(set(labels))
    if len(distinct) < 2:
        raise ValidationError("group", distinct[0], "at least two groups for a log-rank test")
    res = multivariate_logrank_test(t, labels, e)
    return LogRank(float(res.test_statistic), float(res.p_value), len(distinct) - 1)


@dataclass(frozen=True)
class Incidence:
    """Cumulative incidence of one cause with competing risks (Aalen–Johansen)."""

    cause: int
    n: int
    events: int
    competing: int
    at: Mapping[float, float]
    steps: tuple[tuple[float, float], ...] = field(repr=False, default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "n": self.n,
            "events": self.events,
            "competing": self.competing,
            "incidence_at": {_key(t): v for t, v in self.at.items()},
        }


def cumulative_incidence(
    times: Sequence[float], causes: Sequence[int], *, cause: int = 1, at: Sequence[float] = ()
) -> Incidence:
    """Aalen–Johansen cumulative incidence of ``cause``; any other positive code competes.

    ``causes``: 0 = censored, ``cause`` = the event of interest (e.g. 1 = relapse), any other
    positive integer = a competing event (e.g. 2 = death without relapse).
    """
    from lifelines import AalenJohansenFitter

    if len(times) != len(causes):
        raise ValidationError("cause", f"{len(causes)} values", f"one per time ({len(times)})")
    if not times:
        raise ValidationError("time", "no rows", "at least one subject")
    t = np.asarray(times, dtype=float)
    c = np.asarray(causes, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValidationError("time", "a negative or missing time", "finite times >= 0")
    if not np.all((c >= 0) & (c == np.round(c))):
        raise ValidationError("cause", "a value that is not a whole number >= 0", "0 or a code")
    ci = c.astype(int)
    if cause <= 0:
        raise ValidationError("cause", cause, "a positive event code")
    # lifelines jitters tied event times unless told not to; keep the data as given.
    ajf = AalenJohansenFitter(calculate_variance=False).fit(t, ci, event_of_interest=cause)
    curve = ajf.cumulative_density_.iloc[:, 0]
    idx = curve.index.to_numpy(dtype=float)
    vals = curve.to_numpy(dtype=float)

    def value_at(x: float) -> float:
        pos = int(np.searchsorted(idx, x, side="right")) - 1
        return 0.0 if pos < 0 else float(vals[pos])

    wanted = sorted(set(float(x) for x in at))
    return Incidence(
        cause=cause,
        n=len(t),
        events=int(np.sum(ci == cause)),
        competing=int(np.sum((ci > 0) & (ci != cause))),
        at={x: value_at(x) for x in wanted},
        steps=tuple((float(a), float(b)) for a, b in zip(idx, vals, strict=True)),
    )


@dataclass(frozen=True)
class CoxTerm:
    covariate: str
    coef: float
    hazard_ratio: float
    lower: float
    upper: float
    p: float


@dataclass(frozen=True)
class CoxModel:
    terms: tuple[CoxTerm, ...]
    n: int
    events: int
    ties: str
    concordance: float
    level: float = 0.95

    def term(self, covariate: str) -> CoxTerm:
        for t in self.terms:
            if t.covariate == covariate:
                return t
        raise ValidationError("covariate", covariate, [t.covariate for t in self.terms])

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "events": self.events,
            "ties": self.ties,
            "concordance": self.concordance,
            "terms": [t.__dict__ for t in self.terms],
        }


def cox(
    frame: pd.DataFrame,
    *,
    time: str,
    event: str,
    covariates: Sequence[str],
    ties: str = TIES,
    level: float = 0.95,
) -> CoxModel:
    """Cox proportional-hazards regression of ``time``/``event`` on numeric ``covariates``."""
    from lifelines import CoxPHFitter

    if ties != TIES:
        raise ValidationError("ties", ties, [TIES], reason="lifelines implements Efron's method")
    if not covariates:
        raise ValidationError("covariate", None, "at least one column of the table")
    missing = [c for c in (time, event, *covariates) if c not in frame.columns]
    if missing:
        raise ValidationError("column", missing[0], list(frame.columns))
    _arrays(frame[time].tolist(), frame[event].tolist())
    data = frame[[time, event, *covariates]].astype(float)
    cph = CoxPHFitter(alpha=1 - level).fit(data, duration_col=time, event_col=event)
    s = cph.summary
    lo_col = next(c for c in s.columns if c.startswith("exp(coef) lower"))
    hi_col = next(c for c in s.columns if c.startswith("exp(coef) upper"))
    terms = tuple(
        CoxTerm(
            covariate=str(name),
            coef=float(row["coef"]),
            hazard_ratio=float(row["exp(coef)"]),
            lower=float(row[lo_col]),
            upper=float(row[hi_col]),
            p=float(row["p"]),
        )
        for name, row in s.iterrows()
    )
    return CoxModel(
        terms=terms,
        n=len(data),
        events=int(data[event].sum()),
        ties=TIES,
        concordance=float(cph.concordance_index_),
        level=level,
    )


def by_group(
    times: Sequence[float],
    events: Sequence[int],
    groups: Sequence[Any] | None,
    *,
    at: Sequence[float] = (),
) -> dict[str, Any]:
    """The ``stats survival --json`` document: one curve per group, and the log-rank test.

    ``{"groups": {G: {"n", "events", "median", "median_ci", "survival_at", "at_risk"}},
    "logrank": {"statistic", "p", "df"}}``; without ``groups`` the one group is ``"all"`` and there
    is no ``logrank``.
    """
    t, e = _arrays(times, events)
    if groups is None:
        return {"groups": {"all": kaplan_meier(t.tolist(), e.tolist(), at=at).to_json()}}
    labels = [str(g) for g in groups]
    out: dict[str, Any] = {"groups": {}}
    for g in sorted(set(labels), key=_natural):
        mask = np.array([lab == g for lab in labels])
        out["groups"][g] = kaplan_meier(t[mask].tolist(), e[mask].tolist(), at=at).to_json()
    if len(out["groups"]) >= 2:
        out["logrank"] = logrank(t.tolist(), e.tolist(), labels).to_json()
    return out


def _natural(label: str) -> tuple[int, float | str]:
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)
