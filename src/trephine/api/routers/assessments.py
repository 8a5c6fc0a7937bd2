"""``/api/v1/patients/{id}/assessments`` and ``/api/v1/alerts`` (stored by ``trephine assess``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from trephine.access import Permission
from trephine.api.deps import UnitOfWorkDep, require
from trephine.api.schemas.assessments import (
    AcknowledgeRequest,
    AlertList,
    AlertPublic,
    AssessmentList,
    AssessmentPublic,
)
from trephine.api.schemas.errors import ErrorResponse
from trephine.present.assessments import alert_dict, assessment_dict
from trephine.services import alerts, assessments
from trephine.services.views import StoredAlert

router = APIRouter(
    prefix="/api/v1",
    tags=["assessments"],
    responses={
        404: {"model": ErrorResponse, "description": "No such patient or alert"},
        409: {"model": ErrorResponse, "description": "Already acknowledged"},
        422: {"model": ErrorResponse, "description": "A parameter is not allowed"},
    },
)

AlertStatus = Literal["open", "acknowledged", "withdrawn", "all"]


def _alert(alert: StoredAlert) -> AlertPublic:
    return AlertPublic.model_validate(alert_dict(alert))


def alert_items(
    uow: UnitOfWorkDep, status: AlertStatus, patient: str | None = None
) -> list[AlertPublic]:
    rows = alerts.list_alerts(uow, patient=patient, open_only=status == "open")
    if status == "acknowledged":
        rows = [a for a in rows if a.acknowledged_at is not None]
    elif status == "withdrawn":
        rows = [a for a in rows if a.withdrawn_at is not None and a.acknowledged_at is None]
    return [_alert(a) for a in rows]


def assessment_items(uow: UnitOfWorkDep, patient_id: str) -> list[AssessmentPublic]:
    stored = assessments.patient_assessments(uow, patient_id)
    current = {s.id for s in assessments.current_assessments(stored)}
    return [
        AssessmentPublic.model_validate(assessment_dict(s, current=s.id in current)) for s in stored
    ]


@router.get(
    "/patients/{patient_id}/assessments",
    response_model=AssessmentList,
    dependencies=[require(Permission.RECORDS_READ)],
)
def patient_assessments(
    uow: UnitOfWorkDep,
    patient_id: str,
    current_only: Annotated[
        bool, Query(description="Only the latest call per date, call and edition")
    ] = False,
) -> AssessmentList:
    items = assessment_items(uow, patient_id)
    if current_only:
        items = [i for i in items if i.current]
    return AssessmentList(patient=patient_id, items=items)


@router.get("/alerts", response_model=AlertList, dependencies=[require(Permission.RECORDS_READ)])
def list_alerts(
    uow: UnitOfWorkDep,
    status: Annotated[AlertStatus, Query()] = "open",
    patient: Annotated[str | None, Query(description="Only this patient's")] = None,
) -> AlertList:
    return AlertList(status=status, items=alert_items(uow, status, patient))


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertPublic,
    dependencies=[require(Permission.ALERTS_ACKNOWLEDGE)],
)
def acknowledge(uow: UnitOfWorkDep, alert_id: int, body: AcknowledgeRequest) -> AlertPublic:
    """Acknowledge once; the signed-in user's name and the time are recorded (and audited)."""
    return _alert(alerts.acknowledge_alert(uow, alert_id, body.note))
