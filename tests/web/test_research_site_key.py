"""Research pages on a database without ``TREPHINE_EXPORT_KEY`` (the demo as `scripts/run-demo`
makes it): the researcher's study, cohort and paired pages answer 200 with pseudonyms keyed on
the database's own secret (was a 422 naming the setting), the same pseudonyms from a second app
instance, and the secret never in a page, an audit event or a log line. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from trephine.api.app import create_app
from trephine.domain import Patient, PatientIdentity, Sex
from trephine.domain.cohort import CohortDefinition
from trephine.domain.patient import Classification, Diagnosis, Disease
from trephine.domain.study import Anchor, Enrolment, Visit
from trephine.present.deidentify import Deidentifier, Level
from trephine.services import cohorts, patients, studies
from trephine.services.site_secret import site_secret
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.store.tables import AuditEventRow
from trephine.testing.accounts import client_as

START = dt.date(2024, 1, 10)
PSEUDONYM = re.compile(r"P[0-9a-f]{16}")


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TREPHINE_EXPORT_KEY", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _seed(database: Database) -> None:
    with database.unit_of_work("seed") as uow:
        for pid in ("K-1", "K-2"):
            patients.register_patient(
                uow,
                Patient(pid, Sex.FEMALE, 1970),
                PatientIdentity(f"Name Of {pid}", f"MRN-{pid}", dt.date(1970, 2, 3)),
            )
            patients.add_diagnosis(uow, pid, Diagnosis(Disease.AML, START, Classification.WHO_5))
        studies.define(uow, "ST-K", "A study")
        studies.add_arm(uow, "ST-K", "A")
        studies.set_visit(uow, "ST-K", Visit("screening", "Screening", Anchor.ENROLMENT, 0, 3))
        studies.set_visit(uow, "ST-K", Visit("day_30", "Day 30", Anchor.ENROLMENT, 30, 7))
        for pid in ("K-1", "K-2"):
            studies.enrol(uow, "ST-K", Enrolment(pid, "A", START, True, START))
        cohorts.define(uow, "k", CohortDefinition(study="ST-K"))


def test_researcher_pages_without_export_key_show_the_databases_pseudonyms(
    database: Database, no_key: None, caplog: pytest.LogCaptureFixture
) -> None:
    _seed(database)
    caplog.set_level(logging.DEBUG)  # SQL statements too: the secret's INSERT is among them
    first, second = create_app(database.url), create_app(database.url)
    try:
        with client_as(first, "researcher") as c:
            study = c.get("/research/studies/ST-K")
            cohort = c.get("/research/cohorts/k")
            paired = c.get("/research/cohorts/k/paired")
        with client_as(second, "researcher") as c:
            again = c.get("/research/studies/ST-K")
    finally:
        first.state.database.dispose()
        second.state.database.dispose()
    for page in (study, cohort, paired, again):
        assert page.status_code == 200, page.text[:400]
        assert "K-1" not in page.text and "K-2" not in page.text
    key = site_secret(database)
    expected = {Deidentifier(Level.SAFE_HARBOR, key).patient(p) for p in ("K-1", "K-2")}
    assert set(PSEUDONYM.findall(study.text)) == expected
    assert set(PSEUDONYM.findall(again.text)) == expected  # another app instance, same ones
    assert expected <= set(PSEUDONYM.findall(cohort.text))
    with database.unit_of_work("t") as uow:
        events = list(uow.session.scalars(select(AuditEventRow)))
    trail = json.dumps([(e.action, e.entity, e.entity_id, e.detail) for e in events])
    assert any(e.detail.get("view") == "pseudonymised" for e in events)
    shown = "\n".join([trail, caplog.text, study.text, cohort.text, paired.text])
    for form in (key.hex(), base64.b64encode(key).decode(), repr(key)[2:-1]):
        assert form not in shown
