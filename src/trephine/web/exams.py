"""The clinical-examination page of a patient: the examinations recorded (every version) and the
form a clinician records one with, or amends one with (docs/assessments.md).

Reading the page is reading the patient's record (``records:read``, audited); recording and
amending are ``exams:write`` (clinicians: an examination is a clinician's finding, not a
laboratory result). Forms carry the session's CSRF token (checked by ``require``). The form's
fields are the import template's ``clinical_exam`` fields, read by the importer's own rules
(:func:`trephine.importers.entry_form.parse_entry`): the same units, ranges and yes/no values as
a ``results.csv`` row, each error on its field. An examination is never edited in place: a
correction adds the next version with a reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trephine.access import Permission
from trephine.api.deps import PrincipalDep, UnitOfWorkDep, audit_read, require
from trephine.domain.results import ResultKind
from trephine.errors import TrephineError, ValidationError
from trephine.importers.entry_form import FormProblem, field_names, parse_clinical_exam
from trephine.present.results import exam_text
from trephine.services import exams
from trephine.store.database import UnitOfWork
from trephine.web.lab import form_fields, value_fields
from trephine.web.render import render

router = APIRouter(include_in_schema=False)

READ = [require(Permission.RECORDS_READ)]
WRITE = [require(Permission.EXAMS_WRITE)]
KIND = ResultKind.CLINICAL_EXAM
#: What each finding means, shown under its input (with its unit and range).
HINTS = {
    "largest_node": "longest diameter of the largest lymph node; 0 = no palpable node",
    "liver_spleen_normal": "liver and spleen of normal size on examination or imaging",
    "spleen_length": "spleen length on imaging (CT or ultrasound)",
    "constitutional_symptoms": (
        "weight loss, fevers, night sweats or fatigue due to the disease (yes or no)"
    ),
    "method": "how it was examined, e.g. physical examination, CT, ultrasound",
}
#: Leave an element empty when it was not examined: it is then named as missing, never normal.
FORM_NOTE = (
    "Leave a finding empty when it was not examined: the response call then names it as "
    "missing, never as normal."
)


def exam_fields() -> list[dict[str, Any]]:
    """The inputs of the examination form: the template's ``clinical_exam`` fields."""
    fields = form_fields(KIND)
    for f in fields:
        if f["type"] == "quantity":
            f["type"] = "decimal"  # no "<0.01"/"not detected" hint: a size is measured
            f["hint"] = f"{HINTS[f['name']]}; {f['hint']}"
        else:
            f["hint"] = HINTS[f["name"]]
    return fields


def _page(
    request: Request,
    uow: UnitOfWork,
    patient_id: str,
    *,
    form: dict[str, str] | None = None,
    problems: list[FormProblem] | None = None,
    amending: exams.StoredExam | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    shown = exams.patient_exams(uow, patient_id)
    audit_read(request, uow, "clinical exam page", [patient_id])
    principal = request.state.principal
    if form is None:
        form = value_fields(amending.value) if amending is not None else {}
        if amending is not None:
            form["examined_on"] = amending.examined_on.isoformat()
    return render(
        request,
        "exams.html",
        {
            "patient_id": patient_id,
            "exams": shown,
            "exam_text": exam_text,
            "may_write": principal.may(Permission.EXAMS_WRITE),
            "fields": exam_fields(),
            "form": form,
            "errors": {p.field: p.message for p in problems or [] if p.field},
            "problems": problems or [],
            "amending": amending,
            "note": FORM_NOTE,
            "done": done,
            "today": dt.date.today().isoformat(),
        },
        status_code=status_code,
    )


@router.get(
    "/patients/{patient_id}/exams",
    response_class=HTMLResponse,
    name="exams_page",
    dependencies=READ,
)
def exams_page(
    request: Request,
    uow: UnitOfWorkDep,
    patient_id: str,
    amend: int | None = None,
    done: str | None = None,
) -> HTMLResponse:
    amending = None
    if amend is not None:
        amending = exams.get_exam(uow, amend)
        if amending.patient_id != patient_id:
            raise ValidationError("amend", amend, f"an examination of {patient_id}")
    message = {
        "recorded": "Examination recorded. Run the assessment again to update response calls.",
        "amended": "Examination amended; the earlier version stays in the list.",
    }.get(done or "")
    return _page(request, uow, patient_id, amending=amending, done=message)


async def _form(request: Request) -> dict[str, str]:
    raw = await request.form()
    wanted = {*field_names(KIND), "examined_on", "reason"}
    return {k: str(v) for k, v in raw.items() if k in wanted and isinstance(v, str)}


@router.post("/patients/{patient_id}/exams", name="record_exam_form", dependencies=WRITE)
async def record_exam_form(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, patient_id: str
) -> Response:
    """Record an examination; a refused form comes back with each problem on its field."""
    form = await _form(request)
    problems: list[FormProblem] = []
    try:
        when = exams.examined_on_date(form.get("examined_on"))
    except ValidationError as exc:
        problems.append(FormProblem("examined_on", str(exc)))
    value, found = parse_clinical_exam(form)
    problems.extend(p for p in found if not p.warning)
    if problems or value is None:
        return _page(request, uow, patient_id, form=form, problems=problems, status_code=422)
    try:
        exams.record_exam(uow, patient_id, when, value)
    except TrephineError as exc:
        field = getattr(exc, "field", None)
        where = field if field in ("examined_on",) else None
        return _page(
            request,
            uow,
            patient_id,
            form=form,
            problems=[FormProblem(where, str(exc))],
            status_code=422,
        )
    return RedirectResponse(f"/patients/{patient_id}/exams?done=recorded", status_code=303)


@router.post("/exams/{exam_id}/amend", name="amend_exam_form", dependencies=WRITE)
async def amend_exam_form(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, exam_id: int
) -> Response:
    """Amend an examination: the next version, with a reason; the old one stays readable."""
    old = exams.get_exam(uow, exam_id)
    form = await _form(request)
    value, found = parse_clinical_exam(form)
    problems = [p for p in found if not p.warning]
    if not (form.get("reason") or "").strip():
        problems.append(FormProblem("reason", "reason: give the reason for the amendment"))
    if problems or value is None:
        return _page(
            request,
            uow,
            old.patient_id,
            form=form,
            problems=problems,
            amending=old,
            status_code=422,
        )
    try:
        exams.amend_exam(uow, exam_id, value, form["reason"])
    except TrephineError as exc:
        return _page(
            request,
            uow,
            old.patient_id,
            form=form,
            problems=[FormProblem(None, str(exc))],
            amending=old,
            status_code=422,
        )
    return RedirectResponse(f"/patients/{old.patient_id}/exams?done=amended", status_code=303)
