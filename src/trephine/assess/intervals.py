"""Counting uncertainty at a criteria threshold (issue 14 §4).

A differential percentage is a count: 10 blasts of 200 cells is 5.0 %, but its 95 % Wilson
interval is 2.7–9.0 %. When a rule compared such a percentage with a threshold that lies inside
that interval, the count cannot separate the categories on either side of the threshold; the
call then carries the flag :data:`COUNT_FLAG` and one worded evidence item saying so (shown as
worded on the pages, :func:`trephine.present.explain.evidence_sentence`).

Additive: the rule, the category and the other evidence are unchanged; only calls whose
comparison falls inside the interval gain the flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

COUNT_FLAG = "COUNT_CANNOT_SEPARATE"

#: Percentages that are counts: the input, the input holding the number of cells counted, and
#: the words for what was counted.
COUNTED: Mapping[str, tuple[str, str]] = {"bm_blasts_pct": ("cells_counted", "Marrow blasts")}


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}"


def interval_evidence(
    evidence: Iterable[Mapping[str, Any]], facts: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One worded item per counted percentage whose compared threshold lies inside its 95 %
    Wilson interval (closed: a bound equal to the threshold counts as inside)."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, Decimal]] = set()
    for item in evidence:
        spec = COUNTED.get(str(item.get("input")))
        if spec is None:  # most evidence is not a counted percentage: nothing to convert
            continue
        name = str(item.get("input"))
        threshold = _decimal(item.get("threshold"))
        if threshold is None:
            continue
        pct = _decimal(facts.get(name, item.get("value")))
        n = _decimal(facts.get(spec[0]))
        if pct is None or n is None or n <= 0 or n != n.to_integral_value():
            continue
        cells = int(n)
        x = int((pct * cells / 100).to_integral_value(rounding=ROUND_HALF_UP))
        if not 0 <= x <= cells or (name, threshold) in seen:
            continue
        seen.add((name, threshold))
        from trephine.analysis.stats import wilson  # numpy: only when a count is compared

        ci = wilson(x, cells)
        if not ci.lower <= float(threshold) / 100 <= ci.upper:
            continue
        shown_threshold = format(threshold.normalize(), "f")
        out.append(
            {
                "input": f"{name} interval",
                "value": str(pct),
                "threshold": str(threshold),
                "cells_counted": cells,
                "ci95_low": _pct(ci.lower),
                "ci95_high": _pct(ci.upper),
                "flag": COUNT_FLAG,
                "sentence": (
                    f"{spec[1]} {pct:.1f} % of {cells} cells counted "
                    f"(95 % CI {_pct(ci.lower)}–{_pct(ci.upper)} %): the {shown_threshold} % "
                    "threshold lies inside the interval, so this count cannot separate the "
                    "categories on either side of it."
                ),
            }
        )
    return out
