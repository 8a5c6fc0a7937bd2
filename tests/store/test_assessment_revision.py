"""Migration 0031: ``assessment.revision`` in the natural key, on SQLite and PostgreSQL — the
back-fill of a database upgraded from 0030, the triggers and indexes a SQLite table rebuild must
keep, a call's evidence stored again in a later revision, and the way back to 0030."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import Connection, text

from raw_rows import T1, T2, T3
from raw_rows import insert_patient as _patient
from trephine.store.database import Database


def _call(
    conn: Connection,
    patient: int,
    kind: str,
    category: str,
    digest: str,
    at: str,
    *,
    on: str = "2024-06-01",
    revision: int | None = None,
) -> int:
    columns = ", revision" if revision is not None else ""
    value = ", :v" if revision is not None else ""
    aid: int = conn.execute(
        text(
            "INSERT INTO assessment (patient_id, assessed_on, category, ruleset,"
            " criteria_edition, evidence, missing_inputs, software_version, computed_at,"
            f" recorded_by, flags, params, call_kind, inputs_digest{columns}) VALUES (:p, :on,"
            f" :c, 'R', 'E', '[]', '[]', '0.1', :at, 'test', '[]', '{{}}', :k, :d{value})"
            " RETURNING id"
        ),
        {"p": patient, "on": on, "c": category, "k": kind, "d": digest, "at": at, "v": revision},
    ).scalar_one()
    return aid


def _revisions(conn: Connection) -> dict[int, int]:
    rows = conn.execute(text("SELECT id, revision FROM assessment ORDER BY id"))
    return {int(i): int(r) for i, r in rows}


def _schema(conn: Connection) -> set[tuple[str, ...]]:
    """The triggers and indexes of ``assessment`` (SQLite: with their SQL; PostgreSQL: the
    index definitions and the triggers with their state), without the natural key's own."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(
            text(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'assessment'"
                " AND type IN ('index', 'trigger') AND sql IS NOT NULL"
            )
        )
    else:
        rows = conn.execute(
            text(
                "SELECT 'index', indexname, indexdef FROM pg_indexes"
                " WHERE tablename = 'assessment' AND indexname <> 'uq_assessment_natural_key'"
                " UNION ALL SELECT 'trigger', tgname, pg_get_triggerdef(oid) || tgenabled::text"
                " FROM pg_trigger WHERE tgrelid = 'assessment'::regclass AND NOT tgisinternal"
            )
        )
    return {tuple(str(c) for c in row) for row in rows}


def _latest_response(conn: Connection, patient: int) -> Any:
    return conn.execute(
        text("SELECT latest_response FROM patient WHERE id = :p"), {"p": patient}
    ).scalar_one()


def test_an_upgraded_database_numbers_each_calls_revisions(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.upgrade("0030")
        with db.engine.begin() as conn:
            a = _patient(conn, "A")
            # A progression: PD (run 1), not met after an amendment (run 2).
            pd = _call(conn, a, "progression", "PD_UNCONFIRMED", "a", T1)
            response = _call(conn, a, "response", "PR", "r", T1)
            not_met = _call(conn, a, "progression", "NOT_MET", "b", T2)
            # Two MRD calls of the day stored by one run, and a third by a later one.
            mrd = [_call(conn, a, "mrd", "MRD_POSITIVE", d, T1) for d in ("m1", "m2")]
            third = _call(conn, a, "mrd", "MRD_NEGATIVE", "m3", T3)
            before = _schema(conn)
            assert _latest_response(conn, a) == "PR"
        db.upgrade()
        with db.engine.begin() as conn:
            assert _revisions(conn) == {
                pd: 1,
                response: 1,
                not_met: 2,
                mrd[0]: 1,
                mrd[1]: 1,
                third: 2,
            }
            # Every trigger and index of the table as it was, and the key's new index.
            assert {row for row in _schema(conn) if "uq_assessment" not in row[1]} == before
            # A's evidence comes back (A→B→A): a third revision of the call, current again.
            _call(conn, a, "progression", "PD_UNCONFIRMED", "a", T3, revision=3)
            assert _latest_response(conn, a) == "PD_UNCONFIRMED"
        # ... but never twice in one revision.
        with pytest.raises(sqlalchemy.exc.IntegrityError), db.engine.begin() as conn:
            _call(conn, a, "progression", "PD_UNCONFIRMED", "a", T3, revision=3)
        # Still append-only.
        for statement in ("UPDATE assessment SET revision = 9", "DELETE FROM assessment"):
            with (
                pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
                db.engine.begin() as conn,
            ):
                conn.execute(text(statement))
        # Down to 0030 (the restated row would break its key: a database refuses it).
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            db.downgrade("0030")
    finally:
        db.dispose()


def test_downgrade_to_0030_keeps_the_rows_triggers_and_indexes(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.upgrade("0030")
        with db.engine.connect() as conn:
            before = _schema(conn)
        db.upgrade()
        with db.engine.begin() as conn:
            a = _patient(conn, "A")
            _call(conn, a, "response", "CR", "c", T1)
            _call(conn, a, "relapse", "HEMATOLOGIC_RELAPSE", "h", T2)
        db.downgrade("0030")
        with db.engine.begin() as conn:
            columns = list(conn.execute(text("SELECT * FROM assessment")).keys())
            assert "revision" not in columns
            assert _schema(conn) == before
            assert _latest_response(conn, a) == "HEMATOLOGIC_RELAPSE"
            _call(conn, a, "relapse", "NOT_MET", "n", T3)  # 0030's triggers at work
            assert _latest_response(conn, a) == "CR"
            with pytest.raises(sqlalchemy.exc.IntegrityError):  # 0003's key again
                _call(conn, a, "relapse", "NOT_MET", "n", T3)
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
            db.engine.begin() as conn,
        ):
            conn.execute(text("DELETE FROM assessment"))
        db.upgrade()
    finally:
        db.dispose()
