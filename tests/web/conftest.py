"""Fixtures of the page tests: a SQLite file holding a small demo cohort, and a client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.demo import SyntheticPatient
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database


class Site(NamedTuple):
    url: str
    cohort: list[SyntheticPatient]
    client: TestClient


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'demo.db'}"
    loaded = load_demo_database(url, 20, seed=99)
    # The research view: a researcher (no identity, no writes).
    with client_as(create_app(url), "researcher") as client:
        yield Site(url, loaded.cohort, client)
