"""A database holding a small demo cohort, on SQLite and on PostgreSQL, shared per module.

Loading the cohort once per module (not per test) keeps the API tests well inside their CPU
budget; the tests only read. The PostgreSQL parameter follows the rules of the root
``database_url`` fixture: skipped when the server is unreachable, a failure when
TREPHINE_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.demo import SyntheticPatient
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database

POSTGRES_URL = os.environ.get(
    "TREPHINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: 20 patients = one of every scenario (see trephine.demo.model._PATTERN).
N_PATIENTS = 20
SEED = 4242


@dataclass
class LoadedDemo:
    url: str
    cohort: list[SyntheticPatient]
    client: TestClient


def _postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(
        POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            name = f"trephine_api_{uuid.uuid4().hex[:16]}"
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable server
        admin.dispose()
        message = f"PostgreSQL at {POSTGRES_URL} not reachable ({type(exc).__name__})"
        if os.environ.get("TREPHINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " and TREPHINE_REQUIRE_POSTGRES=1")
        pytest.skip(message)
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    scope="module",
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoadedDemo]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path_factory.mktemp('api') / 'demo.db'}"])
    else:
        urls = _postgres_database()
    url = next(urls)
    loaded = load_demo_database(url, N_PATIENTS, SEED)
    # The research view: a researcher (no identity, no writes).
    with client_as(create_app(url), "researcher") as client:
        yield LoadedDemo(url, loaded.cohort, client)
    for _ in urls:  # finishes the generator, which drops the PostgreSQL database
        pass
