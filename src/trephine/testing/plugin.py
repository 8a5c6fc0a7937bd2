"""pytest plugin (entry point ``pytest11``): migrated databases and the loaded demo cohort.

Loaded automatically once Trephine is installed; ``-p no:trephine`` turns it off. It imports
nothing beyond pytest at start-up (the database layer is imported inside the fixtures), and never
Hypothesis, so it loads in a plain install.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from trephine.store.database import Database
    from trephine.testing.fixtures import LoadedCohort


@pytest.fixture
def trephine_sqlite_url(tmp_path: Path) -> str:
    """The URL of a fresh SQLite file migrated to the newest schema."""
    from trephine.store.database import Database

    url = f"sqlite:///{tmp_path / 'trephine.db'}"
    database = Database(url)
    try:
        database.upgrade()
    finally:
        database.dispose()
    return url


@pytest.fixture
def trephine_database(trephine_sqlite_url: str) -> Iterator[Database]:
    """A :class:`~trephine.store.database.Database` on ``trephine_sqlite_url`` (disposed after)."""
    from trephine.store.database import Database

    database = Database(trephine_sqlite_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def trephine_demo(tmp_path_factory: pytest.TempPathFactory) -> LoadedCohort:
    """A SQLite file holding the 20-patient demo cohort (one patient of every scenario).

    Session-scoped and shared: tests must only read it.
    """
    from trephine.testing.fixtures import load_demo_database

    path = tmp_path_factory.mktemp("trephine-demo") / "demo.db"
    return load_demo_database(f"sqlite:///{path}", patients=20)
