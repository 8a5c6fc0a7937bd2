"""The procedures JSON API (issue 11): a clinician plans, fills the checklist (apixaban,
platelets 18 → REVIEW_REQUIRED with both reasons), records consent, the procedure and a
complication; the record shows every specimen's §8 adequacy call; the rates are those of
``trephine procedures report --json``. Reads are audited, the consent giver's name only reaches
roles with identity:read, refusals have the one error shape. SQLite and PostgreSQL, one database
per backend for the module."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from trephine.api.app import create_app
from trephine.cli.main import app as cli
from trephine.domain import Patient, PatientIdentity, Sex, Specimen, SpecimenType
from trephine.domain.specimen import Hemodilution
from trephine.services import audit, patients, procedures
from trephine.store.database import Database
from trephine.testing.accounts import client_as

PLAN = {
    "patient": "API-P1",
    "planned_for": "2026-12-03T09:00:00+00:00",
    "indication": "suspected leukaemia",
    "operator": "dr.api",
}
CHECKLIST = {
    "medications": [{"name": "apixaban", "last_dose_at": "2026-12-02T20:00:00Z"}],
    "platelets": "18",
    "fasting": "light meal",
}
CONSENT = {
    "consented_at": "2026-12-03T08:30:00+00:00",
    "leaflet_version": "2026-1",
    "risks_discussed": ["pain", "bruising or bleeding", "infection"],
    "given_by": "parent or guardian",
    "giver_name": "Synthetic Relative",
}


class Site(NamedTuple):
    url: str
    app: FastAPI
    database: Database


@pytest.fixture(scope="module")
def site(module_database_url: str) -> Iterator[Site]:
    database = Database(module_database_url)
    database.upgrade()
    with database.unit_of_work("seed") as uow:
        for n in (1, 2):
            patients.register_patient(
                uow,
                Patient(f"API-P{n}", Sex.FEMALE, 1961),
                PatientIdentity(f"Synthetic Person {n}", f"MRN-API-{n}", dt.date(1961, 5, 6)),
            )
    app = create_app(module_database_url)
    yield Site(module_database_url, app, database)
    app.state.database.dispose()
    database.dispose()


@pytest.fixture(scope="module")
def clients(site: Site) -> Iterator[dict[str, TestClient]]:
    """One signed-in client per role for the module (signing in costs a password hash)."""
    opened = {role: client_as(site.app, role) for role in ("clinician", "lab", "researcher")}
    yield opened
    for client in opened.values():
        client.close()


def _reads(site: Site) -> list[audit.AuditEvent]:
    with site.database.unit_of_work("t") as uow:
        return audit.reads(uow)


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "field", "allowed"}
    return dict(error)


@pytest.fixture(scope="module")
def done_plan(site: Site, clients: dict[str, TestClient]) -> dict[str, Any]:
    """The clinician's whole path through the API, checked step by step; the done plan."""
    c = clients["clinician"]
    created = c.post("/api/v1/procedure-plans", json=PLAN)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["status"] == "planned" and plan["checklist"] is None
    base = f"/api/v1/procedure-plans/{plan['id']}"

    checked = c.put(f"{base}/checklist", json=CHECKLIST)
    assert checked.status_code == 200, checked.text
    safety = checked.json()["checklist"]["safety"]
    assert safety["decision"] == "REVIEW_REQUIRED"
    assert [r["code"] for r in safety["reasons"]] == ["PLATELETS_LOW", "ANTICOAGULANT"]
    assert checked.json()["checklist"]["medications"][0]["class"] == "anticoagulant"

    # No consent, no emergency reason: refused, naming consent.
    error = _error(c.post(f"{base}/done", json={"performed_at": "2026-12-03T09:10Z"}), 422)
    assert error["field"] == "consent"

    consented = c.post(f"{base}/consent", json=CONSENT)
    assert consented.status_code == 200, consented.text
    assert consented.json()["consent"]["taken_by"] == "test-clinician"
    assert consented.json()["consent"]["giver_name"] == "Synthetic Relative"
    again = c.post(f"{base}/consent", json={**CONSENT, "leaflet_version": "2026-2"})
    assert _error(again, 409)["code"] == "conflict"

    done = c.post(
        f"{base}/done",
        json={
            "performed_at": "2026-12-03T10:10:00+01:00",  # stored in UTC
            "needle": "Jamshidi 11G",
            "duration_min": 15,
            "side": "right",
        },
    )
    assert done.status_code == 200, done.text
    record = done.json()
    assert record["status"] == "done" and record["procedure_id"] is not None
    assert record["performed_at"] == "2026-12-03T09:10:00+00:00"
    return dict(record)


def test_clinician_plans_checks_consents_and_records_a_procedure(
    site: Site, clients: dict[str, TestClient], done_plan: dict[str, Any]
) -> None:
    proc = done_plan["procedure_id"]
    at = dt.datetime(2026, 12, 3, 9, 10, tzinfo=dt.UTC)
    with site.database.unit_of_work("lab") as uow:
        procedures.add_specimen(
            uow,
            "API-P1",
            Specimen(
                "API-A1",
                SpecimenType.ASPIRATE,
                at,
                first_pull=True,
                spicules=True,
                hemodilution=Hemodilution.NONE,
            ),
            proc,
        )
        procedures.add_specimen(
            uow,
            "API-P1",
            Specimen("API-C1", SpecimenType.TREPHINE_CORE, at, core_length_mm=Decimal("9")),
            proc,
        )
    c = clients["clinician"]
    added = c.post(
        f"/api/v1/procedures/{proc}/complications",
        json={
            "kind": "hematoma",
            "severity": "mild",
            "onset_at": "2026-12-03T13:00:00Z",
            "outcome": "resolved",
        },
    )
    assert added.status_code == 201, added.text
    assert added.json()["serious"] is False and added.json()["category"]
    early = c.post(
        f"/api/v1/procedures/{proc}/complications",
        json={"kind": "hematoma", "severity": "mild", "onset_at": "2026-12-03T08:00:00Z"},
    )
    assert _error(early, 422)["field"] == "onset_at"

    shown = c.get(f"/api/v1/procedures/{proc}")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["plan_id"] == done_plan["id"] and body["needle"] == "Jamshidi 11G"
    assert [x["kind"] for x in body["complications"]] == ["hematoma"]
    adequacy = {s["accession"]: s["adequacy"] for s in body["specimens"]}
    assert adequacy["API-A1"]["category"] == "ADEQUATE" and adequacy["API-A1"]["adequate"]
    assert adequacy["API-C1"]["category"] != "ADEQUATE"  # 9 mm: shorter than ICSH's
    assert any("mm" in r for r in adequacy["API-C1"]["reasons"])


def test_the_rates_are_those_of_the_command_line(
    site: Site,
    clients: dict[str, TestClient],
    done_plan: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from trephine.settings import get_settings

    runner = CliRunner()
    monkeypatch.setenv("TREPHINE_USER", "test-researcher")  # the account of clients["researcher"]
    get_settings.cache_clear()
    c = clients["researcher"]
    for by in (None, "operator", "needle"):
        got = c.get("/api/v1/procedures/report", params={} if by is None else {"by": by})
        assert got.status_code == 200, got.text
        args = ["procedures", "report", "--json", "--database-url", site.url]
        printed = runner.invoke(cli, args + ([] if by is None else ["--by", by]))
        assert printed.exit_code == 0, printed.output
        assert got.json() == json.loads(printed.stdout)
    groups = c.get("/api/v1/procedures/report?by=needle").json()["groups"]
    assert any(g["group"] == "Jamshidi 11G" for g in groups)
    assert _error(c.get("/api/v1/procedures/report?by=colour"), 422)["field"] == "by"
    monkeypatch.delenv("TREPHINE_USER")
    get_settings.cache_clear()


def test_reads_are_audited_and_the_giver_name_needs_identity(
    site: Site, clients: dict[str, TestClient], done_plan: dict[str, Any]
) -> None:
    before = len(_reads(site))
    plan, proc = done_plan["id"], done_plan["procedure_id"]
    c = clients["researcher"]
    seen = c.get(f"/api/v1/procedure-plans/{plan}").json()
    assert (
        seen["consent"]["giver_name"] is None
        and seen["consent"]["given_by"] == "parent or guardian"
    )
    listed = c.get("/api/v1/procedure-plans", params={"status": "done"}).json()["items"]
    assert [p["id"] for p in listed] == [plan]
    assert all(p["consent"]["giver_name"] is None for p in listed)
    assert c.get(f"/api/v1/procedures/{proc}").status_code == 200
    assert "Synthetic Relative" not in c.get("/api/v1/procedure-plans").text
    c = clients["lab"]
    shown = c.get(f"/api/v1/procedure-plans/{plan}").json()
    assert shown["consent"]["giver_name"] == "Synthetic Relative"
    events = _reads(site)[before:]
    assert [(e.action, e.detail["what"], e.detail["role"]) for e in events] == [
        ("view", "procedure plan", "researcher"),
        ("query", "procedure list", "researcher"),
        ("view", "procedure", "researcher"),
        ("query", "procedure list", "researcher"),
        ("view", "procedure plan", "lab"),
    ]


def test_refusals_have_the_one_error_shape(
    clients: dict[str, TestClient], done_plan: dict[str, Any]
) -> None:
    plan = done_plan["id"]
    c = clients["researcher"]
    assert _error(c.post("/api/v1/procedure-plans", json=PLAN), 403)["code"] == "forbidden"
    unknown = _error(c.get("/api/v1/procedure-plans?colour=red"), 422)
    assert unknown["field"] == "query" and "status" in unknown["allowed"]
    assert _error(c.get("/api/v1/procedure-plans/999999"), 404)["code"] == "not_found"
    assert _error(c.get("/api/v1/procedures/999999"), 404)["code"] == "not_found"
    assert _error(c.get("/api/v1/procedure-plans?status=later"), 422)["field"] == "status"
    c = clients["lab"]
    refused = c.put(f"/api/v1/procedure-plans/{plan}/checklist", json=CHECKLIST)
    assert _error(refused, 403)["code"] == "forbidden"
    c = clients["clinician"]
    naive = {**PLAN, "planned_for": "2026-12-03T09:00"}
    assert _error(c.post("/api/v1/procedure-plans", json=naive), 422)["field"] == "planned_for"
    wrong = {**PLAN, "indication": "curiosity"}
    error = _error(c.post("/api/v1/procedure-plans", json=wrong), 422)
    assert error["field"] == "indication" and "suspected leukaemia" in error["allowed"]
    extra = {**PLAN, "colour": "red"}
    assert _error(c.post("/api/v1/procedure-plans", json=extra), 422)["field"] == "colour"
    nobody = {**PLAN, "patient": "NO-SUCH"}
    assert _error(c.post("/api/v1/procedure-plans", json=nobody), 404)["code"] == "not_found"
    # A done plan cannot be cancelled.
    cancel = c.post(f"/api/v1/procedure-plans/{plan}/cancel", json={"reason": "late"})
    assert cancel.status_code in (409, 422), cancel.text
    assert cancel.json()["error"]["code"] in ("illegal_transition", "conflict")
    sedated = {"sedation": "conscious sedation"}
    fresh = c.post("/api/v1/procedure-plans", json={**PLAN, "patient": "API-P2"}).json()
    no_escort = c.put(f"/api/v1/procedure-plans/{fresh['id']}/checklist", json=sedated)
    assert _error(no_escort, 422)["field"] == "escort"


def test_the_openapi_document_describes_the_procedure_routes(
    clients: dict[str, TestClient],
) -> None:
    c = clients["researcher"]
    paths = c.get("/openapi.json").json()["paths"]
    for path, method in (
        ("/api/v1/procedure-plans", "get"),
        ("/api/v1/procedure-plans", "post"),
        ("/api/v1/procedure-plans/{plan_id}", "get"),
        ("/api/v1/procedure-plans/{plan_id}/checklist", "put"),
        ("/api/v1/procedure-plans/{plan_id}/consent", "post"),
        ("/api/v1/procedure-plans/{plan_id}/done", "post"),
        ("/api/v1/procedure-plans/{plan_id}/cancel", "post"),
        ("/api/v1/procedures/report", "get"),
        ("/api/v1/procedures/{procedure_id}", "get"),
        ("/api/v1/procedures/{procedure_id}/complications", "post"),
    ):
        operation = paths[path][method]
        assert operation["tags"] == ["procedures"], path
        assert "422" in operation["responses"], path
