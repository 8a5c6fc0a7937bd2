"""Admin pages: users, sessions (revoke), and the audit trail (including audited reads).

Read through the account and audit services; each route declares its one permission
(docs/security.md). Changing users stays with ``trephine users`` (passwords never pass a page).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trephine.access import Permission
from trephine.api.deps import RowId, UnitOfWorkDep, require
from trephine.services import accounts, audit
from trephine.web.render import render

router = APIRouter(include_in_schema=False, prefix="/admin")

#: The audit page shows at most this many events, newest first.
AUDIT_ROWS = 500


@router.get(
    "/users",
    response_class=HTMLResponse,
    name="admin_users",
    dependencies=[require(Permission.USERS_MANAGE)],
)
def admin_users(request: Request, uow: UnitOfWorkDep) -> HTMLResponse:
    return render(request, "admin.html", {"tab": "users", "users": accounts.list_users(uow)})


@router.get(
    "/sessions",
    response_class=HTMLResponse,
    name="admin_sessions",
    dependencies=[require(Permission.SESSIONS_MANAGE)],
)
def admin_sessions(request: Request, uow: UnitOfWorkDep) -> HTMLResponse:
    return render(
        request, "admin.html", {"tab": "sessions", "sessions": accounts.list_sessions(uow)}
    )


@router.post(
    "/sessions/{session_id}/revoke",
    name="admin_revoke_session",
    dependencies=[require(Permission.SESSIONS_MANAGE)],
)
def admin_revoke_session(uow: UnitOfWorkDep, session_id: RowId) -> Response:
    accounts.revoke_session(uow, session_id)
    return RedirectResponse("/admin/sessions", status_code=303)


@router.get(
    "/audit",
    response_class=HTMLResponse,
    name="admin_audit",
    dependencies=[require(Permission.AUDIT_READ)],
)
def admin_audit(
    request: Request,
    uow: UnitOfWorkDep,
    days: Annotated[int, Query(ge=1, le=3650)] = 7,
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    since = uow.now() - dt.timedelta(days=days)
    events = audit.events(uow, actor=actor or None, since=since)
    shown = list(reversed(events))[:AUDIT_ROWS]
    return render(
        request,
        "admin.html",
        {
            "tab": "audit",
            "events": shown,
            "total": len(events),
            "days": days,
            "actor": actor or "",
        },
    )
