"""The patient list's last biopsy and open-alert count, kept on the patient row by triggers
(migration 0026), on SQLite and PostgreSQL: for every writer (plain SQL here, not the
services), through insert, move, change and delete, and filled in for a database upgraded
from 0025."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from trephine.store.database import Database

T1 = "2024-01-10 09:00:00+00:00"
T2 = "2024-03-05 14:30:00+00:00"
T3 = "2024-06-01 08:15:00+00:00"


def _patient(conn: Connection, external_id: str) -> int:
    pid: int = conn.execute(
        text(
            "INSERT INTO patient (external_id, sex, created_at)"
            " VALUES (:e, 'female', '2024-01-01 00:00:00+00:00') RETURNING id"
        ),
        {"e": external_id},
    ).scalar_one()
    return pid


def _procedure(conn: Connection, patient: int, at: str) -> int:
    pid: int = conn.execute(
        text(
            "INSERT INTO procedure (patient_id, performed_at, site, side, indication, anesthesia)"
            " VALUES (:p, :at, 'posterior_iliac_crest', 'right', 'diagnosis', 'local')"
            " RETURNING id"
        ),
        {"p": patient, "at": at},
    ).scalar_one()
    return pid


def _alert(conn: Connection, patient: int, code: str) -> int:
    aid: int = conn.execute(
        text(
            "INSERT INTO alert (patient_id, raised_on, code, message, ruleset, software_version,"
            " raised_at, raised_by) VALUES (:p, '2024-02-01', :c, 'm', 'ELN', '0.1',"
            " '2024-02-01 00:00:00+00:00', 'test') RETURNING id"
        ),
        {"p": patient, "c": code},
    ).scalar_one()
    return aid


def _facts(conn: Connection, patient: int) -> tuple[Any, int]:
    at, count = conn.execute(
        text("SELECT last_biopsy_at, open_alert_count FROM patient WHERE id = :p"), {"p": patient}
    ).one()
    return (None if at is None else str(at)[:16]), count


def test_the_facts_follow_every_write_of_procedures_and_alerts(database: Database) -> None:
    with database.engine.begin() as conn:
        a, b = _patient(conn, "A"), _patient(conn, "B")
        assert _facts(conn, a) == (None, 0)
        first = _procedure(conn, a, T1)
        assert _facts(conn, a) == ("2024-01-10 09:00", 0)
        latest = _procedure(conn, a, T2)
        _procedure(conn, a, "2023-12-01 00:00:00+00:00")  # an older one entered later
        assert _facts(conn, a)[0] == "2024-03-05 14:30"
        # A corrected time, then the latest procedure moved to the other patient.
        conn.execute(
            text("UPDATE procedure SET performed_at = :t WHERE id = :i"), {"t": T3, "i": first}
        )
        assert _facts(conn, a)[0] == "2024-06-01 08:15"
        conn.execute(
            text("UPDATE procedure SET patient_id = :b WHERE id = :i"), {"b": b, "i": first}
        )
        assert _facts(conn, a)[0] == "2024-03-05 14:30"
        assert _facts(conn, b)[0] == "2024-06-01 08:15"
        conn.execute(text("DELETE FROM procedure WHERE id = :i"), {"i": first})
        assert _facts(conn, b) == (None, 0)
        conn.execute(text("DELETE FROM procedure WHERE id = :i"), {"i": latest})
        assert _facts(conn, a)[0] == "2023-12-01 00:00"

        one, two, three = (_alert(conn, a, code) for code in ("X1", "X2", "X3"))
        assert _facts(conn, a)[1] == 3
        conn.execute(
            text("UPDATE alert SET acknowledged_at = :t, acknowledged_by = 'dr' WHERE id = :i"),
            {"t": T3, "i": one},
        )
        conn.execute(text("UPDATE alert SET withdrawn_at = :t WHERE id = :i"), {"t": T3, "i": two})
        assert _facts(conn, a)[1] == 1
        # A note added to an acknowledged alert changes no count; reopening one does.
        conn.execute(
            text("UPDATE alert SET acknowledgement_note = 'seen' WHERE id = :i"), {"i": one}
        )
        conn.execute(text("UPDATE alert SET acknowledged_at = NULL WHERE id = :i"), {"i": one})
        assert _facts(conn, a)[1] == 2
        conn.execute(text("UPDATE alert SET patient_id = :b WHERE id = :i"), {"b": b, "i": three})
        assert (_facts(conn, a)[1], _facts(conn, b)[1]) == (1, 1)
        conn.execute(text("DELETE FROM alert WHERE id = :i"), {"i": three})
        assert _facts(conn, b)[1] == 0


def test_an_upgraded_database_gets_the_facts_of_its_rows(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.upgrade("0025")
        with db.engine.begin() as conn:
            a, b = _patient(conn, "A"), _patient(conn, "B")
            _procedure(conn, a, T1)
            _procedure(conn, a, T2)
            for code in ("X1", "X2"):
                _alert(conn, a, code)
            conn.execute(text("UPDATE alert SET withdrawn_at = :t WHERE code = 'X2'"), {"t": T3})
        db.upgrade()
        with db.engine.begin() as conn:
            assert _facts(conn, a) == ("2024-03-05 14:30", 1)
            assert _facts(conn, b) == (None, 0)
            _procedure(conn, b, T3)  # and the triggers work from then on
            assert _facts(conn, b) == ("2024-06-01 08:15", 0)
        db.downgrade("0025")
        with db.engine.connect() as conn:
            columns = conn.execute(text("SELECT * FROM patient")).keys()
            assert "last_biopsy_at" not in columns and "open_alert_count" not in columns
            _procedure(conn, a, T3)  # no trigger left behind that names the dropped columns
    finally:
        db.dispose()
