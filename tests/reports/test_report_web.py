"""The report page, its PDF, issuing a version with the password re-entered, recording the
discussion, and the read-only FHIR API - as each role, audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from trephine.api.app import create_app
from trephine.present import fhir
from trephine.services import audit, signatures
from trephine.testing.accounts import TEST_PASSWORD, client_as
from trephine.testing.report_seed import Seeded


@pytest.fixture
def app(seeded: Seeded) -> Iterator[FastAPI]:
    app = create_app(seeded.database.url)
    yield app
    app.state.database.dispose()


def _issue(client, pid: int, **form: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/procedures/{pid}/report/versions",
        data={"csrf_token": client.headers["X-CSRF-Token"], **form},
        follow_redirects=False,
    )


def test_lab_issues_with_password_clinician_records_discussion(
    app: FastAPI, seeded: Seeded
) -> None:
    pid = seeded.procedure
    with client_as(app, "lab") as lab:
        page = lab.get(f"/procedures/{pid}/report")
        assert page.status_code == 200
        assert "NOT ISSUED" in page.text and "Synthetic Person" in page.text  # lab: identified
        assert 'id="issue-form"' in page.text
        wrong = _issue(lab, pid, status="final", password="not my password")
        assert wrong.status_code == 303 and wrong.headers["location"].endswith("wrong-password")
        assert "nothing was issued" in lab.get(wrong.headers["location"]).text
        done = _issue(
            lab, pid, status="final", password=TEST_PASSWORD, diagnosis="AML with NPM1 mutation"
        )
        assert done.status_code == 303, done.text
        page = lab.get(done.headers["location"])
        assert "Issued version 1." in page.text and "Version 1 (final) — current" in page.text
        assert "Electronically signed by <strong>test-lab</strong>" in page.text
        # An electronic signature like a result's: re-authenticated (the wrong password was
        # audited as a failed signature, not a failed sign-in), stored and shown on the page.
        assert 'id="report-signatures"' in page.text
        assert "meaning: approved final (password re-entered)" in page.text
        with app.state.database.unit_of_work("t") as uow:
            sigs = signatures.signatures_of_report(uow, pid)
            failures = [e.action for e in audit.events(uow, "user", "test-lab")]
        assert [(s.signer, s.meaning, s.method, s.valid) for s in sigs[1]] == [
            ("test-lab", "approved final", "password", True)
        ]
        assert "signature-failed" in failures and "sign-in-failed" not in failures
        pdf = lab.get(f"/procedures/{pid}/report.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"
        # A second final is not on offer and refused.
        refused = _issue(lab, pid, status="final", password=TEST_PASSWORD)
        assert refused.status_code == 409 or refused.status_code == 422, refused.status_code
    with client_as(app, "clinician") as clinician:
        page = clinician.get(f"/procedures/{pid}/report")
        assert 'id="issue-form"' not in page.text and 'id="discuss-form"' in page.text
        answer = clinician.post(
            f"/procedures/{pid}/report/discussions",
            data={
                "csrf_token": clinician.headers["X-CSRF-Token"],
                "discussed_with": "patient and son",
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303
        page = clinician.get(answer.headers["location"])
        assert "discussed by test-clinician with patient and son" in page.text
    with client_as(app, "researcher") as researcher:
        page = researcher.get(f"/procedures/{pid}/report")
        assert page.status_code == 200 and "Synthetic Person" not in page.text
        assert "pseudonymised view" in page.text
        assert _issue(researcher, pid, status="amended", password=TEST_PASSWORD).status_code == 403
    with app.state.database.unit_of_work("check") as uow:
        shown = [e for e in audit.reads(uow, patient="P001") if e.action == "view"]
    whats = {e.detail["what"] for e in shown}
    assert {"marrow report page", "marrow report PDF"} <= whats
    assert {e.detail["view"] for e in shown if e.actor == "test-researcher"} == {"pseudonymised"}


def test_fhir_api_reads_and_searches(app: FastAPI, seeded: Seeded) -> None:
    pid = seeded.procedure
    with client_as(app, "lab") as lab:
        _issue(lab, pid, status="final", password=TEST_PASSWORD)
    with client_as(app, "researcher") as client:
        patient = client.get("/fhir/r4/Patient/P001")
        assert patient.status_code == 200
        assert patient.headers["content-type"].startswith("application/fhir+json")
        assert "name" not in patient.json() and "MRN-0001" not in patient.text
        found = client.get("/fhir/r4/Observation", params={"patient": "P001"}).json()
        assert found["resourceType"] == "Bundle" and found["type"] == "searchset"
        assert found["total"] == len(found["entry"]) > 5
        fhir.validate(found)
        mrd = client.get(
            "/fhir/r4/Observation", params={"patient": "P001", "code": "http://loinc.org|67128-9"}
        ).json()
        assert mrd["total"] == 1
        assert mrd["entry"][0]["resource"]["valueQuantity"]["comparator"] == "<"
        later = client.get(
            "/fhir/r4/Observation", params={"patient": "P001", "date": "gt2024-03-04"}
        ).json()
        assert later["total"] == 0
        reports = client.get("/fhir/r4/DiagnosticReport", params={"patient": "P001"}).json()
        (entry,) = reports["entry"]
        rid = entry["resource"]["id"]
        assert entry["resource"]["subject"]["reference"] == "Patient/P001"
        one = client.get(f"/fhir/r4/DiagnosticReport/{rid}")
        assert one.status_code == 200 and one.json()["status"] == "final"
        obs_id = found["entry"][0]["resource"]["id"]
        assert client.get(f"/fhir/r4/Observation/{obs_id}").json()["id"] == obs_id
        specimens = client.get("/fhir/r4/Specimen", params={"patient": "P001"}).json()
        assert specimens["total"] == 3
        assert client.get("/fhir/r4/Observation/res-999999-x").status_code == 404
        bad = client.get("/fhir/r4/Observation", params={"patient": "P001", "date": "2024"})
        assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
        assert client.get("/fhir/r4/Observation").status_code == 422  # patient is required
    with client_as(app, "clinician") as clinician:
        patient = clinician.get("/fhir/r4/Patient/P001").json()
        assert patient["name"] == [{"text": "Synthetic Person"}]
    with app.state.database.unit_of_work("check") as uow:
        whats = {e.detail.get("what") for e in audit.reads(uow, patient="P001")}
    assert {"FHIR Observation search", "FHIR Patient", "FHIR DiagnosticReport"} <= whats
