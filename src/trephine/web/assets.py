"""Static files: the app's own CSS/JS and plotly.js.

plotly.js is served from this package (no CDN), so the page works offline and in hospital
networks that block CDNs. It is plotly.js's *basic* bundle (scatter, bar and pie traces; npm
``plotly.js-basic-dist-min``, MIT, vendored in ``web/static/vendor`` with its licence and
checksum in ``VENDORED.md``): 1.2 MB instead of the 4.8 MB full bundle that the ``plotly`` Python
wheel carries, which a browser parses and compiles three times faster on a cold first paint.
The patient chart uses only scatter and bar traces (a test holds every trace the chart builder
makes to the bundle's types), and the bundle's major version is the one the installed
``plotly`` package was built for (a test holds that too).
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from trephine.access import Permission
from trephine.api.deps import require
from trephine.web.render import STATIC_DIR

PLOTLY_JS_URL = "/static/vendor/plotly-basic.min.js"

#: The trace types plotly.js's basic bundle registers; the chart must not use any other.
PLOTLY_BASIC_TRACE_TYPES = frozenset({"scatter", "bar", "pie"})

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def plotly_js_path() -> Path:
    """The vendored, minified plotly.js basic bundle served to browsers."""
    return STATIC_DIR / "vendor" / "plotly-basic.min.js"


def plotly_js_version(path: Path) -> str:
    """The version a plotly.js bundle names in its banner comment (``v4.1.1`` → ``4.1.1``)."""
    with path.open("rb") as fh:
        head = fh.read(400).decode("ascii", "replace")
    found = re.search(r"plotly\.js\b[^\n]*?\bv(\d+\.\d+\.\d+)", head)
    if found is None:
        raise ValueError(f"{path}: no plotly.js version in its first lines")
    return found.group(1)


def installed_plotly_js_path() -> Path:
    """The full plotly.js bundle of the installed ``plotly`` Python package (not served)."""
    return Path(str(files("plotly"))) / "package_data" / "plotly.min.js"


@lru_cache(maxsize=1)
def plotly_js_gzip() -> bytes:
    """The bundle gzipped once per process (1.2 MB → about 0.4 MB on the wire)."""
    return gzip.compress(plotly_js_path().read_bytes(), compresslevel=9, mtime=0)


#: The file changes only when the vendored bundle is upgraded; let browsers keep it for a day.
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
