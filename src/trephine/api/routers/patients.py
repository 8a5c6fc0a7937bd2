"""``/api/v1/patients``: the research view of patients and their timelines (JSON)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from trephine.access import Permission
from trephine.api import readers
from trephine.api.deps import UnitOfWorkDep, audit_read, require
from trephine.api.schemas.errors import ErrorResponse
from trephine.api.schemas.patients import PatientDetail, PatientList, TimelinePublic
from trephine.services.patient_search import SortKey

router = APIRouter(
    prefix="/api/v1/patients",
    tags=["patients"],
    dependencies=[require(Permission.RECORDS_READ)],
    responses={
        404: {"model": ErrorResponse, "description": "No such patient"},
        422: {"model": ErrorResponse, "description": "A parameter is not allowed"},
    },
)


@router.get("", response_model=PatientList)
def list_patients(
    request: Request,
    uow: UnitOfWorkDep,
    diagnosis: Annotated[
        str | None, Query(description=f"Only this disease: {', '.join(readers.DISEASES)}")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the patient id")] = None,
    response: Annotated[
        str | None, Query(description="Category of the latest stored response call, e.g. CR")
    ] = None,
    open_alerts: Annotated[
        bool | None, Query(description="true: only patients with open alerts; false: none")
    ] = None,
    biopsy_from: Annotated[dt.date | None, Query(description="Last biopsy on or after")] = None,
    biopsy_to: Annotated[dt.date | None, Query(description="Last biopsy on or before")] = None,
    sort: Annotated[SortKey, Query()] = "id",
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    limit: Annotated[int, Query(ge=1, le=readers.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PatientList:
    page = readers.patient_page(
        uow,
        diagnosis=diagnosis,
        limit=limit,
        offset=offset,
        text=q,
        response=response or None,
        open_alerts=open_alerts,
        biopsy_from=biopsy_from,
        biopsy_to=biopsy_to,
        sort=sort,
        descending=order == "desc",
    )
    audit_read(request, uow, "patient list", [p.id for p in page.items], query=True)
    return page


@router.get("/{patient_id}", response_model=PatientDetail)
def get_patient(request: Request, uow: UnitOfWorkDep, patient_id: str) -> PatientDetail:
    detail = readers.patient_detail(uow, patient_id)
    audit_read(request, uow, "patient", [patient_id])
    return detail


@router.get("/{patient_id}/timeline", response_model=TimelinePublic)
def get_timeline(request: Request, uow: UnitOfWorkDep, patient_id: str) -> TimelinePublic:
    timeline = readers.patient_timeline(uow, patient_id)
    audit_read(request, uow, "timeline", [patient_id])
    return timeline
