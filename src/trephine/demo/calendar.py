"""The demo's calendar: a fixed reference calendar, moved as a whole to end near an as-of day.

The generator draws every patient on a fixed *reference* calendar (diagnoses from
:data:`~trephine.demo.model.FIRST_DIAGNOSIS`, nothing on or after
:data:`~trephine.demo.model.COHORT_END`), so a seed gives the same cohort on every machine and
the tests can pin it. ``trephine demo --as-of DAY`` (default: today) then moves every date and
time of the cohort by one offset, :func:`shift_for`: a whole number of weeks, so weekdays and
every interval stay what they were, chosen so that the reference calendar's end (its last
biopsies and the lab's reports on them) falls in the week before the as-of day. Pending lab
studies and the latest biopsies are then days or weeks old for a newcomer instead of years,
and the cohort is otherwise the same (same patients, values, intervals and weekdays; only the
calendar moves).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, TypeVar

from trephine.demo.model import COHORT_END
from trephine.errors import ValidationError

T = TypeVar("T")

#: Days in a week: every shift is a multiple of it, so weekdays do not move.
WEEK = 7
#: Biopsies fall before :data:`COHORT_END`; the lab reports on them up to 21 days later
#: (:data:`trephine.demo.lab.REPORT_HOURS`, at most 504 hours), so the calendar, lab included,
#: ends this much after COHORT_END.
LAB_TAIL = dt.timedelta(days=22)
#: The reference calendar's end: nothing of the demo, lab steps included, on or after it.
REFERENCE_END = COHORT_END + LAB_TAIL
#: An as-of day that leaves the reference calendar where it is (:func:`shift_for` is 0): what
#: tests pass to ``trephine demo --as-of`` to see the cohort the library fixtures load.
REFERENCE_AS_OF = REFERENCE_END + dt.timedelta(days=1)


def shift_for(as_of: dt.date) -> int:
    """The shift in days (a multiple of 7, negative for an early ``as_of``) that puts the
    reference calendar's end, :data:`REFERENCE_END`, in the 7 days before ``as_of``: every
    biopsy and lab step of the moved demo is then before ``as_of``."""
    gap = (as_of - REFERENCE_END).days
    return WEEK * ((gap - 1) // WEEK)


def calendar_end(shift_days: int) -> dt.date:
    """The end of the calendar moved by ``shift_days``: nothing of the demo (biopsies, lab
    steps) falls on or after it."""
    return REFERENCE_END + dt.timedelta(days=shift_days)


def check_shift(shift_days: int) -> int:
    """``shift_days`` if it is a whole number of weeks; a located error otherwise."""
    if shift_days % WEEK:
        raise ValidationError("shift_days", shift_days, "a whole number of weeks (a multiple of 7)")
    return shift_days


def shifted(value: T, shift_days: int) -> T:
    """``value`` with every date and date-time inside it moved by ``shift_days`` days.

    Walks frozen dataclasses, tuples, lists and dict keys/values; everything else (numbers,
    text, enums, decimals) is returned as it is.
    """
    if not shift_days:
        return value
    return _shift(value, dt.timedelta(days=check_shift(shift_days)))


def _shift(value: Any, by: dt.timedelta) -> Any:
    if isinstance(value, dt.date):  # datetime is a date too
        return value + by
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_shift(v, by) for v in value)
    if isinstance(value, list):
        return [_shift(v, by) for v in value]
    if isinstance(value, dict):
        return {_shift(k, by): _shift(v, by) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            new = _shift(old, by)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value
