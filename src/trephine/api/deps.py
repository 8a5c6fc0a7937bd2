"""FastAPI dependencies: the database, the acting viewer and a unit of work per request.

Authentication and roles plug in here later: replace :func:`get_viewer` with one that reads a
session or token and every route that declares ``ViewerDep`` is covered. Today every request is
the anonymous research viewer, which may see the research view only (no names, no MRNs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from trephine.store.database import Database, UnitOfWork


class Role(StrEnum):
    #: Sees pseudonymised research views; never identity.
    RESEARCH = "research"


@dataclass(frozen=True)
class Viewer:
    name: str
    roles: frozenset[Role]


ANONYMOUS_RESEARCHER = Viewer(name="web:anonymous", roles=frozenset({Role.RESEARCH}))


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_viewer() -> Viewer:
    """Who is asking. Until authentication lands, the anonymous research viewer."""
    return ANONYMOUS_RESEARCHER


DatabaseDep = Annotated[Database, Depends(get_database)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def get_unit_of_work(database: DatabaseDep, viewer: ViewerDep) -> Iterator[UnitOfWork]:
    """One transaction per request, acting as the viewer (so audited reads name them)."""
    with database.unit_of_work(viewer.name) as uow:
        yield uow


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]
