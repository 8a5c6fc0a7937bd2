"""SQLite files are private (0600), and a read goes on while another connection writes.

The defects: files holding names and MRNs were created world-readable (0644); in the rollback
journal every reader waited for a writer's exclusive lock and failed with "database is locked"
(a 503 during an import).
"""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from trephine.domain import Patient, Sex
from trephine.services import audit, patients
from trephine.settings import get_settings
from trephine.store.database import Database


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "records.db"
    db = Database(f"sqlite:///{path}")
    try:
        db.upgrade()
        with db.unit_of_work("lab") as uow:
            patients.register_patient(uow, Patient("PRIV-1", Sex.MALE, 1950))
        created = [p for p in tmp_path.glob("deep/records.db*")]
        assert path in created
        for file in created:  # the database and its -wal/-shm companions
            assert _mode(file) == 0o600, (file.name, oct(_mode(file)))
    finally:
        db.dispose()


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    db = Database(f"sqlite:///{path}")
    try:
        db.upgrade()
    finally:
        db.dispose()
    assert _mode(path) == 0o640


def test_connections_use_wal_and_the_configured_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREPHINE_SQLITE_BUSY_TIMEOUT", "12.5")
    get_settings.cache_clear()
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with db.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert raw.execute("PRAGMA busy_timeout").fetchone() == (12500,)
    finally:
        db.dispose()
        get_settings.cache_clear()


def test_reads_go_on_while_another_connection_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    db = Database(
        f"sqlite:///{path}",
    )
    db.upgrade()
    with db.unit_of_work("lab") as uow:
        patients.register_patient(uow, Patient("BUSY-1", Sex.FEMALE, 1958))
    # Another process's import, mid-write: it holds the write lock (EXCLUSIVE, as when SQLite
    # spills its cache or commits) until told to finish.
    writer = sqlite3.connect(path, isolation_level=None, timeout=30)
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute(
        "INSERT INTO patient (external_id, sex, created_at) "
        "VALUES ('BUSY-2', 'male', '2024-01-01 00:00:00')"
    )
    try:
        # A plain read answers at once, from the last committed state.
        with db.unit_of_work("reader") as uow:
            listed = [p.patient_id for p in patients.list_patients(uow)]
        assert listed == ["BUSY-1"]
        # An audited read must write its event: it waits for the writer instead of failing.
        outcome: list[object] = []

        def audited_read() -> None:
            try:
                with db.unit_of_work("reader") as uow:
                    outcome.append(patients.patient_record(uow, "BUSY-1").patient.external_id)
            except Exception as exc:  # reported below
                outcome.append(exc)

        reader = threading.Thread(target=audited_read)
        reader.start()
        reader.join(timeout=0.5)
        writer.execute("COMMIT")
        reader.join(timeout=60)
        assert outcome == ["BUSY-1"]
    finally:
        writer.close()
    with db.unit_of_work("auditor") as uow:
        reads = [e for e in audit.events(uow, "patient") if e.action == "read"]
        listed = [p.patient_id for p in patients.list_patients(uow)]
    db.dispose()
    assert [(e.actor, e.entity_id) for e in reads] == [("reader", "BUSY-1")]
    assert listed == ["BUSY-1", "BUSY-2"]
