"""Pages that change something: acknowledging or withdrawing an alert, importing in the browser.

Each route declares its one permission (docs/security.md); forms carry the session's CSRF token,
which :func:`trephine.api.deps.require` checks on every state-changing request.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trephine.access import Permission
from trephine.api.deps import DatabaseDep, PrincipalDep, RowId, UnitOfWorkDep, require
from trephine.services import alerts
from trephine.web import imports
from trephine.web.render import render

router = APIRouter(include_in_schema=False)

_PENDING = imports.PendingUploads()


@router.post(
    "/alerts/{alert_id}/action",
    name="alert_action",
    dependencies=[require(Permission.ALERTS_ACKNOWLEDGE)],
)
def alert_action(
    uow: UnitOfWorkDep,
    alert_id: RowId,
    action: Annotated[Literal["acknowledge", "withdraw"], Form()],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Acknowledge (note optional) or withdraw (note required) as the signed-in user."""
    if action == "acknowledge":
        alerts.acknowledge_alert(uow, alert_id, note.strip() or None)
        done = "acknowledged"
    else:
        alerts.withdraw_alert(uow, alert_id, note)
        done = "withdrawn"
    return RedirectResponse(f"/alerts?done={done}", status_code=303)


def _created_text(outcome: imports.Outcome) -> str:
    parts = [f"{n} {sheet.replace('_', ' ')}" for sheet, n in outcome.created.items() if n]
    return ", ".join(parts) if parts else "nothing new"


def _page(request: Request, **context: object) -> HTMLResponse:
    outcome = context.get("outcome")
    extra = {"created_text": _created_text(outcome)} if isinstance(outcome, imports.Outcome) else {}
    return render(request, "import.html", {"outcome": None, "done": False, **context, **extra})


@router.get(
    "/import",
    response_class=HTMLResponse,
    name="import_page",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def import_page(request: Request) -> HTMLResponse:
    return _page(request)


@router.post(
    "/import/check",
    response_class=HTMLResponse,
    name="import_check",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
async def import_check(
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    """Dry run: every located error, or what would be added; nothing is written."""
    data = await file.read(imports.MAX_UPLOAD + 1)
    item = _PENDING.add(principal.name, file.filename or "upload", data)
    outcome = imports.run(database, item, principal.name, dry_run=True)
    if not outcome.ok:
        _PENDING.take(item.token, principal.name)
        _PENDING.discard(item)
    status = 200 if outcome.ok else 422
    response = _page(request, outcome=outcome, token=item.token)
    response.status_code = status
    return response


@router.post(
    "/import/confirm",
    response_class=HTMLResponse,
    name="import_confirm",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def import_confirm(
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    upload: Annotated[str, Form(max_length=100)],
) -> HTMLResponse:
    """The checked upload, imported for real (all or nothing), as the signed-in user."""
    item = _PENDING.take(upload, principal.name)
    try:
        outcome = imports.run(database, item, principal.name, dry_run=False)
    finally:
        _PENDING.discard(item)
    response = _page(request, outcome=outcome, done=outcome.ok, token="")
    response.status_code = 200 if outcome.ok else 422
    return response
