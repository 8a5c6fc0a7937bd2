"""The FastAPI application factory: JSON API, pages, static files, one error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from trephine import __version__
from trephine.api.errors import install_error_handlers
from trephine.api.routers import assessments, health, patients
from trephine.services import open_database


def create_app(database_url: str | None = None) -> FastAPI:
    """Build the app for ``database_url`` (default: ``TREPHINE_DATABASE_URL`` / settings).

    The database must already be migrated (``trephine init``); ``/healthz`` reports when not.
    """
    database = open_database(database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = FastAPI(
        title="Trephine",
        version=__version__,
        summary="Bone marrow biopsy data across the treatment cycle (research view).",
        lifespan=lifespan,
        # FastAPI's Swagger/ReDoc pages load their JavaScript from a CDN, which a hospital
        # network may block and which the app must not depend on; the schema stays available.
        docs_url=None,
        redoc_url=None,
    )
    app.state.database = database
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(patients.router)
    app.include_router(assessments.router)
    # Pages and static files: imported here so the JSON API has no template dependency at import.
    from trephine.web import assets, pages

    assets.mount_static(app)
    app.include_router(pages.router)
    return app
