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
        name = item.get("input")
        if name.__class__ is not str:
            name = str(name)
        spec = COUNTED.get(name)
        if spec is None:  # most evidence is not a counted percentage: nothing to convert
            continue
        # What follows depends only on the text of the three numbers (each is read as
        # ``Decimal(str(value))``), so it is worked out once per distinct text and kept.
        key = (
            name,
            str(item.get("threshold")),
            str(facts.get(name, item.get("value"))),
            str(facts.get(spec[0])),
        )
        found = _WORKED.get(key, _NOT_YET)
        if found is _NOT_YET:
            if len(_WORKED) >= _WORKED_MAX:
                _WORKED.clear()
            found = _WORKED[key] = _work_out(name, spec[1], *key[1:])
        if found is None:
            continue
        threshold, worded = found
        if (name, threshold) in seen:
            continue
        seen.add((name, threshold))
        if worded is not None:
            out.append(dict(worded))
    return out


_NOT_YET: Any = object()
_WORKED: dict[tuple[str, str, str, str], tuple[Decimal, dict[str, Any] | None] | None] = {}
_WORKED_MAX = 4096


def _work_out(
    name: str, label: str, threshold_text: str, pct_text: str, n_text: str
) -> tuple[Decimal, dict[str, Any] | None] | None:
    """None when the item is no count compared with a threshold; else the threshold and the
    worded item (None when the threshold lies outside the interval)."""
    threshold = _decimal(threshold_text)
    if threshold is None:
        return None
    pct = _decimal(pct_text)
    n = _decimal(n_text)
    if pct is None or n is None or n <= 0 or n != n.to_integral_value():
        return None
    cells = int(n)
    x = int((pct * cells / 100).to_integral_value(rounding=ROUND_HALF_UP))
    if not 0 <= x <= cells:
        return None
    from trephine.analysis.stats import wilson  # numpy: only when a count is compared

    ci = wilson(x, cells)
    if not ci.lower <= float(threshold) / 100 <= ci.upper:
        return threshold, None
    shown_threshold = format(threshold.normalize(), "f")
    return threshold, {
        "input": f"{name} interval",
        "value": str(pct),
        "threshold": str(threshold),
        "cells_counted": cells,
        "ci95_low": _pct(ci.lower),
        "ci95_high": _pct(ci.upper),
        "flag": COUNT_FLAG,
        "sentence": (
            f"{label} {pct:.1f} % of {cells} cells counted "
            f"(95 % CI {_pct(ci.lower)}–{_pct(ci.upper)} %): the {shown_threshold} % "
            "threshold lies inside the interval, so this count cannot separate the "
            "categories on either side of it."
        ),
    }
