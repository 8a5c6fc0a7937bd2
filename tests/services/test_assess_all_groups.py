"""``assess_all`` assesses patients a group per transaction (inputs read together, calls, alerts
and audit events written in one batch): the store and the audit trail must be exactly what one
``assess_patient`` per patient and transaction gives, on SQLite and PostgreSQL, and one patient
refused while storing must not cost the others their calls."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from trephine.demo import generate_cohort
from trephine.demo.load import load_cohort
from trephine.errors import CriteriaNotApplicable, ValidationError
from trephine.services import alerts, assessments
from trephine.store.database import Database

PATIENTS = 10  # most demo scenarios, alerts among them
AT = dt.datetime(2026, 11, 2, 3, 4, 5, tzinfo=dt.UTC)


@contextmanager
def _second(database: Database, tmp_path: Path) -> Iterator[str]:
    """An empty database on the same backend as ``database``."""
    if database.engine.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'one-by-one.db'}"
        return
    name = f"trephine_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(database.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database.url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _loaded(url: str) -> Database:
    db = Database(url, clock=lambda: AT)
    db.upgrade()
    load_cohort(db, generate_cohort(PATIENTS, 20240917))
    return db


def _one_by_one(db: Database) -> list[tuple[str, str]]:
    from trephine.services.patients import list_patients

    with db.unit_of_work("test-assess") as uow:
        ids = [p.patient_id for p in list_patients(uow)]
    outcomes = []
    for pid in ids:
        try:
            with db.unit_of_work("test-assess") as uow:
                assessments.assess_patient(uow, pid)
            outcomes.append((pid, "assessed"))
        except CriteriaNotApplicable:
            outcomes.append((pid, "skipped"))
    return outcomes


def _grouped(db: Database) -> list[tuple[str, str]]:
    return [(o.patient_id, o.status) for o in assessments.assess_all(db, "test-assess", group=4)]


def _disturb(db: Database) -> None:
    """Give the next run an alert to withdraw (one it does not raise) and one to raise again
    (a raised alert withdrawn by hand)."""
    with db.unit_of_work("clinician") as uow:
        raised = alerts.list_alerts(uow, status="open")
        first = raised[-1]
        alerts.withdraw_alert(uow, first.id, "checking the sample")
        alerts.raise_alert(
            uow, first.patient_id, first.raised_on, "TEST-ONLY", "not raised by the rules",
            first.ruleset, first.software_version,
        )  # fmt: skip


def _store(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as connection:
        return {
            table: [
                tuple(str(v) for v in row)
                for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            ]
            for table in ("assessment", "alert", "audit_event")
        }


def test_grouped_runs_store_and_audit_exactly_what_one_patient_at_a_time_does(
    database: Database, tmp_path: Path
) -> None:
    grouped = _loaded(database.url)
    with _second(database, tmp_path) as url:
        alone = _loaded(url)
        try:
            outcomes = [_grouped(grouped), _one_by_one(alone)]
            _disturb(grouped)
            _disturb(alone)
            outcomes += [_grouped(grouped), _one_by_one(alone)]
            stored = [_store(grouped), _store(alone)]
        finally:
            alone.dispose()
            grouped.dispose()
    assert outcomes[0] == outcomes[1] and outcomes[2] == outcomes[3]
    assert {status for _, status in outcomes[0]} == {"assessed"}
    events = [row[3] for row in stored[0]["audit_event"]]  # action
    for action in ("create", "raise", "withdraw", "reraise", "assess"):
        assert action in events, action
    # Every row and every audit event, ids and hashes included (the clock is fixed).
    assert stored[0] == stored[1]


def test_a_patient_refused_while_storing_costs_the_others_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _loaded(f"sqlite:///{tmp_path / 'refused.db'}")
    store_runs = assessments._store_runs
    bad = "DEMO-0003"

    def refusing(uow: Any, plans: Any) -> Any:
        if any(inputs.patient_id == bad for inputs, _, _ in plans):
            raise ValidationError("audit detail", "assess", "JSON text")
        return store_runs(uow, plans)

    monkeypatch.setattr(assessments, "_store_runs", refusing)
    try:
        outcomes = {o.patient_id: o for o in assessments.assess_all(db, "test-assess", group=4)}
        with db.unit_of_work("test") as uow:
            stored = {
                pid: len(assessments.patient_assessments(uow, pid)) for pid in sorted(outcomes)
            }
    finally:
        db.dispose()
    assert outcomes[bad].status == "error" and "audit detail" in (outcomes[bad].reason or "")
    assert stored[bad] == 0
    others = [pid for pid in outcomes if pid != bad]
    assert len(others) == PATIENTS - 1
    assert all(outcomes[pid].status == "assessed" and stored[pid] > 0 for pid in others)
