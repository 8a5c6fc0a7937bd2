"""The engine: first match wins, three-valued logic, missing ⇒ not evaluable, Decimal exactness."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trephine import __version__
from trephine.criteria.cases import evaluate_case
from trephine.criteria.engine import evaluate, evaluate_many, pct_reduction
from trephine.criteria.model import (
    AllOf,
    AnyOf,
    AtLeast,
    Citation,
    Exactly,
    Not,
    ParamRef,
    Rule,
    RuleSet,
    ge,
    is_,
    lt,
)
from trephine.criteria.sets import eln2022_aml
from trephine.errors import ValidationError

from .helpers import aml

C = Citation("test", "row")
D = Decimal


def _facts(**kw: object) -> dict[str, object]:
    return {
        k: (Decimal(str(v)) if isinstance(v, int | float) and not isinstance(v, bool) else v)
        for k, v in kw.items()
    }


def test_first_matching_rule_wins() -> None:
    rs = RuleSet(
        "T",
        "t",
        "T1",
        C,
        ("A", "B", "NE"),
        (
            Rule("r1", "A", ge("x", 5), C),
            Rule("r2", "B", ge("x", 1), C),
        ),
        "NE",
    )
    assert evaluate(rs, _facts(x=7)).category == "A"
    assert evaluate(rs, _facts(x=3)).category == "B"
    assert evaluate(rs, _facts(x=0)).category == "NE"


def test_missing_input_gives_not_evaluable_naming_it() -> None:
    a = evaluate(
        eln2022_aml.RESPONSE,
        _facts(**{k: v for k, v in aml().items() if k not in ("anc", "disease")}),
    )
    assert a.category == "NON_EVALUABLE"
    assert a.rule_id is None
    assert "anc" in a.missing
    assert a.software_version == __version__
    assert a.edition == "ELN2022"


def test_missing_input_that_cannot_change_the_call_is_not_needed() -> None:
    # Blasts of 30 % rule out every leukaemia-free row whatever the counts are.
    facts = _facts(**{k: v for k, v in aml(bm_blasts_pct=30).items() if k != "disease"})
    del facts["anc"]
    a = evaluate(eln2022_aml.RESPONSE, facts)
    assert a.category == "NO_RESPONSE"


def test_kleene_logic() -> None:
    missing: set[str] = set()
    f = _facts(a=1)
    assert AllOf(ge("a", 5), ge("b", 1)).check(f, {}, None, missing) is False
    assert AllOf(ge("a", 0), ge("b", 1)).check(f, {}, None, missing) is None
    assert AnyOf(ge("a", 0), ge("b", 1)).check(f, {}, None, missing) is True
    assert AnyOf(ge("a", 5), ge("b", 1)).check(f, {}, None, missing) is None
    assert Not(ge("b", 1)).check(f, {}, None, missing) is None
    assert AtLeast(2, ge("a", 0), ge("b", 1), ge("c", 1)).check(f, {}, None, missing) is None
    assert AtLeast(2, ge("a", 5), ge("b", 1)).check(f, {}, None, missing) is False
    assert Exactly(1, ge("a", 0), ge("b", 1)).check(f, {}, None, missing) is None
    assert Exactly(1, ge("a", 0), lt("a", 0)).check(f, {}, None, missing) is True
    assert missing == {"b", "c"}


def test_no_rounding_before_comparing() -> None:
    # 4.96 % is < 5 (G2); 4.999999 too; 5 is not.
    for blasts, expected in (("4.96", "CR"), ("4.999999", "CR"), ("5", "NO_RESPONSE")):
        out = evaluate_case(
            {
                "id": "x",
                "ruleset": "ELN2022",
                "input": aml(bm_blasts_pct=Decimal(blasts), baseline_bm_blasts_pct=6),
            }
        )
        assert out["response"] == expected, blasts


def test_percentage_reduction_is_exact() -> None:
    assert pct_reduction(Decimal(30), Decimal(15)) == Decimal(50)
    assert pct_reduction(Decimal(0), Decimal(1)) is None
    assert pct_reduction(None, Decimal(1)) is None


def test_explanation_lists_the_evidence_of_the_matched_rule() -> None:
    out = evaluate_case({"id": "x", "ruleset": "ELN2022", "input": aml(anc=Decimal("0.49"))})
    why = out["explanation"]["response"]
    assert why["rule"] == "ELN22-CRi-single"
    inputs = {e["input"]: e for e in why["evidence"]}
    assert inputs["anc"]["value"] == "0.49"
    assert inputs["anc"]["outcome"] is False
    assert inputs["plt"]["comparator"] == ">="
    assert "Döhner 2022" in why["citation"]
    assert why["software_version"] == __version__


def test_params_override_and_validation() -> None:
    case = {
        "id": "x",
        "ruleset": "ELN2022",
        "input": aml(anc=Decimal("0.3"), plt=30),
        "params": {"cri_mode": "any_deficit"},
    }
    assert evaluate_case(case)["response"] == "CRi"
    case["params"] = {"cri_mode": "sometimes"}
    with pytest.raises(ValidationError, match="cri_mode"):
        evaluate_case(case)
    case["params"] = {"no_such": 1}
    with pytest.raises(ValidationError, match="unknown parameter"):
        evaluate_case(case)


def test_adequacy_parameter_changes_only_what_it_documents() -> None:
    inadequate = aml(spicules_present=False)
    strict = evaluate_case({"id": "x", "ruleset": "ELN2022", "input": inadequate})
    loose = evaluate_case(
        {
            "id": "x",
            "ruleset": "ELN2022",
            "input": inadequate,
            "params": {"apply_adequacy_to_all": False},
        }
    )
    assert strict["response"] == "NON_EVALUABLE"
    assert loose["response"] == "CR"


def test_type_mismatch_is_refused_naming_the_input_never_a_result() -> None:
    with pytest.raises(ValidationError, match=r"^x: 1 is not allowed.*allowed: true, false"):
        is_("x", True).check({"x": Decimal(1)}, {}, None, set())


def test_evaluate_many_matches_evaluate_and_restores_gc() -> None:
    import gc

    cases = [
        _facts(**{k: v for k, v in aml(anc=a).items() if k != "disease"})
        for a in (D("0.2"), D("0.6"), D("1.2"))
    ]
    many = evaluate_many(eln2022_aml.RESPONSE, cases)
    assert [a.category for a in many] == ["CRi", "CRh", "CR"]
    assert [a.category for a in many] == [evaluate(eln2022_aml.RESPONSE, c).category for c in cases]
    assert gc.isenabled()
    # Evidence is recorded on first access and then stable.
    assert many[2].evidence == many[2].evidence
    assert {e.input for e in many[2].evidence} >= {"anc", "plt", "bm_blasts_pct"}


def test_rule_tables_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="not in the category enum"):
        RuleSet("T", "t", "T1", C, ("A", "NE"), (Rule("r1", "B", ge("x", 1), C),), "NE")
    with pytest.raises(ValueError, match="duplicate rule ids"):
        RuleSet(
            "T",
            "t",
            "T1",
            C,
            ("A", "NE"),
            (Rule("r1", "A", ge("x", 1), C), Rule("r1", "A", ge("x", 2), C)),
            "NE",
        )
    with pytest.raises(ValueError, match="not declared"):
        RuleSet(
            "T", "t", "T1", C, ("A", "NE"), (Rule("r1", "A", ge("x", ParamRef("nope")), C),), "NE"
        )
    assert Rule("r", "A", AllOf(ge("x", 1), AnyOf(lt("y", 2), ge("x", 3))), C).requires == (
        "x",
        "y",
    )
    assert [m.value for m in eln2022_aml.RESPONSE.category_enum()][:3] == ["CR", "CRh", "CRi"]


# -------------------------------------------------------- plain numbers from a notebook (issue 8)

CR_MARROW: dict[str, object] = {
    "bm_blasts_pct": 3.0,
    "anc": 1.0,
    "plt": 150,
    "circulating_blasts": False,
    "extramedullary": False,
    "auer_rods": False,
    "cells_counted": 500,
    "spicules_present": True,
    "biopsy_cellularity_pct": 40,
}


def test_plain_numbers_are_taken_exactly_as_written() -> None:
    plain = evaluate(eln2022_aml.RESPONSE, CR_MARROW)
    exact = evaluate(eln2022_aml.RESPONSE, _facts(**CR_MARROW))
    assert plain.category == exact.category == "CR"
    assert plain.explanation() == exact.explanation()
    # 0.1 is read as written (Decimal("0.1")), not as the binary float 0.1000000000000000055…
    near = evaluate(eln2022_aml.RESPONSE, {**CR_MARROW, "anc": 0.1})
    (anc,) = [e for e in near.evidence if e.input == "anc"]
    assert anc.value == Decimal("0.1")


def test_numeric_text_counts_only_where_the_rule_set_declares_a_number() -> None:
    assert evaluate(eln2022_aml.RESPONSE, {**CR_MARROW, "plt": "150"}).category == "CR"
    with pytest.raises(ValidationError, match=r"^plt: 'many'"):
        evaluate(eln2022_aml.RESPONSE, {**CR_MARROW, "plt": "many"})


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        (float("nan"), "a finite number"),
        (float("inf"), "a finite number"),
        ([3], "a number, true/false, text or None"),
        ({"value": 3}, "a number, true/false, text or None"),
    ],
)
def test_what_is_not_a_fact_is_refused_naming_the_field(value: object, allowed: str) -> None:
    with pytest.raises(ValidationError) as caught:
        evaluate(eln2022_aml.RESPONSE, {**CR_MARROW, "bm_blasts_pct": value})
    assert caught.value.field == "bm_blasts_pct" and caught.value.allowed == allowed


def test_a_fact_of_the_wrong_kind_is_refused_naming_the_field_not_a_type_error() -> None:
    rs = RuleSet(
        "T",
        "t",
        "t",
        C,
        ("YES", "NE"),
        (Rule("R1", "YES", lt("blasts", D(5)), C),),
        "NE",
    )
    with pytest.raises(ValidationError) as caught:
        evaluate(rs, {"blasts": True})
    assert caught.value.field == "blasts" and caught.value.allowed == "a number"
