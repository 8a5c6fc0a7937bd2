"""Evidence, alerts and numbers as a clinician reads them (present/explain.py, quantities.py)."""

from __future__ import annotations

from decimal import Decimal

from trephine.api.schemas.patients import QuantityPublic
from trephine.domain.quantity import Qualifier, Quantity
from trephine.present.explain import alert_detail, alert_headline, evidence_sentence
from trephine.present.quantities import quantity_text


def test_a_numeric_comparison_reads_as_a_sentence_with_units() -> None:
    item = {"input": "bm_blasts_pct", "value": "3", "comparator": "<", "threshold": "5"}
    assert (
        evidence_sentence({**item, "outcome": True}, "CR")
        == "Marrow blasts 3 % — below 5 %: meets the CR criterion"
    )
    assert (
        evidence_sentence({**item, "value": "12.04", "outcome": False}, "CR")
        == "Marrow blasts 12.04 % — not below 5 %: does not meet the CR criterion"
    )
    plt = {"input": "plt", "value": "38.000", "comparator": ">=", "threshold": "100"}
    assert evidence_sentence({**plt, "outcome": False}).startswith(
        "Platelets 38 ×10⁹/L — below 100 ×10⁹/L"
    )


def test_text_and_missing_values_read_as_words() -> None:
    item = {
        "input": "therapy_intensity",
        "value": "intensive",
        "comparator": "==",
        "threshold": "less_intensive",
        "outcome": False,
    }
    text = evidence_sentence(item)
    assert text == (
        "Therapy intensity: intensive — required less intensive: does not meet this criterion"
    )
    assert "==" not in text and "_" not in text and "→" not in text
    assert evidence_sentence({"input": "anc", "value": None}) == (
        "ANC not recorded: this criterion could not be checked"
    )


def test_alerts_say_what_happened() -> None:
    assert alert_headline("MRD_RELAPSE_CONFIRMED") == "MRD relapse confirmed on a second sample"
    assert alert_detail("MRD_RELAPSE_CONFIRMED", "MRD_RELAPSE_CONFIRMED") == ""
    assert alert_detail("MRD_CONVERSION", "MRD_RELAPSE_UNCONFIRMED") == (
        "Status: MRD relapse unconfirmed"
    )
    assert alert_headline("SOME_NEW_CODE") == "Some new code"


def test_quantities_at_reading_precision_with_unambiguous_units() -> None:
    lloq = Decimal(1) / Decimal(600)  # 0.001666… as a computed limit arrives
    assert quantity_text(Quantity(Decimal("38.000"), "x10^9/L")) == "38 ×10⁹/L"
    assert quantity_text(Quantity(Decimal("0.01"), "%", Qualifier.LESS_THAN)) == "< 0.01 %"
    nd = QuantityPublic(
        value=None, unit="%", qualifier="not detected", lod=lloq, display="not detected"
    )
    assert quantity_text(nd) == "not detected (LOD 0.001667 %)"
    assert quantity_text(None) == "—"
