"""The patient page shows evidence rounded and in words; the stored/JSON value stays exact."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from trephine.web.render import templates

EXACT = "90.0709219858156028368794326"


def _stored(**fields: Any) -> SimpleNamespace:
    """A stored call as the page gets it (an ELN 2022 response call unless ``fields`` say)."""
    defaults: dict[str, Any] = {
        "date": "2025-02-01",
        "call": "response",
        "sample": None,
        "ruleset": "ELN2022",
        "edition": "ELN2022",
        "citation": None,
        "missing": [],
        "software_version": "0",
    }
    return SimpleNamespace(**{**defaults, **fields})


def _render(assessment: SimpleNamespace) -> str:
    return (
        templates()
        .env.get_template("_assessments.html")
        .render(alerts=[], assessments=[assessment], patient_id="P1")
    )


def test_assessment_partial_rounds_evidence_and_names_unrecorded_values() -> None:
    assessment = _stored(
        category="PR",
        rule="ELN22-PR",
        evidence=[
            {
                "input": "bm_blast_reduction_pct",
                "value": EXACT,
                "comparator": ">=",
                "threshold": "50",
                "outcome": True,
            },
            {"input": "anc", "value": None},
        ],
    )
    html = _render(assessment)
    assert EXACT not in html
    # A sentence a clinician reads, not the engine's "bm_blast_reduction_pct 90.07 >= 50 → yes".
    assert (
        "Fall in marrow blasts from baseline 90.07 % — at least 50 %: meets the PR criterion"
        in html
    )
    assert "ANC not recorded" in html
    assert "bm_blast_reduction_pct" not in html and "→" not in html


def _partial(call: Any, on: str) -> str:
    """The assessments partial of the patient page, showing one stored call."""
    return _render(
        _stored(
            date=on,
            call=call.kind,
            category=call.category,
            ruleset=call.ruleset,
            edition=call.edition,
            rule=call.rule,
            evidence=list(call.evidence),
        )
    )


def test_the_page_says_when_a_count_cannot_separate_the_categories() -> None:
    """Issue 14 §4: a CR call on 4.5 % blasts of 200 cells (95 % CI contains the 5 % threshold)
    carries the flag, and the patient page's criteria calls say the count cannot separate them."""
    import datetime as dt
    from decimal import Decimal

    from trephine.assess.call import Call
    from trephine.assess.intervals import COUNT_FLAG
    from trephine.criteria import registry
    from trephine.criteria.engine import evaluate

    facts = {
        "bm_blasts_pct": Decimal("4.5"),
        "cells_counted": Decimal(200),
        "anc": Decimal("1.5"),
        "plt": Decimal(150),
        "circulating_blasts": False,
        "extramedullary": False,
        "spicules_present": True,
    }
    call = Call.from_evaluation(
        dt.date(2024, 3, 1), "response", evaluate(registry.get("ELN2022"), facts)
    )
    assert COUNT_FLAG in call.flags
    html = _partial(call, "2024-03-01")
    assert "Marrow blasts 4.5 % of 200 cells counted (95 % CI 2.4–" in html
    assert "so this count cannot separate the categories on either side of it" in html


def test_settings_counts_and_unrecorded_inputs_read_as_words() -> None:
    """DEMO-0001's calls read 'Courses completed 1 courses', 'Param:cri mode: single lineage
    deficit' (a site setting shown like a finding) and 'Not recorded, so not used: megaloblastic
    change, ring sideroblasts pct'."""
    assessment = SimpleNamespace(
        date="2022-11-06",
        call="response",
        sample=None,
        category="CRi_MRD-",
        ruleset="ELN2022",
        edition="ELN2022",
        rule="ELN22-CRi-single",
        citation=None,
        missing=["megaloblastic_change", "ring_sideroblasts_pct"],
        software_version="0",
        evidence=[
            {
                "input": "courses_completed",
                "value": 1,
                "comparator": ">=",
                "threshold": 2,
                "outcome": False,
            },
            {
                "input": "param:cri_mode",
                "value": "single_lineage_deficit",
                "comparator": "==",
                "threshold": "single_lineage_deficit",
                "outcome": True,
            },
        ],
    )
    html = (
        templates()
        .env.get_template("_assessments.html")
        .render(alerts=[], assessments=[assessment], patient_id="P1")
    )
    assert "Courses completed 1 course — below 2 courses" in html
    assert "CRi definition (setting): single lineage deficit — as required" in html
    assert "Param:" not in html and " pct" not in html


def test_a_negative_mrd_call_shows_the_sensitivity_it_reached() -> None:
    """A demo NPM1 patient's page read "MRD method: qPCR — as required" and "PCR target
    detected: no" for a negative call: the method, never the sensitivity (ELN 2021 asks a
    negative result to state it). Time point → call → the page's partial."""
    import datetime as dt
    from decimal import Decimal

    from trephine.assess.aml import assess_points
    from trephine.assess.timepoints import ObservationKind, TimePoint

    values = {
        "method": "qPCR",
        "target": "NPM1 type A",
        "detected": False,
        "sensitivity": Decimal("1e-5"),
    }
    on = dt.date(2024, 3, 1)
    (call,) = assess_points([TimePoint(on, ObservationKind.MRD, values)]).calls
    html = _partial(call, str(on))
    assert "NPM1 type A MRD not detected (qPCR, sensitivity 10⁻⁵)" in html


#: Inputs the default demo's stored calls carry whose label was the name spelled out
#: ('Mfc 38 % of CD45+ cells', 'Serum m g dl 2.1 g/dL', 'Bm pc 4 %', 'Anc day +18').
DEMO_INPUTS = (
    "mfc_pct", "status", "previous_status", "mrd_detected", "mrd_quantifiable", "mrd_level_pct",
    "mrd_fraction", "sensitivity_pct", "hematologic_cr", "pb_blasts_pct", "bm_pc_pct",
    "serum_m_g_dl", "baseline_serum_m_g_dl", "nadir_serum_m_g_dl", "serum_m_g_dl_reduction_pct",
    "serum_m_g_dl_rise", "serum_m_g_dl_increase_pct", "urine_m_mg_24h",
    "urine_m_mg_24h_reduction_pct", "serum_ife", "urine_ife", "flc_ratio",
    "ihc_kappa_lambda_ratio", "ihc_pcs_counted", "retic_abs", "residual_hematopoietic_cells_pct",
    "pnh_clone_pct", "hb_transfused_or_epo", "ferritin_ug_l", "liver_iron_mg_g", "infiltrated",
    "largest_node_cm", "node_change_pct", "liver_spleen_normal", "circulating_clonal_b",
    "marrow_b_nodules", "cd19_pct_pb", "cd19_on_blasts",
)  # fmt: skip


def test_every_input_of_the_demo_calls_reads_as_words() -> None:
    from trephine.present.explain import evidence_sentence, input_label

    spelled = []
    for name in DEMO_INPUTS:
        label = input_label(name)
        words = name.removesuffix("_pct").replace("_", " ")
        if label == words[:1].upper() + words[1:] or "_" in label:
            spelled.append(f"{name} -> {label}")
    assert not spelled, spelled
    assert input_label("anc day +18") == "ANC on day +18"
    assert input_label("plt day +25") == "Platelets on day +25"
    assert (
        input_label("days since platelet transfusion, day +25")
        == "Days since the last platelet transfusion on day +25"
    )
    item = {"input": "mfc_pct", "value": "38", "comparator": ">=", "threshold": "0.1"}
    assert evidence_sentence({**item, "outcome": True}, "POSITIVE") == (
        "Flow MRD 38 % of CD45+ cells — at least 0.1 % of CD45+ cells: meets the POSITIVE criterion"
    )
    assert input_label("some_new_input_pct") == "Some new input"  # unknown: its name in words


def test_a_call_no_rule_decided_claims_no_criterion_met() -> None:
    """A not-evaluable call (no rule matched) shows the comparisons of the row that could not
    be decided as what they found: it 'meets' no criterion, least of all 'Not evaluable'."""
    undecided = _stored(
        category="NOT_EVALUABLE",
        ruleset="IWG2023",
        edition="IWG2023",
        rule=None,
        missing=["anc"],
        evidence=[
            {
                "input": "bm_blasts_pct",
                "value": "3",
                "comparator": "<",
                "threshold": "5",
                "outcome": True,
            },
            {"input": "anc", "value": None, "comparator": ">=", "threshold": "1", "outcome": None},
        ],
    )
    html = _render(undecided)
    assert "Marrow blasts 3 % — below 5 %</li>" in html
    assert "meets" not in html and "criterion</li>" not in html
    assert "ANC not recorded" in html
