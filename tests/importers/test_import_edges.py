"""Import defects found by a fault-finding audit, each with the behaviour that replaced it.

- a NUL or other control character in a cell: refused, located, the same on both databases
  (PostgreSQL used to raise a DataError whose traceback printed name, MRN and birth date);
- a conflict on identifying data names the row, never another patient's identity;
- a therapy line given a new cycle on re-import: audited and reported, not "nothing new";
- concurrent imports of the same rows: both succeed (the loser re-runs) instead of a traceback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text

from trephine.errors import ImportRejected, ParseError
from trephine.importers.clinical import import_path
from trephine.services import audit, patients
from trephine.store.database import Database
from trephine.store.tables import AuditEventRow

Edit = Callable[[Path, int, str, str], None]


def count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.mark.parametrize("column", ["name", "mrn"])
def test_a_nul_in_identity_is_refused_alike_on_both_databases(
    database: Database, example_dir: Path, edit: Edit, column: str
) -> None:
    edit(example_dir / "patients.csv", 2, column, "Synthetic\x00Alpha")
    with pytest.raises(ParseError) as caught:
        import_path(database, example_dir, "importer")
    message = str(caught.value)
    assert "patients.csv, row 2" in message and f"column {column!r}" in message
    assert "U+0000" in message
    assert "Synthetic" not in message and "SYN-" not in message
    assert count(database, "patient") == 0 and count(database, "audit_event") == 0


def test_an_mrn_held_by_another_patient_does_not_name_that_patient(
    database: Database, example_dir: Path, edit: Edit
) -> None:
    import_path(database, example_dir, "importer")
    # EX-002 has no identity yet; giving it EX-003's MRN must not reveal who holds it.
    edit(example_dir / "patients.csv", 3, "name", "Someone Else")
    edit(example_dir / "patients.csv", 3, "mrn", "SYN-000003")
    for dry_run in (True, False):
        with pytest.raises(ImportRejected) as caught:
            from trephine.importers.clinical import import_paths

            import_paths(database, [example_dir], "importer", dry_run=dry_run)
        message = str(caught.value)
        assert "patients.csv, row 3" in message and "'EX-002'" in message
        assert "EX-003" not in message and "SYN-000003" not in message


def test_a_changed_name_does_not_print_the_stored_name(
    database: Database, example_dir: Path, edit: Edit
) -> None:
    import_path(database, example_dir, "importer")
    edit(example_dir / "patients.csv", 2, "name", "Synthetic Omega")
    with pytest.raises(ImportRejected) as caught:
        import_path(database, example_dir, "importer")
    message = str(caught.value)
    assert "patients.csv, row 2" in message and "name differs" in message
    assert "Alpha" not in message and "Omega" not in message


def test_a_new_cycle_on_reimport_is_audited_and_reported(
    database: Database, example_dir: Path
) -> None:
    import_path(database, example_dir, "importer")
    therapies = example_dir / "therapies.csv"
    with therapies.open("a", encoding="utf-8") as handle:
        handle.write(
            "EX-001,2,HiDAC consolidation,consolidation,intensive,2024-02-20,,3,"
            "2024-04-22,2024-04-27\n"
        )
    before = count(database, "audit_event")

    report = import_path(database, example_dir, "importer")

    assert report.total_created == 0
    assert report.updated == {"therapies": 1}
    assert count(database, "therapy_cycle") == 6
    with database.unit_of_work("reader") as uow:
        new = [e for e in audit.events(uow, "therapy_line") if e.id > before]
        record = patients.patient_record(uow, "EX-001")
    assert [(e.action, e.detail["cycles_added"]) for e in new] == [("edit", [3])]
    assert new[0].detail["import"] == str(example_dir)
    line = next(t for t in record.therapy_lines if t.line == 2)
    assert [c.number for c in line.cycles] == [1, 2, 3]
    # And a third import of the same file adds nothing more.
    again = import_path(database, example_dir, "importer")
    assert again.updated == {} and again.total_created == 0


@pytest.mark.postgres
def test_concurrent_imports_of_the_same_rows_both_succeed(
    database: Database, example_dir: Path
) -> None:
    """The second import waits on the first's uncommitted patient row, loses the unique key when
    the first commits, and is run again instead of ending in UniqueViolation."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with one database lock")
    other = Database(database.url)
    outcome: list[object] = []
    try:
        with database.unit_of_work("first") as uow:
            from trephine.domain.patient import Patient, Sex

            patients.register_patient(uow, Patient("EX-001", Sex.FEMALE, 1958))
            worker = threading.Thread(
                target=lambda: outcome.append(_import(other, example_dir)), daemon=True
            )
            worker.start()
            worker.join(timeout=2)  # blocked on EX-001's unique key, held by this transaction
            assert worker.is_alive() and not outcome
        worker.join(timeout=60)
    finally:
        other.dispose()
    assert not worker.is_alive()
    (report,) = outcome
    assert not isinstance(report, BaseException), report
    assert count(database, "patient") == 3 and count(database, "result") == 12
    with database.unit_of_work("reader") as uow:
        creates = uow.session.scalars(
            select(AuditEventRow.entity_id).where(
                AuditEventRow.entity == "patient", AuditEventRow.action == "create"
            )
        ).all()
    assert sorted(creates) == ["EX-001", "EX-002", "EX-003"]  # one event per fact


def _import(database: Database, folder: Path) -> object:
    try:
        return import_path(database, folder, "second")
    except BaseException as exc:  # reported to the test thread
        return exc
