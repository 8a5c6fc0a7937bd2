"""Patient leaflets: the patient pages' words as a standalone printable document (HTML, and PDF
through WeasyPrint). Used by ``trephine leaflet``; the same sections as ``web/patient_pages``."""

from __future__ import annotations

from pathlib import Path

from trephine import __version__
from trephine.errors import NotFound, ValidationError
from trephine.present import patient_pages as pages
from trephine.services import patient_portal as portal
from trephine.services.procedure_plans import get_plan
from trephine.settings import get_settings
from trephine.store.database import UnitOfWork
from trephine.store.tables import ProcedurePlanRow, ProcedureRow
from trephine.web.render import templates
from trephine.workflow import ResultState


def _item(uow: UnitOfWork, procedure_id: int) -> portal.PortalProcedure:
    from sqlalchemy import select

    from trephine.services.patients import patient_record

    row = uow.session.get(ProcedureRow, procedure_id)
    if row is None:
        raise NotFound("procedure", procedure_id)
    patient_id = portal.patient_of_procedure(uow, procedure_id)
    stored = next(p for p in patient_record(uow, patient_id).procedures if p.id == procedure_id)
    plan_id = uow.session.scalars(
        select(ProcedurePlanRow.id).where(ProcedurePlanRow.procedure_id == procedure_id)
    ).one_or_none()
    plan = None if plan_id is None else get_plan(uow, plan_id)
    release = portal.releases(uow, [procedure_id]).get(procedure_id)
    return portal.PortalProcedure(procedure_id, stored.procedure, plan, release)


def leaflet_html(
    uow: UnitOfWork, key: int, stage: pages.Stage, *, plan: bool = False
) -> tuple[str, str]:
    """(HTML, patient id) of the leaflet for a procedure (or, with ``plan``, a planned one)."""
    settings = get_settings()
    source: portal.StoredPlan | portal.PortalProcedure
    if plan:
        if stage == "results":
            raise ValidationError("stage", stage, "before, after", reason="a plan has no results")
        if uow.session.get(ProcedurePlanRow, key) is None:
            raise NotFound("procedure plan", key)
        source = get_plan(uow, key)
        when = source.plan.planned_for.strftime("%d %B %Y")
        patient_id = source.patient_id
    else:
        source = _item(uow, key)
        when = source.procedure.performed_at.strftime("%d %B %Y")
        patient_id = portal.patient_of_procedure(uow, key)
    page = stage_of(uow, source, stage)
    html = (
        templates()
        .env.get_template("patient/leaflet.html")
        .render(page=page, when=when, clinic=settings.clinic_name, version=__version__)
    )
    return html, patient_id


def stage_of(
    uow: UnitOfWork,
    source: portal.StoredPlan | portal.PortalProcedure,
    stage: pages.Stage,
) -> pages.StagePage:
    """One stage of a plan or procedure, the same for the patient pages and the leaflets:
    before and after from its indication and stored checklist; results (procedures only) from
    what a clinician released — or the "not ready" page before release."""
    settings = get_settings()
    if stage == "results" and isinstance(source, portal.PortalProcedure):
        released = portal.released_results(uow, source)
        if released is None:
            return pages.results_page(None, [])
        return pages.results_page(
            [(r.kind, r.value) for r in released.results],
            [(a.assessment.ruleset, a.call_kind, a.assessment.category) for a in released.calls],
            corrected=[i for i, r in enumerate(released.results) if r.state is ResultState.AMENDED],
        )
    checklist, call = portal.checklist_of(source)
    if stage == "before":
        indication = (
            source.procedure.indication
            if isinstance(source, portal.PortalProcedure)
            else source.plan.indication
        )
        return pages.before_page(indication, checklist)
    return pages.after_page(
        call, clinic_phone=settings.clinic_phone, fever_c=settings.fever_threshold_c
    )


def write_pdf(html: str, out: Path) -> None:
    """The leaflet as a PDF (WeasyPrint; no network: every style is inline)."""
    from weasyprint import HTML

    HTML(string=html, base_url=None).write_pdf(str(out))
