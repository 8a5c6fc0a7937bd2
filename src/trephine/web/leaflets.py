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
    if plan:
        if stage == "results":
            raise ValidationError("stage", stage, "before, after", reason="a plan has no results")
        if uow.session.get(ProcedurePlanRow, key) is None:
            raise NotFound("procedure plan", key)
        stored_plan = get_plan(uow, key)
        checklist, call = portal.checklist_of(stored_plan)
        indication = stored_plan.plan.indication
        when = stored_plan.plan.planned_for.strftime("%d %B %Y")
        patient_id = stored_plan.patient_id
        page = None
    else:
        item = _item(uow, key)
        checklist, call = portal.checklist_of(item)
        indication = item.procedure.indication
        when = item.procedure.performed_at.strftime("%d %B %Y")
        patient_id = portal.patient_of_procedure(uow, key)
        page = None
        if stage == "results":
            released = portal.released_results(uow, item)
            page = pages.results_page(
                None if released is None else [(r.kind, r.value) for r in released.results],
                []
                if released is None
                else [
                    (a.assessment.ruleset, a.call_kind, a.assessment.category)
                    for a in released.calls
                ],
            )
    if page is None:
        page = (
            pages.before_page(indication, checklist)
            if stage == "before"
            else pages.after_page(
                call, clinic_phone=settings.clinic_phone, fever_c=settings.fever_threshold_c
            )
        )
    html = (
        templates()
        .env.get_template("patient/leaflet.html")
        .render(page=page, when=when, clinic=settings.clinic_name, version=__version__)
    )
    return html, patient_id


def write_pdf(html: str, out: Path) -> None:
    """The leaflet as a PDF (WeasyPrint; no network: every style is inline)."""
    from weasyprint import HTML

    HTML(string=html, base_url=None).write_pdf(str(out))
