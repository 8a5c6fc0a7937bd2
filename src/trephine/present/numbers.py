"""Numbers as a person reads them: the one formatting and rounding rule of Trephine.

Stored and JSON values keep the exact number (a Decimal such as
``90.0709219858156028368794326`` is what a rule compared, and the audit needs it); only what a
person reads is rounded, and always by this module:

* :func:`reported` - a measured value is shown at the precision it was reported (``2.20``
  stays ``2.20``), unless it has more than :data:`COMPUTED_DIGITS` significant digits: no
  laboratory reports that many, so it was computed (a flow MRD % or an LOD of 20 events /
  1,200,000 as an exact Decimal division) and is rounded to :data:`SIGNIFICANT_DIGITS` -
  ``LLOQ 0.004167 %``, never ``LLOQ 0.004166666666666666666666666667 %``.
* :func:`format_value` - criteria evidence and other computed numbers, always to
  :data:`SIGNIFICANT_DIGITS` (half-up, as laboratories round; integers keep every digit).
  Four significant digits are more than any marrow count supports (a 500-cell differential
  resolves 0.2 %) yet keep small MRD levels (0.001234 %) distinct.
* :func:`quantity_text` - a :class:`~trephine.domain.quantity.Quantity` with its qualifier,
  unit and limits (``<0.01 % (LOD 0.005 %, LLOQ 0.02 %)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trephine.domain.quantity import Quantity

SIGNIFICANT_DIGITS = 4
#: Above this many significant digits a number was computed, not reported.
COMPUTED_DIGITS = 6
NOT_RECORDED = "not recorded"


def reported(number: Decimal | None) -> Decimal | None:
    """``number`` as reported, or rounded to :data:`SIGNIFICANT_DIGITS` when it has more
    significant digits than any laboratory reports (it was computed)."""
    if number is None or not number.is_finite():
        return number
    if len(number.as_tuple().digits) <= COMPUTED_DIGITS:
        return number
    return Decimal(_round(number, SIGNIFICANT_DIGITS))


def number_text(value: object) -> str:
    """A reported number as text (see :func:`reported`); anything else as ``str``."""
    if isinstance(value, Decimal):
        return str(reported(value))
    return str(value)


def quantity_text(q: Quantity) -> str:
    """``0.35 % (LOD 0.01 %, LLOQ 0.02 %)``, ``<0.01 %``, ``not detected (LOD 0.005 %)``."""
    from trephine.domain.quantity import Qualifier

    if q.qualifier is Qualifier.NOT_DETECTED:
        text = "not detected"
    else:
        prefix = "" if q.qualifier is Qualifier.EXACT else f"{q.qualifier.value}"
        text = f"{prefix}{number_text(q.value)} {q.unit}"
    limits = [
        f"{name} {number_text(limit)} {q.unit}"
        for name, limit in (("LOD", q.lod), ("LLOQ", q.lloq))
        if limit is not None
    ]
    return f"{text} ({', '.join(limits)})" if limits else text


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
