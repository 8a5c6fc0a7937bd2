"""``/api/v1/patients/{id}/assessments`` and ``/api/v1/alerts`` (stored by ``trephine assess``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from trephine.access import Permission
from trephine.api.deps import RowId, UnitOfWorkDep, audit_read, require
from trephine.api.readers import (
    AlertStatus,
    alert_items,
    alert_public,
    alert_total,
    assessment_items,
)
from trephine.api.schemas.assessments import (
    AcknowledgeRequest,
    AlertList,
    AlertPublic,
    AssessmentList,
)
from trephine.api.schemas.errors import ErrorResponse
from trephine.services import alerts

router = APIRouter(
    prefix="/api/v1",
    tags=["assessments"],
    responses={
        404: {"model": ErrorResponse, "description": "No such patient or alert"},
        409: {"model": ErrorResponse, "description": "Already acknowledged"},
        422: {"model": ErrorResponse, "description": "A parameter is not allowed"},
    },
)


@router.get(
    "/patients/{patient_id}/assessments",
    response_model=AssessmentList,
    dependencies=[require(Permission.RECORDS_READ)],
)
def patient_assessments(
    request: Request,
    uow: UnitOfWorkDep,
    patient_id: str,
    current_only: Annotated[
        bool, Query(description="Only the latest call per date, call and edition")
    ] = False,
) -> AssessmentList:
    items = assessment_items(uow, patient_id)
    if current_only:
        items = [i for i in items if i.current]
    audit_read(request, uow, "assessments", [patient_id])
    return AssessmentList(patient=patient_id, items=items)


@router.get("/alerts", response_model=AlertList, dependencies=[require(Permission.RECORDS_READ)])
def list_alerts(
    request: Request,
    uow: UnitOfWorkDep,
    status: Annotated[AlertStatus, Query()] = "open",
    patient: Annotated[str | None, Query(description="Only this patient's")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> AlertList:
    items = alert_items(uow, status, patient, limit=limit, offset=offset)
    total = alert_total(uow, status, patient)
    audit_read(request, uow, "alerts", [a.patient for a in items], query=True)
    return AlertList(status=status, items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertPublic,
    dependencies=[require(Permission.ALERTS_ACKNOWLEDGE)],
)
def acknowledge(uow: UnitOfWorkDep, alert_id: RowId, body: AcknowledgeRequest) -> AlertPublic:
    """Acknowledge once; the signed-in user's name and the time are recorded (and audited)."""
    return alert_public(alerts.acknowledge_alert(uow, alert_id, body.note))
