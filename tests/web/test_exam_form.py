"""The clinical-examination form (web/exams.py) on SQLite and PostgreSQL: a clinician records an
examination in the browser's form → ``assess`` → the stored iwCLL 2018 call reads it exactly as
it reads an imported one; an amendment adds a version (the old one stays, the table refuses
UPDATE) and changes the call; bad input is refused on its field with the allowed values; the lab
role, a missing CSRF token and a researcher are refused; every write is audited."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from assess.test_cll_response import MARROW, PID, _site
from trephine.api.app import create_app
from trephine.api.deps import CSRF_FIELD
from trephine.importers.clinical import import_path
from trephine.services import audit, exams
from trephine.services.assessments import assess_patient, patient_assessments
from trephine.store.database import Database
from trephine.testing.accounts import client_as, token_for

#: Every element of the examination at its iwCLL 2018 CR boundary (node < 1.5 cm, spleen < 13 cm).
FORM = {
    "examined_on": MARROW.isoformat(),
    "largest_node": "14",
    "largest_node__unit": "mm",
    "liver_spleen_normal": "yes",
    "spleen_length": "12.9",
    "spleen_length__unit": "",
    "constitutional_symptoms": "no",
    "method": "physical examination and CT",
}


@pytest.fixture
def app(database: Database, tmp_path: Path) -> Iterator[FastAPI]:
    """A crafted CLL patient imported with everything a CR needs except the examination."""
    import_path(database, _site(None).write(tmp_path / "import"), "importer")
    app = create_app(database.url)
    yield app
    app.state.database.dispose()


def _token(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the form carries the session's CSRF token"
    return found.group(1)


def _post(client: TestClient, path: str, form: dict[str, str], token: str) -> Any:
    """Post as the browser does: the token from the page's form, no CSRF header."""
    client.headers.pop("X-CSRF-Token", None)
    return client.post(path, data={**form, CSRF_FIELD: token}, follow_redirects=False)


def _response(database: Database) -> tuple[str, list[str], set[str]]:
    with database.unit_of_work("test-clinician") as uow:
        assess_patient(uow, PID)
    with database.unit_of_work("reader") as uow:
        stored = [s for s in patient_assessments(uow, PID) if s.call_kind == "response"]
    latest = max(stored, key=lambda s: s.id)
    assert latest.assessment.assessed_on == MARROW
    names = {e["input"] for e in latest.assessment.evidence}
    return latest.assessment.category, list(latest.assessment.missing_inputs), names


def test_an_examination_entered_in_the_form_is_assessed_and_amended(
    app: FastAPI, database: Database
) -> None:
    before, missing, _ = _response(database)
    assert before == "NOT_EVALUABLE" and "largest_node_cm" in missing
    page = f"/patients/{PID}/exams"
    with client_as(app, "clinician") as clinician:
        token = _token(clinician, page)
        done = _post(clinician, page, FORM, token)
        assert done.status_code == 303, done.text
        shown = clinician.get(done.headers["location"]).text
        # Shown at the precision typed (14 mm is 1.4 cm, 12.9 cm stays 12.9 cm).
        assert "1.4 cm" in shown and "12.9 cm" in shown and "Examination recorded" in shown
        category, missing, evidence = _response(database)
        assert category == "CR" and missing == []
        assert {"largest_node_cm", "spleen_cm", "constitutional_symptoms"} <= evidence

        with database.unit_of_work("reader") as uow:
            (first,) = exams.patient_exams(uow, PID)
        amend_page = f"{page}?amend={first.id}"
        token = _token(clinician, amend_page)
        changed = {**FORM, "largest_node": "1.5", "largest_node__unit": "cm"}
        # An amendment needs a reason: refused on its field, nothing written.
        refused = _post(clinician, f"/exams/{first.id}/amend", changed, token)
        assert refused.status_code == 422 and 'id="err-reason"' in refused.text
        done = _post(
            clinician, f"/exams/{first.id}/amend", {**changed, "reason": "node re-measured"}, token
        )
        assert done.status_code == 303, done.text
    with database.unit_of_work("reader") as uow:
        versions = exams.patient_exams(uow, PID)
        events = audit.events_for(uow, exams.ENTITY, [v.id for v in versions])
    assert [(v.version, v.current) for v in versions] == [(2, True), (1, False)]
    assert versions[0].amendment_reason == "node re-measured"
    assert sorted((e.action, e.actor) for e in events) == [
        ("amend", "test-clinician"),
        ("record", "test-clinician"),
    ]
    assert _response(database)[0] == "PR"  # a node of 1.5 cm: not CR under iwCLL 2018
    # Amended, never edited: the table itself refuses a change in place.
    with (
        pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
        database.engine.begin() as c,
    ):
        c.execute(text("UPDATE clinical_exam SET version = 9"))


#: A bad input, the field it is refused on and what the message says is allowed.
BAD = [
    ({"largest_node__unit": "inch"}, "largest_node", "cm, mm"),
    ({"spleen_length": "51", "spleen_length__unit": "cm"}, "spleen_length", "0–50 cm"),
    ({"liver_spleen_normal": "maybe"}, "liver_spleen_normal", "yes"),
    ({"examined_on": "03/12/2024"}, "examined_on", "YYYY-MM-DD"),
    ({"examined_on": "2999-01-01"}, "examined_on", "on or before"),
    ({"method": "CT\x00"}, "method", "control characters"),
]


def test_bad_input_is_refused_on_its_field_naming_what_is_allowed(
    app: FastAPI, database: Database
) -> None:
    page = f"/patients/{PID}/exams"
    with client_as(app, "clinician") as clinician:
        token = _token(clinician, page)
        for change, field, allowed in BAD:
            refused = _post(clinician, page, {**FORM, **change}, token)
            assert refused.status_code == 422, change
            body = html.unescape(refused.text)
            assert f'href="#f-{field}"' in refused.text and allowed in body, (change, body)
            assert 'aria-invalid="true"' in refused.text
    with database.unit_of_work("reader") as uow:
        assert exams.patient_exams(uow, PID) == []


def test_only_clinicians_with_the_session_token_record_an_examination(app: FastAPI) -> None:
    page = f"/patients/{PID}/exams"
    with client_as(app, "clinician") as clinician:
        _token(clinician, page)
        assert _post(clinician, page, FORM, "forged").status_code == 403
    for role in ("lab", "researcher"):
        with client_as(app, role) as other:
            token = _token(other, page)  # records:read: the page, without the form
            assert 'id="exam-form"' not in other.get(page).text
            assert _post(other, page, FORM, token).status_code == 403


def test_the_api_records_amends_and_lists_with_the_same_rules(
    app: FastAPI, database: Database
) -> None:
    """``/api/v1/patients/{id}/exams`` and ``/api/v1/exams/{id}/amend``: the web form's rules and
    permission, JSON in and out (exact decimal strings in cm)."""
    clinician = {"Authorization": f"Bearer {token_for(database, 'clinician')}"}
    lab = {"Authorization": f"Bearer {token_for(database, 'lab')}"}
    body: dict[str, Any] = {
        "examined_on": MARROW.isoformat(),
        "largest_node": "14",
        "largest_node_unit": "mm",
        "liver_spleen_normal": True,
        "constitutional_symptoms": False,
    }
    url = f"/api/v1/patients/{PID}/exams"
    with TestClient(app) as client:
        assert client.post(url, json=body, headers=lab).status_code == 403
        for bad, allowed in (
            ({"largest_node_unit": "inch"}, "cm, mm"),
            ({"method": "CT\x00"}, "control characters"),
            ({"examined_on": "2999-01-01"}, "on or before"),
        ):
            refused = client.post(url, json={**body, **bad}, headers=clinician)
            assert refused.status_code == 422, refused.text
            assert allowed in refused.json()["error"]["message"]
        made = client.post(url, json=body, headers=clinician)
        assert made.status_code == 201, made.text
        first = made.json()
        assert first["findings"]["largest_node"]["value"] == "1.4"
        assert first["text"].startswith("largest lymph node 1.4 cm")
        amended = client.post(
            f"/api/v1/exams/{first['id']}/amend",
            json={  # an amendment keeps the date: examined_on is not a field of it
                **{k: v for k, v in body.items() if k != "examined_on"},
                "largest_node": "1.5",
                "largest_node_unit": "cm",
                "reason": "CT",
            },
            headers=clinician,
        )
        assert amended.status_code == 200, amended.text
        listed = client.get(url, headers=lab).json()["items"]
    assert [(e["version"], e["current"]) for e in listed] == [(2, True), (1, False)]
    assert listed[0]["amendment_reason"] == "CT" and listed[0]["recorded_by"] == "test-clinician"
