"""``/api/v1/patients/{id}/assessments``, ``/api/v1/alerts`` and the ``/alerts`` page and
patient page sections, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assess_case import biopsy, diff, marrow_items, seed_aml_patient
from trephine.api.app import create_app
from trephine.services import assessments, results
from trephine.store.database import Database
from trephine.testing.accounts import client_as


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    seed_aml_patient(database)
    ids = biopsy(database, 150, 3, marrow_items(3))  # still in CR
    with database.unit_of_work("t") as uow:
        assessments.assess_patient(uow, "P1")
    with database.unit_of_work("pathologist") as uow:  # amended: 9 % blasts = relapse
        results.amend_result(uow, ids["AspirateDifferential"], diff(45), "miscount")
    with database.unit_of_work("t") as uow:
        assessments.assess_patient(uow, "P1")
    url = database.engine.url.render_as_string(hide_password=False)
    # A clinician: reads records and may acknowledge alerts.
    with client_as(create_app(url), "clinician") as c:
        yield c


def test_assessments_json_with_history(client: TestClient) -> None:
    body = client.get("/api/v1/patients/P1/assessments").json()
    assert body["patient"] == "P1"
    day150 = [a for a in body["items"] if a["call"] == "relapse" and a["date"] == "2025-06-05"]
    assert [(a["category"], a["current"]) for a in day150] == [
        ("NOT_MET", False),
        ("HEMATOLOGIC_RELAPSE", True),
    ]
    first = body["items"][0]
    assert {"rule", "evidence", "missing", "edition", "software_version", "citation"} <= set(first)
    current = client.get("/api/v1/patients/P1/assessments?current_only=true").json()["items"]
    assert [a["id"] for a in current] == [a["id"] for a in body["items"] if a["current"]]
    assert all(a["current"] for a in current) and len(current) < len(body["items"])
    assert client.get("/api/v1/patients/NOPE/assessments").status_code == 404


def test_alerts_list_and_acknowledge(client: TestClient) -> None:
    (alert,) = client.get("/api/v1/alerts").json()["items"]
    assert alert["code"] == "HEMATOLOGIC_RELAPSE" and alert["patient"] == "P1"
    acked = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"note": "called"})
    assert acked.status_code == 200 and acked.json()["note"] == "called"
    assert acked.json()["acknowledged_by"] == "test-clinician"  # the signed-in user
    assert client.get("/api/v1/alerts").json()["items"] == []
    assert len(client.get("/api/v1/alerts?status=acknowledged").json()["items"]) == 1
    again = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={})
    assert again.status_code == 409
    assert client.post("/api/v1/alerts/999/acknowledge", json={}).status_code == 404
    assert client.get("/api/v1/alerts?status=bogus").status_code == 422
    assert client.get("/api/v1/alerts?status=withdrawn").json()["items"] == []
    (every,) = client.get("/api/v1/alerts?status=all").json()["items"]
    assert every["withdrawn_at"] is None and every["acknowledged_by"] == "test-clinician"


def test_pages_show_alerts_and_assessments(client: TestClient) -> None:
    page = client.get("/alerts").text
    assert 'data-code="HEMATOLOGIC_RELAPSE"' in page and "/patients/P1" in page
    patient = client.get("/patients/P1").text
    assert 'id="assessment-table"' in patient and 'id="patient-alerts"' in patient
    assert 'data-category="HEMATOLOGIC_RELAPSE"' in patient
    assert 'data-category="NOT_MET"' not in patient  # superseded call: history, via the API
    assert "ELN22-" in patient  # the matched rule is shown
