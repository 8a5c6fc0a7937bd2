"""The batch writer of imported plans (importer, demo) answers and records exactly what the
one-fact writer does, one procedure at a time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from trephine.domain.planning import (
    Checklist,
    Consent,
    ConsentGiver,
    Medication,
    Risk,
    SignatureMethod,
)
from trephine.domain.procedure import Indication, Procedure, Site
from trephine.errors import Conflict, ValidationError
from trephine.services import audit, procedure_plans, procedures
from trephine.services._batch import Outcome
from trephine.store.database import Database

AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
CONSENT = Consent(
    given_by=ConsentGiver.PATIENT,
    taken_by="dr.lee",
    consented_at=AT - dt.timedelta(hours=2),
    leaflet_version="2026-1",
    risks_discussed=(Risk.PAIN, Risk.INFECTION),
    signature=SignatureMethod.WRITTEN,
)
CHECKLIST = Checklist(medications=(Medication.named("apixaban"),), platelets=Decimal("18"))


def _procedure(database: Database, patient: str, day: int) -> tuple[int, Procedure]:
    procedure = Procedure(
        AT + dt.timedelta(days=day), Site.POSTERIOR_ILIAC_CREST, indication=Indication.MRD
    )
    with database.unit_of_work("seed") as uow:
        procedure_id, _ = procedures.record_procedure(uow, patient, procedure)
    return procedure_id, procedure


def _stored(database: Database, plan_id: int) -> tuple[dict[str, object], list[tuple[str, dict]]]:
    with database.unit_of_work("reader") as uow:
        plan = procedure_plans.get_plan(uow, plan_id)
        events = audit.events_for(uow, "procedure_plan", [plan_id])
    view = dataclasses.asdict(plan)
    for name in ("id", "patient_id", "procedure_id", "procedure", "created_at", "closed_at"):
        view.pop(name)
    view["checklist"].pop("recorded_at")
    view["consent"].pop("recorded_at")
    detail = [(e.action, {k: v for k, v in e.detail.items() if k != "procedure"}) for e in events]
    return view, detail


def test_batch_records_what_the_one_fact_writer_records(clinic: Database) -> None:
    one_id, one = _procedure(clinic, "P001", 0)
    many_id, many = _procedure(clinic, "P002", 0)
    with clinic.unit_of_work("dr.lee") as uow:
        single = procedure_plans.record_imported(uow, one_id, one, CHECKLIST, CONSENT, None)
    with clinic.unit_of_work("dr.lee") as uow:
        answers = procedure_plans.record_imported_many(
            uow, [procedure_plans.ImportedPlanning(many_id, many, CHECKLIST, CONSENT, None)]
        )
    assert len(answers) == 1 and not isinstance(answers[0], Exception)
    batch, outcome = answers[0]
    assert outcome is Outcome.CREATED
    one_view, one_events = _stored(clinic, single)
    many_view, many_events = _stored(clinic, batch)
    assert many_view["status"] == "done"
    assert many_view == one_view  # same plan, checklist + decision, consent, closer
    assert [a for a, _ in many_events] == ["create", "checklist", "consent", "done"]
    assert many_events[1:] == one_events[1:]  # create names its own patient


def test_each_item_gets_its_own_answer_and_a_repeat_is_compared(clinic: Database) -> None:
    first_id, first = _procedure(clinic, "P001", 1)
    second_id, second = _procedure(clinic, "P001", 2)
    third_id, third = _procedure(clinic, "P002", 3)
    P = procedure_plans.ImportedPlanning
    items = [
        P(first_id, first, CHECKLIST, CONSENT, None),
        P(second_id, second, None, None, None),  # no consent and no emergency reason
        P(first_id, first, CHECKLIST, CONSENT, None),  # the same again in the batch
        P(third_id, third, None, None, "tamponade suspected, no time for consent"),
        P(first_id, first, Checklist(platelets=Decimal("90")), CONSENT, None),  # differs
    ]
    with clinic.unit_of_work("dr.lee") as uow:
        answers = procedure_plans.record_imported_many(uow, items)
    assert len(answers) == len(items)
    assert not isinstance(answers[0], Exception) and answers[0][1] is Outcome.CREATED
    assert isinstance(answers[1], ValidationError) and answers[1].field == "consent"
    assert answers[2] == (answers[0][0], Outcome.UNCHANGED)
    assert not isinstance(answers[3], Exception) and answers[3][1] is Outcome.CREATED
    assert isinstance(answers[4], Conflict)
    with clinic.unit_of_work("dr.lee") as uow:  # importing the file again changes nothing
        again = procedure_plans.record_imported_many(uow, [items[0], items[3]])
    assert again == [(answers[0][0], Outcome.UNCHANGED), (answers[3][0], Outcome.UNCHANGED)]
