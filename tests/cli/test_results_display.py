"""How `trephine results` shows stored numbers to a person."""

from decimal import Decimal

from trephine.cli.results import _quantity
from trephine.domain.quantity import Quantity


def test_computed_limits_are_rounded_reported_values_kept() -> None:
    q = Quantity(
        value=Decimal("0.0460"),
        unit="%",
        lod=Decimal(20) / Decimal(3_000_000) * 100,
        lloq=Decimal("0.005"),
    )
    text = _quantity(q)
    assert "0.0460 %" in text  # reported precision kept
    assert "LOD 0.0006667 %" in text  # a computed limit is rounded for reading
    assert "LLOQ 0.005 %" in text
