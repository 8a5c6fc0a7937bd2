"""Alert messages quote the comparisons that support the call (``Evidence.role``), never one the
matched rule did not need, and word one that supports it by not holding as its opposite."""

from __future__ import annotations

from decimal import Decimal

from trephine.assess.sentences import sentence
from trephine.criteria.engine import evaluate
from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    Condition,
    Evaluation,
    Not,
    Rule,
    RuleSet,
    ge,
    is_,
)
from trephine.criteria.sets import all_mrd, all_response

D = Decimal
C = Citation("test", "row")


def _matched(when: Condition, **facts: object) -> Evaluation:
    rs = RuleSet(
        key="T",
        title="t",
        edition="t",
        citation=C,
        categories=("RELAPSE", "NE"),
        rules=(Rule("T-REL", "RELAPSE", when, C),),
        not_evaluable="NE",
    )
    e = evaluate(rs, facts)
    assert e.rule_id == "T-REL"
    return e


def test_a_comparison_of_a_branch_that_did_not_carry_the_call_is_not_quoted() -> None:
    """Marrow blasts held, but their branch failed (no extramedullary disease): the MRD branch
    made the call, and the alert says so alone."""
    e = _matched(
        AnyOf(AllOf(ge("bm_blasts_pct", 5), is_("extramedullary", True)), ge("mrd_level_pct", 1)),
        bm_blasts_pct=D(39),
        extramedullary=False,
        mrd_level_pct=D(2),
    )
    assert [(x.input, x.outcome, x.role) for x in e.evidence] == [
        ("bm_blasts_pct", True, "not_needed"),
        ("extramedullary", False, "not_needed"),
        ("mrd_level_pct", True, "supports"),
    ]
    assert sentence(e, "relapse", "src") == "MRD level 2 % — at least 1 %: relapse (src)"


def test_a_comparison_that_supports_the_call_by_not_holding_is_worded_as_its_opposite() -> None:
    e = _matched(
        AllOf(ge("mrd_level_pct", 1), Not(ge("bm_blasts_pct", 5)), Not(is_("hb", D(9)))),
        mrd_level_pct=D(2),
        bm_blasts_pct=D(3),
        hb=D(11),
    )
    assert sentence(e, "relapse", "src") == (
        "MRD level 2 % — at least 1 %; Marrow blasts 3 % — below 5 %; "
        "Haemoglobin 11 g/dL — not 9 g/dL: relapse (src)"
    )


def test_the_alerts_of_the_acute_lymphoblastic_calls_read_as_before() -> None:
    """As before, in the words of :mod:`trephine.criteria.input_words` ("MRD level", once
    "MRD" here and "MRD level" on the pages)."""
    relapse = evaluate(all_response.RELAPSE, {"bm_blasts_pct": D(39)})
    assert sentence(relapse, "haematological relapse after CR", "NCCN ALL [R]") == (
        "Marrow blasts 39 % — at least 5 %: haematological relapse after CR (NCCN ALL [R])"
    )
    failure = evaluate(
        all_mrd.RESPONSE,
        {
            "hematologic_cr": True,
            "mrd_method": "MFC",
            "mrd_detected": True,
            "mrd_quantifiable": True,
            "mrd_level_pct": D("0.051"),
            "timepoint": "end_of_induction",
        },
    )
    assert failure.category == "MRD_FAILURE"
    assert sentence(failure, "MRD failure", "ASH 2021 Table 1") == (
        "MRD detected: yes; MRD quantifiable: yes; MRD level 0.051 % — at least 0.01 %: "
        "MRD failure (ASH 2021 Table 1)"
    )
