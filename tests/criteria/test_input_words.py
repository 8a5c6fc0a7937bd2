"""The words of a rule's inputs and comparisons have one home,
:mod:`trephine.criteria.input_words`: the alert messages (:mod:`trephine.assess.sentences`) and
the pages (:mod:`trephine.present.explain`) read the same label, unit and relation, no second
table of them appears, every input of a stored-timeline rule set has its words there, every
comparator has its relation there, and a unit there is one the rule sets' input contracts
declare."""

from __future__ import annotations

import ast
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import trephine
from trephine.assess import sentences
from trephine.assess.registry import ADDENDA, ASSESSORS
from trephine.criteria import input_words
from trephine.criteria.categories import mid_sentence
from trephine.criteria.engine import evaluate
from trephine.criteria.input_words import (
    CONTRACT_UNITS,
    INPUT_WORDS,
    RELATION_WORDS,
    RelationWords,
    input_label,
    input_unit,
    relation_words,
)
from trephine.criteria.model import (
    SUPPORTS,
    Citation,
    Comparator,
    Evaluation,
    Rule,
    RuleSet,
    Threshold,
)
from trephine.criteria.registry import rulesets
from trephine.present import explain, procedures
from word_tables import constant_in, tables_outside, word_tables

SRC = Path(trephine.__file__).parent
HOME = Path(input_words.__file__)


def _stored_timeline_rulesets() -> list[RuleSet]:
    sets = {rs.key: rs for a in ASSESSORS for rs in a.rulesets}
    for addendum in ADDENDA:
        sets.update({rs.key: rs for rs in sys.modules[addendum.__module__].RULESETS})
    return list(sets.values())


def _rule_inputs(rs: RuleSet) -> set[str]:
    found = {i for r in rs.rules for i in r.when.inputs()}
    found |= {i for f in rs.flags for i in f.when.inputs()}
    return (found | {spec.name for spec in rs.inputs}) - {""}


def _every_input_name() -> set[str]:
    names = set(INPUT_WORDS)
    for rs in (*rulesets().values(), *_stored_timeline_rulesets()):
        names |= _rule_inputs(rs)
    return names


def _input_tables(tree: ast.AST, names: set[str]) -> list[int]:
    """The lines of dict literals that word three or more rule inputs."""
    return word_tables(tree, constant_in(names))


def test_no_second_table_words_the_inputs() -> None:
    names = _every_input_name()
    elsewhere = tables_outside([HOME], lambda tree: _input_tables(tree, names))
    assert not elsewhere, f"input words outside criteria/input_words.py: {sorted(elsewhere)}"
    # The check sees a table of the old shapes: the home's own, and the two it replaced.
    assert _input_tables(ast.parse(HOME.read_text(encoding="utf-8")), names)
    old_alert_table = 'LABELS = {"bm_blasts_pct": ("Marrow blasts", " %"), "anc": ("ANC", ""),'
    old_alert_table += ' "plt": ("Platelets", "")}'
    old_page_table = 'LABELS = {"bm_blasts_pct": "Marrow blasts", "anc": "ANC", "plt": "Platelets"}'
    for table in (old_alert_table, old_page_table):
        assert _input_tables(ast.parse(table), names) == [1]


@pytest.mark.parametrize("rs", _stored_timeline_rulesets(), ids=lambda rs: rs.key)
def test_every_input_of_a_stored_call_has_its_words(rs: RuleSet) -> None:
    missing = {n for n in _rule_inputs(rs) if n not in INPUT_WORDS and not n.startswith("param:")}
    assert not missing, sorted(missing)


def test_a_unit_is_one_an_input_contract_declares() -> None:
    declared: dict[str, set[str]] = {}
    for rs in (*rulesets().values(), *_stored_timeline_rulesets()):
        for spec in rs.inputs:
            if spec.unit is not None:
                declared.setdefault(spec.name, set()).add(CONTRACT_UNITS.get(spec.unit, spec.unit))
    disagree = {
        (name, words.unit, tuple(sorted(declared[name])))
        for name, words in INPUT_WORDS.items()
        if name in declared and words.unit not in declared[name]
    }
    assert not disagree, sorted(disagree)


def test_alert_messages_and_pages_read_the_same_words() -> None:
    """The words where the two old tables differed, or the pages had no unit: one label and unit
    in both."""
    for name, label, unit in (
        ("mrd_level_pct", "MRD level", " %"),
        ("cd19_pct_pb", "CD19+ cells in the blood", " % of lymphocytes"),
        ("cd19_abs_per_ul", "CD19+ cell count in the blood", " cells/µL"),
        ("hb_rise", "Rise in haemoglobin from baseline", " g/dL"),
        ("liver_iron_mg_g", "Liver iron", " mg Fe/g dry weight"),
        ("serum_m_g_dl_rise", "Rise in serum M-protein", " g/dL"),
    ):
        assert (input_label(name), input_unit(name)) == (label, unit)
        assert explain.input_label(name) == label
        item = {"input": name, "value": "2", "comparator": ">", "threshold": "1", "outcome": True}
        assert explain.evidence_sentence(item).startswith(f"{label} 2{unit} — above 1{unit}")
    assert not hasattr(sentences, "LABELS") and not hasattr(explain, "LABELS")


def test_an_input_without_words_reads_as_its_contract_or_name() -> None:
    assert input_label("param:cri_mode") == "CRi definition (setting)"
    assert input_label("anc day +18") == "ANC on day +18"
    assert input_label("age_years") == "Age years"
    assert input_unit("age_years") == " years"  # the contract's unit
    assert input_unit("no_such_input_pct") == " %"
    assert input_unit("no_such_input") == ""


#: The relation words every stored alert message was raised with (assess/sentences' own table
#: before it read RELATION_WORDS): a comparison that supports the call, as it holds. ``==`` never
#: reads as a relation in a message ("MRD method: NGS").
STORED_RELATIONS = {
    Comparator.GE: "at least",
    Comparator.GT: "above",
    Comparator.LT: "below",
    Comparator.LE: "at most",
    Comparator.NE: "not",
}
COMPARATOR_SYMBOLS = {c.value for c in Comparator}


def test_every_comparator_has_its_words() -> None:
    assert set(RELATION_WORDS) == set(Comparator)
    for c in Comparator:
        assert relation_words(c) == relation_words(c.value) == RELATION_WORDS[c]
        assert all(RELATION_WORDS[c]), c
    # A symbol no comparator has (another version's or a plugin's evidence) reads as itself.
    assert relation_words("≈") == RelationWords("≈", "not ≈")


def _matched(comparator: Comparator, value: str, threshold: str) -> Evaluation:
    c = Citation("test", "row")
    rs = RuleSet(
        key="T",
        title="t",
        edition="t",
        citation=c,
        categories=("MET", "NE"),
        rules=(
            Rule("T-MET", "MET", Threshold("bm_blasts_pct", comparator, Decimal(threshold)), c),
        ),
        not_evaluable="NE",
    )
    e = evaluate(rs, {"bm_blasts_pct": Decimal(value)})
    assert e.rule_id == "T-MET" and [x.role for x in e.evidence] == [SUPPORTS]
    return e


@pytest.mark.parametrize("comparator", sorted(STORED_RELATIONS, key=str), ids=str)
def test_alert_messages_keep_their_relation_words_and_pages_read_the_same(
    comparator: Comparator,
) -> None:
    """The alert message's words are those stored alerts were raised with (a new word here would
    word a new alert differently from the stored ones: tests/services/test_alert_words_history.py
    shows a stored message is kept and not raised again); the page's words for a comparison that
    holds are the same."""
    value = {"<": "3", "<=": "5", ">=": "5", ">": "7", "!=": "3"}[comparator.value]
    e = _matched(comparator, value, "5")
    relation = STORED_RELATIONS[comparator]
    assert sentences.sentence(e, "met", "src") == (
        f"Marrow blasts {value} % — {relation} 5 %: met (src)"
    )
    item = e.evidence[0].as_dict()
    assert explain.evidence_sentence(item, "CR").startswith(
        f"Marrow blasts {value} % — {relation} 5 %"
    )
    assert RELATION_WORDS[comparator].holds == relation


def test_a_page_words_a_comparison_that_did_not_hold_from_the_same_home() -> None:
    for comparator in Comparator:
        if comparator in (Comparator.EQ, Comparator.NE):
            continue
        item = {"input": "bm_blasts_pct", "value": "5", "comparator": comparator.value}
        item |= {"threshold": "5", "outcome": False}
        fails = RELATION_WORDS[comparator].fails
        assert explain.evidence_sentence(item).startswith(f"Marrow blasts 5 % — {fails} 5 %")


def _is_comparator_key(key: ast.expr | None) -> bool:
    if isinstance(key, ast.Constant):
        return key.value in COMPARATOR_SYMBOLS
    return isinstance(key, ast.Attribute) and key.attr in Comparator.__members__


def _relation_tables(tree: ast.AST) -> list[int]:
    """The lines of dict literals that word three or more comparisons (lower-case words:
    "at least", "below")."""
    return word_tables(tree, _is_comparator_key, capitalised=False)


def test_no_second_table_words_the_comparisons() -> None:
    elsewhere = tables_outside([HOME], _relation_tables)
    assert not elsewhere, f"relation words outside criteria/input_words.py: {sorted(elsewhere)}"
    # The check sees the home's table, and the two it replaced; not the engine's operators.
    assert _relation_tables(ast.parse(HOME.read_text(encoding="utf-8")))
    old_alert_table = '_RELATION = {">=": "at least", ">": "above", "<": "below", "<=": "at most"}'
    old_page_table = (
        'RELATIONS = {"<": ("below", "not below"), "<=": ("at most", "above"),'
        ' ">=": ("at least", "below")}'
    )
    for table in (old_alert_table, old_page_table):
        assert _relation_tables(ast.parse(table)) == [1]
    engine = "_OPERATORS = {Comparator.LT: operator.lt, Comparator.LE: operator.le, "
    engine += "Comparator.GE: operator.ge, Comparator.GT: operator.gt}"
    assert _relation_tables(ast.parse(engine)) == []
    assert not hasattr(sentences, "_RELATION") and not hasattr(explain, "RELATIONS")


def test_the_safety_decision_names_a_value_not_reported_in_the_input_words() -> None:
    """The procedure page's "Not reported: platelets, INR" reads the safety rule set's inputs
    from their one home (it had its own table: 'platelet count', 'INR')."""
    assert [procedures.missing_words(n) for n in ("plt", "inr")] == ["platelets", "INR"]
    for name in ("plt", "inr"):
        assert procedures.missing_words(name) == mid_sentence(input_label(name))
    assert not hasattr(procedures, "MISSING_WORDS")
