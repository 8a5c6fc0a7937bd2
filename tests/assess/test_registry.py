"""The one registry of stored-timeline assessment: names, diagnoses, evaluators, the call hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json

import pytest

from trephine.assess import registry
from trephine.assess.call import Call
from trephine.criteria.registry import rulesets
from trephine.domain.patient import Diagnosis, Disease
from trephine.errors import CriteriaNotApplicable, ValidationError


def test_every_name_alias_and_former_name_means_exactly_one_assessor() -> None:
    spelled = [n for a in registry.ASSESSORS for n in (a.name, *a.aliases, *a.stored_as)]
    assert len(spelled) == len(set(spelled))
    for a in registry.ASSESSORS:
        for name in (a.name, *a.aliases, *a.stored_as):
            assert registry.lookup(name) is a


def test_each_disease_has_one_assessor_and_the_stored_ones_keep_their_names() -> None:
    by_disease = {d: a.name for d, a in registry.BY_DIAGNOSIS.items()}
    assert by_disease == {
        "AML": "ELN2022+ELN2021",
        "ALL": "ALL-MRD",
        "CLL": "iwCLL2018-MRD",
        "MDS": "IWG2023",
        "myeloma": "IMWG2016",
        "aplastic anemia": "AA-Camitta/BSH",
    }
    for disease in by_disease:
        assert Disease(disease)  # a stored diagnosis value, not a free spelling


def test_assessors_run_rule_sets_the_criteria_registry_knows() -> None:
    known = rulesets()
    for a in registry.ASSESSORS:
        assert a.rulesets and all(known.get(rs.key) is rs for rs in a.rulesets), a.name


def test_every_evaluator_has_the_one_signature() -> None:
    for a in registry.ASSESSORS:
        assert list(inspect.signature(a.assess).parameters) == ["inputs", "params"], a.name


def test_former_names_read_as_the_current_one() -> None:
    assert registry.current_name("ALL-MRD-2021") == "ALL-MRD"
    assert registry.current_name("ELN2022+ELN2021") == "ELN2022+ELN2021"
    assert registry.current_name("something else") == "something else"
    assert registry.names_stored_for("ALL-MRD") == ("ALL-MRD", "ALL-MRD-2021")


def test_an_unknown_name_is_refused_naming_the_field_and_the_choices() -> None:
    with pytest.raises(ValidationError) as caught:
        registry.lookup("RECIST")
    assert caught.value.field == "ruleset" and "ELN2022+ELN2021" in str(caught.value.allowed)


def test_choice_by_latest_diagnosis_and_refusals() -> None:
    d0 = dt.date(2024, 1, 1)
    history = (Diagnosis(Disease.MDS, d0), Diagnosis(Disease.AML, d0 + dt.timedelta(days=300)))
    assert registry.choose(history).name == "ELN2022+ELN2021"
    assert registry.choose(history, "IWG2023").name == "IWG2023"
    with pytest.raises(CriteriaNotApplicable, match="no diagnosis"):
        registry.choose(())
    with pytest.raises(CriteriaNotApplicable, match="MDS/MPN"):
        registry.choose((Diagnosis(Disease.MDS_MPN, d0),))


def test_a_call_carries_one_digest_of_the_evidence_it_was_made_on() -> None:
    explanation = {
        "ruleset": "ELN2022",
        "rule": "ELN22-CR",
        "evidence": [{"input": "bm_blasts_pct", "value": "2"}],
        "missing": [],
        "citation": "Döhner 2022",
        "rules_not_met": ["ELN22-CRh"],
    }
    call = Call.of(
        dt.date(2024, 2, 1),
        "response",
        explanation,
        category="CR",
        edition="ELN2022",
        software_version="9",
    )
    text = json.dumps(explanation, sort_keys=True, default=str).encode("utf-8")
    assert call.digest == hashlib.sha256(text).hexdigest()
    assert (call.ruleset, call.rule, call.citation) == ("ELN2022", "ELN22-CR", "Döhner 2022")
    assert call.key()[-1] == call.digest
    other = Call.of(
        call.date,
        "response",
        {**explanation, "rules_not_met": []},
        category="CR",
        edition="ELN2022",
        software_version="9",
    )
    assert other.digest != call.digest  # what was checked is part of the evidence
