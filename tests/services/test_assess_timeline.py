"""``assess_patient`` over stored results, on SQLite and PostgreSQL: calls, alerts, idempotency,
new edition, amendment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from assess_case import D0, at, biopsy, diff, marrow_items, seed_aml_patient
from trephine.assess import aml as aml_rules
from trephine.assess.call import Calls
from trephine.assess.inputs import PatientInputs
from trephine.domain import Patient, Procedure, Sex, Site, Specimen, SpecimenType
from trephine.domain.patient import Diagnosis, Disease
from trephine.errors import Conflict, CriteriaNotApplicable, ValidationError
from trephine.services import alerts, assessments, audit, procedures, results
from trephine.services import patients as patient_service
from trephine.store.database import Database


@pytest.fixture
def aml(database: Database) -> Database:
    return seed_aml_patient(database)


def run(db: Database, **kw: Any) -> assessments.AssessRun:
    with db.unit_of_work("tester") as uow:
        return assessments.assess_patient(uow, "P1", **kw)


def calls(r: assessments.AssessRun, kind: str) -> list[tuple[dt.date, str]]:
    return [
        (s.assessment.assessed_on, s.assessment.category)
        for s in r.assessments
        if s.call_kind == kind
    ]


def test_relapse_and_mrd_conversion_raise_stored_alerts(aml: Database) -> None:
    biopsy(aml, 90, 2, marrow_items(2, mrd="0.5"))  # still CR by morphology, NPM1 positive
    biopsy(aml, 150, 3, marrow_items(40))  # 40/500 = 8 % blasts: relapse
    first = run(aml)
    assert first.ruleset == "ELN2022+ELN2021"
    assert calls(first, "baseline") == [(D0, "BASELINE")]
    baseline = next(s for s in first.assessments if s.call_kind == "baseline")
    assert baseline.assessment.evidence[0]["value"] == "62"
    assert calls(first, "response")[0] == (D0 + dt.timedelta(days=30), "CR_MRD-")
    assert calls(first, "relapse")[-1] == (D0 + dt.timedelta(days=150), "HEMATOLOGIC_RELAPSE")
    codes = [(a.raised_on, a.code) for a in first.alerts]
    assert (D0 + dt.timedelta(days=90), "MRD_CONVERSION") in codes
    assert (D0 + dt.timedelta(days=150), "HEMATOLOGIC_RELAPSE") in codes
    assert first.new_assessments == len(first.assessments) > 0
    with aml.unit_of_work("reader") as uow:
        stored_alerts = alerts.list_alerts(uow, patient="P1", open_only=True)
        stored = assessments.patient_assessments(uow, "P1")
        events = audit.events(uow, entity="alert")
    assert {a.code for a in stored_alerts} >= {"HEMATOLOGIC_RELAPSE", "MRD_CONVERSION"}
    assert len(stored) == len(first.assessments)
    response = next(s for s in stored if s.call_kind == "response")
    assert response.assessment.matched_rule and response.assessment.citation
    assert response.assessment.criteria_edition == "ELN2022"
    assert len(events) == len(stored_alerts)


def test_rerun_is_idempotent(aml: Database) -> None:
    first = run(aml)
    again = run(aml)
    assert again.new_assessments == 0 and again.new_alerts == 0
    assert [s.id for s in again.assessments] == [s.id for s in first.assessments]
    with aml.unit_of_work("reader") as uow:
        assert len(assessments.patient_assessments(uow, "P1")) == len(first.assessments)


def test_new_edition_adds_rows_and_keeps_the_old(aml: Database) -> None:
    first = run(aml)

    def next_edition(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
        result = aml_rules.assess(inputs, params)
        renamed = tuple(replace(c, edition=c.edition + "-rev1") for c in result.calls)
        return replace(result, calls=renamed)

    second = run(aml, evaluator=next_edition)
    assert second.new_assessments == len(first.assessments)
    with aml.unit_of_work("reader") as uow:
        stored = assessments.patient_assessments(uow, "P1")
    editions = {s.assessment.criteria_edition for s in stored}
    assert {"ELN2022", "ELN2022-rev1"} <= editions
    assert len(stored) == 2 * len(first.assessments)
    assert {s.id for s in first.assessments} <= {s.id for s in stored}


def test_amended_result_gives_a_new_assessment_based_on_it(aml: Database) -> None:
    ids = biopsy(aml, 90, 2, marrow_items(3))
    first = run(aml)
    assert calls(first, "relapse")[-1] == (D0 + dt.timedelta(days=90), "NOT_MET")
    with aml.unit_of_work("pathologist") as uow:
        results.amend_result(uow, ids["AspirateDifferential"], diff(45), "blasts miscounted")
    second = run(aml)
    assert calls(second, "relapse")[-1] == (D0 + dt.timedelta(days=90), "HEMATOLOGIC_RELAPSE")
    assert second.new_assessments >= 1
    assert [a.code for a in second.alerts] == ["HEMATOLOGIC_RELAPSE"]
    with aml.unit_of_work("reader") as uow:
        stored = assessments.patient_assessments(uow, "P1")
    day90 = [
        s.assessment.category
        for s in stored
        if s.call_kind == "relapse" and s.assessment.assessed_on == D0 + dt.timedelta(days=90)
    ]
    assert day90 == ["NOT_MET", "HEMATOLOGIC_RELAPSE"]  # the old call is kept
    current = assessments.current_assessments(stored)
    assert [
        s.assessment.category
        for s in current
        if s.call_kind == "relapse" and s.assessment.assessed_on == D0 + dt.timedelta(days=90)
    ] == ["HEMATOLOGIC_RELAPSE"]


def test_drafts_are_not_assessed(aml: Database) -> None:
    with aml.unit_of_work("lab") as uow:
        proc, _ = procedures.record_procedure(uow, "P1", Procedure(at(90), Site.STERNUM))
        procedures.add_specimen(uow, "P1", Specimen("A9", SpecimenType.ASPIRATE, at(90)), proc)
        results.record_result(uow, "A9", diff(100))  # draft: 20 % blasts, not signed out
    r = run(aml)
    assert all(s.assessment.assessed_on != D0 + dt.timedelta(days=90) for s in r.assessments)


def test_acknowledge_alert_once(aml: Database) -> None:
    biopsy(aml, 150, 3, marrow_items(40))
    (alert,) = run(aml).alerts
    with aml.unit_of_work("dr.who") as uow:
        acked = alerts.acknowledge_alert(uow, alert.id, "seen, patient called")
    assert acked.acknowledged_by == "dr.who" and not acked.open
    with aml.unit_of_work("dr.no") as uow, pytest.raises(Conflict):
        alerts.acknowledge_alert(uow, alert.id)
    with aml.unit_of_work("reader") as uow:
        assert alerts.list_alerts(uow, open_only=True) == []
        assert len(alerts.list_alerts(uow)) == 1
    # re-assessing does not re-open it
    assert run(aml).new_alerts == 0


def test_ruleset_choice(aml: Database) -> None:
    with pytest.raises(ValidationError, match=r"^ruleset: 'RECIST'"):
        run(aml, ruleset="RECIST")
    with aml.unit_of_work("seed") as uow:
        patient_service.register_patient(uow, Patient("P2", Sex.MALE, 1950))
        patient_service.add_diagnosis(uow, "P2", Diagnosis(Disease.MDS_MPN, D0))
    with aml.unit_of_work("t") as uow, pytest.raises(CriteriaNotApplicable, match="MDS/MPN"):
        assessments.assess_patient(uow, "P2")


def test_bulk_loader_matches_the_per_patient_loader(aml: Database) -> None:
    from trephine.services.assessments import load_all_inputs, load_inputs

    biopsy(aml, 90, 2, marrow_items(3, mrd="0.5"))
    with aml.unit_of_work("t") as uow:
        patient_service.register_patient(uow, Patient("P0", Sex.MALE, 1970))
        everyone = load_all_inputs(uow)
        one = load_inputs(uow, "P1")
    assert sorted(everyone) == ["P0", "P1"]
    assert everyone["P1"] == one
    assert everyone["P0"].results == ()


def test_alert_withdrawn_when_an_amendment_removes_it_and_raised_again(aml: Database) -> None:
    ids = biopsy(aml, 150, 3, marrow_items(40))  # 8 %: relapse
    (alert,) = run(aml).alerts
    with aml.unit_of_work("pathologist") as uow:
        fixed = results.amend_result(uow, ids["AspirateDifferential"], diff(10), "wrong slide")
    second = run(aml)
    assert second.alerts == ()
    (withdrawn,) = second.withdrawn_alerts
    assert withdrawn.id == alert.id and withdrawn.state.startswith("withdrawn: not raised by")
    with aml.unit_of_work("reader") as uow:
        assert alerts.list_alerts(uow, open_only=True) == []
        (kept,) = alerts.list_alerts(uow)
        actions = [e.action for e in audit.events(uow, entity="alert")]
    assert kept.withdrawn_at is not None and actions == ["raise", "withdraw"]
    with aml.unit_of_work("pathologist") as uow:
        results.amend_result(uow, fixed.id, diff(40), "the first count was right")
    third = run(aml)
    assert [(a.id, a.open) for a in third.alerts] == [(alert.id, True)]


def test_calls_stored_before_evidence_roles_are_not_stored_again(
    aml: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evidence items gained a ``role``; the digest (the stored identity of a call) leaves it
    out, so a re-assessment finds the calls stored without roles and adds nothing, and the
    audit chain written then still verifies."""
    from trephine.criteria import model

    biopsy(aml, 90, 2, marrow_items(2, mrd="0.5"))
    with_roles = model.with_roles

    def as_before(cond: Any, facts: Any, params: Any) -> list[model.Evidence]:
        return [replace(e, role=None) for e in with_roles(cond, facts, params)]

    monkeypatch.setattr(model, "with_roles", as_before)  # the engine before roles
    first = run(aml)
    monkeypatch.undo()
    stored = [e for s in first.assessments for e in s.assessment.evidence]
    assert stored and not any("role" in e for e in stored)
    again = run(aml)
    assert again.new_assessments == 0
    assert [s.id for s in again.assessments] == [s.id for s in first.assessments]
    computed = [e for c in again.computed.calls for e in c.evidence]
    assert any(e.get("role") == "supports" for e in computed)  # the new engine did add roles
    with aml.unit_of_work("auditor") as uow:
        assert audit.walk_chain(uow).first_break is None
