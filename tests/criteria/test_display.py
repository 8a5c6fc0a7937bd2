"""Evidence as people read it: rounded for display, never in storage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trephine.criteria.display import NOT_RECORDED, format_evidence, format_value


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
