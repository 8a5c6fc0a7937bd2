"""Research pages through the app (no browser): who sees record ids and who pseudonyms, reads
and downloads audited, an identified export refused to a researcher, the zip holds the export."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from trephine.api.app import create_app
from trephine.demo.study import STUDY, ensure_demo_study
from trephine.domain.cohort import CohortDefinition
from trephine.services import cohorts
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.store.tables import AuditEventRow
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database

RECORD_ID = re.compile(r"DEMO-\d{4}")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    mp = pytest.MonkeyPatch()
    mp.setenv("TREPHINE_EXPORT_KEY", "a-research-pages-key-0123456789")
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path_factory.mktemp('research') / 'r.db'}"
    load_demo_database(url, 20, seed=7)
    db = Database(url)
    with db.unit_of_work("setup") as uow:
        ensure_demo_study(uow)
        cohorts.define(uow, "ind", CohortDefinition(study=STUDY))
    db.dispose()
    app = create_app(url)
    yield app
    app.state.database.dispose()
    mp.undo()
    get_settings.cache_clear()


def _events(app: FastAPI, action: str) -> list[AuditEventRow]:
    with app.state.database.unit_of_work("t") as uow:
        return list(
            uow.session.scalars(select(AuditEventRow).where(AuditEventRow.action == action))
        )


def test_researcher_sees_pseudonyms_clinician_record_ids(app: FastAPI) -> None:
    with client_as(app, "researcher") as c:
        page = c.get("/research/cohorts/ind?by=arm")
        study = c.get(f"/research/studies/{STUDY}")
    assert page.status_code == 200 and study.status_code == 200
    for r in (page, study):
        assert not RECORD_ID.search(r.text)
        assert re.search(r"P[0-9a-f]{16}", r.text)
    assert "7-plus-3" in page.text  # grouped by arm
    with client_as(app, "clinician") as c:
        page = c.get("/research/cohorts/ind")
    assert RECORD_ID.search(page.text)
    views = [
        e.detail.get("view") for e in _events(app, "query") if "page" in e.detail.get("what", "")
    ]
    assert "pseudonymised" in views and "identified" in views


def test_export_download_is_audited_and_identified_only_with_identity(app: FastAPI) -> None:
    with client_as(app, "researcher") as c:
        refused = c.post(
            "/research/cohorts/ind/export", data={"format": "csv", "deidentify": "none"}
        )
        assert refused.status_code == 403
        form = c.get("/research/cohorts/ind/export")
        assert 'value="none"' not in form.text
        got = c.post(
            "/research/cohorts/ind/export", data={"format": "redcap", "deidentify": "safe-harbor"}
        )
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
    assert "redcap_records.csv" in names and "redcap_data_dictionary.csv" in names
    blob = b"".join(zipfile.ZipFile(io.BytesIO(got.content)).read(n) for n in names)
    assert not RECORD_ID.search(blob.decode())
    exports = _events(app, "export")
    assert exports and exports[-1].detail["format"] == "redcap"
    assert exports[-1].detail["level"] == "safe-harbor"
    assert set(exports[-1].detail["files"]) == set(names)
