"""``/api/v1/patients``: the research view of patients and their timelines (JSON)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from trephine.access import Permission
from trephine.api import readers
from trephine.api.deps import UnitOfWorkDep, require
from trephine.api.schemas.errors import ErrorResponse
from trephine.api.schemas.patients import PatientDetail, PatientList, TimelinePublic

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
    uow: UnitOfWorkDep,
    diagnosis: Annotated[
        str | None, Query(description=f"Only this disease: {', '.join(readers.DISEASES)}")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=readers.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PatientList:
    return readers.patient_page(uow, diagnosis=diagnosis, limit=limit, offset=offset)


@router.get("/{patient_id}", response_model=PatientDetail)
def get_patient(uow: UnitOfWorkDep, patient_id: str) -> PatientDetail:
    return readers.patient_detail(uow, patient_id)


@router.get("/{patient_id}/timeline", response_model=TimelinePublic)
def get_timeline(uow: UnitOfWorkDep, patient_id: str) -> TimelinePublic:
    return readers.patient_timeline(uow, patient_id)
