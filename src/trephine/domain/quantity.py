"""Measured values with units, qualifiers and detection limits.

A value such as ``MRD < 0.01 %`` or "not detected at a sensitivity of 1e-5" is a
:class:`Quantity` with a :class:`Qualifier`, never a string holding ``<``. Values are
:class:`~decimal.Decimal` so that thresholds compare exactly the reported number (criteria spec
G2: never round before comparing) and the reported precision survives storage.

Units are converted to one canonical unit per field *at ingestion* (criteria spec G1: counts in
×10^9/L, haemoglobin in g/dL) by :class:`Measure`, which also checks the allowed range.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from trephine.errors import Location, ValidationError


class Qualifier(StrEnum):
    EXACT = "="
    LESS_THAN = "<"
    GREATER_THAN = ">"
    #: Below the limit of detection; ``value`` is None and ``lod`` (if known) says how sensitive.
    NOT_DETECTED = "not detected"


def decimal_places(value: Decimal) -> int:
    """Decimal places as written: ``Decimal("0.010")`` has 3."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


@dataclass(frozen=True)
class Quantity:
    """A value in a unit, with a qualifier, optional LOD/LLOQ and the reported precision."""

    value: Decimal | None
    unit: str
    qualifier: Qualifier = Qualifier.EXACT
    #: Limit of detection and lower limit of quantification, in ``unit``.
    lod: Decimal | None = None
    lloq: Decimal | None = None
    #: Decimal places as reported; defaults to those of ``value``.
    precision: int | None = None

    def __post_init__(self) -> None:
        if self.qualifier is Qualifier.NOT_DETECTED:
            if self.value is not None:
                raise ValidationError(
                    "value", self.value, "empty when the qualifier is 'not detected'"
                )
        else:
            if self.value is None:
                raise ValidationError("value", None, "a number (only 'not detected' may omit it)")
            if not self.value.is_finite():
                raise ValidationError("value", self.value, "a finite number")
        for name in ("lod", "lloq"):
            limit = getattr(self, name)
            if limit is not None and (not limit.is_finite() or limit < 0):
                raise ValidationError(name, limit, "a finite number ≥ 0")
        if self.lod is not None and self.lloq is not None and self.lod > self.lloq:
            raise ValidationError(
                "lod", self.lod, f"≤ lloq ({self.lloq})", reason="LOD cannot exceed LLOQ"
            )
        if self.precision is None and self.value is not None:
            object.__setattr__(self, "precision", decimal_places(self.value))

    @property
    def detected(self) -> bool:
        return self.qualifier is not Qualifier.NOT_DETECTED

    @property
    def below_lloq(self) -> bool:
        """Detected but under the LLOQ (reportable as positive, not quantifiable)."""
        if self.value is None or self.lloq is None:
            return False
        return self.value < self.lloq or (
            self.qualifier is Qualifier.LESS_THAN and self.value <= self.lloq
        )

    def __str__(self) -> str:
        if self.qualifier is Qualifier.NOT_DETECTED:
            text = "not detected"
            if self.lod is not None:
                text += f" (LOD {self.lod} {self.unit})"
            return text
        prefix = "" if self.qualifier is Qualifier.EXACT else f"{self.qualifier.value}"
        return f"{prefix}{self.value} {self.unit}".strip()


_QUALIFIED = re.compile(r"^\s*(<=|>=|<|>|≤|≥)?\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")
_NOT_DETECTED = {"not detected", "nd", "undetectable", "negative"}


def _decimal_comma(text: str) -> str | None:
    """A hint for "0,5": many locales write a decimal comma; we never guess which was meant."""
    if "," in text and _QUALIFIED.match(text.replace(",", ".", 1)):
        return "decimal comma: write a decimal point, e.g. " + text.replace(",", ".", 1).strip()
    return None


def parse_decimal(text: str, field_name: str, location: Location | None = None) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValidationError(
            field_name,
            text,
            "a decimal number",
            location=location,
            reason=_decimal_comma(text),
        ) from None
    if not value.is_finite():
        raise ValidationError(field_name, text, "a finite decimal number", location=location)
    return value


def parse_qualified(
    text: str, field_name: str, location: Location | None = None
) -> tuple[Qualifier, Decimal | None]:
    """Split ``"<0.01"`` into (LESS_THAN, 0.01); ``"not detected"`` into (NOT_DETECTED, None).

    ``≤`` and ``≥`` are refused rather than folded into ``<``/``>``: a lab that wrote "≤ 0.01"
    reported something a ``<`` would misstate.
    """
    if text.strip().lower() in _NOT_DETECTED:
        return Qualifier.NOT_DETECTED, None
    match = _QUALIFIED.match(text)
    if match is None or match.group(1) in {"<=", ">=", "≤", "≥"}:
        raise ValidationError(
            field_name,
            text,
            "a number, optionally prefixed by '<' or '>', or 'not detected'",
            location=location,
            reason=_decimal_comma(text),
        )
    qualifier = {None: Qualifier.EXACT, "<": Qualifier.LESS_THAN, ">": Qualifier.GREATER_THAN}[
        match.group(1)
    ]
    return qualifier, Decimal(match.group(2))


@dataclass(frozen=True)
class Measure:
    """What a field accepts: canonical unit, unit conversions into it, and the allowed range."""

    name: str
    unit: str
    minimum: Decimal
    maximum: Decimal
    #: Accepted unit spellings → factor that converts a value in that unit to ``unit``.
    conversions: Mapping[str, Decimal] = field(default_factory=dict)
    integer: bool = False

    @property
    def allowed_units(self) -> list[str]:
        return [self.unit, *(u for u in self.conversions if u != self.unit)]

    @property
    def allowed_range(self) -> str:
        return f"{self.minimum}–{self.maximum} {self.unit}"

    def factor(self, unit: str | None, location: Location | None = None) -> Decimal:
        if unit is None or unit.strip() == "" or unit.strip() == self.unit:
            return Decimal(1)
        key = unit.strip()
        if key in self.conversions:
            return self.conversions[key]
        raise ValidationError(f"{self.name} unit", unit, self.allowed_units, location=location)

    def check(self, value: Decimal, location: Location | None = None) -> Decimal:
        if not value.is_finite() or value < self.minimum or value > self.maximum:
            raise ValidationError(self.name, value, self.allowed_range, location=location)
        if self.integer and value != value.to_integral_value():
            raise ValidationError(self.name, value, "a whole number", location=location)
        return value

    def quantity(
        self,
        value: Decimal | None,
        unit: str | None = None,
        qualifier: Qualifier = Qualifier.EXACT,
        *,
        lod: Decimal | None = None,
        lloq: Decimal | None = None,
        location: Location | None = None,
    ) -> Quantity:
        """Convert to the canonical unit, check the range and build the :class:`Quantity`."""
        factor = self.factor(unit, location)
        converted: Decimal | None = None
        precision: int | None = None
        if value is not None:
            converted = self._convert(value, factor)
            precision = decimal_places(converted)
            self.check(converted, location)
        lod_c = None if lod is None else self.check(self._convert(lod, factor), location)
        lloq_c = None if lloq is None else self.check(self._convert(lloq, factor), location)
        try:
            return Quantity(converted, self.unit, qualifier, lod_c, lloq_c, precision)
        except ValidationError as exc:
            raise ValidationError(
                f"{self.name} {exc.field}", exc.value, exc.allowed, location=location
            ) from None

    def parse(
        self, text: str, unit: str | None = None, location: Location | None = None
    ) -> Quantity:
        qualifier, value = parse_qualified(text, self.name, location)
        return self.quantity(value, unit, qualifier, location=location)

    @staticmethod
    def _convert(value: Decimal, factor: Decimal) -> Decimal:
        if factor == 1:
            return value
        converted = value * factor
        # A power-of-ten factor keeps the reported digits exactly (95 g/L → 9.5 g/dL). Other
        # factors (mmol/L → g/dL) would invent digits, so keep two more places than reported.
        if factor.normalize().as_tuple().digits != (1,):
            converted = converted.quantize(Decimal(1).scaleb(-(decimal_places(value) + 2)))
        return converted


_PER_LITRE = {
    "x10^9/L": Decimal(1),
    "×10^9/L": Decimal(1),
    "10*9/L": Decimal(1),
    "G/L": Decimal(1),
    "10^3/uL": Decimal(1),
    "10^3/µL": Decimal(1),
    "K/uL": Decimal(1),
    "/uL": Decimal("0.001"),
    "/µL": Decimal("0.001"),
    "/mm3": Decimal("0.001"),
}
_PERCENT = {"percent": Decimal(1)}
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

# Canonical units follow criteria spec G1. Upper bounds are physiological ceilings chosen so that
# typos (an extra digit, a count in /µL labelled ×10^9/L) are caught, not clinical limits.
WBC = Measure("wbc", "10^9/L", _ZERO, Decimal(1000), _PER_LITRE)
ANC = Measure("anc", "10^9/L", _ZERO, Decimal(500), _PER_LITRE)
LYMPHOCYTES_ABS = Measure("alc", "10^9/L", _ZERO, Decimal(1000), _PER_LITRE)
PLATELETS = Measure("platelets", "10^9/L", _ZERO, Decimal(5000), _PER_LITRE)
# Absolute reticulocyte count (aplastic anaemia severity thresholds are 20 and 60 x10^9/L);
# a reticulocyte *percentage* is not accepted here: without the RBC count it cannot be converted.
RETICULOCYTES_ABS = Measure("reticulocytes", "10^9/L", _ZERO, Decimal(1000), _PER_LITRE)
HEMOGLOBIN = Measure(
    "hemoglobin",
    "g/dL",
    _ZERO,
    Decimal(25),
    # 1 mmol/L (haem monomer) = 1.611 g/dL.
    {"g/L": Decimal("0.1"), "mmol/L": Decimal("1.611")},
)


def percent(name: str) -> Measure:
    """A percentage field (0–100 %); a fraction in unit ``1`` is converted ×100."""
    return Measure(name, "%", _ZERO, _HUNDRED, {**_PERCENT, "1": _HUNDRED})


def count(name: str, maximum: int = 10**12) -> Measure:
    return Measure(name, "1", _ZERO, Decimal(maximum), integer=True)


LENGTH_MM = Measure("length", "mm", _ZERO, Decimal(100), {"cm": Decimal(10)})
