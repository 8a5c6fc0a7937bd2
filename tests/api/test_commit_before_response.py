"""Acknowledging an alert over HTTP: one acknowledgement wins, and the response is sent only
after the transaction committed (the defects: a lost update, and a 200 with nothing stored
when the commit failed with "database is locked")."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator

import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from trephine.api.app import create_app
from trephine.domain import Patient, Sex
from trephine.services import alerts, audit, patients
from trephine.store.database import Database
from trephine.testing.accounts import client_as


def _alert(database: Database) -> int:
    with database.unit_of_work("assess") as uow:
        patients.register_patient(uow, Patient("ACK-1", Sex.MALE, 1966))
        stored, _ = alerts.raise_alert(
            uow, "ACK-1", dt.date(2024, 5, 1), "HEMATOLOGIC_RELAPSE", "relapse", "ELN2022", "t"
        )
    return stored.id


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    """Signed in as a clinician (who may acknowledge alerts)."""
    with client_as(create_app(database.url), "clinician", raise_server_exceptions=False) as client:
        yield client


def test_a_failed_commit_is_the_response_not_a_200(database: Database, client: TestClient) -> None:
    alert_id = _alert(database)

    def locked(session: Session) -> None:
        raise sqlalchemy.exc.OperationalError(
            "COMMIT", None, sqlite3.OperationalError("database is locked")
        )

    event.listen(Session, "before_commit", locked)
    try:
        response = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": "seen"})
    finally:
        event.remove(Session, "before_commit", locked)
    assert response.status_code == 503, response.text
    assert "nothing was saved" in response.json()["error"]["message"]
    with database.unit_of_work("reader") as uow:
        (stored,) = alerts.list_alerts(uow)
        acknowledged = [e for e in audit.events(uow, "alert") if e.action == "acknowledge"]
    assert stored.acknowledged_at is None and acknowledged == []
    # Once the database accepts commits again, the same request succeeds.
    again = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": "seen"})
    assert again.status_code == 200 and again.json()["acknowledged_by"] == "test-clinician"
    assert client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}).status_code == 409


def test_a_read_whose_audit_commit_failed_is_an_error_not_a_200(
    database: Database, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page or response that shows a patient is sent only after its audit event committed:
    a read commits its event with those of concurrent reads (store/audit_group.py), and when
    that commit fails the response is the error, and nothing shows the patient."""
    from trephine.store import audit_chain

    _alert(database)

    def locked(session: Session, rows: list[audit_chain.Queued]) -> None:
        raise sqlalchemy.exc.OperationalError(
            "INSERT", None, sqlite3.OperationalError("database is locked")
        )

    def views() -> list[str]:
        with database.unit_of_work("reader") as uow:
            return [e.entity_id for e in audit.reads(uow) if e.actor == "test-clinician"]

    monkeypatch.setattr(audit_chain, "append_rows", locked)
    for path in ("/api/v1/patients/ACK-1/timeline", "/patients/ACK-1"):
        response = client.get(path)
        assert response.status_code == 503, (path, response.text)
        assert "ACK-1" not in response.text
    monkeypatch.undo()
    assert views() == []
    assert client.get("/api/v1/patients/ACK-1/timeline").status_code == 200
    assert views() == ["ACK-1", "ACK-1"]  # the service's read and the response's view
