"""Planned procedure lifecycle: checklist versions with their decision, consent, done/cancel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trephine.domain.planning import (
    Checklist,
    Consent,
    ConsentGiver,
    Medication,
    PlannedProcedure,
    PlanStatus,
    Risk,
    SignatureMethod,
)
from trephine.domain.procedure import (
    Complication,
    ComplicationKind,
    ComplicationOutcome,
    ComplicationSeverity,
    Indication,
    Procedure,
    Site,
)
from trephine.domain.specimen import Specimen, SpecimenType
from trephine.errors import Conflict, IllegalTransition, ValidationError
from trephine.services import audit, procedure_plans, procedures
from trephine.store.database import Database

PLANNED = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
CONSENT = Consent(
    given_by=ConsentGiver.PATIENT,
    taken_by="dr.lee",
    consented_at=PLANNED - dt.timedelta(hours=1),
    leaflet_version="2026-1",
    risks_discussed=(Risk.PAIN, Risk.BRUISING_BLEEDING, Risk.INFECTION),
    signature=SignatureMethod.WRITTEN,
    interpreter="Polish, in person",
)


def _plan(database: Database) -> int:
    with database.unit_of_work("dr.lee") as uow:
        plan = procedure_plans.plan_procedure(
            uow,
            "P001",
            PlannedProcedure(PLANNED, Indication.SUSPECTED_LEUKAEMIA, operator="dr.lee"),
        )
    return plan.id


def test_checklist_is_evaluated_stored_and_reevaluated_on_change(clinic: Database) -> None:
    plan_id = _plan(clinic)
    first = Checklist(medications=(Medication.named("apixaban"),), platelets=Decimal("18"))
    with clinic.unit_of_work("dr.lee") as uow:
        view, changed = procedure_plans.record_checklist(uow, plan_id, first)
    assert changed and view.checklist is not None
    assert view.checklist.call.decision == "REVIEW_REQUIRED"
    assert [r.code for r in view.checklist.call.reasons] == ["PLATELETS_LOW", "ANTICOAGULANT"]
    with clinic.unit_of_work("dr.lee") as uow:
        _, again = procedure_plans.record_checklist(uow, plan_id, first)
    assert not again
    with clinic.unit_of_work("dr.lee") as uow:
        view, changed = procedure_plans.record_checklist(
            uow, plan_id, Checklist(platelets=Decimal("45"))
        )
    assert changed and view.checklist_versions == 2
    assert view.checklist is not None and view.checklist.call.decision == "PROCEED"
    with clinic.unit_of_work("dr.lee") as uow:
        stored = procedure_plans.get_plan(uow, plan_id)
        events = audit.events_for(uow, "procedure_plan", [plan_id])
    assert stored.checklist is not None and stored.checklist.checklist.platelets == Decimal("45")
    assert [e.action for e in events] == ["create", "checklist", "checklist"]
    assert events[1].detail["decision"] == "REVIEW_REQUIRED"


def test_done_needs_consent_or_an_emergency_reason(clinic: Database) -> None:
    plan_id = _plan(clinic)
    procedure = Procedure(
        PLANNED, Site.POSTERIOR_ILIAC_CREST, indication=Indication.SUSPECTED_LEUKAEMIA
    )
    with (
        pytest.raises(ValidationError, match="without consent"),
        clinic.unit_of_work("dr.lee") as uow,
    ):
        procedure_plans.mark_done(uow, plan_id, procedure)
    with clinic.unit_of_work("dr.lee") as uow:
        procedure_plans.record_consent(uow, plan_id, CONSENT)
        procedure_plans.record_consent(uow, plan_id, CONSENT)  # the same again: no-op
    with pytest.raises(Conflict, match="leaflet_version"), clinic.unit_of_work("dr.lee") as uow:
        procedure_plans.record_consent(
            uow,
            plan_id,
            Consent(
                CONSENT.given_by,
                CONSENT.taken_by,
                CONSENT.consented_at,
                "2027-1",
                CONSENT.risks_discussed,
                CONSENT.signature,
            ),
        )
    with clinic.unit_of_work("dr.lee") as uow:
        done = procedure_plans.mark_done(uow, plan_id, procedure)
    assert done.status is PlanStatus.DONE and done.procedure_id is not None
    assert done.consent is not None and done.consent.consent.interpreter == "Polish, in person"
    assert done.procedure is not None and done.procedure.performed_at == PLANNED
    with pytest.raises(IllegalTransition), clinic.unit_of_work("dr.lee") as uow:
        procedure_plans.cancel(uow, plan_id, "patient unwell")
    with (
        pytest.raises(ValidationError, match="a planned procedure"),
        clinic.unit_of_work("dr.lee") as uow,
    ):
        procedure_plans.record_checklist(uow, plan_id, Checklist())


def test_emergency_without_consent_is_recorded_with_its_reason(clinic: Database) -> None:
    plan_id = _plan(clinic)
    procedure = Procedure(PLANNED, Site.STERNUM, indication=Indication.SUSPECTED_LEUKAEMIA)
    with clinic.unit_of_work("dr.lee") as uow:
        done = procedure_plans.mark_done(
            uow, plan_id, procedure, emergency_reason="unconscious, suspected APL, no relative"
        )
        events = audit.events_for(uow, "procedure_plan", [plan_id])
    assert done.consent is None and done.emergency_reason is not None
    assert events[-1].detail["emergency_reason"].startswith("unconscious")


def test_cancel_needs_a_reason_and_is_final(clinic: Database) -> None:
    plan_id = _plan(clinic)
    with pytest.raises(ValidationError, match="reason"), clinic.unit_of_work("dr.lee") as uow:
        procedure_plans.cancel(uow, plan_id, None)
    with clinic.unit_of_work("dr.lee") as uow:
        view = procedure_plans.cancel(uow, plan_id, "platelets could not be corrected")
    assert view.status is PlanStatus.CANCELLED and view.closed_by == "dr.lee"
    with clinic.unit_of_work("dr.lee") as uow:
        assert [p.id for p in procedure_plans.list_plans(uow, status=PlanStatus.CANCELLED)] == [
            plan_id
        ]
        assert procedure_plans.list_plans(uow, "P002") == []


def test_complication_with_onset_and_outcome_and_specimen_adequacy(clinic: Database) -> None:
    with clinic.unit_of_work("dr.lee") as uow:
        proc_id, _ = procedures.record_procedure(
            uow, "P001", Procedure(PLANNED, Site.POSTERIOR_ILIAC_CREST, needle="Jamshidi 11G")
        )
        procedure_plans.add_complication(
            uow,
            proc_id,
            Complication(
                ComplicationKind.RETROPERITONEAL_HAEMORRHAGE,
                ComplicationSeverity.LIFE_THREATENING,
                follow_up="CT, 2 units red cells",
                onset_at=PLANNED + dt.timedelta(hours=6),
                outcome=ComplicationOutcome.RESOLVED,
            ),
        )
        with pytest.raises(ValidationError, match="onset_at"):
            procedure_plans.add_complication(
                uow,
                proc_id,
                Complication(
                    ComplicationKind.PAIN,
                    ComplicationSeverity.MILD,
                    onset_at=PLANNED - dt.timedelta(hours=1),
                ),
            )
        spec_id, _ = procedures.add_specimen(
            uow,
            "P001",
            Specimen("C-1", SpecimenType.TREPHINE_CORE, PLANNED, core_length_mm=Decimal("11")),
            proc_id,
        )
    with clinic.unit_of_work("dr.lee") as uow:
        from trephine.services import _rows
        from trephine.store.tables import ProcedureRow, SpecimenRow

        stored = _rows.to_procedure(uow.session.get_one(ProcedureRow, proc_id))
        specimen = uow.session.get_one(SpecimenRow, spec_id)
    (c,) = stored.complications
    assert (
        c.serious and c.category.value == "bleeding" and c.outcome is ComplicationOutcome.RESOLVED
    )
    assert specimen.adequacy == "SUBOPTIMAL_CORE_LENGTH"
    assert specimen.adequacy_call is not None and specimen.adequacy_call["ruleset"] == "ICSH2008"
