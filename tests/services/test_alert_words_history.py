"""A stored alert is history: new words for a rule's inputs (:mod:`trephine.criteria.input_words`)
neither rewrite its message nor raise it a second time when ``trephine assess`` runs again (an
alert is the same alert by patient, date, code and assessor, not by its message), on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from assess.test_issue13_acceptance import Site, _load
from trephine.cli.main import app
from trephine.criteria import input_words
from trephine.criteria.input_words import INPUT_WORDS, InputWords
from trephine.services.alerts import list_alerts
from trephine.store.database import Database
from trephine.store.tables import AlertRow, AuditEventRow

D = dt.date

#: The words an earlier version quoted ALL MRD with in its alert messages.
OLD = "MRD detected: yes; MRD quantifiable: yes; MRD 0.02 % — at least 0.01 %: MRD failure"
NEW = "MRD detected: yes; MRD quantifiable: yes; MRD level 0.02 % — at least 0.01 %: MRD failure"


def _site(pid: str) -> Site:
    site = Site()
    site.add("patients", pid, "male", 1980)
    site.add("diagnoses", pid, "ALL", D(2024, 1, 1))
    site.add("therapies", pid, 1, "hyper-CVAD", "induction", "intensive", D(2024, 1, 2), "")
    site.marrow(pid, D(2024, 1, 1), 80)
    site.marrow(pid, D(2024, 1, 16), 2, mrd="0.02")  # CR, MRD ≥ 0.01 %: MRD failure
    return site


def test_alerts_worded_with_old_words_are_not_raised_again(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old_version:
        old_words = dict(INPUT_WORDS, mrd_level_pct=InputWords("MRD", "%"))
        old_version.setattr(input_words, "INPUT_WORDS", old_words)
        _, alerts = _load(database, _site("P-ALL"), tmp_path, "P-ALL")
    (failure,) = [a for a in alerts if a.code == "MRD_FAILURE"]
    assert failure.message.startswith(OLD), failure.message
    with database.unit_of_work("reader") as uow:
        stored = uow.session.scalar(select(func.count()).select_from(AlertRow))
        raised = uow.session.scalar(
            select(func.count()).select_from(AuditEventRow).where(AuditEventRow.action == "raise")
        )

    url = database.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["assess", "P-ALL", "--json", "--database-url", url])
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["new_alerts"] == 0 and run["new_assessments"] == 0
    assert "MRD_FAILURE" in [a["code"] for a in run["alerts"]]

    with database.unit_of_work("reader") as uow:
        assert uow.session.scalar(select(func.count()).select_from(AlertRow)) == stored
        assert (
            uow.session.scalar(
                select(func.count())
                .select_from(AuditEventRow)
                .where(AuditEventRow.action == "raise")
            )
            == raised
        )
        (kept,) = [a for a in list_alerts(uow, patient="P-ALL") if a.code == "MRD_FAILURE"]
    assert kept.id == failure.id and kept.message == failure.message  # not rewritten
    assert kept.withdrawn_at is None

    # A new patient's alert of the same kind is worded with today's words.
    _, alerts = _load(database, _site("P-ALL2"), tmp_path / "second", "P-ALL2")
    (fresh,) = [a for a in alerts if a.code == "MRD_FAILURE"]
    assert fresh.message.startswith(NEW), fresh.message
