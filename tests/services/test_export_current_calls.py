"""A research export's ``assessments`` table keeps every stored call, history included, and marks
the ones the patient's pages show now (``current``, the one rule of trephine.assess.current) and
the sample of each MRD call (``sample``); the data dictionary documents both, CSV writes
``true``/``false`` and Parquet a boolean column (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from call_rows import add_aml_patients
from trephine.assess.story import SUPERSEDED
from trephine.cli.main import app
from trephine.domain.cohort import CohortDefinition
from trephine.present.deidentify import Deidentifier, Level
from trephine.services import cohorts, exports
from trephine.services.assessments import current_assessments, patient_assessments
from trephine.settings import get_settings
from trephine.store.database import Database

runner = CliRunner()
KEY = "test-export-key-0123456789"
D0 = dt.date(2024, 1, 1)
BM, PB = "bone marrow", "peripheral blood"

# A call as stored, in insertion order: (day, kind, category, sample, revision, flags).
Row = tuple[int, str, str, str | None, int, tuple[str, ...]]
PATIENTS: dict[str, list[Row]] = {
    "E-1": [
        # A CR superseded by the same marrow's relapse: history.
        (30, "response", "CR", None, 1, (SUPERSEDED,)),
        (30, "relapse", "HEMATOLOGIC_RELAPSE", None, 1, ()),
        # A day's marrow and blood MRD calls, amended: revision 1 is history, both rows of
        # revision 2 are current (the blood call stored first).
        (90, "mrd", "NEGATIVE", BM, 1, ()),
        (90, "mrd", "NEGATIVE", PB, 1, ()),
        (90, "mrd", "POSITIVE", PB, 2, ()),
        (90, "mrd", "NEGATIVE", BM, 2, ()),
        # An MRD call stored before calls named their sample.
        (200, "mrd", "NEGATIVE", None, 1, ()),
    ],
    "E-2": [
        (30, "response", "PR", None, 1, ()),
        (30, "response", "CR", None, 2, ()),
        # Another rule set's call of the same day and kind is another call.
        (30, "response", "CR_MRD-", None, 1, ()),
    ],
}
RULESET = {"CR_MRD-": "ELN2022-AML-MRD"}

# (patient, day, kind, category, sample, current, revision), in the export's order.
EXPECTED = [
    ("E-1", 30, "response", "CR", None, False, 1),
    ("E-1", 30, "relapse", "HEMATOLOGIC_RELAPSE", None, True, 1),
    ("E-1", 90, "mrd", "NEGATIVE", BM, False, 1),
    ("E-1", 90, "mrd", "NEGATIVE", PB, False, 1),
    ("E-1", 90, "mrd", "POSITIVE", PB, True, 2),
    ("E-1", 90, "mrd", "NEGATIVE", BM, True, 2),
    ("E-1", 200, "mrd", "NEGATIVE", None, True, 1),
    ("E-2", 30, "response", "PR", None, False, 1),
    ("E-2", 30, "response", "CR", None, True, 2),
    ("E-2", 30, "response", "CR_MRD-", None, True, 1),
]


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def calls_db(database: Database) -> Database:
    with database.unit_of_work("seed") as uow:
        s = uow.session
        add_aml_patients(
            s,
            PATIENTS,
            ruleset=lambda cat: RULESET.get(cat, "ELN2022-AML"),
            value_input="blasts_pct",
        )
        cohorts.define(uow, "all", CohortDefinition(diseases=("AML",)))
    return database


def _tables(db: Database) -> exports.Tables:
    deid = Deidentifier(Level.SAFE_HARBOR, KEY.encode())
    with db.unit_of_work("researcher-1") as uow:
        return exports.build(uow, cohorts.evaluate(uow, "all"), deid)


def test_the_assessments_table_marks_current_calls_and_each_mrd_calls_sample(
    calls_db: Database,
) -> None:
    deid = Deidentifier(Level.SAFE_HARBOR, KEY.encode())
    pseudonym = {deid.patient(p): p for p in PATIENTS}
    rows = _tables(calls_db).tables["assessments"]
    got = [
        (
            pseudonym[r["patient_id"]],
            r["assessed_day"],
            r["call_kind"],
            r["category"],
            r["sample"],
            r["current"],
            r["revision"],
        )
        for r in rows
    ]
    assert got == EXPECTED
    # Safe Harbor still holds: pseudonyms and days, no record id or date.
    assert not any("assessed_on" in r for r in rows)


def test_the_current_rows_are_those_the_patients_pages_show(calls_db: Database) -> None:
    rows = _tables(calls_db).tables["assessments"]
    deid = Deidentifier(Level.SAFE_HARBOR, KEY.encode())
    for pid in PATIENTS:
        with calls_db.unit_of_work("t") as uow:
            page = sorted(
                ((s.assessment.assessed_on - D0).days, s.call_kind, s.assessment.category)
                for s in current_assessments(patient_assessments(uow, pid))
            )
        exported = sorted(
            (r["assessed_day"], r["call_kind"], r["category"])
            for r in rows
            if r["patient_id"] == deid.patient(pid) and r["current"]
        )
        assert exported == page


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_files_and_the_data_dictionary_carry_current_and_sample(
    calls_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", KEY)
    get_settings.cache_clear()
    out = tmp_path / fmt
    r = runner.invoke(
        app,
        ["export", "all", "--format", fmt, "--out", str(out), "--database-url", calls_db.url],
    )
    assert r.exit_code == 0, r.stderr
    dictionary = {
        (d["table"], d["field"]): d
        for d in csv.DictReader(io.StringIO((out / "data_dictionary.csv").read_text()))
    }
    current = dictionary[("assessments", "current")]
    assert current["type"] == "boolean" and "latest revision" in current["description"]
    sample = dictionary[("assessments", "sample")]
    assert sample["type"] == "text" and "peripheral blood" in sample["description"]
    if fmt == "csv":
        table = list(csv.DictReader(io.StringIO((out / "assessments.csv").read_text())))
        cells = [(t["call_kind"], t["sample"], t["current"]) for t in table]
        assert cells == [(e[2], e[4] or "", "true" if e[5] else "false") for e in EXPECTED]
    else:
        parquet = pq.read_table(out / "assessments.parquet")
        assert parquet.schema.field("current").type == pa.bool_()
        assert parquet.column("current").to_pylist() == [e[5] for e in EXPECTED]
        assert parquet.column("sample").to_pylist() == [e[4] for e in EXPECTED]


def test_the_cbioportal_timeline_shows_the_current_calls_only(
    calls_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", KEY)
    get_settings.cache_clear()
    out = tmp_path / "cbio"
    r = runner.invoke(
        app,
        [
            "export",
            "all",
            "--format",
            "cbioportal",
            "--out",
            str(out),
            "--database-url",
            calls_db.url,
        ],
    )
    assert r.exit_code == 0, r.stderr
    deid = Deidentifier(Level.SAFE_HARBOR, KEY.encode())
    pseudonym = {deid.patient(p): p for p in PATIENTS}
    lines = (out / "data_timeline.txt").read_text().splitlines()
    head = lines[0].split("\t")
    status = sorted(
        (pseudonym[f[0]], int(f[1]), f[4])
        for f in (line.split("\t") for line in lines[1:])
        if f[head.index("EVENT_TYPE")] == "STATUS"
    )
    # No superseded CR (E-1), no amended PR (E-2), no earlier revision's MRD calls.
    assert status == sorted((e[0], e[1], e[3]) for e in EXPECTED if e[5])
