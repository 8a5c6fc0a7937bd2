"""What each comparison did for the matched rule (``Evidence.role``): it supports the call —
also by *not* holding, under ``Not`` or as the failed part of ``Exactly`` — or it was a branch
the rule did not need (an either/or that another branch carried). The comparisons themselves,
their order and every call stay exactly as they were."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from trephine.criteria import model
from trephine.criteria.cases import evaluate_case
from trephine.criteria.engine import evaluate
from trephine.criteria.model import (
    NOT_NEEDED,
    SUPPORTS,
    AllOf,
    AnyOf,
    AtLeast,
    Citation,
    Condition,
    Evidence,
    Exactly,
    FirstAvailable,
    Not,
    Rule,
    RuleSet,
    ge,
    is_,
    lt,
    with_roles,
)
from trephine.criteria.registry import get

D = Decimal
C = Citation("test", "row")


def _roles(cond: Condition, **facts: Any) -> list[tuple[str, bool | None, str | None]]:
    return [(e.input, e.outcome, e.role) for e in with_roles(cond, facts, {})]


def test_a_comparison_under_not_supports_the_call_by_not_holding() -> None:
    cond = AllOf(lt("bm_blasts_pct", 5), Not(is_("extramedullary", True)))
    assert _roles(cond, bm_blasts_pct=D(3), extramedullary=False) == [
        ("bm_blasts_pct", True, SUPPORTS),
        ("extramedullary", False, SUPPORTS),
    ]
    twice = Not(Not(is_("extramedullary", False)))
    assert _roles(twice, extramedullary=False) == [("extramedullary", True, SUPPORTS)]


def test_an_either_or_branch_that_failed_before_the_one_that_held_was_not_needed() -> None:
    cond = AnyOf(lt("bm_blasts_pct", 5), AllOf(is_("mrd_detected", False), lt("anc", 1)))
    assert _roles(cond, bm_blasts_pct=D(7), mrd_detected=False, anc=D("0.5")) == [
        ("bm_blasts_pct", False, NOT_NEEDED),
        ("mrd_detected", True, SUPPORTS),
        ("anc", True, SUPPORTS),
    ]
    # A branch that could not be checked is not needed either; a part of a failed branch that
    # held is not needed (the branch as a whole did not count).
    other = AnyOf(AllOf(ge("anc", 1), lt("plt", 100)), lt("bm_blasts_pct", 5))
    assert _roles(other, anc=D(2), plt=D(150), bm_blasts_pct=D(3)) == [
        ("anc", True, NOT_NEEDED),
        ("plt", False, NOT_NEEDED),
        ("bm_blasts_pct", True, SUPPORTS),
    ]
    missing = AnyOf(lt("bm_blasts_pct", 5), ge("anc", 1))
    assert _roles(missing, bm_blasts_pct=None, anc=D(2)) == [
        ("bm_blasts_pct", None, NOT_NEEDED),
        ("anc", True, SUPPORTS),
    ]


def test_at_least_two_of_three_the_failing_part_was_not_needed() -> None:
    cond = AtLeast(2, ge("hb", 10), ge("anc", 1), ge("plt", 100))
    assert _roles(cond, hb=D(11), anc=D("0.4"), plt=D(120)) == [
        ("hb", True, SUPPORTS),
        ("anc", False, NOT_NEEDED),
        ("plt", True, SUPPORTS),
    ]


def test_not_of_at_least_the_failed_parts_carry_it() -> None:
    cond = Not(AtLeast(2, ge("hb", 10), ge("anc", 1), ge("plt", 100)))
    assert _roles(cond, hb=D(11), anc=D("0.4"), plt=D(80)) == [
        ("hb", True, NOT_NEEDED),
        ("anc", False, SUPPORTS),
        ("plt", False, SUPPORTS),
    ]


def test_exactly_one_the_part_that_failed_supports_it() -> None:
    cond = Exactly(1, ge("anc", 1), ge("plt", 100))
    assert _roles(cond, anc=D(2), plt=D(84)) == [
        ("anc", True, SUPPORTS),
        ("plt", False, SUPPORTS),
    ]
    # Not exactly one because both hold: those two decide it.
    assert _roles(Not(cond), anc=D(2), plt=D(120)) == [
        ("anc", True, SUPPORTS),
        ("plt", True, SUPPORTS),
    ]


def test_not_of_a_conjunction_the_failed_part_decides_it() -> None:
    cond = Not(AllOf(is_("therapy_intensity", "intensive"), ge("courses_completed", 2)))
    assert _roles(cond, therapy_intensity="intensive", courses_completed=D(1)) == [
        ("therapy_intensity", True, NOT_NEEDED),
        ("courses_completed", False, SUPPORTS),
    ]


def test_first_available_the_fallback_that_decided_supports_it() -> None:
    cond = FirstAvailable(is_("infiltrated", False), Not(ge("lymphocytes_pct", 30)))
    assert _roles(cond, infiltrated=None, lymphocytes_pct=D(20)) == [
        ("lymphocytes_pct", False, SUPPORTS),
    ]
    assert _roles(cond, infiltrated=False, lymphocytes_pct=D(40)) == [
        ("infiltrated", True, SUPPORTS),
    ]


def test_roles_for_a_row_that_failed_say_what_made_it_fail() -> None:
    """Non-severe aplastic anaemia is "does not meet SAA": the call records the SAA row's
    check, whose comparisons support it by failing."""
    saa = next(r for r in get("AA-Camitta/BSH").rules if r.id == "AA-SAA").when
    facts = {
        "biopsy_cellularity_pct": D(20),
        "residual_hematopoietic_cells_pct": None,
        "anc": D("1.6"),
        "plt": D(90),
        "retic_abs": D(85),
        "retic_threshold": D(60),
    }
    assert [(e.input, e.outcome, e.role) for e in with_roles(saa, facts, {}, holds=False)] == [
        ("biopsy_cellularity_pct", True, NOT_NEEDED),
        ("anc", False, SUPPORTS),
        ("plt", False, SUPPORTS),
        ("retic_abs", False, SUPPORTS),
    ]
    # A row that holds has no "fails" conclusion: no roles.
    held = {**facts, "anc": D("0.1"), "plt": D(8)}
    assert all(e.role is None for e in with_roles(saa, held, {}, holds=False))


class _Reads(dict[str, Any]):
    """Facts that count how often each input is read (each comparison reads its input once)."""

    def __init__(self, **facts: Any) -> None:
        super().__init__(facts)
        self.reads: Counter[str] = Counter()

    def get(self, key: str, default: Any = None) -> Any:
        self.reads[key] += 1
        return super().get(key, default)


def test_the_roles_are_found_in_the_one_pass_that_records_the_comparisons() -> None:
    """Each comparison is made once, whether the row comes out as the call says or not (its
    evidence then comes back without roles)."""
    cond = AnyOf(AllOf(ge("anc", 1), lt("plt", 100)), Not(is_("x", True)))
    for holds in (True, False):
        facts = _Reads(anc=D(2), plt=D(150), x=False)
        got = with_roles(cond, facts, {}, holds=holds)
        assert [e.input for e in got] == ["anc", "plt", "x"]
        assert facts.reads == {"anc": 1, "plt": 1, "x": 1}, holds
        assert all(e.role is None for e in got) is not holds


def test_a_row_of_comparisons_joined_by_all_of_is_known_when_it_is_built() -> None:
    """Such a row needs no role walk: when it holds, each of its comparisons supports it."""
    assert ge("a", 1).conjunctive
    assert AllOf(ge("a", 1), AllOf(lt("b", 2), is_("c", True))).conjunctive
    assert AllOf().conjunctive
    assert not AllOf(ge("a", 1), Not(is_("c", True))).conjunctive
    assert not AnyOf(ge("a", 1)).conjunctive
    assert not AtLeast(1, ge("a", 1)).conjunctive
    assert not FirstAvailable(ge("a", 1)).conjunctive
    assert not hasattr(model, "_CONJUNCTIVE")  # no cache keyed by the condition's id


def test_only_a_matched_row_has_roles() -> None:
    rs = RuleSet(
        key="T",
        title="t",
        edition="t",
        citation=C,
        categories=("A", "B", "NE"),
        rules=(
            Rule("R-A", "A", AnyOf(lt("x", 5), Not(is_("y", True))), C),
            Rule("R-B", "B", AllOf(ge("x", 5), ge("z", 1)), C),
        ),
        not_evaluable="NE",
    )
    matched = evaluate(rs, {"x": D(3), "y": True})
    assert [(e.input, e.role) for e in matched.evidence] == [("x", SUPPORTS)]
    matched = evaluate(rs, {"x": D(7), "y": False})
    assert [(e.input, e.role) for e in matched.evidence] == [("x", NOT_NEEDED), ("y", SUPPORTS)]
    assert matched.explanation()["evidence"][1] == {
        "input": "y",
        "value": False,
        "comparator": "==",
        "threshold": True,
        "outcome": False,
        "role": "supports",
    }
    undecided = evaluate(rs, {"x": D(7), "y": True, "z": None})
    assert undecided.rule_id is None and undecided.evidence
    assert all(e.role is None for e in undecided.evidence)
    assert all("role" not in e for e in undecided.explanation()["evidence"])


def test_the_landmark_before_call_of_the_demo_reads_its_negated_comparisons() -> None:
    """ELN22-LM-BEFORE is ``not (at the landmark)``: one course of intensive therapy is what
    makes the call, not a comparison that 'does not meet' it."""
    e = evaluate(
        get("ELN2022-landmark"),
        {"therapy_intensity": "intensive", "courses_completed": D(1), "days_since_start": D(30)},
    )
    assert e.rule_id == "ELN22-LM-BEFORE"
    assert [(x.input, x.outcome, x.role) for x in e.evidence] == [
        ("therapy_intensity", True, NOT_NEEDED),
        ("courses_completed", False, SUPPORTS),
        ("therapy_intensity", False, SUPPORTS),
    ]


@pytest.mark.shared_data
def test_roles_change_nothing_else_in_any_worked_case(
    clinical_cases: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every case of clinical-cases.json: the comparisons with roles are the ones the plain
    recording pass makes, in the same order, with the same values and outcomes."""
    seen: list[int] = []
    original = model.with_roles

    def checked(cond: Condition, facts: Any, params: Any) -> list[Evidence]:
        got = original(cond, facts, params)
        plain: list[Evidence] = []
        cond.check(facts, params, plain, set())
        assert [replace(e, role=None) for e in got] == plain
        # The outcome the roles are worked out from is the one check gives, at every node of
        # the one tracing pass, and the trace records what check records.
        traced = cond.trace(facts, params, set())
        assert traced.recorded([]) == plain
        nodes = [traced]
        while nodes:
            node = nodes.pop()
            assert node.outcome == node.condition.check(facts, params, None, set())
            nodes.extend(node.parts)
        assert all(e.role in (SUPPORTS, NOT_NEEDED) for e in got)
        seen.append(sum(e.role == NOT_NEEDED or e.outcome is False for e in got))
        return got

    monkeypatch.setattr(model, "with_roles", checked)
    for case in clinical_cases["cases"]:
        evaluate_case(case)
    assert len(seen) > 50
    assert sum(1 for n in seen if n) > 5  # cases where the leaf outcome alone would mislead
