"""``store.bulk.insert_many`` stores what SQLAlchemy's own insert stores, also when rows share
value objects (its processors remember the last value: the instants of one batch are one
object)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Table, insert, select

from trephine.store.bulk import insert_many
from trephine.store.database import Database
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
