"""Evidence as people read it: rounded for display, never in storage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trephine.present.numbers import NOT_RECORDED, format_evidence, format_value


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
        (Decimal("2.20"), "2.20"),  # reported precision kept
        (Decimal("0.35"), "0.35"),
        (Decimal("123456"), "123456"),  # six significant digits: still reported
        (Decimal("0.001666666666666666666666666667"), "0.001667"),  # computed: rounded
        (Decimal("1.466694259705337196358747207"), "1.467"),
        (Decimal("3000000"), "3000000"),  # trailing zeros of a count are not extra digits
    ],
)
def test_reported_keeps_reported_precision_and_rounds_computed_values(
    value: Decimal, shown: str
) -> None:
    from trephine.present.numbers import number_text

    assert number_text(value) == shown


def test_a_computed_lloq_reads_the_same_in_the_cli_and_the_timeline() -> None:
    from types import SimpleNamespace

    from trephine.cli.results import _quantity
    from trephine.domain.quantity import Quantity
    from trephine.domain.results import FlowMethod, FlowMRD, ResultKind
    from trephine.present.chronology import result_phrase
    from trephine.present.numbers import quantity_text
    from trephine.workflow import ResultState

    lloq = Decimal(50) / Decimal(1_200_000) * 100  # 0.004166… % as flow MRD stores it
    mrd = Quantity(Decimal(35) / Decimal(1_200_000) * 100, "%", lod=lloq / 2, lloq=lloq)
    assert quantity_text(mrd) == "0.002917 % (LOD 0.002083 %, LLOQ 0.004167 %)"
    assert _quantity(mrd) == quantity_text(mrd)
    stored = SimpleNamespace(
        value=FlowMRD(mrd, FlowMethod.LAIP),
        kind=ResultKind.FLOW_MRD,
        analyte="",
        state=ResultState.VERIFIED,
        version=1,
        amendment_reason=None,
    )
    assert result_phrase(stored) == "flow MRD 0.002917 %"  # type: ignore[arg-type]
