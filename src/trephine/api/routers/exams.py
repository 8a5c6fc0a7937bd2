"""``/api/v1/patients/{id}/exams`` and ``/api/v1/exams/{id}/amend``: a patient's clinical
examinations, as the web page ``/patients/{id}/exams`` and ``trephine exams`` handle them.

Reading needs ``records:read`` (audited); recording and amending need ``exams:write``
(clinicians). The findings go through the examination form's parser (the import template's
``clinical_exam`` rules), so a bad value is a 422 naming its field and what is allowed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from trephine.access import Permission
from trephine.api.deps import RowId, UnitOfWorkDep, audit_read, require
from trephine.api.schemas.errors import ErrorResponse
from trephine.api.schemas.exams import (
    AmendExamRequest,
    ExamFindings,
    ExamList,
    ExamPublic,
    ExamRequest,
)
from trephine.domain.results import ClinicalExam
from trephine.errors import ValidationError
from trephine.importers.entry_form import parse_clinical_exam
from trephine.present.exams import exam_json
from trephine.services import exams

router = APIRouter(
    prefix="/api/v1",
    tags=["examinations"],
    responses={
        404: {"model": ErrorResponse, "description": "No such patient or examination"},
        409: {"model": ErrorResponse, "description": "An examination of that day is recorded"},
        422: {"model": ErrorResponse, "description": "A value is not allowed"},
    },
)


def _findings(body: ExamFindings) -> ClinicalExam:
    value, problems = parse_clinical_exam(body.form())
    errors = [p for p in problems if not p.warning]
    if value is None or errors:
        first = errors[0] if errors else problems[0]
        raise ValidationError(first.field or "findings", None, first.message)
    return value


@router.get(
    "/patients/{patient_id}/exams",
    response_model=ExamList,
    dependencies=[require(Permission.RECORDS_READ)],
)
def patient_exams(request: Request, uow: UnitOfWorkDep, patient_id: str) -> ExamList:
    """Every version of the patient's examinations, newest first."""
    found = exams.patient_exams(uow, patient_id)
    audit_read(request, uow, "clinical exams", [patient_id])
    return ExamList(patient=patient_id, items=[ExamPublic(**exam_json(e)) for e in found])


@router.post(
    "/patients/{patient_id}/exams",
    response_model=ExamPublic,
    status_code=201,
    dependencies=[require(Permission.EXAMS_WRITE)],
)
def record_exam(uow: UnitOfWorkDep, patient_id: str, body: ExamRequest) -> ExamPublic:
    """Record the examination of a day (one per patient and day; amend it to correct it)."""
    return ExamPublic(
        **exam_json(exams.record_exam(uow, patient_id, body.examined_on, _findings(body)))
    )


@router.post(
    "/exams/{exam_id}/amend",
    response_model=ExamPublic,
    dependencies=[require(Permission.EXAMS_WRITE)],
)
def amend_exam(uow: UnitOfWorkDep, exam_id: RowId, body: AmendExamRequest) -> ExamPublic:
    """The next version of the examination, with the reason; the earlier one stays readable."""
    return ExamPublic(**exam_json(exams.amend_exam(uow, exam_id, _findings(body), body.reason)))
