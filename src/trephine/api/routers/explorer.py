"""``/docs`` (the OpenAPI explorer) and ``/openapi.json``, for signed-in users only.

Swagger UI's files come from the ``swagger-ui-py`` package (Apache-2.0, a swagger-ui 5
release) and are served by the app itself under ``/static/swagger-ui/``: no CDN, so the explorer
works in a hospital network that blocks one, and the page's Content-Security-Policy needs no
outside origin. The page starts Swagger UI from a script file (``static/swagger-init.js``), not an
inline script, so the CSP forbids inline scripts here too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from trephine.access import Permission
from trephine.api.deps import require

router = APIRouter(include_in_schema=False, dependencies=[require(Permission.API_DOCS)])

OPENAPI_URL = "/openapi.json"
SWAGGER_UI_URL = "/static/swagger-ui"


@router.get(OPENAPI_URL, name="openapi_schema")
def openapi_schema(request: Request) -> JSONResponse:
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


@router.get("/docs", response_class=HTMLResponse, name="api_explorer")
def api_explorer(request: Request) -> HTMLResponse:
    from trephine.web.render import render

    return render(
        request, "explorer.html", {"openapi_url": OPENAPI_URL, "swagger_ui": SWAGGER_UI_URL}
    )
