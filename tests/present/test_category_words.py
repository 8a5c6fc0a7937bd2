"""One wording per call category, from one home in the core
(:func:`trephine.criteria.categories.category_words`): the pages, the patient list, the criteria
calls, the marrow report and FHIR's display text (``present/explain.category_label``) and the
story's supersession sentence stored in the evidence (``assess/story``) all read it.

Before: a myeloma PD confirmed read "Progressive disease" while the PD of iwCLL and IWG 2006
MDS read "PD"; the story wrote "progressive disease (confirmed)" and "hematologic relapse"
where the pages say "Progressive disease" and "Haematologic relapse".

An alert's headline (``present/explain.ALERTS``) and the procedure's safety decision
(``present/procedures.DECISION_WORDS``) name a category that is also an alert or a decision in
those words too, read from the core: no second table words a call category."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

import trephine
from trephine.assess.call import Call
from trephine.assess.story import one_story
from trephine.criteria import categories
from trephine.criteria.categories import (
    CATEGORY_WORDS,
    CONFIRMATION_BY_RULESET,
    SUPERSEDING_CATEGORIES,
    category_words,
    mid_sentence,
)
from trephine.criteria.registry import rulesets
from trephine.criteria.sets.diagnostics import SAFETY
from trephine.domain.assessment import Assessment
from trephine.present import fhir, patient_text
from trephine.present.explain import ALERTS, alert_headline, category_label, criterion_label
from trephine.present.procedures import DECISION_WORDS
from trephine.services.views import StoredAssessment
from word_tables import constant_in, tables_outside, word_tables

ON = dt.date(2024, 7, 1)
EMITTED = {c for rs in rulesets().values() for c in rs.categories}


def test_progressive_disease_reads_the_same_for_every_rule_set_that_calls_it() -> None:
    calling_pd = sorted(k for k, rs in rulesets().items() if "PD" in rs.categories)
    # IMWG's progression table, iwCLL (2008, 2018) and IWG 2006 MDS at least.
    assert {"IMWG2016-PD", "iwCLL2018", "IWG2006"} <= set(calling_pd)
    (confirmed,) = [both for _, both in CONFIRMATION_BY_RULESET.values()]
    assert category_label("PD") == category_label(confirmed) == "Progressive disease"
    # The evidence of any PD meets the same criterion, in the same words.
    assert criterion_label("PD") == criterion_label(confirmed) == "Progressive disease"


def test_the_page_label_is_the_cores_words_for_every_category() -> None:
    categories = EMITTED | SUPERSEDING_CATEGORIES
    assert {c: category_label(c) for c in categories} == {c: category_words(c) for c in categories}


@pytest.mark.parametrize(
    "category", sorted(set(ALERTS) & {c for rs in rulesets().values() for c in rs.categories})
)
def test_a_category_that_is_also_an_alert_reads_as_the_alerts_headline(category: str) -> None:
    """The core holds the words; the alert's headline (present/explain.ALERTS) starts with them
    ('Refractory disease: no remission at the response landmark')."""
    assert ALERTS[category].startswith(category_words(category)), ALERTS[category]


def test_the_headline_of_an_alert_that_is_a_category_reads_the_cores_words() -> None:
    """The headline of an alert that is also a call category: the core's words for the category
    (no copy of them here: :func:`test_no_second_table_words_the_categories`), then what the
    alert adds, read as they were before."""
    assert alert_headline("HEMATOLOGIC_RELAPSE") == "Haematologic relapse"
    assert alert_headline("REFRACTORY") == (
        "Refractory disease: no remission at the response landmark"
    )
    assert alert_headline("MRD_RELAPSE_CONFIRMED") == "MRD relapse confirmed on a second sample"
    # No number: a site sets its own threshold; the alert's message carries the one applied
    # (tests/web/test_mrd_failure_threshold.py).
    assert alert_headline("MRD_FAILURE") == "MRD failure (MRD at least the threshold, in CR)"
    assert alert_headline("POSSIBLE_MARROW_INFECTION") == ("Possible marrow infection — for review")


def test_the_safety_decision_reads_the_cores_words_for_its_categories() -> None:
    assert set(DECISION_WORDS) == set(SAFETY.categories) - {SAFETY.not_evaluable}
    for code, words in DECISION_WORDS.items():
        assert words.startswith(category_words(code)), (code, words)
    assert DECISION_WORDS["REVIEW_REQUIRED"] == "Review required before the procedure"
    assert DECISION_WORDS["PROCEED_WITH_CAUTION"] == "Proceed with caution"


SRC = Path(trephine.__file__).parent
HOME = Path(categories.__file__)
#: The patient's own words for a call are a different register (reading grade ≤ 8), on purpose.
PATIENT_REGISTER = Path(patient_text.__file__)


def _category_tables(tree: ast.AST, codes: set[str]) -> list[int]:
    """The lines of dict literals that word three or more call categories: a category code
    keying a capitalised string, or a tuple or call starting with one."""
    return word_tables(tree, constant_in(codes))


def test_no_second_table_words_the_categories() -> None:
    codes = EMITTED | SUPERSEDING_CATEGORIES | set(CATEGORY_WORDS)
    elsewhere = tables_outside([HOME, PATIENT_REGISTER], lambda tree: _category_tables(tree, codes))
    assert not elsewhere, f"category words outside criteria/categories.py: {sorted(elsewhere)}"
    # The check sees the home's table and the two old tables that copied its words.
    assert _category_tables(ast.parse(HOME.read_text(encoding="utf-8")), codes)
    old_alerts = (
        'ALERTS = {"HEMATOLOGIC_RELAPSE": "Haematologic relapse", "REFRACTORY": "Refractory '
        'disease: no remission", "MRD_LOG_RISE": "MRD rose", "PRIMARY_GRAFT_FAILURE": '
        '"Primary graft failure"}'
    )
    old_decisions = (
        'DECISION_WORDS = {"PROCEED": "Proceed", "PROCEED_WITH_CAUTION": "Proceed with caution",'
        ' "REVIEW_REQUIRED": "Review required before the procedure"}'
    )
    for table in (old_alerts, old_decisions):
        assert _category_tables(ast.parse(table), codes) == [1]


def _call(kind: str, category: str, ruleset: str, rule: str) -> Call:
    return Call(ON, kind, category, ruleset, "test", "0.1", rule=rule, digest=f"{kind}-{category}")


@pytest.mark.parametrize("category", sorted(SUPERSEDING_CATEGORIES))
def test_the_supersession_sentence_names_the_call_as_the_pages_do(category: str) -> None:
    kind = "progression" if category.startswith("PD") else "relapse"
    calls = one_story([_call("response", "PR", "R", "R-PR"), _call(kind, category, "X", "X-1")])
    (sentence,) = [e["sentence"] for e in calls[0].evidence if e.get("sentence")]
    assert sentence.startswith(f"Not current: {mid_sentence(category_label(category))} was called")


def test_the_supersession_sentence_of_a_confirmed_progression_and_a_haematologic_relapse() -> None:
    (confirmed,) = [both for _, both in CONFIRMATION_BY_RULESET.values()]
    words = {}
    for kind, category in (("progression", confirmed), ("relapse", "HEMATOLOGIC_RELAPSE")):
        calls = one_story([_call("response", "PR", "R", "R-PR"), _call(kind, category, "X", "X")])
        words[category] = calls[0].evidence[-1]["sentence"].split(" was called")[0]
    assert words == {
        confirmed: "Not current: progressive disease",
        "HEMATOLOGIC_RELAPSE": "Not current: haematologic relapse",
    }


@pytest.mark.parametrize(
    ("category", "ruleset", "text"),
    [
        ("PD", "iwCLL2018", "Progressive disease, iwCLL2018 2018"),
        ("PD_CONFIRMED", "IMWG2016-PD", "Progressive disease, IMWG2016-PD 2018"),
        ("PD_UNCONFIRMED", "IMWG2016-PD", "Progressive disease (to confirm), IMWG2016-PD 2018"),
        ("HEMATOLOGIC_RELAPSE", "ELN2022-relapse", "Haematologic relapse, ELN2022-relapse 2018"),
    ],
)
def test_a_disease_status_shows_its_category_in_words(
    category: str, ruleset: str, text: str
) -> None:
    builder = fhir._Builder(fhir.PatientRef("P1", (), None), fhir.EXACT, "urn", "", "include")
    a = Assessment(category, ruleset, "2018", ON, "0.1", dt.datetime(2024, 9, 1, tzinfo=dt.UTC))
    stored = StoredAssessment(1, "P1", a, _call("relapse", category, ruleset, "X"), "test", "x")
    builder.disease_status(stored, None)
    (entry,) = builder.entries.values()
    assert entry["resource"]["valueCodeableConcept"]["text"] == text
