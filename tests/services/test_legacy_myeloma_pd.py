"""A database written before myeloma progression was confirmed across assessments holds IMWG 2016
``progression`` calls of the bare category ``PD`` (one per assessment meeting PD, none marked
to confirm or confirmed) and response calls of the same dates that nothing superseded. The
upgrade step is one ``trephine assess --all`` (docs/operations.md): each such call is computed
again, differs from its latest stored revision (category and evidence), and is stored as the
next revision through the ordinary append-only path; the patient list's fact (0030's triggers)
and the pages follow. On SQLite and PostgreSQL.

The legacy rows are written with plain SQL (tests/raw_rows.py) from what this version computes,
undone as the earlier version stored it: ``PD`` for ``PD_UNCONFIRMED`` / ``PD_CONFIRMED``
without the confirmation item, the same date's response call without the supersession, the
``MYELOMA_PROGRESSION`` alert it raised; every other call exactly as this version computes it
(so only the legacy calls are restated)."""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from assess_case import myeloma_progressing, myeloma_progression_confirmed
from raw_rows import insert_alert, insert_assessment
from trephine.api.app import create_app
from trephine.assess.call import Call
from trephine.assess.registry import choose
from trephine.assess.story import SUPERSEDED
from trephine.cli.main import app
from trephine.criteria.sets.imwg2016_mm import PD_CONFIRMED, PD_UNCONFIRMED
from trephine.services import assessments
from trephine.store.database import Database
from trephine.testing.accounts import client_as

#: The evidence items this version adds to a restated PD and to the response it supersedes.
_CONFIRMATION = "consecutive_assessments"
_SUPERSESSION = "same_marrow_relapse"


def _legacy_digest(call: Call) -> str:
    return hashlib.sha256(f"legacy {call.digest}".encode()).hexdigest()


def _write_legacy_database(db: Database) -> tuple[list[Call], int]:
    """The rows an earlier version stored for P1's results; this version's calls and the number
    of calls the earlier version stored differently."""
    with db.unit_of_work("reader") as uow:
        inputs = assessments.load_inputs(uow, "P1")
    assessor = choose(inputs.diagnoses)
    computed = assessor.run(inputs, {})
    legacy = 0
    with db.engine.begin() as conn:
        patient = conn.execute(text("SELECT id FROM patient WHERE external_id = 'P1'")).scalar_one()
        first_pd = None
        for call in computed.calls:
            category, evidence, flags, digest = (
                call.category,
                call.evidence,
                call.flags,
                call.digest,
            )
            if call.kind == "progression" and category in (PD_UNCONFIRMED, PD_CONFIRMED):
                category = "PD"
                evidence = tuple(e for e in evidence if e.get("input") != _CONFIRMATION)
                digest = _legacy_digest(call)
                first_pd = first_pd or call
            elif call.kind == "response" and SUPERSEDED in flags:
                flags = tuple(f for f in flags if f != SUPERSEDED)
                evidence = tuple(e for e in evidence if e.get("input") != _SUPERSESSION)
                digest = _legacy_digest(call)
            legacy += digest != call.digest
            insert_assessment(
                conn,
                patient,
                call.date,
                call.kind,
                category,
                ruleset=call.ruleset,
                edition=call.edition,
                rule=call.rule,
                evidence=evidence,
                digest=digest,
                software_version=call.software_version,
                flags=flags,
                citation=call.citation,
            )
        assert first_pd is not None
        insert_alert(
            conn,
            patient,
            first_pd.date,
            "MYELOMA_PROGRESSION",
            f"IMWG 2016 progression ({first_pd.rule}); confirm on a second consecutive assessment",
            ruleset=assessor.name,
            software_version=first_pd.software_version,
        )
    return list(computed.calls), legacy


def _progressions(db: Database) -> list[tuple[str, str, int]]:
    """The current progression calls: date, category, revision."""
    with db.unit_of_work("reader") as uow:
        current = assessments.current_assessments(assessments.patient_assessments(uow, "P1"))
        rows = uow.session.execute(text("SELECT id, revision FROM assessment"))
        revisions = {int(i): int(r) for i, r in rows}
    return [
        (str(s.assessment.assessed_on), s.assessment.category, revisions[s.id])
        for s in current
        if s.call_kind == "progression"
    ]


def _listed_fact(db: Database) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(
            text("SELECT latest_response FROM patient WHERE external_id = 'P1'")
        ).scalar_one()


def _list_row(page: str) -> str:
    (row,) = re.findall(r'<tr data-patient-id="P1">(.*?)</tr>', page, re.S)
    return html.unescape(row)


@pytest.mark.parametrize(
    ("confirmed", "restated", "words"),
    [
        (False, [PD_UNCONFIRMED], "Progressive disease (to confirm)"),
        (True, [PD_CONFIRMED, PD_CONFIRMED], "Progressive disease"),
    ],
    ids=["one-pd", "two-consecutive-pds"],
)
def test_assess_all_restates_legacy_bare_pd_calls(
    database: Database, confirmed: bool, restated: list[str], words: str
) -> None:
    myeloma_progressing(database, assess=False)
    if confirmed:
        myeloma_progression_confirmed(database, assess=False)
    calls, legacy = _write_legacy_database(database)
    # Each legacy PD and the response call it now supersedes.
    assert legacy == 2 * len(restated)
    before = _progressions(database)
    assert [c for _, c, _ in before if c != "NOT_MET"] == ["PD"] * len(restated)
    assert _listed_fact(database) == "PD"  # 0030's triggers count a bare PD as superseding

    url = database.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["assess", "--all", "--database-url", url])
    assert result.exit_code == 0, result.output

    after = _progressions(database)
    assert [(c, r) for _, c, r in after if c != "NOT_MET"] == [(c, 2) for c in restated]
    assert [d for d, _, _ in after] == [d for d, _, _ in before]
    assert _listed_fact(database) == restated[-1]
    with database.unit_of_work("reader") as uow:
        stored = assessments.patient_assessments(uow, "P1")
        current = assessments.current_assessments(stored)
    # Append-only: the legacy rows stay as history; only the legacy calls were stored again.
    assert len(stored) == len(calls) + legacy
    assert sorted(
        (s.assessment.assessed_on, s.call_kind, s.assessment.category) for s in current
    ) == (sorted((c.date, c.kind, c.category) for c in calls if SUPERSEDED not in c.flags))
    # The legacy alert is that alert (not raised again); a confirmation raises its own.
    with database.engine.connect() as conn:
        codes = [c for (c,) in conn.execute(text("SELECT code FROM alert ORDER BY id"))]
    assert codes == ["MYELOMA_PROGRESSION"] + ["MYELOMA_PROGRESSION_CONFIRMED"] * confirmed

    # A second run has nothing left to restate.
    again = CliRunner().invoke(app, ["assess", "--all", "--database-url", url])
    assert again.exit_code == 0, again.output
    assert _progressions(database) == after

    with client_as(create_app(database.url), "clinician") as client:
        row = _list_row(client.get("/").text)
        assert f'<span class="badge resp-failure">{words}</span>' in row
        assert "VGPR" not in row and ">PR<" not in row
        page = client.get("/patients/P1").text
        shown = re.findall(
            r'<section class="call" data-call="progression" data-category="([^"]+)"', page
        )
        assert [c for c in shown if c != "NOT_MET"] == restated
        assert 'data-category="PD"' not in page
