"""Turnaround times of lab studies: collection to final report, per study, section and month.

Pure: intervals in, summaries out. Each interval is one study's collection time and the time
its final report was issued (which time counts as "final" is the caller's choice; see
``services/orders.turnaround``). Groups give the count, the median (the middle value, or the mean
of the two middle values), the 90th percentile by the nearest-rank method (the smallest value
with at least 90 % of the values at or below it: the ⌈0.9·n⌉-th of the sorted values) and the
shortest and longest. A month is the calendar month (UTC) in which the final report was issued.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Grouping = Literal["study", "section", "month"]
GROUPINGS: tuple[Grouping, ...] = ("study", "section", "month")


@dataclass(frozen=True)
class Interval:
    """One study from collection to its final report."""

    study: str
    section: str
    collected_at: dt.datetime
    final_at: dt.datetime

    @property
    def hours(self) -> float:
        return (self.final_at - self.collected_at).total_seconds() / 3600

    @property
    def month(self) -> str:
        return self.final_at.astimezone(dt.UTC).strftime("%Y-%m")


@dataclass(frozen=True)
class TurnaroundGroup:
    """Turnaround of one group of studies, in hours (exact; round only for display)."""

    by: Grouping
    key: str
    n: int
    median_hours: float
    p90_hours: float
    min_hours: float
    max_hours: float


def nearest_rank(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the ⌈fraction·n⌉-th smallest value (1-based)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarise_group(by: Grouping, key: str, hours: Sequence[float]) -> TurnaroundGroup:
    return TurnaroundGroup(
        by=by,
        key=key,
        n=len(hours),
        median_hours=float(statistics.median(hours)),
        p90_hours=nearest_rank(hours, 0.9),
        min_hours=min(hours),
        max_hours=max(hours),
    )


def summarise(intervals: Iterable[Interval]) -> list[TurnaroundGroup]:
    """Groups per study, per section and per month (in that order, keys sorted)."""
    items = list(intervals)
    for item in items:
        if item.final_at < item.collected_at:
            raise ValueError(
                f"study {item.study}: final report {item.final_at.isoformat()} precedes "
                f"collection {item.collected_at.isoformat()}"
            )
    out: list[TurnaroundGroup] = []
    for by in GROUPINGS:
        groups: dict[str, list[float]] = {}
        for item in items:
            key = {"study": item.study, "section": item.section, "month": item.month}[by]
            groups.setdefault(key, []).append(item.hours)
        out.extend(summarise_group(by, key, groups[key]) for key in sorted(groups))
    return out
