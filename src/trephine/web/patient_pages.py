"""The patient pages (role ``patient``): their biopsies, before/after advice, released results.

Every route declares ``own-record:read``; the account is linked to exactly one patient record
(``trephine users link``) and everything is looked up through that link, so another patient's
id finds nothing: 404, the same as an id that does not exist, and the attempt is audited.
Every page shown is an audited read of the patient's own record. The clinician's release of a
procedure's results (``results:release``) is here too, beside what it unlocks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trephine.access import Permission
from trephine.api.deps import PrincipalDep, UnitOfWorkDep, audit_read, require
from trephine.present import patient_pages as pages
from trephine.present.catalogue import gettext as _
from trephine.services import patient_portal as portal
from trephine.store.database import UnitOfWork
from trephine.web.leaflets import stage_of
from trephine.web.render import render

router = APIRouter(include_in_schema=False)
OWN = [require(Permission.OWN_RECORD_READ)]


def _not_found(request: Request) -> HTMLResponse:
    from trephine.api.schemas.errors import ErrorBody
    from trephine.web.render import render_error

    return render_error(
        request,
        404,
        ErrorBody(code="not_found", message=_("We could not find that page.")),
    )


def _stage_labels(stages: tuple[pages.Stage, ...]) -> list[tuple[str, str]]:
    labels = {"before": _("Before"), "after": _("After"), "results": _("Results")}
    return [(s, labels[s]) for s in stages]


def stage_page(
    uow: UnitOfWork, name: str, kind: str, key: int, stage: pages.Stage
) -> tuple[pages.StagePage, str, str] | None:
    """(page, date text, patient id) of one stage of the patient's own plan or procedure."""
    source: portal.StoredPlan | portal.PortalProcedure | None
    if kind == "plan":
        source = None if stage == "results" else portal.own_plan(uow, name, key)
        if source is None:
            return None
        when = source.plan.planned_for.strftime("%d %B %Y")
    else:
        source = portal.own_procedure(uow, name, key)
        if source is None:
            return None
        when = source.procedure.performed_at.strftime("%d %B %Y")
    return stage_of(uow, source, stage), when, portal.patient_of(uow, name)


@router.get("/my", response_class=HTMLResponse, name="my_home", dependencies=OWN)
def my_home(request: Request, uow: UnitOfWorkDep, principal: PrincipalDep) -> HTMLResponse:
    home = portal.home(uow, principal.name)
    audit_read(request, uow, "patient pages", [home.patient_id])
    return render(request, "patient/home.html", {"home": home})


def _stage(
    request: Request, uow: UnitOfWorkDep, name: str, kind: str, key: int, stage: str
) -> HTMLResponse:
    stages: tuple[pages.Stage, ...] = ("before", "after") if kind == "plan" else pages.STAGES
    found = None
    if stage in stages:
        found = stage_page(uow, name, kind, key, stage)
    if found is None:
        portal.refuse(uow, name, "procedure_plan" if kind == "plan" else "procedure", key)
        return _not_found(request)
    page, when, patient_id = found
    audit_read(request, uow, f"patient pages: {page.stage}", [patient_id])
    base = f"/my/{'plans' if kind == 'plan' else 'procedures'}/{key}"
    return render(
        request,
        "patient/stage.html",
        {"page": page, "when": when, "base": base, "stages": _stage_labels(stages)},
    )


@router.get("/my/plans/{plan_id}/{stage}", response_class=HTMLResponse, dependencies=OWN)
def my_plan(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, plan_id: int, stage: str
) -> HTMLResponse:
    return _stage(request, uow, principal.name, "plan", plan_id, stage)


@router.get("/my/procedures/{procedure_id}/{stage}", response_class=HTMLResponse, dependencies=OWN)
def my_procedure(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, procedure_id: int, stage: str
) -> HTMLResponse:
    return _stage(request, uow, principal.name, "procedure", procedure_id, stage)


@router.post(
    "/procedures/{procedure_id}/release",
    name="release_results",
    dependencies=[require(Permission.RESULTS_RELEASE)],
)
def release_results(
    uow: UnitOfWorkDep,
    procedure_id: int,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Release the procedure's signed-out results to the patient's pages, as the signed-in
    clinician; back to the patient page."""
    portal.release(uow, procedure_id, note.strip() or None)
    patient_id = portal.patient_of_procedure(uow, procedure_id)
    return RedirectResponse(f"/patients/{patient_id}?released={procedure_id}", status_code=303)
