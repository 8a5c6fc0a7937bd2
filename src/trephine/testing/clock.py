"""A clock a test moves by hand: pass it as ``create_app(..., clock=clock)``.

clock = ManualClock()                 # frozen at 2026-01-05 08:00 UTC unless given a start
clock.advance(minutes=14)             # session idle and throttling windows move with it
"""

from __future__ import annotations

import datetime as dt

#: Where a :class:`ManualClock` starts when no start is given.
DEFAULT_START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


class ManualClock:
    """A clock that stands still until the test moves it (it may move backwards, too)."""

    def __init__(self, start: dt.datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move by ``datetime.timedelta(**delta)`` (``minutes=14``, ``seconds=-30``, …)."""
        self.now += dt.timedelta(**delta)
