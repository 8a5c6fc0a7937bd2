"""A released myeloma progression day, as the patient reads it (SQLite and PostgreSQL).

Since IMWG progression is stored as a ``progression`` call that supersedes that day's response
call, the results page of a progression day showed no call at all: ``patient_text`` had no
words for the kind. It now says "Progression (to confirm)" after one assessment (and that
another test is needed to be sure), then "Progression" once the next assessment confirms it.
"""

from __future__ import annotations

import html

from fastapi.testclient import TestClient

from assess_case import myeloma_progressing, myeloma_progression_confirmed
from trephine.api.app import create_app
from trephine.services import patient_portal
from trephine.services import patients as patient_service
from trephine.store.database import Database
from trephine.testing.accounts import TEST_PASSWORD, client_as, ensure_user, sign_in


def _results(url: str, procedure: int) -> str:
    with TestClient(create_app(url)) as client:
        sign_in(client, "pat-p1", TEST_PASSWORD)
        page = client.get(f"/my/procedures/{procedure}/results")
    assert page.status_code == 200
    return html.unescape(page.text)


def test_a_released_progression_day_says_progression_to_confirm_then_confirmed(
    database: Database,
) -> None:
    myeloma_progressing(database)
    ensure_user(database, "patient", "pat-p1")
    with database.unit_of_work("admin") as uow:
        patient_portal.link_account(uow, "pat-p1", "P1")
        procedures = [p.id for p in patient_service.patient_record(uow, "P1").procedures]
    pd_day = procedures[2]
    with client_as(create_app(database.url), "clinician") as clinician:
        answer = clinician.post(f"/procedures/{pd_day}/release", follow_redirects=False)
        assert answer.status_code == 303

    page = _results(database.url, pd_day)
    assert "Progression (to confirm)" in page
    assert "One test is not enough to be sure, so you will need another test to check." in page
    assert "about when the next test is" in page
    assert "The illness is growing again after treatment held it back." in page  # glossary
    assert "Two tests in a row" not in page
    assert "The treatment has worked in part" not in page  # the superseded PR is not shown

    myeloma_progression_confirmed(database)
    page = _results(database.url, pd_day)
    assert "Two tests in a row show that the illness is growing again." in page
    assert "Progression (to confirm)" not in page and "not enough to be sure" not in page
    assert "Your doctor will talk with you soon about what to do next." in page
