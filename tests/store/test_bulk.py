"""``store.bulk.insert_many`` stores what SQLAlchemy's own insert stores, also when rows share
value objects (its processors remember the last value: the instants of one batch are one
object), and on PostgreSQL, where it COPYs, refuses as an INSERT would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import Connection, Table, insert, select

from trephine.domain.patient import Patient, PatientIdentity, Sex
from trephine.services import patients
from trephine.store import bulk
from trephine.store.bulk import insert_many
from trephine.store.database import Database, lost_write_race
from trephine.store.tables import PatientRow


def test_shared_and_distinct_values_store_as_sqlalchemy_stores_them(database: Database) -> None:
    table = PatientRow.__table__
    assert isinstance(table, Table)
    now = dt.datetime(2026, 12, 3, 18, 0, 1, 250000, tzinfo=dt.UTC)
    other = dt.datetime(2026, 12, 3, 19, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    # Shared objects, then a different value, then the first object again.
    instants = [now, now, other, now, dt.datetime(2026, 12, 3, 18, 0, 1, 250000, tzinfo=dt.UTC)]

    def rows(prefix: str) -> list[dict[str, object]]:
        return [
            {"external_id": f"{prefix}-{n}", "sex": "female", "birth_year": None if n % 2 else 1960,
             "created_at": at}
            for n, at in enumerate(instants)
        ]  # fmt: skip

    with database.unit_of_work("test") as uow:
        connection = uow.session.connection()
        insert_many(connection, table, rows("BULK"))
        connection.execute(insert(table), rows("ORM"))
        stored = {
            external_id: (sex, born, created)
            for external_id, sex, born, created in connection.execute(
                select(table.c.external_id, table.c.sex, table.c.birth_year, table.c.created_at)
            )
        }
    for n, at in enumerate(instants):
        assert stored[f"BULK-{n}"] == stored[f"ORM-{n}"]
        assert stored[f"BULK-{n}"][2] == at


def test_a_refused_copy_is_the_error_an_insert_gives(database: Database) -> None:
    """On PostgreSQL the rows go in with COPY; a key another writer took is still SQLAlchemy's
    IntegrityError (so an import runs again after losing a race), without parameters."""
    table = PatientRow.__table__
    assert isinstance(table, Table)
    now = dt.datetime(2026, 12, 3, 18, 0, 1, tzinfo=dt.UTC)
    row = {"external_id": "TAKEN-1", "sex": "female", "birth_year": 1960, "created_at": now}
    with database.unit_of_work("test") as uow:
        insert_many(uow.session.connection(), table, [row])
    with (
        pytest.raises(sqlalchemy.exc.IntegrityError) as refused,
        database.unit_of_work("test") as uow,
    ):
        insert_many(uow.session.connection(), table, [dict(row, external_id="NEW-1"), row])
    assert lost_write_race(refused.value)
    with database.unit_of_work("test") as uow:  # all or nothing: NEW-1 was rolled back too
        assert uow.session.scalars(select(table.c.external_id)).all() == ["TAKEN-1"]


def test_rows_holding_identity_are_never_copied(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL quotes a refused COPY row's values in its message: identity rows are INSERTed."""
    copied: list[str] = []
    real = bulk.copy_rows

    def spy(connection: Connection, table: str, *args: Any) -> None:
        copied.append(table)
        real(connection, table, *args)

    monkeypatch.setattr(bulk, "copy_rows", spy)
    with database.unit_of_work("test") as uow:
        patients.register_patients(
            uow,
            [
                (Patient("ID-1", Sex.FEMALE, 1960), PatientIdentity("Jane Doe", "MRN-1", None)),
                (Patient("ID-2", Sex.MALE, 1961), PatientIdentity("John Doe", "MRN-2", None)),
            ],
        )
    if database.engine.dialect.name == "postgresql":
        assert "patient" in copied
    else:
        assert copied == []
    assert not set(copied) & bulk.NO_COPY
    assert {"patient_identity", "procedure_consent"} <= bulk.NO_COPY


_DAYS = [dt.date(1, 1, 1), dt.date(999, 12, 31), dt.date(2024, 2, 29), dt.date(9999, 12, 31)]
_INSTANTS = [
    dt.datetime(2026, 12, 3, 18, 0, 1, 250000, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 18, 0, 1, tzinfo=dt.UTC),  # no microseconds: still six digits
    dt.datetime(1, 1, 1, tzinfo=dt.UTC),
    dt.datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
    dt.datetime(2026, 12, 3, 18, 0, tzinfo=dt.timezone(dt.timedelta(0))),  # UTC, not dt.UTC
]


def _written(process: Any, value: object) -> object:
    try:
        return process(value)
    except Exception as exc:  # the refusal itself is compared
        return (type(exc), str(exc))


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql"])
def test_bind_processors_write_what_sqlalchemy_writes(dialect_name: str) -> None:
    """bulk.bind_processor writes SQLite's dates and UTC instants as ISO text; for every date
    and instant column, it gives what SQLAlchemy's own processor gives (text or refusal) for
    dates, instants in and out of UTC, naive instants, a datetime in a date column and None."""
    from sqlalchemy.dialects import postgresql, sqlite

    from trephine.store.tables import Base

    dialect = sqlite.dialect() if dialect_name == "sqlite" else postgresql.dialect()
    naive = dt.datetime(2026, 12, 3, 18, 0, 1, 250000)
    values: list[object] = [None, *_DAYS, *_INSTANTS, naive]
    checked = 0
    for table in Base.metadata.tables.values():
        for column in table.columns:
            reference = column.type._cached_bind_processor(dialect)
            fast = bulk.bind_processor(column.type, dialect)
            if reference is None:
                assert fast is None
                continue
            if dialect_name == "postgresql":
                assert fast is reference
            for value in values if fast is not reference else []:
                assert _written(fast, value) == _written(reference, value), (column, value)
                checked += 1
    assert checked > 100 or dialect_name == "postgresql"
