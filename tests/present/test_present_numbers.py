"""Evidence as people read it: rounded for display, never in storage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trephine.domain.quantity import Quantity
from trephine.present.numbers import NOT_RECORDED, format_evidence, format_value, number_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("90.0709219858156028368794326"), "90.07"),
        ("90.0709219858156028368794326", "90.07"),
        (Decimal("0.0012345"), "0.001235"),  # half-up, as labs round
        ("3.6", "3.6"),
        ("1.90", "1.9"),
        ("5", "5"),
        (Decimal("100"), "100"),
        (1_000_000, "1000000"),
        (Decimal("1234567.8"), "1234568"),
        (2.5, "2.5"),
        (0, "0"),
        (None, NOT_RECORDED),
        ("None", NOT_RECORDED),
        (True, "yes"),
        (False, "no"),
        ("single_lineage_deficit", "single_lineage_deficit"),
        ("NaN", "NaN"),
        ([Decimal("1.23456"), None], "1.235, not recorded"),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_format_evidence_rounds_values_and_thresholds_and_names_missing() -> None:
    item = {
        "input": "bm_blast_reduction_pct",
        "value": "90.0709219858156028368794326",
        "comparator": ">=",
        "threshold": "50",
        "outcome": True,
    }
    assert format_evidence(item) == "bm_blast_reduction_pct 90.07 >= 50 → yes"
    assert format_evidence({"input": "anc", "value": None}) == f"anc {NOT_RECORDED}"
    assert format_evidence(
        {
            "input": "circulating_blasts",
            "value": False,
            "comparator": "==",
            "threshold": False,
            "outcome": True,
        }
    ) == ("circulating_blasts no == no → yes")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("38.000"), "38"),  # a converted count: PLT 38 ×10⁹/L, never 38.000
        (Decimal("0.35"), "0.35"),
        (Decimal("0.0460"), "0.0460"),  # reported precision kept
        (Decimal("0.001666666666666666666666666667"), "0.001667"),  # computed LLOQ
        (Decimal("1.466694259705337196358747207"), "1.467"),
        (Decimal("3000000"), "3000000"),  # a count keeps every digit
    ],
)
def test_one_rule_for_every_number_a_person_reads(value: Decimal, shown: str) -> None:
    from trephine.present.numbers import number_text, readable
    from trephine.present.quantities import quantity_text

    assert number_text(value) == shown == str(readable(value))
    # The pages' quantity text and the CLI's use the same rule.
    assert quantity_text(Quantity(value, "%")) == f"{shown} %"


def test_a_computed_lloq_reads_the_same_in_the_cli_and_the_timeline() -> None:
    from types import SimpleNamespace

    from trephine.cli.results import _quantity
    from trephine.domain.results import FlowMethod, FlowMRD, ResultKind
    from trephine.present.chronology import result_phrase
    from trephine.present.numbers import quantity_with_limits
    from trephine.workflow import ResultState

    lloq = Decimal(50) / Decimal(1_200_000) * 100  # 0.004166… % as flow MRD stores it
    mrd = Quantity(Decimal(35) / Decimal(1_200_000) * 100, "%", lod=lloq / 2, lloq=lloq)
    assert quantity_with_limits(mrd) == "0.002917 % (LOD 0.002083 %, LLOQ 0.004167 %)"
    assert _quantity(mrd) == quantity_with_limits(mrd)
    stored = SimpleNamespace(
        value=FlowMRD(mrd, FlowMethod.LAIP),
        kind=ResultKind.FLOW_MRD,
        analyte="",
        state=ResultState.VERIFIED,
        version=1,
        amendment_reason=None,
    )
    assert result_phrase(stored) == "flow cytometry MRD 0.002917 %"  # type: ignore[arg-type]


def test_the_public_shape_shows_a_computed_lloq_at_reading_precision() -> None:
    # What `flow mrd --store` records: LOD/LLOQ as exact Decimal divisions of the events.
    from trephine.domain.results import FlowMethod, FlowMRD
    from trephine.present.results import headline, summary

    lloq = Decimal(50) / Decimal(3_000_000) * 100
    mrd = Quantity(Decimal("0.28"), "%", lod=lloq * Decimal("0.4"), lloq=lloq)
    value = FlowMRD(mrd, FlowMethod.LAIP, events_acquired=3_000_000, abnormal_events=8400)
    assert "LLOQ 0.001667 %" in summary(value) and "0.0016666" not in summary(value)
    shown = headline(value)
    assert shown is not None and shown.display == "0.28 %"
    assert shown.lloq == lloq  # the exact value stays in the data


def test_equal_numbers_keep_their_own_digits_however_often_they_are_read() -> None:
    # 0.046 and 0.0460 are equal Decimals (the same key of a dict or a cache) but each reads at
    # its own reported precision, in either order, the first time and every time after.
    for _ in range(2):
        assert number_text(Decimal("0.0460")) == "0.0460"
        assert number_text(Decimal("0.046")) == "0.046"
        assert number_text(Decimal("38.000")) == "38"
        assert number_text(Decimal("3.8E+1")) == "38"
