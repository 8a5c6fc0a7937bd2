"""Pages that change things: alert acknowledgement/withdrawal and import in the browser, each
only for the role that may, with the session's CSRF token, recorded under the signed-in user."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.services import alerts, open_database
from trephine.services.assessments import assess_all
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "templates" / "example"


class App(NamedTuple):
    url: str
    app: FastAPI


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    url = f"sqlite:///{tmp_path_factory.mktemp('actions') / 'demo.db'}"
    load_demo_database(url, 12, seed=3)
    db = open_database(url)
    assess_all(db, "test-assess")
    db.dispose()
    yield App(url, create_app(url))


def _open_alert_ids(url: str) -> list[int]:
    db = open_database(url)
    with db.unit_of_work("t") as uow:
        found = [a.id for a in alerts.list_alerts(uow, open_only=True)]
    db.dispose()
    return found


def _alert(url: str, alert_id: int) -> alerts.StoredAlert:
    db = open_database(url)
    with db.unit_of_work("t") as uow:
        found = next(a for a in alerts.list_alerts(uow) if a.id == alert_id)
    db.dispose()
    return found


def _zip(folder: Path, change: tuple[str, str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for csv in sorted(folder.glob("*.csv")):
            text = csv.read_text()
            if change is not None and csv.name == change[0]:
                text = text.replace(change[1], change[2], 1)
            z.writestr(f"template/{csv.name}", text)
    return buffer.getvalue()


def test_clinician_acknowledges_and_withdraws_with_a_note(site: App) -> None:
    first, second, *_ = _open_alert_ids(site.url)
    with client_as(site.app, "clinician") as c:
        page = c.get("/alerts")
        assert f'data-alert-id="{first}"' in page.text and "Acknowledge" in page.text
        token = c.headers["X-CSRF-Token"]
        del c.headers["X-CSRF-Token"]  # as a browser form: the token travels in the form
        r = c.post(
            f"/alerts/{first}/action",
            data={"csrf_token": token, "action": "acknowledge", "note": "discussed at MDT"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/alerts?done=acknowledged"
        assert "Alert acknowledged" in c.get(r.headers["location"]).text
        shown = c.get("/alerts", params={"status": "acknowledged"})
        assert shown.status_code == 200 and "acknowledged by test-clinician" in shown.text
        # Withdrawing needs a note saying why.
        empty = c.post(f"/alerts/{second}/action", data={"csrf_token": token, "action": "withdraw"})
        assert empty.status_code == 422 and "note" in empty.text
        c.post(
            f"/alerts/{second}/action",
            data={"csrf_token": token, "action": "withdraw", "note": "sample mislabelled"},
        )
    acked, withdrawn = _alert(site.url, first), _alert(site.url, second)
    assert acked.acknowledged_by == "test-clinician"
    assert acked.acknowledgement_note == "discussed at MDT"
    assert withdrawn.withdrawn_reason == "sample mislabelled"
    assert withdrawn.withdrawn_by == "test-clinician"


def test_alert_forms_refuse_without_csrf_or_the_permission(site: App) -> None:
    target = _open_alert_ids(site.url)[0]
    with client_as(site.app, "clinician") as c:
        del c.headers["X-CSRF-Token"]
        r = c.post(f"/alerts/{target}/action", data={"action": "acknowledge"})
        assert r.status_code == 403
        forged = c.post(
            f"/alerts/{target}/action", data={"action": "acknowledge", "csrf_token": "x" * 40}
        )
        assert forged.status_code == 403
    with client_as(site.app, "researcher") as c:
        assert "Acknowledge" not in c.get("/alerts").text
        assert c.post(f"/alerts/{target}/action", data={"action": "acknowledge"}).status_code == 403
    assert _alert(site.url, target).open


def _check(c: TestClient, name: str, data: bytes) -> tuple[int, str]:
    token = c.headers["X-CSRF-Token"]
    r = c.post(
        "/import/check",
        data={"csrf_token": token},
        files={"file": (name, data, "application/zip")},
    )
    return r.status_code, r.text


def test_lab_imports_in_the_browser_error_first_then_a_good_file(site: App) -> None:
    with client_as(site.app, "lab") as c:
        assert c.get("/import").status_code == 200
        status, html = _check(
            c, "clinic.zip", _zip(EXAMPLE, ("patients.csv", "female", "feminine"))
        )
        assert status == 422
        errors = re.findall(
            r"<li>(.*?)</li>", html.split('id="import-errors"')[1].split("</ol>")[0]
        )
        assert errors and any("patients.csv" in e and "row" in e and "sex" in e for e in errors)
        assert "/tmp" not in html and "trephine-upload" not in html  # no server paths
        status, html = _check(c, "clinic.zip", _zip(EXAMPLE))
        assert status == 200 and "ready to import" in html
        upload = re.search(r'name="upload" value="([^"]+)"', html)
        assert upload is not None
        done = c.post(
            "/import/confirm",
            data={"csrf_token": c.headers["X-CSRF-Token"], "upload": upload.group(1)},
        )
        assert done.status_code == 200 and 'id="import-done"' in done.text
        # The same upload cannot be confirmed twice.
        again = c.post(
            "/import/confirm",
            data={"csrf_token": c.headers["X-CSRF-Token"], "upload": upload.group(1)},
        )
        assert again.status_code == 422
    with client_as(site.app, "researcher") as c:
        assert c.get("/import").status_code == 403
    db = open_database(site.url)
    with db.unit_of_work("t") as uow:
        from trephine.services import patients

        assert patients.patient_record(uow, "EX-001").patient.external_id == "EX-001"
    db.dispose()


def test_import_refuses_other_files_with_a_clear_message(site: App) -> None:
    with client_as(site.app, "lab") as c:
        status, html = _check(c, "notes.txt", b"hello")
        assert status == 422 and ".xlsx workbook or a .zip" in html
        status, html = _check(c, "broken.zip", b"PK not really")
        assert status == 422 and "not a readable zip" in html


def test_admin_pages_list_users_sessions_and_audit_and_revoke_a_session(site: App) -> None:
    with client_as(site.app, "clinician") as clinician, client_as(site.app, "admin") as admin:
        users = admin.get("/admin/users")
        assert users.status_code == 200 and 'data-user="test-clinician"' in users.text
        sessions = admin.get("/admin/sessions")
        ids = re.findall(r'<tr data-session-id="(\d+)"><td>test-clinician</td>', sessions.text)
        assert ids
        audit_page = admin.get("/admin/audit", params={"actor": "test-clinician"})
        assert audit_page.status_code == 200 and "sign-in" in audit_page.text
        assert clinician.get("/").status_code == 200
        for session_id in ids:
            admin.post(f"/admin/sessions/{session_id}/revoke")
        # The revoked session no longer opens pages.
        assert clinician.get("/", follow_redirects=False).status_code == 303
        for page in ("/admin/users", "/admin/sessions", "/admin/audit"):
            assert clinician.get(page, follow_redirects=False).status_code in (303, 401, 403)
    with client_as(site.app, "researcher") as researcher:
        assert researcher.get("/admin/audit").status_code == 403
