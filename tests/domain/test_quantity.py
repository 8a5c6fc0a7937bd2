"""Quantities: units converted at ingestion, qualifiers, detection limits, ranges, precision."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trephine.domain import quantity as q
from trephine.domain.quantity import Qualifier, Quantity
from trephine.errors import ValidationError


@pytest.mark.parametrize(
    ("measure", "text", "unit", "expected"),
    [
        (q.PLATELETS, "45000", "/uL", Decimal("45")),
        (q.PLATELETS, "45", "10^3/uL", Decimal("45")),
        (q.PLATELETS, "45", None, Decimal("45")),
        (q.HEMOGLOBIN, "95", "g/L", Decimal("9.5")),
        (q.HEMOGLOBIN, "6.2", "mmol/L", Decimal("9.988")),
        (q.WBC, "3.2", "G/L", Decimal("3.2")),
        (q.LENGTH_MM, "1.8", "cm", Decimal("18")),
        (q.percent("vaf"), "0.42", "1", Decimal("42")),
    ],
)
def test_units_are_converted_at_ingestion(
    measure: q.Measure, text: str, unit: str | None, expected: Decimal
) -> None:
    value = measure.parse(text, unit)
    assert value.unit == measure.unit
    assert value.value == expected


def test_power_of_ten_conversion_keeps_reported_digits() -> None:
    hb = q.HEMOGLOBIN.parse("95", "g/L")
    assert str(hb.value) == "9.5" and hb.precision == 1
    mrd = q.percent("mrd").parse("0.010")
    assert str(mrd.value) == "0.010" and mrd.precision == 3  # trailing zero is information


def test_unknown_unit_names_the_allowed_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        q.HEMOGLOBIN.parse("9", "mg/dL")
    assert caught.value.field == "hemoglobin unit"
    assert caught.value.allowed is not None and "g/L" in caught.value.allowed


@pytest.mark.parametrize("text", ["140", "-1", "100.01"])
def test_percent_out_of_range_names_field_and_range(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        q.percent("cellularity").parse(text)
    assert caught.value.field == "cellularity"
    assert caught.value.allowed == "0–100 %"
    assert "cellularity" in str(caught.value) and text in str(caught.value)


def test_range_boundaries_are_inclusive() -> None:
    assert q.percent("x").parse("100").value == 100
    assert q.percent("x").parse("0").value == 0


def test_qualifiers_are_values_not_strings() -> None:
    below = q.percent("mrd").parse("<0.01")
    assert below.qualifier is Qualifier.LESS_THAN and below.value == Decimal("0.01")
    above = q.WBC.parse(">300")
    assert above.qualifier is Qualifier.GREATER_THAN
    nd = q.percent("mrd").parse("not detected")
    assert nd.qualifier is Qualifier.NOT_DETECTED and nd.value is None and not nd.detected
    assert str(below) == "<0.01 %"


@pytest.mark.parametrize("text", ["≤0.01", "<=0.01", "0.01%", "approx 3", "", "1e999x"])
def test_unparseable_qualified_values_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="mrd"):
        q.percent("mrd").parse(text)


def test_not_detected_keeps_sensitivity() -> None:
    value = q.percent("mrd").quantity(
        None, qualifier=Qualifier.NOT_DETECTED, lod=Decimal("0.001"), lloq=Decimal("0.005")
    )
    assert value.lod == Decimal("0.001") and "LOD 0.001" in str(value)


def test_quantity_invariants() -> None:
    with pytest.raises(ValidationError, match="not detected"):
        Quantity(Decimal(1), "%", Qualifier.NOT_DETECTED)
    with pytest.raises(ValidationError, match="value"):
        Quantity(None, "%")
    with pytest.raises(ValidationError, match="LOD cannot exceed LLOQ"):
        Quantity(Decimal(1), "%", lod=Decimal("0.1"), lloq=Decimal("0.01"))
    with pytest.raises(ValidationError):
        Quantity(Decimal("NaN"), "%")


def test_below_lloq_is_detected_but_not_quantifiable() -> None:
    value = Quantity(Decimal("0.003"), "%", lod=Decimal("0.001"), lloq=Decimal("0.005"))
    assert value.detected and value.below_lloq
    assert not Quantity(Decimal("0.01"), "%", lloq=Decimal("0.005")).below_lloq


# No deadline: the machine is shared, and timing is not what these tests check.
@settings(deadline=None)
@given(st.decimals(min_value=0, max_value=5000, places=3, allow_nan=False))
def test_per_microlitre_and_per_litre_agree(count: Decimal) -> None:
    per_litre = q.PLATELETS.quantity(count)
    per_microlitre = q.PLATELETS.quantity(count * 1000, "/uL")
    assert per_litre.value == per_microlitre.value


# No deadline: the machine is shared, and timing is not what these tests check.
@settings(deadline=None)
@given(st.decimals(min_value=0, max_value=100, allow_nan=False, allow_infinity=False))
def test_every_in_range_percentage_is_accepted_exactly(value: Decimal) -> None:
    parsed = q.percent("x").parse(str(value))
    assert parsed.value == value


def test_decimal_comma_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match=r"decimal comma: write a decimal point, e\.g\. 0\.5"):
        q.percent("mrd").parse("0,5")
    with pytest.raises(ValidationError, match="decimal comma"):
        q.parse_decimal("1,25", "size_mm")
