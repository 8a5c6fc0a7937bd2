"""Importing the template: the shipped example, all-or-nothing, idempotence, located errors."""

from __future__ import annotations

import csv
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from trephine.domain import AspirateDifferential, FlowMRD, Qualifier
from trephine.errors import ImportRejected, Severity
from trephine.importers.clinical import import_path
from trephine.services import patients, results
from trephine.store.database import Database
from trephine.store.tables import AuditEventRow, PatientRow, ResultRow
from trephine.workflow import ResultState

Edit = Callable[[Path, int, str, str], None]
TABLES = [
    "patient",
    "patient_identity",
    "diagnosis",
    "therapy_line",
    "therapy_cycle",
    "cellular_therapy",
    "procedure",
    "complication",
    "specimen",
    "result",
    "audit_event",
]


def counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def test_example_imports_and_reimport_is_idempotent(database: Database, example_dir: Path) -> None:
    report = import_path(database, example_dir, "importer")
    assert report.created == {
        "patients": 3,
        "diagnoses": 3,
        "therapies": 4,
        "cellular_therapies": 1,
        "procedures": 4,
        "specimens": 7,
        "results": 12,
    }
    assert report.warnings == []
    first = counts(database)
    assert first["therapy_cycle"] == 5 and first["complication"] == 2
    assert first["patient_identity"] == 2  # EX-002 has no identifying data in the file

    again = import_path(database, example_dir, "importer")
    assert again.total_created == 0
    assert sum(again.unchanged.values()) == 34
    assert counts(database) == first  # no duplicates, not even audit events

    with database.unit_of_work("reader") as uow:
        record = patients.patient_record(uow, "EX-001")
        stored = results.patient_results(uow, "EX-001")
    diffs = [r.value for r in stored if isinstance(r.value, AspirateDifferential)]
    assert sorted(d.blast_percent for d in diffs) == [Decimal("2.4"), 62]
    flow = next(r for r in stored if isinstance(r.value, FlowMRD))
    assert flow.value.mrd.lod is not None and str(flow.value.mrd.lod) == "0.002"
    draft = [r for r in stored if r.state is ResultState.DRAFT]
    assert [r.accession for r in draft] == ["EX24-0005"]
    assert [c.kind for p in record.procedures for c in p.procedure.complications] == [
        "pain",
        "hematoma",
    ]


def test_broken_value_rejects_the_whole_file(
    database: Database, example_dir: Path, edit: Edit
) -> None:
    # The last sheet written, far down the file: everything before it would have been valid.
    results_csv = example_dir / "results.csv"
    with results_csv.open(encoding="utf-8") as handle:
        row = next(i for i, r in enumerate(csv.reader(handle), start=1) if r[3] == "cellularity")
    edit(results_csv, row, "value", "140")
    with pytest.raises(ImportRejected) as caught:
        import_path(database, example_dir, "importer")
    (issue,) = [i for i in caught.value.issues if i.severity is Severity.ERROR]
    assert issue.location.source == str(results_csv)
    assert (issue.location.row, issue.location.column) == (row, "value")
    assert "140" in issue.message and "0–100 %" in issue.message
    assert all(n == 0 for n in counts(database).values())


def test_database_level_problem_rolls_back_everything(
    database: Database, example_dir: Path, edit: Edit
) -> None:
    # Parses fine, but the patient does not exist: found only while writing, after the patients,
    # therapies and procedures were already written in the same transaction.
    edit(example_dir / "specimens.csv", 8, "patient_id", "EX-999")
    with pytest.raises(ImportRejected) as caught:
        import_path(database, example_dir, "importer")
    messages = [str(i) for i in caught.value.issues]
    assert any("specimens.csv, row 8" in m and "EX-999" in m for m in messages)
    assert all(n == 0 for n in counts(database).values())


def test_changed_signed_out_value_is_a_conflict_not_an_overwrite(
    database: Database, example_dir: Path, edit: Edit
) -> None:
    import_path(database, example_dir, "importer")
    before = counts(database)
    edit(example_dir / "results.csv", 2, "value", "43.5")  # WBC of a verified count
    with pytest.raises(ImportRejected, match="amendment"):
        import_path(database, example_dir, "importer")
    assert counts(database) == before
    with database.engine.connect() as conn:
        states = conn.execute(select(ResultRow.state, func.count()).group_by(ResultRow.state))
        assert dict(states.all()) == {"verified": 11, "draft": 1}


def test_xlsx_workbook_imports_like_the_csv_set(tmp_path: Path, example_dir: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for path in sorted(example_dir.glob("*.csv")):
        sheet = workbook.create_sheet(path.stem)
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                sheet.append([_excel_value(cell) for cell in row])
    xlsx = tmp_path / "example.xlsx"
    workbook.save(xlsx)

    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        db.upgrade()
        report = import_path(db, xlsx, "importer")
        assert report.total_created == 34
        with db.unit_of_work("r") as uow:
            stored = results.patient_results(uow, "EX-003")
        (mrd,) = [r.value for r in stored]
        assert isinstance(mrd, FlowMRD) and mrd.mrd.qualifier is Qualifier.NOT_DETECTED
        with db.engine.connect() as conn:
            detail = conn.execute(select(AuditEventRow.detail).limit(1)).scalar_one()
            assert detail["import"].endswith("example.xlsx") and len(detail["sha256"]) == 64
            assert conn.execute(select(func.count()).select_from(PatientRow)).scalar_one() == 3
    finally:
        db.dispose()


def _excel_value(cell: str) -> object:
    """Store numbers and plain dates as Excel would (typed cells), the rest as text."""
    import datetime as dt

    if not cell:
        return None
    try:
        return dt.date.fromisoformat(cell) if len(cell) == 10 and cell[4] == "-" else int(cell)
    except ValueError:
        pass
    try:
        return float(cell) if cell.replace(".", "", 1).isdigit() else cell
    except ValueError:
        return cell
