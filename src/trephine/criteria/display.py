"""Human-readable text for criteria evidence (web page and CLI tables).

Stored and JSON evidence keep the exact value (a Decimal such as
``90.0709219858156028368794326`` is what the rule compared, and the audit needs it); only what a
person reads is rounded. Four significant digits are more than any marrow count supports
(a 500-cell differential resolves 0.2 %) yet keep small MRD levels (0.001234 %) distinct.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

SIGNIFICANT_DIGITS = 4
NOT_RECORDED = "not recorded"


def format_value(value: Any, digits: int = SIGNIFICANT_DIGITS) -> str:
    """``value`` for display: numbers (also numeric text) to ``digits`` significant digits in
    plain notation, ``None`` as "not recorded", booleans as yes/no, other text unchanged."""
    if value is None:
        return NOT_RECORDED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v, digits) for v in value)
    number = _number(value)
    if number is None:
        text = str(value)
        # Evidence written with str() turns a missing value into the text "None".
        return NOT_RECORDED if text == "None" else text
    return _round(number, digits)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        # "NaN"/"Infinity" are words here, not numbers.
        return number if number.is_finite() else None
    return None


def _round(number: Decimal, digits: int) -> str:
    if not number.is_finite():
        return str(number)
    if number == 0:
        return "0"
    # Large values (cells counted, events acquired) keep every integer digit: 1234568 events,
    # never 1.235E+6 or 1235000, which would read as a different count.
    if number.adjusted() >= digits - 1:
        return str(int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    exponent = number.adjusted() - digits + 1
    # Half-up, as laboratories round reported values (not the banker's rounding of Decimal).
    rounded = number.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
    return format(rounded.normalize(), "f")


def format_evidence(item: Mapping[str, Any]) -> str:
    """One evidence entry as text: ``bm_blasts_pct 3.6 < 5 → yes``."""
    parts = [str(item.get("input", ""))]
    if "value" in item:
        parts.append(format_value(item.get("value")))
    if item.get("comparator"):
        parts += [str(item["comparator"]), format_value(item.get("threshold"))]
    text = " ".join(p for p in parts if p)
    outcome = item.get("outcome")
    if outcome is not None:
        text += f" → {'yes' if outcome else 'no'}"
    return text
