"""One wording per call category, from one home in the core
(:func:`trephine.criteria.categories.category_words`): the pages, the patient list, the criteria
calls, the marrow report and FHIR's display text (``present/explain.category_label``) and the
story's supersession sentence stored in the evidence (``assess/story``) all read it.

Before: a myeloma PD confirmed read "Progressive disease" while the PD of iwCLL and IWG 2006
MDS read "PD"; the story wrote "progressive disease (confirmed)" and "hematologic relapse"
where the pages say "Progressive disease" and "Haematologic relapse"."""

from __future__ import annotations

import datetime as dt

import pytest

from trephine.assess.call import Call
from trephine.assess.story import one_story
from trephine.criteria.categories import (
    CONFIRMATION_BY_RULESET,
    SUPERSEDING_CATEGORIES,
    category_words,
    mid_sentence,
)
from trephine.criteria.registry import rulesets
from trephine.domain.assessment import Assessment
from trephine.present import fhir
from trephine.present.explain import ALERTS, category_label, criterion_label
from trephine.services.views import StoredAssessment

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
