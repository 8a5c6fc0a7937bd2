"""``/healthz``: is the app up, and is its database reachable and migrated?"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from trephine import __version__
from trephine.access import Permission
from trephine.api.deps import DatabaseDep, require

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[require(Permission.PUBLIC)])
def healthz(database: DatabaseDep) -> JSONResponse:
    """200 when the database answers and is at the latest migration; 503 otherwise."""
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    try:
        current = database.current_revision()
    except Exception as exc:  # any driver error means "not reachable"; say which
        body["status"] = "unavailable"
        body["database"] = {"reachable": False, "error": type(exc).__name__}
        return JSONResponse(body, status_code=503)
    head = database.head_revision()
    up_to_date = current is not None and current == head
    body["database"] = {"reachable": True, "revision": current, "up_to_date": up_to_date}
    if not up_to_date:
        body["status"] = "unavailable"
        body["hint"] = "run `trephine init` to create or migrate the database"
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
