"""Fixtures of the report tests (the seeding itself is in trephine.testing.report_seed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trephine.store.database import Database
from trephine.testing.report_seed import Seeded, seed


@pytest.fixture
def seeded(database: Database) -> Seeded:
    return seed(database)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are cached per process; tests that set TREPHINE_* must not leak into others."""
    from trephine.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
