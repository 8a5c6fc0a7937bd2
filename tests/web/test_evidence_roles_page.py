"""End to end: a demo patient's stored ELN 2022 landmark call ("not yet at the response
landmark": a rule of ``not (…)``) reads on the patient page as what makes the call, not as
comparisons that 'do not meet' it."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from trephine.api.app import create_app
from trephine.services.assessments import assess_all
from trephine.store.database import Database
from trephine.store.tables import AssessmentRow, PatientRow
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database


@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TestClient]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('roles') / 'demo.db'}"
    load_demo_database(url, 20)
    database = Database(url)
    try:
        assess_all(database, "demo-assess")
    finally:
        database.dispose()
    with client_as(create_app(url), "clinician") as client:
        yield url, client


def _stored_call(url: str, rule: str) -> tuple[str, list[dict[str, Any]]]:
    database = Database(url)
    try:
        with database.unit_of_work("test") as uow:
            row = uow.session.execute(
                select(PatientRow.external_id, AssessmentRow.evidence)
                .join(PatientRow, PatientRow.id == AssessmentRow.patient_id)
                .where(AssessmentRow.matched_rule == rule)
                .order_by(AssessmentRow.id)
                .limit(1)
            ).one()
    finally:
        database.dispose()
    evidence = row[1] if isinstance(row[1], list) else json.loads(row[1])
    return row[0], evidence


def test_the_page_words_the_stored_landmark_call_by_what_each_comparison_did(
    assessed: tuple[str, TestClient],
) -> None:
    url, client = assessed
    patient, evidence = _stored_call(url, "ELN22-LM-BEFORE")
    courses = next(e for e in evidence if e["input"] == "courses_completed")
    # Stored: the comparison as made (one course, not at least two) and what it did.
    assert courses["outcome"] is False and courses["role"] == "supports"
    page = html.unescape(client.get(f"/patients/{patient}").text)
    assert "meets the before landmark criterion" in page
    assert "does not meet the before landmark criterion" not in page
    assert "not needed: another criterion decided the before landmark call" in page


def test_the_page_words_an_either_or_branch_that_did_not_count(
    assessed: tuple[str, TestClient],
) -> None:
    """The anaemia work-up calls marrow findings when any one finding is present: the findings
    that are absent were branches the call did not need."""
    url, client = assessed
    patient, evidence = _stored_call(url, "ANAEMIA-FINDINGS")
    assert any(e.get("role") == "not_needed" for e in evidence)
    page = html.unescape(client.get(f"/patients/{patient}").text)
    assert "not needed: another criterion decided the marrow findings call" in page
    assert "does not meet the marrow findings criterion" not in page
