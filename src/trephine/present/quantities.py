"""Measured values as a person reads them: sensible rounding and units that cannot be misread.

``Quantity`` (domain) and ``QuantityPublic`` (API) keep the exact reported number; a page shows
``PLT 38 ×10⁹/L`` — never ``38.000`` or ``x10^9/L`` — and an LOD of ``0.0016666…`` as ``0.001667``.
"""

from __future__ import annotations

from typing import Any

from trephine.present.numbers import number_text

#: Units as printed on a page (superscripts, the multiplication sign, a space before %).
UNITS: dict[str, str] = {
    "x10^9/L": "×10⁹/L",
    "x10^12/L": "×10¹²/L",
    "10^9/L": "×10⁹/L",
    "10^12/L": "×10¹²/L",
    "x10^6/uL": "×10⁶/µL",
    "uL": "µL",
    "1": "",
}


def unit_text(unit: str | None) -> str:
    if not unit:
        return ""
    return UNITS.get(unit, unit)


def quantity_text(q: Any) -> str:
    """``< 0.01 %``, ``38 ×10⁹/L``, ``not detected (LOD 0.001667 %)``; ``—`` for nothing."""
    if q is None:
        return "—"
    unit = unit_text(getattr(q, "unit", None))
    qualifier = str(getattr(getattr(q, "qualifier", "="), "value", getattr(q, "qualifier", "=")))
    lod = getattr(q, "lod", None)
    if qualifier == "not detected":
        text = "not detected"
        if lod is not None:
            text += f" (LOD {number_text(lod)}{' ' + unit if unit else ''})"
        return text
    value = getattr(q, "value", None)
    if value is None:
        return "—"
    prefix = "" if qualifier == "=" else f"{qualifier} "
    return f"{prefix}{number_text(value)}{' ' + unit if unit else ''}"
