"""The FastAPI application factory: JSON API, pages, static files, one error shape."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext

from fastapi import FastAPI

from trephine import __version__
from trephine.api import security
from trephine.api.errors import install_error_handlers
from trephine.api.routers import (
    assessments,
    explorer,
    fhir,
    health,
    orders,
    patients,
)
from trephine.api.routers import exams as exam_api
from trephine.api.routers import procedures as procedure_api
from trephine.collector import long_lived_frozen
from trephine.services import accounts, open_database
from trephine.settings import Settings, get_settings
from trephine.store.database import Database


def create_app(
    database_url: str | None = None,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    settings: Settings | None = None,
    server: bool = False,
) -> FastAPI:
    """Build the app for ``database_url`` (default: ``TREPHINE_DATABASE_URL`` / settings).

    The database must already be migrated (``trephine init``); ``/healthz`` reports when not.
    ``clock`` replaces the wall clock (tests of session timeouts); ``settings`` the environment.
    ``server``: the app is a server process's only work (``trephine serve``, :func:`served_app`),
    so once started its long-lived objects are kept out of the cycle collector's full
    collections (:func:`trephine.collector.long_lived_frozen`).
    """
    settings = settings or get_settings()
    url = database_url or settings.database_url
    database = open_database(url) if clock is None else Database(url, clock=clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if server:
            # Every chart grid laid out before the first page (web/chart.py), then kept.
            from trephine.web.chart import lay_out_every_grid

            lay_out_every_grid()
            # The worker's thread pool (sync routes and dependencies): TREPHINE_SERVE_THREADS.
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = settings.serve_threads
        with long_lived_frozen() if server else nullcontext():
            yield
        database.dispose()

    app = FastAPI(
        title="Trephine",
        version=__version__,
        summary="Bone marrow biopsy data across the treatment cycle.",
        lifespan=lifespan,
        # FastAPI's own Swagger/ReDoc pages load their JavaScript from a CDN and are open to
        # anybody; /docs and /openapi.json are served by routers/explorer.py instead (signed-in
        # users only, Swagger UI 5 from the swagger-ui-py package).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.database = database
    app.state.settings = settings
    app.state.session_limits = accounts.SessionLimits.from_settings(settings)
    app.state.throttle = accounts.Throttle.from_settings(settings)
    # OpenID Connect sign-in (web/oidc.py) when TREPHINE_OIDC_ISSUER is set; None otherwise.
    from trephine.web.oidc import OidcClient

    app.state.oidc = OidcClient.from_settings(settings)
    install_error_handlers(app)
    security.install(app, settings.allowed_hosts)
    app.include_router(health.router)
    app.include_router(patients.router)
    app.include_router(assessments.router)
    app.include_router(exam_api.router)
    app.include_router(orders.router)
    app.include_router(procedure_api.router)
    app.include_router(fhir.router)
    app.include_router(explorer.router)
    # Pages and static files: imported here so the JSON API has no template dependency at import.
    from trephine.web import (
        actions,
        admin,
        aspirate,
        assets,
        exams,
        lab,
        oidc,
        pages,
        patient_pages,
        procedures,
        reports,
        research,
        signin,
    )

    assets.mount_static(app)
    app.include_router(signin.router)
    app.include_router(oidc.router)
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(procedures.router)
    app.include_router(exams.router)
    app.include_router(patient_pages.router)
    app.include_router(lab.router)
    app.include_router(aspirate.router)
    app.include_router(reports.router)
    app.include_router(research.router)
    # Last: the role x route test walks routes in this order, and revoking session 1 may end
    # the walking admin's own session.
    app.include_router(admin.router)
    return app


def served_app() -> FastAPI:
    """The app of one ``trephine serve`` worker process (uvicorn's factory), from the
    environment."""
    return create_app(server=True)
