"""The words of a rule's inputs have one home, :mod:`trephine.criteria.input_words`: the alert
messages (:mod:`trephine.assess.sentences`) and the pages (:mod:`trephine.present.explain`) read
the same label and unit, no second table of them appears, every input of a stored-timeline rule
set has its words there, and a unit there is one the rule sets' input contracts declare."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import trephine
from trephine.assess import sentences
from trephine.assess.registry import ADDENDA, ASSESSORS
from trephine.criteria import input_words
from trephine.criteria.input_words import CONTRACT_UNITS, INPUT_WORDS, input_label, input_unit
from trephine.criteria.model import RuleSet
from trephine.criteria.registry import rulesets
from trephine.present import explain

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


def _reads_as_words(value: ast.expr) -> bool:
    """A label-like value: a capitalised string, a tuple starting with one (label, unit), or a
    call building one (``InputWords("Marrow blasts", "%")``)."""
    if isinstance(value, ast.Tuple | ast.Call):
        first = value.elts[:1] if isinstance(value, ast.Tuple) else value.args[:1]
        return bool(first) and _reads_as_words(first[0])
    return (
        isinstance(value, ast.Constant)
        and isinstance(value.value, str)
        and (value.value[:1].isupper())
    )


def _input_tables(tree: ast.AST, names: set[str]) -> list[int]:
    """The lines of dict literals that word three or more rule inputs."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        worded = [
            k.value
            for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant) and k.value in names and _reads_as_words(v)
        ]
        if len(worded) >= 3:
            found.append(node.lineno)
    return found


def test_no_second_table_words_the_inputs() -> None:
    names = _every_input_name()
    elsewhere = {
        f"{path.relative_to(SRC)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if path != HOME
        for line in _input_tables(ast.parse(path.read_text(encoding="utf-8")), names)
    }
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
