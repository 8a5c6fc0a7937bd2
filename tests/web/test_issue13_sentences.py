"""Issue 13 §4: the new calls and alerts read as sentences on the pages."""

from __future__ import annotations

from trephine.present.explain import ALERTS, alert_headline, evidence_sentence


def test_an_evaluator_worded_item_is_shown_as_worded() -> None:
    item = {
        "input": "same_marrow_relapse",
        "value": "HEMATOLOGIC_RELAPSE (ALL-REL-BM)",
        "comparator": None,
        "threshold": None,
        "outcome": True,
        "sentence": "Not current: haematologic relapse was called on this marrow (ALL-REL-BM)",
    }
    assert evidence_sentence(item, "PR") == item["sentence"]


def test_relapse_evidence_reads_with_value_and_threshold() -> None:
    item = {"input": "bm_blasts_pct", "value": "39", "comparator": ">=", "threshold": "5"}
    text = evidence_sentence({**item, "outcome": True}, "HEMATOLOGIC RELAPSE")
    assert text == "Marrow blasts 39 % — at least 5 %: meets the HEMATOLOGIC RELAPSE criterion"


def test_new_alert_codes_have_headlines() -> None:
    for code in (
        "MRD_FAILURE",
        "CAR_T_RELAPSE",
        "B_CELL_APLASIA_LOSS",
        "PRIMARY_GRAFT_FAILURE",
        "AA_RELAPSE",
        "CLONAL_EVOLUTION",
        "TRANSFUSIONAL_IRON_OVERLOAD",
        "POSSIBLE_MARROW_INFECTION",
    ):
        assert code in ALERTS and alert_headline(code) == ALERTS[code], code
    assert alert_headline("AA_RELAPSE") == "Aplastic anaemia relapse"
