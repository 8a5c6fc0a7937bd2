"""Every input that can appear in an alert message or in a stored call's explanation has a
label: none is read out as its name ('Mrd quantifiable: yes' in the ALL MRD failure alert,
'Baseline anc', 'Dflc mg dl rise' in the explanations).

Alert messages are worded once, in the core (:func:`trephine.assess.sentences.sentence`, by the
evaluators that import it), the explanations on the pages and in the report by
:func:`trephine.present.explain.evidence_sentence`: both in the words of each input's one home,
:data:`trephine.criteria.input_words.INPUT_WORDS` (label and unit)."""

from __future__ import annotations

import ast
import importlib
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from trephine.assess import sentences
from trephine.assess.registry import ADDENDA, ASSESSORS
from trephine.criteria.engine import evaluate
from trephine.criteria.input_words import INPUT_WORDS
from trephine.criteria.model import Condition, RuleSet
from trephine.criteria.sets import all_mrd
from trephine.present import explain

ASSESS = Path(sentences.__file__).parent


def _conditions(rs: RuleSet) -> list[Condition]:
    """The conditions of a rule set's rows and flags."""
    return [r.when for r in rs.rules] + [f.when for f in rs.flags]


def _inputs(rs: RuleSet) -> set[str]:
    """What a rule set's rows and flags compare, and the inputs it declares."""
    found = {i for when in _conditions(rs) for i in when.inputs()}
    return (found | {spec.name for spec in rs.inputs}) - {""}


def _alerting_modules() -> list[str]:
    """The evaluators that word alert messages: those importing ``sentence``."""
    names = []
    for path in sorted(ASSESS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(
            isinstance(node, ast.ImportFrom)
            and node.module == "trephine.assess.sentences"
            and any(a.name == "sentence" for a in node.names)
            for node in ast.walk(tree)
        ):
            names.append(f"trephine.assess.{path.stem}")
    return names


def _stored_timeline_rulesets() -> dict[str, RuleSet]:
    sets = {rs.key: rs for a in ASSESSORS for rs in a.rulesets}
    for addendum in ADDENDA:
        sets.update({rs.key: rs for rs in sys.modules[addendum.__module__].RULESETS})
    return sets


def test_the_alerting_evaluators_are_found() -> None:
    assert {
        "trephine.assess.acute_lymphoblastic",
        "trephine.assess.aplastic_anaemia",
        "trephine.assess.workups",
    } <= set(_alerting_modules())


@pytest.mark.parametrize("module", _alerting_modules())
def test_every_input_an_alert_message_can_quote_has_a_label(module: str) -> None:
    rulesets = importlib.import_module(module).RULESETS
    unlabelled = {
        (rs.key, name)
        for rs in rulesets
        for when in _conditions(rs)
        for name in when.inputs()
        if name not in INPUT_WORDS
    }
    assert not unlabelled, sorted(unlabelled)


@pytest.mark.parametrize("key", sorted(_stored_timeline_rulesets()))
def test_every_input_a_stored_call_can_explain_has_a_label(key: str) -> None:
    rs = _stored_timeline_rulesets()[key]
    unlabelled = {
        name for name in _inputs(rs) if name not in INPUT_WORDS and not name.startswith("param:")
    }
    assert not unlabelled, sorted(unlabelled)


def test_the_mrd_failure_alert_names_every_input_it_quotes() -> None:
    failure = evaluate(
        all_mrd.RESPONSE,
        {
            "hematologic_cr": True,
            "mrd_method": "MFC",
            "mrd_detected": True,
            "mrd_quantifiable": True,
            "mrd_level_pct": Decimal("0.051"),
            "timepoint": "end_of_induction",
        },
    )
    message = sentences.sentence(failure, "MRD failure", "ASH 2021 Table 1")
    assert "MRD quantifiable: yes" in message and "Mrd" not in message
    assert "MRD level 0.051 % — at least 0.01 %" in message
    assert explain.input_label("mrd_quantifiable") == "MRD quantifiable"
    # The page words the same comparison with the same label and unit.
    shown = explain.evidence_sentence(
        {
            "input": "mrd_level_pct",
            "value": "0.051",
            "comparator": ">=",
            "threshold": "0.01",
            "outcome": True,
        }
    )
    assert shown.startswith("MRD level 0.051 % — at least 0.01 %"), shown
