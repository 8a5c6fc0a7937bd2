"""Rows written with plain SQL, as a writer other than the services would (the migration and
trigger tests of tests/store): a few timestamps and a patient row."""

from __future__ import annotations

from sqlalchemy import Connection, text

T1 = "2024-01-10 09:00:00+00:00"
T2 = "2024-03-05 14:30:00+00:00"
T3 = "2024-06-01 08:15:00+00:00"


def insert_patient(conn: Connection, external_id: str) -> int:
    """A patient row (female, created 2024-01-01); its id."""
    pid: int = conn.execute(
        text(
            "INSERT INTO patient (external_id, sex, created_at)"
            " VALUES (:e, 'female', '2024-01-01 00:00:00+00:00') RETURNING id"
        ),
        {"e": external_id},
    ).scalar_one()
    return pid
