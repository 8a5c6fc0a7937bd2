"""The PostgreSQL set-up of docs/postgresql.md, on the local server: tables owned by a migration
role, the application connected as a role that works normally but cannot change the audit
trail or lift its triggers (the defect: the application connected as the owner, which can)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from trephine.domain import Patient, Sex
from trephine.services import audit, patients
from trephine.store.database import Database
from trephine.store.roles import app_role_grants

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get(
    "TREPHINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def roles() -> Iterator[tuple[str, str]]:
    """(owner url, app url) on a fresh database owned by a fresh owner role; all dropped after.
    Roles are cluster-wide, so their names are unique per test run."""
    tag = uuid.uuid4().hex[:10]
    owner, app, name = f"trephine_owner_{tag}", f"trephine_app_{tag}", f"trephine_roles_{tag}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except sqlalchemy.exc.OperationalError as exc:
        if os.environ.get("TREPHINE_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc.__class__.__name__}")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"))
        connection.execute(
            text(f"CREATE ROLE {app} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT")
        )
        connection.execute(text(f'CREATE DATABASE "{name}" OWNER {owner}'))
    base = make_url(POSTGRES_URL).set(database=name)
    try:
        yield (
            base.set(username=owner).render_as_string(hide_password=False),
            base.set(username=app).render_as_string(hide_password=False),
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f"DROP ROLE IF EXISTS {app}"))
            connection.execute(text(f"DROP ROLE IF EXISTS {owner}"))
        admin.dispose()


def test_the_app_role_works_but_cannot_touch_the_trail(roles: tuple[str, str]) -> None:
    owner_url, app_url = roles
    app_role = str(make_url(app_url).username)
    owner = Database(owner_url)
    owner.upgrade()  # the owner runs the migrations
    with owner.engine.begin() as connection:
        for statement in app_role_grants(app_role):
            connection.execute(text(statement))
    owner.dispose()

    app = Database(app_url)
    try:
        # Normal work: writes, audited reads, the chain lock, reading the trail back.
        with app.unit_of_work("dr.app") as uow:
            patients.register_patient(uow, Patient("ROLE-1", Sex.MALE, 1971))
            audit.append(uow, audit.Entry("read", "patient", "ROLE-1"))
        with app.unit_of_work("dr.app") as uow:
            assert [e.action for e in audit.events(uow)] == ["create", "read"]
            (chain,) = audit.chain_checks(uow)
        assert chain.passed is True
        assert app.current_revision() == app.head_revision()

        for statement in (
            "UPDATE audit_event SET actor = 'mallory'",
            "DELETE FROM audit_event",
            "TRUNCATE audit_event",
            "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
            "ALTER TABLE audit_event DISABLE TRIGGER ALL",
            "DROP TRIGGER audit_event_append_only ON audit_event",
            "DROP TABLE audit_event",
            "CREATE TRIGGER sneaky BEFORE INSERT ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION trephine_refuse_change()",
            "SET session_replication_role = replica",
            "UPDATE assessment SET recorded_by = 'mallory'",
            "UPDATE alembic_version SET version_num = '0001'",
            "CREATE TABLE shadow (id integer)",
        ):
            with pytest.raises(sqlalchemy.exc.DBAPIError) as refused, app.engine.begin() as c:
                c.execute(text(statement))
            reason = str(refused.value.orig)
            assert re.search(r"permission denied|must be owner", reason), (statement, reason)

        # audit verify, run as the app role, still reports every guard as refusing.
        checks = audit.probe_guards(app)
        assert all(c.passed is not False for c in checks), checks
    finally:
        app.dispose()


def test_the_documented_grants_are_the_ones_tested() -> None:
    """docs/postgresql.md shows the grants for the role trephine_app verbatim."""
    page = (REPO / "docs" / "postgresql.md").read_text(encoding="utf-8")
    for statement in app_role_grants("trephine_app"):
        assert statement + ";" in page, statement
