"""``/api/v1/procedure-plans`` (plan → checklist with the §10 safety decision → consent →
done/cancelled), ``/api/v1/procedures/{id}`` (the record: complications, every specimen's §8
adequacy call), ``/api/v1/procedures/{id}/complications`` and ``/api/v1/procedures/report``
(the rates): the same services and JSON as ``trephine procedures`` (issue 11).

Reads need ``records:read`` and each read of a patient's plan or procedure is audited; writes
need ``procedures:write`` (clinicians). The consent's ``giver_name`` is shown only to roles with
``identity:read``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from trephine.access import Permission
from trephine.api.deps import PrincipalDep, RowId, UnitOfWorkDep, audit_read, require
from trephine.api.schemas.errors import ErrorResponse
from trephine.api.schemas.procedures import (
    CancelRequest,
    ChecklistRequest,
    ComplicationPublic,
    ComplicationRequest,
    ConsentRequest,
    DoneRequest,
    PlanList,
    PlanPublic,
    PlanRequest,
    ProcedurePublic,
    RateReportPublic,
)
from trephine.domain.planning import Checklist, Consent, Medication, PlannedProcedure, PlanStatus
from trephine.domain.procedure import Anesthesia, Complication, Procedure
from trephine.present.procedures import complication_json, plan_json, procedure_json
from trephine.services import procedure_plans, procedure_report

router = APIRouter(
    prefix="/api/v1",
    tags=["procedures"],
    responses={
        404: {"model": ErrorResponse, "description": "No such patient, plan or procedure"},
        409: {"model": ErrorResponse, "description": "The plan's status does not allow that"},
        422: {"model": ErrorResponse, "description": "A value is not allowed"},
    },
)

READ = [require(Permission.RECORDS_READ)]
WRITE = [require(Permission.PROCEDURES_WRITE)]
Grouping = Literal["operator", "site", "needle", "period"]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


def _plan(principal: PrincipalDep, plan: procedure_plans.StoredPlan) -> dict[str, Any]:
    return plan_json(plan, identity=principal.may(Permission.IDENTITY_READ))


@router.get("/procedure-plans", response_model=PlanList, dependencies=READ)
def list_plans(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    status: Annotated[PlanStatus | None, Query(description="Only plans in this status")] = None,
    patient: Annotated[str | None, Query(max_length=64, description="Only this patient's")] = None,
) -> dict[str, Any]:
    """Planned procedures, soonest first, each with its checklist, decision and consent."""
    plans = procedure_plans.list_plans(uow, patient, status)
    audit_read(request, uow, "procedure list", [p.patient_id for p in plans], query=True)
    return {"items": [_plan(principal, p) for p in plans]}


@router.post("/procedure-plans", response_model=PlanPublic, status_code=201, dependencies=WRITE)
def create_plan(uow: UnitOfWorkDep, principal: PrincipalDep, body: PlanRequest) -> Any:
    """Plan a procedure for a patient (status ``planned``); the checklist comes next."""
    planned = PlannedProcedure(_utc(body.planned_for), body.indication, body.site, body.operator)
    return _plan(principal, procedure_plans.plan_procedure(uow, body.patient, planned))


@router.get("/procedure-plans/{plan_id}", response_model=PlanPublic, dependencies=READ)
def get_plan(request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, plan_id: RowId) -> Any:
    plan = procedure_plans.get_plan(uow, plan_id)
    audit_read(request, uow, "procedure plan", [plan.patient_id])
    return _plan(principal, plan)


@router.put("/procedure-plans/{plan_id}/checklist", response_model=PlanPublic, dependencies=WRITE)
def record_checklist(
    uow: UnitOfWorkDep, principal: PrincipalDep, plan_id: RowId, body: ChecklistRequest
) -> Any:
    """Store the checklist (a new version when it changed) and the §10 decision made on it:
    ``checklist.safety`` has the decision and every reason. Advisory: it never blocks."""
    medications = tuple(
        Medication.named(m.name, None if m.last_dose_at is None else _utc(m.last_dose_at))
        if m.drug_class is None
        else Medication(
            m.name, m.drug_class, None if m.last_dose_at is None else _utc(m.last_dose_at)
        )
        for m in body.medications
    )
    checklist = Checklist(
        medications=medications,
        platelets=body.platelets,
        inr=body.inr,
        allergies=tuple(a.strip() for a in body.allergies if a.strip()),
        sedation=body.sedation,
        escort=body.escort,
        fasting=body.fasting,
        mpn=body.mpn,
        bleeding_disorder=body.bleeding_disorder,
    )
    plan, _changed = procedure_plans.record_checklist(uow, plan_id, checklist)
    return _plan(principal, plan)


@router.post("/procedure-plans/{plan_id}/consent", response_model=PlanPublic, dependencies=WRITE)
def record_consent(
    uow: UnitOfWorkDep, principal: PrincipalDep, plan_id: RowId, body: ConsentRequest
) -> Any:
    """Record consent, taken by the signed-in clinician (409 when another is recorded)."""
    consent = Consent(
        given_by=body.given_by,
        taken_by=principal.name,
        consented_at=_utc(body.consented_at),
        leaflet_version=body.leaflet_version.strip(),
        risks_discussed=tuple(body.risks_discussed),
        signature=body.signature,
        giver_name=body.giver_name,
        interpreter=body.interpreter,
    )
    return _plan(principal, procedure_plans.record_consent(uow, plan_id, consent))


@router.post("/procedure-plans/{plan_id}/done", response_model=PlanPublic, dependencies=WRITE)
def mark_done(
    uow: UnitOfWorkDep, principal: PrincipalDep, plan_id: RowId, body: DoneRequest
) -> Any:
    """Record the procedure and close the plan: needs a consent record, or an emergency
    reason (stored and audited)."""
    plan = procedure_plans.get_plan(uow, plan_id)
    procedure = Procedure(
        performed_at=_utc(body.performed_at),
        site=body.site or plan.plan.site,
        side=body.side,
        indication=plan.plan.indication,
        operator=body.operator or plan.plan.operator,
        anesthesia=plan.checklist.checklist.sedation if plan.checklist else Anesthesia.LOCAL,
        needle=body.needle,
        duration_min=body.duration_min,
    )
    done = procedure_plans.mark_done(uow, plan_id, procedure, body.emergency_reason)
    return _plan(principal, done)


@router.post("/procedure-plans/{plan_id}/cancel", response_model=PlanPublic, dependencies=WRITE)
def cancel_plan(
    uow: UnitOfWorkDep, principal: PrincipalDep, plan_id: RowId, body: CancelRequest
) -> Any:
    """Cancel a planned procedure, with its reason."""
    return _plan(principal, procedure_plans.cancel(uow, plan_id, body.reason))


# The report before /procedures/{procedure_id}: a fixed path wins over a parameter.
@router.get("/procedures/report", response_model=RateReportPublic, dependencies=READ)
def rates(
    uow: UnitOfWorkDep,
    by: Annotated[Grouping | None, Query(description="One row per operator, site, …")] = None,
) -> Any:
    """Complication, serious-complication and adequacy rates with exact 95 % intervals and the
    published serious rates of §10 beside them (``trephine procedures report --json``).
    Counts only: no patient is shown, so nothing is audited as a read."""
    return procedure_report.procedure_report(uow, by).as_dict()


@router.get("/procedures/{procedure_id}", response_model=ProcedurePublic, dependencies=READ)
def get_procedure(request: Request, uow: UnitOfWorkDep, procedure_id: RowId) -> Any:
    """The procedure record: complications and every specimen with its §8 adequacy call."""
    record = procedure_report.procedure_record(uow, procedure_id)
    audit_read(request, uow, "procedure", [record.patient_id])
    return procedure_json(record)


@router.post(
    "/procedures/{procedure_id}/complications",
    response_model=ComplicationPublic,
    status_code=201,
    dependencies=WRITE,
)
def add_complication(uow: UnitOfWorkDep, procedure_id: RowId, body: ComplicationRequest) -> Any:
    """Record a complication of a recorded procedure (onset on or after it)."""
    complication = Complication(
        kind=body.kind,
        severity=body.severity,
        follow_up=body.follow_up,
        description=body.description,
        onset_at=None if body.onset_at is None else _utc(body.onset_at),
        outcome=body.outcome,
    )
    row_id = procedure_plans.add_complication(uow, procedure_id, complication)
    return complication_json(row_id, complication)
