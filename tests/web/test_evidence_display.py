"""The patient page shows evidence rounded and in words; the stored/JSON value stays exact."""

from __future__ import annotations

from types import SimpleNamespace

from trephine.web.render import templates

EXACT = "90.0709219858156028368794326"


def test_assessment_partial_rounds_evidence_and_names_unrecorded_values() -> None:
    assessment = SimpleNamespace(
        date="2025-02-01",
        call="response",
        category="PR",
        ruleset="ELN2022",
        edition="ELN2022",
        rule="ELN22-PR",
        citation=None,
        missing=[],
        software_version="0",
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
    html = (
        templates()
        .env.get_template("_assessments.html")
        .render(alerts=[], assessments=[assessment], patient_id="P1")
    )
    assert EXACT not in html
    # A sentence a clinician reads, not the engine's "bm_blast_reduction_pct 90.07 >= 50 → yes".
    assert (
        "Fall in marrow blasts from baseline 90.07 % — at least 50 %: meets the PR criterion"
        in html
    )
    assert "ANC not recorded" in html
    assert "bm_blast_reduction_pct" not in html and "→" not in html
