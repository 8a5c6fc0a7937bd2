"""Many rows into one table at the driver's speed: one DBAPI ``executemany`` of tuples.

SQLAlchemy's ``session.execute(insert(table), rows)`` builds and processes the parameters of
every row in Python (about 20 µs a row, most of an import's write time). Here the statement is
compiled once for the dialect, each column's own bind processor (the same one SQLAlchemy would
apply: UTC instants, exact decimals, JSON) is looked up once, and the rows go to the driver as
tuples. What is stored is therefore exactly what the ORM path stores.

Only plain rows qualify: every row gives the same columns and no missing column has a Python-side
default (which only SQLAlchemy would fill in); anything else takes SQLAlchemy's path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert


def insert_many(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (column name → value) into ``table`` in the caller's transaction."""
    if not rows:
        return
    keys = list(rows[0])
    wanted = set(keys)
    plain = all(row.keys() == wanted for row in rows) and not any(
        column.default is not None for column in table.columns if column.key not in wanted
    )
    if not plain:
        connection.execute(insert(table), list(rows))
        return
    dialect = connection.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    positional = compiled.positiontup
    # An INSERT's parameters are named after its columns.
    names = list(positional) if positional is not None else list(compiled.binds)
    if not set(names) <= wanted:  # pragma: no cover - a column key that is no bind name
        connection.execute(insert(table), list(rows))
        return
    # SQLAlchemy applies a column's processor to every value, None included (JSON stores
    # None as 'null'), so this does too.
    pairs = [
        (name, _last_value(table.c[name].type._cached_bind_processor(dialect))) for name in names
    ]
    params: list[Any]
    if positional is not None:
        params = [
            tuple(row[name] if process is None else process(row[name]) for name, process in pairs)
            for row in rows
        ]
    else:
        params = [
            {name: row[name] if process is None else process(row[name]) for name, process in pairs}
            for row in rows
        ]
    connection.exec_driver_sql(compiled.string, params)


def _last_value(process: Any) -> Any:
    """``process`` remembering its last argument: the rows of one batch share most instants
    (``created_at``, ``verified_at`` … are one ``now``), and a bind processor is a pure function
    of its value, so the same object gives the same parameter without processing it again."""
    if process is None:
        return None
    last: list[Any] = [_NOTHING, None]

    def remembered(value: Any) -> Any:
        if value is last[0]:
            return last[1]
        out = process(value)
        last[0], last[1] = value, out
        return out

    return remembered


_NOTHING = object()
