"""Evidence sentences worded by what each comparison did for the call (``role``), and stored
evidence without a role worded exactly as before."""

from __future__ import annotations

from trephine.present.explain import evidence_sentence
from trephine.present.numbers import format_evidence

COURSES = {"input": "courses_completed", "value": "1", "comparator": ">=", "threshold": "2"}
EXTRAMEDULLARY = {"input": "extramedullary", "value": False, "comparator": "==", "threshold": True}
BLASTS = {"input": "bm_blasts_pct", "value": "7", "comparator": "<", "threshold": "5"}
INTENSITY = {
    "input": "therapy_intensity",
    "value": "intensive",
    "comparator": "==",
    "threshold": "less_intensive",
}


def test_a_comparison_the_rule_needs_not_to_hold_meets_the_criterion() -> None:
    supports = {"outcome": False, "role": "supports"}
    assert evidence_sentence({**COURSES, **supports}, "BEFORE LANDMARK") == (
        "Courses completed 1 course — below 2 courses: meets the BEFORE LANDMARK criterion"
    )
    assert evidence_sentence({**EXTRAMEDULLARY, **supports}, "CR") == (
        "Extramedullary disease: no — as required (not yes): meets the CR criterion"
    )
    assert evidence_sentence({**INTENSITY, **supports}, "BEFORE LANDMARK") == (
        "Therapy intensity: intensive — as required (not less intensive): "
        "meets the BEFORE LANDMARK criterion"
    )
    assert evidence_sentence({**BLASTS, **supports}) == (
        "Marrow blasts 7 % — at least 5 %: meets this criterion"
    )


def test_a_comparison_that_holds_and_supports_reads_as_before() -> None:
    item = {**BLASTS, "value": "3", "outcome": True}
    assert evidence_sentence({**item, "role": "supports"}, "CR") == evidence_sentence(item, "CR")
    assert evidence_sentence(item, "CR") == "Marrow blasts 3 % — below 5 %: meets the CR criterion"


def test_a_branch_the_rule_did_not_need_says_so() -> None:
    not_needed = {"outcome": False, "role": "not_needed"}
    assert evidence_sentence({**BLASTS, **not_needed}, "CR") == (
        "Marrow blasts 7 % — not below 5 % — not needed: another criterion decided the CR call"
    )
    iron = {"input": "iron_stores_absent", "value": False, "comparator": "==", "threshold": True}
    assert evidence_sentence({**iron, **not_needed}, "MARROW FINDINGS") == (
        "Iron stores absent: no — not needed: another criterion decided the MARROW FINDINGS call"
    )
    unrecorded = {"input": "ring_sideroblasts_pct", "value": None, "comparator": ">="}
    assert evidence_sentence({**unrecorded, "outcome": None, "role": "not_needed"}) == (
        "Ring sideroblasts not recorded — not needed: another criterion decided this call"
    )
    held = {**INTENSITY, "threshold": "intensive", "outcome": True, "role": "not_needed"}
    assert evidence_sentence(held, "BEFORE LANDMARK") == (
        "Therapy intensity: intensive — not needed: another criterion decided the "
        "BEFORE LANDMARK call"
    )


def test_stored_evidence_without_a_role_reads_exactly_as_before() -> None:
    """Calls stored before roles were recorded keep their wording (by the leaf's outcome)."""
    assert evidence_sentence({**COURSES, "outcome": False}, "BEFORE LANDMARK") == (
        "Courses completed 1 course — below 2 courses: does not meet the BEFORE LANDMARK criterion"
    )
    assert evidence_sentence({**EXTRAMEDULLARY, "outcome": False}, "CR") == (
        "Extramedullary disease: no — required yes: does not meet the CR criterion"
    )
    assert evidence_sentence({**BLASTS, "outcome": False}) == (
        "Marrow blasts 7 % — not below 5 %: does not meet this criterion"
    )
    assert evidence_sentence({"input": "anc", "value": None}) == (
        "ANC not recorded: this criterion could not be checked"
    )


def test_the_cli_line_names_the_role() -> None:
    assert format_evidence({**COURSES, "outcome": False, "role": "supports"}) == (
        "courses_completed 1 >= 2 → no (supports the call)"
    )
    assert format_evidence({**BLASTS, "outcome": False, "role": "not_needed"}) == (
        "bm_blasts_pct 7 < 5 → no (not needed)"
    )
    assert format_evidence({**BLASTS, "outcome": False}) == "bm_blasts_pct 7 < 5 → no"


def test_a_call_named_in_words_reads_lower_case_inside_the_sentence() -> None:
    """The page passes the call's label (category_label): words start lower case mid-sentence,
    abbreviations stay as the criteria print them."""
    item = {**BLASTS, "outcome": False, "role": "supports"}
    assert evidence_sentence(item, "Partial response").endswith(
        "meets the partial response criterion"
    )
    assert evidence_sentence(item, "CRi MRD-").endswith("meets the CRi MRD- criterion")
    assert evidence_sentence(item, "sCR").endswith("meets the sCR criterion")
    assert evidence_sentence(item, "VGPR").endswith("meets the VGPR criterion")
