"""Boundaries of the issue-13 rule tables, end to end through the case evaluator.

Each row puts one input at a threshold or just across it; the expected side comes from the cited
source as written in the rule module's docstring (``<`` vs ``≤`` as the source writes it), not
from the code. Every rule of these tables also passes the generated at/across test in
``test_boundaries.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from trephine.criteria.cases import evaluate_case
from trephine.criteria.sets.aa_response import mds_type_abnormalities

D = Decimal
ALL_CR = {
    "bm_blasts_pct": 2,
    "circulating_blasts": False,
    "extramedullary": False,
    "anc": D("1.5"),
    "plt": 150,
}
AA_SEVERE = {
    "baseline_severe": True,
    "transfusion_independent": True,
    "hb": D("9.5"),
    "anc": D("0.6"),
    "plt": 30,
    "retic_abs": 70,
    "retic_method": "automated",
}


def _run(ruleset: str, input_: dict[str, Any]) -> dict[str, Any]:
    return evaluate_case({"id": "b", "ruleset": ruleset, "input": input_})


CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    # ALL morphological response (CIBMTR / BBMT 2010 [V])
    (
        "ALL blasts 4.99 CR",
        "ALL-RESPONSE",
        {**ALL_CR, "bm_blasts_pct": D("4.99")},
        "response",
        "CR",
    ),
    (
        "ALL blasts 5 not CR",
        "ALL-RESPONSE",
        {**ALL_CR, "bm_blasts_pct": 5},
        "response",
        "NO_RESPONSE",
    ),
    ("ALL ANC 1.0 CR", "ALL-RESPONSE", {**ALL_CR, "anc": D("1.0")}, "response", "CR"),
    ("ALL ANC 0.99 CRi", "ALL-RESPONSE", {**ALL_CR, "anc": D("0.99")}, "response", "CRi"),
    ("ALL plt 100 CR", "ALL-RESPONSE", {**ALL_CR, "plt": 100}, "response", "CR"),
    ("ALL plt 99.9 CRi", "ALL-RESPONSE", {**ALL_CR, "plt": D("99.9")}, "response", "CRi"),
    (
        "ALL PB blasts",
        "ALL-RESPONSE",
        {**ALL_CR, "circulating_blasts": True},
        "response",
        "NO_RESPONSE",
    ),
    ("ALL EMD", "ALL-RESPONSE", {**ALL_CR, "extramedullary": True}, "response", "NO_RESPONSE"),
    # ALL relapse after CR (≥ 5 % [R])
    ("ALL relapse at 5", "ALL-RELAPSE", {"bm_blasts_pct": 5}, "relapse", "HEMATOLOGIC_RELAPSE"),
    (
        "ALL no relapse at 4.99",
        "ALL-RELAPSE",
        {"bm_blasts_pct": D("4.99"), "circulating_blasts": False, "extramedullary": False},
        "relapse",
        "CONTINUED_REMISSION",
    ),
    ("ALL relapse 39 %", "ALL-RELAPSE", {"bm_blasts_pct": 39}, "relapse", "HEMATOLOGIC_RELAPSE"),
    (
        "ALL blood relapse",
        "ALL-RELAPSE",
        {"circulating_blasts": True},
        "relapse",
        "HEMATOLOGIC_RELAPSE",
    ),
    (
        "ALL isolated EMD relapse",
        "ALL-RELAPSE",
        {"bm_blasts_pct": 1, "circulating_blasts": False, "extramedullary": True},
        "relapse",
        "EXTRAMEDULLARY_RELAPSE",
    ),
    (
        "ALL refractory",
        "ALL-LANDMARK",
        {"cr_achieved": False, "end_of_induction": True},
        "landmark",
        "REFRACTORY",
    ),
    (
        "ALL before EOI",
        "ALL-LANDMARK",
        {"cr_achieved": False, "end_of_induction": False},
        "landmark",
        "BEFORE_LANDMARK",
    ),
    (
        "CAR-T CD19-neg",
        "CAR-T-RELAPSE",
        {"cd19_on_blasts": "negative"},
        "relapse",
        "CD19_NEGATIVE_RELAPSE",
    ),
    (
        "CAR-T CD19 dim",
        "CAR-T-RELAPSE",
        {"cd19_on_blasts": "dim"},
        "relapse",
        "CD19_POSITIVE_RELAPSE",
    ),
    ("CAR-T CD19 unknown", "CAR-T-RELAPSE", {}, "relapse", "CD19_STATUS_UNKNOWN"),
    # B-cell aplasia (spec §5 [V]: > 1 % or > 100 cells/µL)
    (
        "BCA 1 % kept",
        "ALL-MRD",
        {"cd19_pct_pb": 1, "cd19_abs_per_ul": 50},
        "b_cell_aplasia",
        "B_CELL_APLASIA",
    ),
    # Transplant (ASTCT [V])
    (
        "ANC 0.5 recovery day",
        "HCT-RECOVERY-DAY",
        {"count_kind": "anc", "anc": D("0.5")},
        "day",
        "RECOVERY_DAY",
    ),
    (
        "ANC 0.49 not",
        "HCT-RECOVERY-DAY",
        {"count_kind": "anc", "anc": D("0.49")},
        "day",
        "NOT_RECOVERED",
    ),
    (
        "plt 20, 7 days untransfused",
        "HCT-RECOVERY-DAY",
        {"count_kind": "plt", "plt": 20, "days_since_platelet_transfusion": 7},
        "day",
        "RECOVERY_DAY",
    ),
    (
        "plt 20, transfused 6 days ago",
        "HCT-RECOVERY-DAY",
        {"count_kind": "plt", "plt": 20, "days_since_platelet_transfusion": 6},
        "day",
        "NOT_RECOVERED",
    ),
    (
        "plt 19.9",
        "HCT-RECOVERY-DAY",
        {"count_kind": "plt", "plt": D("19.9"), "days_since_platelet_transfusion": 30},
        "day",
        "NOT_RECOVERED",
    ),
    (
        "day 30 without recovery: not yet failure",
        "HCT-GRAFT",
        {"days_since_transplant": 30, "neutrophil_engrafted": False, "graft_source": "PBSC"},
        "graft",
        "AWAITING_ENGRAFTMENT",
    ),
    (
        "day 31 without recovery: primary graft failure",
        "HCT-GRAFT",
        {"days_since_transplant": 31, "neutrophil_engrafted": False, "graft_source": "PBSC"},
        "graft",
        "PRIMARY_GRAFT_FAILURE",
    ),
    (
        "cord blood day 42 not yet",
        "HCT-GRAFT",
        {"days_since_transplant": 42, "neutrophil_engrafted": False, "graft_source": "UCB"},
        "graft",
        "AWAITING_ENGRAFTMENT",
    ),
    (
        "cord blood day 43 failure",
        "HCT-GRAFT",
        {"days_since_transplant": 43, "neutrophil_engrafted": False, "graft_source": "UCB"},
        "graft",
        "PRIMARY_GRAFT_FAILURE",
    ),
    (
        "ANC lost after recovery",
        "HCT-GRAFT",
        {
            "days_since_transplant": 60,
            "neutrophil_engrafted": True,
            "anc_lost_after_engraftment": True,
        },
        "graft",
        "SECONDARY_GRAFT_FAILURE",
    ),
    (
        "PGF at day 29 with 2 cytopenias for 3 days",
        "HCT-GRAFT",
        {
            "days_since_transplant": 29,
            "neutrophil_engrafted": True,
            "anc_lost_after_engraftment": False,
            "donor_pct": 95,
            "hb": D("6.9"),
            "anc": D("0.6"),
            "plt": D("19.9"),
            "cytopenic_days": 3,
        },
        "graft",
        "POOR_GRAFT_FUNCTION",
    ),
    (
        "no PGF at day 28",
        "HCT-GRAFT",
        {
            "days_since_transplant": 28,
            "neutrophil_engrafted": True,
            "anc_lost_after_engraftment": False,
            "donor_pct": 95,
            "hb": D("6.9"),
            "anc": D("0.6"),
            "plt": D("19.9"),
            "cytopenic_days": 3,
        },
        "graft",
        "ENGRAFTED",
    ),
    (
        "no PGF with Hb 7 (one cytopenia left)",
        "HCT-GRAFT",
        {
            "days_since_transplant": 40,
            "neutrophil_engrafted": True,
            "anc_lost_after_engraftment": False,
            "donor_pct": 99,
            "hb": 7,
            "anc": D("0.6"),
            "plt": D("19.9"),
            "cytopenic_days": 3,
        },
        "graft",
        "ENGRAFTED",
    ),
    # Aplastic anaemia IST response (BSH 2016 [R])
    ("AA PR severe", "AA-IST-RESPONSE", AA_SEVERE, "response", "PARTIAL_RESPONSE"),
    (
        "AA still severe (2 of 3 counts)",
        "AA-IST-RESPONSE",
        {**AA_SEVERE, "anc": D("0.49"), "plt": D("19.9")},
        "response",
        "NO_RESPONSE",
    ),
    (
        "AA ANC 0.5 / plt 19.9: one severe count only",
        "AA-IST-RESPONSE",
        {**AA_SEVERE, "anc": D("0.5"), "plt": D("19.9")},
        "response",
        "PARTIAL_RESPONSE",
    ),
    (
        "AA CR at ANC 1.51, plt 150.1, Hb normal",
        "AA-IST-RESPONSE",
        {**AA_SEVERE, "anc": D("1.51"), "plt": D("150.1"), "hb": 13, "hb_lln": 12},
        "response",
        "COMPLETE_RESPONSE",
    ),
    (
        "AA ANC exactly 1.5 is not CR",
        "AA-IST-RESPONSE",
        {**AA_SEVERE, "anc": D("1.5"), "plt": D("150.1"), "hb": 13, "hb_lln": 12},
        "response",
        "PARTIAL_RESPONSE",
    ),
    (
        "AA plt exactly 150 is not CR",
        "AA-IST-RESPONSE",
        {**AA_SEVERE, "anc": 2, "plt": 150, "hb": 13, "hb_lln": 12},
        "response",
        "PARTIAL_RESPONSE",
    ),
    (
        "AA transfusion dependent: no response",
        "AA-IST-RESPONSE",
        {**AA_SEVERE, "transfusion_independent": False},
        "response",
        "NO_RESPONSE",
    ),
    (
        "NSAA platelets 20.1 from < 20",
        "AA-IST-RESPONSE",
        {
            "baseline_severe": False,
            "baseline_plt": 15,
            "plt": D("20.1"),
            "transfusion_independent": False,
        },
        "response",
        "PARTIAL_RESPONSE",
    ),
    (
        "NSAA platelets exactly 20 from < 20",
        "AA-IST-RESPONSE",
        {"baseline_severe": False, "baseline_plt": 15, "plt": 20, "transfusion_independent": False},
        "response",
        "NO_RESPONSE",
    ),
    (
        "NSAA ANC doubled",
        "AA-IST-RESPONSE",
        {
            "baseline_severe": False,
            "baseline_anc": D("0.6"),
            "anc": D("1.2"),
            "transfusion_independent": False,
        },
        "response",
        "PARTIAL_RESPONSE",
    ),
    (
        "NSAA Hb +3.1 from 5.9",
        "AA-IST-RESPONSE",
        {
            "baseline_severe": False,
            "baseline_hb": D("5.9"),
            "hb": 9,
            "transfusion_independent": False,
        },
        "response",
        "PARTIAL_RESPONSE",
    ),
    (
        "NSAA Hb +3.0 exactly is not",
        "AA-IST-RESPONSE",
        {
            "baseline_severe": False,
            "baseline_hb": D("5.9"),
            "hb": D("8.9"),
            "transfusion_independent": False,
        },
        "response",
        "NO_RESPONSE",
    ),
    (
        "AA relapse: transfused, Hb 9.9 + plt 49.9",
        "AA-RELAPSE",
        {"transfusion_independent": False, "hb": D("9.9"), "plt": D("49.9"), "anc": 2},
        "relapse",
        "RELAPSE",
    ),
    (
        "AA no relapse: Hb 10, plt 49.9 (one count)",
        "AA-RELAPSE",
        {"transfusion_independent": False, "hb": 10, "plt": D("49.9"), "anc": D("1.5")},
        "relapse",
        "RESPONSE_MAINTAINED",
    ),
    (
        "AA no relapse without transfusion",
        "AA-RELAPSE",
        {"transfusion_independent": True, "hb": 8, "plt": 30, "anc": 1},
        "relapse",
        "RESPONSE_MAINTAINED",
    ),
    (
        "PNH clone appears",
        "AA-CLONAL-EVOLUTION",
        {"pnh_clone_pct": D("0.1"), "pnh_clone_before": False},
        "clonal_evolution",
        "PNH_CLONE_EMERGED",
    ),
    (
        "PNH clone known before",
        "AA-CLONAL-EVOLUTION",
        {"pnh_clone_pct": 4, "pnh_clone_before": True, "mds_type_abnormality": False},
        "clonal_evolution",
        "NO_CLONAL_EVOLUTION",
    ),
    (
        "monosomy 7",
        "AA-CLONAL-EVOLUTION",
        {"mds_type_abnormality": True},
        "clonal_evolution",
        "MDS_TYPE_CYTOGENETIC_ABNORMALITY",
    ),
    # Work-ups ([R] iron thresholds, strict >)
    (
        "ferritin 1000 no flag",
        "IRON-OVERLOAD",
        {"ferritin_ug_l": 1000, "transfusion_dependent": True},
        "iron",
        "NO_IRON_OVERLOAD",
    ),
    (
        "ferritin 1000.1 transfused",
        "IRON-OVERLOAD",
        {"ferritin_ug_l": D("1000.1"), "transfusion_dependent": True},
        "iron",
        "TRANSFUSIONAL_IRON_OVERLOAD",
    ),
    (
        "LIC 7.01 transfused",
        "IRON-OVERLOAD",
        {"liver_iron_mg_g": D("7.01"), "transfusion_dependent": True},
        "iron",
        "TRANSFUSIONAL_IRON_OVERLOAD",
    ),
    ("LIC 7 no flag", "IRON-OVERLOAD", {"liver_iron_mg_g": 7}, "iron", "NO_IRON_OVERLOAD"),
    (
        "ferritin high, not transfused",
        "IRON-OVERLOAD",
        {"ferritin_ug_l": 2500, "transfusion_dependent": False},
        "iron",
        "IRON_OVERLOAD",
    ),
    (
        "granulomas + AFB positive",
        "MARROW-INFECTION",
        {"granulomas": True, "infection_test_positive": True, "infection_tested": True},
        "infection",
        "POSSIBLE_MARROW_INFECTION",
    ),
    (
        "granulomas untested",
        "MARROW-INFECTION",
        {"granulomas": True, "infection_tested": False},
        "infection",
        "GRANULOMAS_TESTS_NEEDED",
    ),
    (
        "granulomas, tests negative",
        "MARROW-INFECTION",
        {"granulomas": True, "infection_test_positive": False, "infection_tested": True},
        "infection",
        "GRANULOMAS_TESTS_NEGATIVE",
    ),
    (
        "ring sideroblasts 15",
        "ANAEMIA-WORKUP",
        {"ring_sideroblasts_pct": 15},
        "workup",
        "MARROW_FINDINGS",
    ),
    (
        "ring sideroblasts 14.9",
        "ANAEMIA-WORKUP",
        {"ring_sideroblasts_pct": D("14.9")},
        "workup",
        "NO_MARROW_FINDING",
    ),
    ("absent iron", "ANAEMIA-WORKUP", {"iron_stores_absent": True}, "workup", "MARROW_FINDINGS"),
]


@pytest.mark.parametrize(
    ("label", "ruleset", "input_", "key", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_issue13_boundary(
    label: str, ruleset: str, input_: dict[str, Any], key: str, expected: str
) -> None:
    assert _run(ruleset, input_)[key] == expected


def test_ring_sideroblast_finding_is_named_as_a_flag() -> None:
    out = _run("ANAEMIA-WORKUP", {"ring_sideroblasts_pct": 15, "megaloblastic_change": True})
    assert set(out["flags"]) == {"RING_SIDEROBLASTS_GE_15", "MEGALOBLASTIC_CHANGE"}


def test_missing_counts_are_named_not_guessed() -> None:
    out = _run(
        "ALL-RESPONSE", {"bm_blasts_pct": 1, "circulating_blasts": False, "extramedullary": False}
    )
    assert out["response"] == "NOT_EVALUABLE"
    assert "anc" in out["explanation"]["response"]["missing"]


@pytest.mark.parametrize(
    ("iscn", "found"),
    [
        ("45,XY,-7[12]/46,XY[8]", ["-7 / del(7q)"]),
        ("46,XX,del(5)(q13q33)[10]", ["del(5q) / t(5q)"]),
        ("46,XY[20]", []),
        ("47,XY,+8[5]/46,XY[15]", []),
        ("46,XX,del(7)(q22)[3]/46,XX[17]", ["-7 / del(7q)"]),
    ],
)
def test_mds_type_abnormalities_from_iscn(iscn: str, found: list[str]) -> None:
    assert mds_type_abnormalities(iscn) == found


def test_aa_no_response_names_its_reason() -> None:
    out = _run("AA-IST-RESPONSE", {**AA_SEVERE, "transfusion_independent": False})
    evidence = out["explanation"]["response"]["evidence"]
    assert {"input": "transfusion_independent", "value": False} in [
        {"input": e["input"], "value": e["value"]} for e in evidence
    ]


def test_all_cri_names_the_count_that_kept_it_from_cr() -> None:
    out = _run("ALL-RESPONSE", {**ALL_CR, "plt": 60})
    assert out["response"] == "CRi"
    evidence = out["explanation"]["response"]["evidence"]
    assert any(e["input"] == "plt" and e["outcome"] is True for e in evidence)
