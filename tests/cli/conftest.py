"""Fixtures for the command-line tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trephine.settings import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are cached per process; tests that set TREPHINE_* must not leak into others."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
