"""Static files: the app's own CSS/JS and plotly.js taken from the installed ``plotly`` package.

plotly.js is served from the wheel's ``package_data/plotly.min.js`` so the page works offline and
in hospital networks that block CDNs, and its version always matches the Python figure builder.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from trephine.access import Permission
from trephine.api.deps import require
from trephine.web.render import STATIC_DIR

PLOTLY_JS_URL = "/static/vendor/plotly.min.js"

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def plotly_js_path() -> Path:
    """Where the installed plotly package keeps its bundled, minified plotly.js."""
    path = Path(str(files("plotly"))) / "package_data" / "plotly.min.js"
    if not path.is_file():  # pragma: no cover - a broken plotly install
        raise FileNotFoundError(f"plotly.min.js not found in the plotly package at {path}")
    return path


@lru_cache(maxsize=1)
def plotly_js_gzip() -> bytes:
    """plotly.min.js gzipped once per process (4.8 MB → about 1.4 MB on the wire)."""
    return gzip.compress(plotly_js_path().read_bytes(), compresslevel=9, mtime=0)


#: The file changes only when plotly is upgraded; let browsers keep it for a day.
_PLOTLY_HEADERS = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}


@router.get(PLOTLY_JS_URL, dependencies=[require(Permission.PUBLIC)])
def plotly_js(request: Request) -> Response:
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        return Response(
            plotly_js_gzip(),
            media_type="text/javascript",
            headers={**_PLOTLY_HEADERS, "Content-Encoding": "gzip"},
        )
    return FileResponse(plotly_js_path(), media_type="text/javascript", headers=_PLOTLY_HEADERS)


@lru_cache(maxsize=1)
def swagger_ui_dir() -> Path:
    """Swagger UI 5's files (OpenAPI 3.1), shipped by the swagger-ui-py package (Apache-2.0,
    the licence is in the folder)."""
    from swagger_ui.utils import SWAGGER_UI_PY_ROOT

    return Path(SWAGGER_UI_PY_ROOT) / "static"


def mount_static(app: FastAPI) -> None:
    # The vendor route and mount must be registered before /static, which would shadow them.
    app.include_router(router)
    app.mount("/static/swagger-ui", StaticFiles(directory=str(swagger_ui_dir())), name="swagger_ui")
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
