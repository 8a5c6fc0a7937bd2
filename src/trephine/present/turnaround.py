"""Turnaround figures as people read them: hours to one decimal in text and pages, two in JSON
(the underlying times are to the second; a tenth of an hour is six minutes, finer than any lab
reports a turnaround)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trephine.services.orders import Turnaround


def hours_text(hours: float, places: int = 1) -> str:
    """``hours`` rounded half-up to ``places`` decimals (as labs round), as text."""
    step = Decimal(1).scaleb(-places)
    return str(Decimal(repr(hours)).quantize(step, rounding=ROUND_HALF_UP))


def waited_text(hours: float) -> str:
    """How long a pending study has waited, as the work list shows it: ``30 h`` up to two days,
    then ``10.9 d``."""
    return f"{hours / 24:.1f} d" if hours >= 48 else f"{hours:.0f} h"


def turnaround_rows(result: Turnaround) -> list[dict[str, Any]]:
    """One row per group, numbers as text at one decimal, plus days for the page."""
    return [
        {
            "by": g.by,
            "key": g.key,
            "n": g.n,
            "median": hours_text(g.median_hours),
            "median_days": hours_text(g.median_hours / 24),
            "p90": hours_text(g.p90_hours),
            "p90_days": hours_text(g.p90_hours / 24),
            "min": hours_text(g.min_hours),
            "max": hours_text(g.max_hours),
        }
        for g in result.groups
    ]


def turnaround_json(result: Turnaround) -> dict[str, Any]:
    def number(hours: float) -> float:
        return float(hours_text(hours, 2))

    return {
        "from": "collection",
        "to": "final report",
        "final_time": result.final_time,
        "studies": result.studies,
        "percentile": "90th, nearest rank",
        "groups": [
            {
                "by": g.by,
                "key": g.key,
                "n": g.n,
                "median_hours": number(g.median_hours),
                "p90_hours": number(g.p90_hours),
                "min_hours": number(g.min_hours),
                "max_hours": number(g.max_hours),
            }
            for g in result.groups
        ],
    }
