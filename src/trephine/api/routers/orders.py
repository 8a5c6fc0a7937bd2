"""``/api/v1/orders``, ``/api/v1/studies/{id}/{action}``, ``/api/v1/lab/worklist`` and
``/api/v1/lab/turnaround`` (issue 10 §1): the same services as ``trephine orders`` and
``trephine lab``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request

from trephine.access import Permission
from trephine.api.deps import UnitOfWorkDep, audit_read, require
from trephine.api.schemas.errors import ErrorResponse
from trephine.api.schemas.orders import (
    OrderList,
    OrderPublic,
    OrderRequest,
    StepRequest,
    StudyList,
    StudyPublic,
    TurnaroundGroupPublic,
    TurnaroundPublic,
)
from trephine.domain.orders import StudyAction, parse_section
from trephine.present.turnaround import turnaround_json
from trephine.services import orders
from trephine.services.orders import OrderView, StudyView

router = APIRouter(
    prefix="/api/v1",
    tags=["orders"],
    responses={
        404: {"model": ErrorResponse, "description": "No such procedure, order or study"},
        409: {"model": ErrorResponse, "description": "The lifecycle does not allow that step"},
        422: {"model": ErrorResponse, "description": "A value is not allowed"},
    },
)


def study_public(s: StudyView) -> StudyPublic:
    doc = asdict(s)
    return StudyPublic.model_validate(
        {
            **doc,
            "steps": [asdict(x) for x in s.steps],
            "allowed": list(s.allowed),
            "kinds": list(s.kinds),
        }
    )


def order_public(o: OrderView) -> OrderPublic:
    return OrderPublic(
        id=o.id,
        procedure_id=o.procedure_id,
        patient=o.patient,
        performed_at=o.performed_at,
        ordered_at=o.ordered_at,
        ordered_by=o.ordered_by,
        indication=o.indication,
        studies=[study_public(s) for s in o.studies],
    )


@router.get("/orders", response_model=OrderList, dependencies=[require(Permission.RECORDS_READ)])
def list_orders(
    request: Request,
    uow: UnitOfWorkDep,
    patient: Annotated[str | None, Query(description="Only this patient's")] = None,
) -> OrderList:
    found = orders.list_orders(uow, patient=patient)
    audit_read(request, uow, "orders", [o.patient for o in found], query=True)
    return OrderList(items=[order_public(o) for o in found])


@router.post(
    "/procedures/{procedure_id}/orders",
    response_model=OrderPublic,
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def order_studies(uow: UnitOfWorkDep, procedure_id: int, body: OrderRequest) -> OrderPublic:
    """Order studies for a procedure (studies already ordered are left as they are)."""
    return order_public(
        orders.order_studies(uow, procedure_id, body.studies, indication=body.indication)
    )


@router.get(
    "/studies/{study_id}",
    response_model=StudyPublic,
    dependencies=[require(Permission.RECORDS_READ)],
)
def get_study(request: Request, uow: UnitOfWorkDep, study_id: int) -> StudyPublic:
    found = orders.get_study(uow, study_id)
    audit_read(request, uow, "study", [found.patient])
    return study_public(found)


def _step(uow: UnitOfWorkDep, study_id: int, action: StudyAction, body: StepRequest) -> StudyPublic:
    return study_public(
        orders.advance(
            uow, study_id, action, specimen=body.specimen, at=body.at, reason=body.reason
        )
    )


@router.post(
    "/studies/{study_id}/collect",
    response_model=StudyPublic,
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def collect(uow: UnitOfWorkDep, study_id: int, body: StepRequest) -> StudyPublic:
    """ordered → collected (``specimen``: its accession, default the procedure's one specimen
    of the study's usual type)."""
    return _step(uow, study_id, StudyAction.COLLECT, body)


@router.post(
    "/studies/{study_id}/cancel",
    response_model=StudyPublic,
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def cancel(uow: UnitOfWorkDep, study_id: int, body: StepRequest) -> StudyPublic:
    """Cancel a study not yet reported (``reason`` required)."""
    return _step(uow, study_id, StudyAction.CANCEL, body)


@router.post(
    "/studies/{study_id}/receive",
    response_model=StudyPublic,
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def receive(uow: UnitOfWorkDep, study_id: int, body: StepRequest) -> StudyPublic:
    """collected → received (the lab has the specimen)."""
    return _step(uow, study_id, StudyAction.RECEIVE, body)


@router.post(
    "/studies/{study_id}/start",
    response_model=StudyPublic,
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def start(uow: UnitOfWorkDep, study_id: int, body: StepRequest) -> StudyPublic:
    """received → in progress."""
    return _step(uow, study_id, StudyAction.START, body)


@router.post(
    "/studies/{study_id}/report",
    response_model=StudyPublic,
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def report(uow: UnitOfWorkDep, study_id: int, body: StepRequest) -> StudyPublic:
    """→ reported by hand (signing out a result of the study's kind does it by itself)."""
    return _step(uow, study_id, StudyAction.REPORT, body)


@router.get(
    "/lab/worklist", response_model=StudyList, dependencies=[require(Permission.RECORDS_READ)]
)
def worklist(
    request: Request,
    uow: UnitOfWorkDep,
    section: Annotated[str | None, Query(description="A lab section")] = None,
) -> StudyList:
    """Pending studies, oldest first."""
    chosen = None if section is None else parse_section(section)
    items = orders.worklist(uow, chosen)
    audit_read(request, uow, "work list", orders.patients_of(items), query=True)
    return StudyList(
        section=None if chosen is None else str(chosen), items=[study_public(s) for s in items]
    )


@router.get(
    "/lab/turnaround",
    response_model=TurnaroundPublic,
    dependencies=[require(Permission.RECORDS_READ)],
)
def turnaround(uow: UnitOfWorkDep) -> TurnaroundPublic:
    """Collection → final report, per study, section and month (no patient data)."""
    doc = turnaround_json(orders.turnaround(uow))
    return TurnaroundPublic(
        final_time=doc["final_time"],
        studies=doc["studies"],
        groups=[TurnaroundGroupPublic(**g) for g in doc["groups"]],
    )
