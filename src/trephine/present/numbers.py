"""Numbers as a person reads them: the one formatting and rounding rule of Trephine.

Stored and JSON values keep the exact number (a Decimal such as
``90.0709219858156028368794326`` is what a rule compared, and the audit needs it); only what a
person reads is rounded, always here:

* a measured value (:func:`readable`, :func:`number_text`) reads at its reported precision
  (``0.0460 %``), a whole number without the zeros a unit conversion appended (``PLT 38
  ×10⁹/L``, never ``38.000``, which reads as thirty-eight thousand in much of Europe), and a
  number with more than :data:`COMPUTED_DIGITS` significant digits - no laboratory reports
  that many; it was computed, e.g. an LLOQ of 50 / 3,000,000 events as an exact Decimal
  division - to :data:`SIGNIFICANT_DIGITS` significant digits: ``LLOQ 0.001667 %``, never
  ``0.001666666666666666666666666667 %``;
* criteria evidence (:func:`format_value`, :func:`format_evidence`) always to
  :data:`SIGNIFICANT_DIGITS` significant digits, half-up as laboratories round; integers keep
  every digit. Four significant digits are more than any marrow count supports (a 500-cell
  differential resolves 0.2 %) yet keep small MRD levels (0.001234 %) distinct.

Every text built from numbers goes through here: the pages' and API's quantity texts
(:mod:`trephine.present.quantities`), the result summaries (:mod:`trephine.present.results`),
the chronology phrases (:mod:`trephine.present.chronology`) and the CLI
(:func:`quantity_with_limits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trephine.domain.quantity import Quantity

SIGNIFICANT_DIGITS = 4
#: More significant digits than any laboratory reports: such a number was computed.
COMPUTED_DIGITS = 6
NOT_RECORDED = "not recorded"


def readable(number: Decimal | None) -> Decimal | None:
    """A measured ``number`` as a person should read it (the one rule, see the module text):
    at its reported precision (``0.0460`` stays ``0.0460``); a whole number without the zeros a
    unit conversion appended (``38.000`` ×10⁹/L reads ``38``); and a number with more than
    :data:`COMPUTED_DIGITS` significant digits - none is reported so, it was computed - to
    :data:`SIGNIFICANT_DIGITS` significant digits."""
    if number is None or not number.is_finite():
        return number
    if len(number.as_tuple().digits) > COMPUTED_DIGITS:
        return Decimal(_round(number, SIGNIFICANT_DIGITS))
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number


def number_text(value: object) -> str:
    """A measured number as text (:func:`readable`, never in exponent notation); other values
    (evidence, floats, None) by :func:`format_value`."""
    if isinstance(value, Decimal) and value.is_finite():
        # By the number's own text, which keeps its digits: 0.046 and 0.0460 are equal
        # Decimals (one dict key) but read differently.
        return _decimal_text(str(value))
    return format_value(value)


@lru_cache(maxsize=8192)
def _decimal_text(text: str) -> str:
    """:func:`number_text` of the finite Decimal written ``text`` (``str`` of a Decimal gives
    back the same digits and exponent). Remembered: a page formats each of its numbers up to
    three times (the value, its line of text, the chart) and most of them recur (PLT 38,
    blasts 2.0 %); reading and rounding a Decimal's digits cost ~2 µs, a look-up ~0.2 µs."""
    shown = readable(Decimal(text))
    assert shown is not None
    return format(shown, "f")


def quantity_with_limits(q: Quantity) -> str:
    """``0.35 % (LOD 0.01 %, LLOQ 0.02 %)``, ``<0.01 %``, ``not detected (LOD 0.005 %)`` - the
    command line's view of a value, with its assay limits."""
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
    """One evidence entry as text: ``bm_blasts_pct 3.6 < 5 → yes``, with its role when the
    engine recorded one: ``courses_completed 1 >= 2 → no (supports the call)``."""
    parts = [str(item.get("input", ""))]
    if "value" in item:
        parts.append(format_value(item.get("value")))
    if item.get("comparator"):
        parts += [str(item["comparator"]), format_value(item.get("threshold"))]
    text = " ".join(p for p in parts if p)
    outcome = item.get("outcome")
    if outcome is not None:
        text += f" → {'yes' if outcome else 'no'}"
    # What it did for the matched rule (the engine's ``role``): a "no" may be what the rule
    # needs (under ``not``), or an either/or branch that did not count.
    role = item.get("role")
    if role == "supports":
        text += " (supports the call)"
    elif role == "not_needed":
        text += " (not needed)"
    return text
