"""Procedure pages: planned procedures, the plan page (checklist form with the §10 decision and
its reasons, consent, done/cancel, complications) and the complication/adequacy rate report.

Reading a plan is reading a patient's record (``records:read``, audited); every form posts to a
``procedures:write`` route (clinicians) with the session's CSRF token. A refused form (a value
that is not allowed, consent missing) re-renders the page with the located message and 422.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trephine.access import Permission
from trephine.api.deps import PrincipalDep, UnitOfWorkDep, audit_read, require
from trephine.domain.planning import (
    Checklist,
    Consent,
    ConsentGiver,
    DrugClass,
    Fasting,
    Medication,
    PlannedProcedure,
    PlanStatus,
    Risk,
    SignatureMethod,
)
from trephine.domain.procedure import (
    Anesthesia,
    Complication,
    ComplicationKind,
    ComplicationOutcome,
    ComplicationSeverity,
    Indication,
    Procedure,
    Side,
    Site,
)
from trephine.errors import TrephineError, ValidationError
from trephine.present.procedures import (
    DECISION_WORDS,
    indication_sentence,
    missing_words,
    rate_text,
)
from trephine.services import procedure_plans, procedure_report
from trephine.store.database import UnitOfWork
from trephine.web.render import render

router = APIRouter(include_in_schema=False)

READ = [require(Permission.RECORDS_READ)]
WRITE = [require(Permission.PROCEDURES_WRITE)]
#: Rows of the medication part of the checklist form.
MEDICATION_ROWS = 4


def _instant(field: str, text: str | None) -> dt.datetime | None:
    """A ``datetime-local`` value (no offset) read as UTC, like every time in Trephine."""
    if text is None or not text.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, text, "a date-time as YYYY-MM-DDTHH:MM") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _required_instant(field: str, text: str | None) -> dt.datetime:
    moment = _instant(field, text)
    if moment is None:
        raise ValidationError(field, None, "a date-time as YYYY-MM-DDTHH:MM")
    return moment


def _decimal(field: str, text: str | None) -> Decimal | None:
    if text is None or not text.strip():
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ValidationError(field, text, "a number")
    return value


def _member(field: str, value: str | None, enum: Any) -> Any:
    for member in enum:
        if member.value == (value or "").strip():
            return member
    raise ValidationError(field, value, ", ".join(m.value for m in enum))


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _plan_page(
    request: Request,
    uow: UnitOfWork,
    plan_id: int,
    *,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    plan = procedure_plans.get_plan(uow, plan_id)
    audit_read(request, uow, "procedure plan", [plan.patient_id])
    principal = getattr(request.state, "principal", None)
    return render(
        request,
        "procedure.html",
        {
            "plan": plan,
            "why": indication_sentence(plan.plan.indication),
            "decision_words": DECISION_WORDS,
            "missing_words": missing_words,
            "may_write": principal is not None and principal.may(Permission.PROCEDURES_WRITE),
            "error": error,
            "done": done,
            "medication_rows": MEDICATION_ROWS,
            "drug_classes": list(DrugClass),
            "sedations": list(Anesthesia),
            "fastings": list(Fasting),
            "givers": list(ConsentGiver),
            "risks": list(Risk),
            "signatures": list(SignatureMethod),
            "sites": list(Site),
            "sides": list(Side),
            "kinds": list(ComplicationKind),
            "severities": list(ComplicationSeverity),
            "outcomes": list(ComplicationOutcome),
            "planned": PlanStatus.PLANNED,
            "done_status": PlanStatus.DONE,
        },
        status_code=status_code,
    )


def _refused(request: Request, uow: UnitOfWork, plan_id: int, exc: TrephineError) -> HTMLResponse:
    return _plan_page(request, uow, plan_id, error=str(exc), status_code=422)


@router.get("/procedures", response_class=HTMLResponse, name="procedures_page", dependencies=READ)
def procedures_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    status: Annotated[str, Query(max_length=16)] = "planned",
) -> HTMLResponse:
    wanted = None if status == "all" else _member("status", status, PlanStatus)
    plans = procedure_plans.list_plans(uow, status=wanted)
    audit_read(request, uow, "procedure list", [p.patient_id for p in plans], query=True)
    return render(
        request,
        "procedures.html",
        {
            "plans": plans,
            "decision_words": DECISION_WORDS,
            "status": status,
            "statuses": ["planned", "done", "cancelled", "all"],
            "may_write": principal.may(Permission.PROCEDURES_WRITE),
            "indications": list(Indication),
            "sites": list(Site),
            "error": None,
            "form": {},
        },
    )


@router.post("/procedures", name="plan_procedure", dependencies=WRITE)
def plan_procedure(
    request: Request,
    uow: UnitOfWorkDep,
    patient_id: Annotated[str, Form(max_length=64)],
    planned_for: Annotated[str, Form(max_length=40)],
    indication: Annotated[str, Form(max_length=40)],
    site: Annotated[str, Form(max_length=40)] = str(Site.POSTERIOR_ILIAC_CREST),
    operator: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Plan a procedure for a patient, then go to its page (the checklist comes next)."""
    try:
        plan = procedure_plans.plan_procedure(
            uow,
            patient_id.strip(),
            PlannedProcedure(
                _required_instant("planned_for", planned_for),
                _member("indication", indication, Indication),
                _member("site", site, Site),
                _text(operator),
            ),
        )
    except TrephineError as exc:
        return render(
            request,
            "procedures.html",
            {
                "plans": procedure_plans.list_plans(uow, status=PlanStatus.PLANNED),
                "decision_words": DECISION_WORDS,
                "status": "planned",
                "statuses": ["planned", "done", "cancelled", "all"],
                "may_write": True,
                "indications": list(Indication),
                "sites": list(Site),
                "error": str(exc),
                "form": {
                    "patient_id": patient_id,
                    "planned_for": planned_for,
                    "indication": indication,
                    "operator": operator,
                },
            },
            status_code=422,
        )
    return RedirectResponse(f"/procedures/plan/{plan.id}", status_code=303)


@router.get(
    "/procedures/plan/{plan_id}",
    response_class=HTMLResponse,
    name="procedure_page",
    dependencies=READ,
)
def procedure_page(
    request: Request,
    uow: UnitOfWorkDep,
    plan_id: int,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    messages = {
        "checklist": "Checklist saved and the safety rule evaluated on it.",
        "consent": "Consent recorded.",
        "done": "Procedure recorded.",
        "cancelled": "Procedure cancelled.",
        "complication": "Complication recorded.",
    }
    return _plan_page(request, uow, plan_id, done=messages.get(done or ""))


@router.post("/procedures/plan/{plan_id}/checklist", name="procedure_checklist", dependencies=WRITE)
def procedure_checklist(
    request: Request,
    uow: UnitOfWorkDep,
    plan_id: int,
    med_name: Annotated[list[str] | None, Form()] = None,
    med_class: Annotated[list[str] | None, Form()] = None,
    med_last_dose: Annotated[list[str] | None, Form()] = None,
    platelets: Annotated[str, Form(max_length=20)] = "",
    inr: Annotated[str, Form(max_length=20)] = "",
    allergies: Annotated[str, Form(max_length=500)] = "",
    sedation: Annotated[str, Form(max_length=40)] = str(Anesthesia.LOCAL),
    escort: Annotated[str, Form(max_length=200)] = "",
    fasting: Annotated[str, Form(max_length=40)] = "",
    mpn: Annotated[str, Form(max_length=5)] = "",
    bleeding_disorder: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Save the checklist (a new version when it changed); the §10 decision is made on it."""
    names, classes, doses = med_name or [], med_class or [], med_last_dose or []
    try:
        medications = []
        for i, name in enumerate(names):
            if not name.strip():
                continue
            field = f"medication {i + 1}"
            cls = classes[i] if i < len(classes) else ""
            last = _instant(f"{field} last dose", doses[i] if i < len(doses) else "")
            if cls.strip():
                medications.append(
                    Medication(name.strip(), _member(f"{field} class", cls, DrugClass), last)
                )
            else:
                medications.append(Medication.named(name.strip(), last))
        checklist = Checklist(
            medications=tuple(medications),
            platelets=_decimal("platelets", platelets),
            inr=_decimal("inr", inr),
            allergies=tuple(a.strip() for a in allergies.split(",") if a.strip()),
            sedation=_member("sedation", sedation, Anesthesia),
            escort=_text(escort),
            fasting=None if not fasting.strip() else _member("fasting", fasting, Fasting),
            mpn=mpn == "yes",
            bleeding_disorder=bleeding_disorder == "yes",
        )
        procedure_plans.record_checklist(uow, plan_id, checklist)
    except TrephineError as exc:
        return _refused(request, uow, plan_id, exc)
    return RedirectResponse(f"/procedures/plan/{plan_id}?done=checklist#safety", status_code=303)


@router.post("/procedures/plan/{plan_id}/consent", name="procedure_consent", dependencies=WRITE)
def procedure_consent(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    plan_id: int,
    consented_at: Annotated[str, Form(max_length=40)] = "",
    leaflet_version: Annotated[str, Form(max_length=32)] = "",
    risks: Annotated[list[str] | None, Form()] = None,
    given_by: Annotated[str, Form(max_length=40)] = str(ConsentGiver.PATIENT),
    giver_name: Annotated[str, Form(max_length=200)] = "",
    interpreter: Annotated[str, Form(max_length=200)] = "",
    signature: Annotated[str, Form(max_length=40)] = str(SignatureMethod.WRITTEN),
) -> Response:
    """Record consent, taken by the signed-in clinician."""
    try:
        consent = Consent(
            given_by=_member("given_by", given_by, ConsentGiver),
            taken_by=principal.name,
            consented_at=_required_instant("consented_at", consented_at),
            leaflet_version=leaflet_version.strip(),
            risks_discussed=tuple(_member("risks", r, Risk) for r in risks or []),
            signature=_member("signature", signature, SignatureMethod),
            giver_name=_text(giver_name),
            interpreter=_text(interpreter),
        )
        procedure_plans.record_consent(uow, plan_id, consent)
    except TrephineError as exc:
        return _refused(request, uow, plan_id, exc)
    return RedirectResponse(f"/procedures/plan/{plan_id}?done=consent#consent", status_code=303)


@router.post("/procedures/plan/{plan_id}/done", name="procedure_done", dependencies=WRITE)
def procedure_done(
    request: Request,
    uow: UnitOfWorkDep,
    plan_id: int,
    performed_at: Annotated[str, Form(max_length=40)] = "",
    site: Annotated[str, Form(max_length=40)] = "",
    side: Annotated[str, Form(max_length=20)] = str(Side.UNKNOWN),
    operator: Annotated[str, Form(max_length=200)] = "",
    needle: Annotated[str, Form(max_length=100)] = "",
    duration_min: Annotated[str, Form(max_length=5)] = "",
    emergency_reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Record the procedure (needs consent or an emergency reason) and close the plan."""
    try:
        plan = procedure_plans.get_plan(uow, plan_id)
        duration = _decimal("duration_min", duration_min)
        if duration is not None and duration != duration.to_integral_value():
            raise ValidationError("duration_min", duration_min, "whole minutes")
        procedure = Procedure(
            performed_at=_required_instant("performed_at", performed_at),
            site=plan.plan.site if not site.strip() else _member("site", site, Site),
            side=_member("side", side, Side),
            indication=plan.plan.indication,
            operator=_text(operator) or plan.plan.operator,
            anesthesia=plan.checklist.checklist.sedation if plan.checklist else Anesthesia.LOCAL,
            needle=_text(needle),
            duration_min=None if duration is None else int(duration),
        )
        procedure_plans.mark_done(uow, plan_id, procedure, _text(emergency_reason))
    except TrephineError as exc:
        return _refused(request, uow, plan_id, exc)
    return RedirectResponse(f"/procedures/plan/{plan_id}?done=done#record", status_code=303)


@router.post("/procedures/plan/{plan_id}/cancel", name="procedure_cancel", dependencies=WRITE)
def procedure_cancel(
    request: Request,
    uow: UnitOfWorkDep,
    plan_id: int,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        procedure_plans.cancel(uow, plan_id, _text(reason))
    except TrephineError as exc:
        return _refused(request, uow, plan_id, exc)
    return RedirectResponse(f"/procedures/plan/{plan_id}?done=cancelled", status_code=303)


@router.post(
    "/procedures/plan/{plan_id}/complication",
    name="procedure_complication",
    dependencies=WRITE,
)
def procedure_complication(
    request: Request,
    uow: UnitOfWorkDep,
    plan_id: int,
    kind: Annotated[str, Form(max_length=40)] = "",
    severity: Annotated[str, Form(max_length=40)] = "",
    onset_at: Annotated[str, Form(max_length=40)] = "",
    outcome: Annotated[str, Form(max_length=40)] = "",
    follow_up: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Record a complication of the plan's (done) procedure."""
    try:
        plan = procedure_plans.get_plan(uow, plan_id)
        if plan.procedure_id is None:
            raise ValidationError("complication", plan_id, "a procedure that was done")
        procedure_plans.add_complication(
            uow,
            plan.procedure_id,
            Complication(
                kind=_member("kind", kind, ComplicationKind),
                severity=_member("severity", severity, ComplicationSeverity),
                follow_up=_text(follow_up),
                onset_at=_instant("onset_at", onset_at),
                outcome=None
                if not outcome.strip()
                else _member("outcome", outcome, ComplicationOutcome),
            ),
        )
    except TrephineError as exc:
        return _refused(request, uow, plan_id, exc)
    return RedirectResponse(f"/procedures/plan/{plan_id}?done=complication#record", status_code=303)


@router.get(
    "/procedures/report",
    response_class=HTMLResponse,
    name="procedure_report_page",
    dependencies=READ,
)
def procedure_report_page(
    request: Request,
    uow: UnitOfWorkDep,
    by: Annotated[str, Query(max_length=16)] = "operator",
) -> HTMLResponse:
    """Rates per operator, site, needle or period; aggregate counts only (no patient shown)."""
    result = procedure_report.procedure_report(uow, by or None)
    return render(
        request,
        "procedure_report.html",
        {
            "report": result,
            "by": by,
            "groupings": ["operator", "site", "needle", "period"],
            "rate_text": rate_text,
        },
    )
