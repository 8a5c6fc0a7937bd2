"""Many rows into one table at the driver's speed: one DBAPI ``executemany`` of tuples.

SQLAlchemy's ``session.execute(insert(table), rows)`` builds and processes the parameters of
every row in Python (about 20 µs a row, most of an import's write time). Here the statement is
compiled once for the dialect, each column's own bind processor (the same one SQLAlchemy would
apply: UTC instants, exact decimals, JSON) is looked up once, and the rows go to the driver as
tuples. What is stored is therefore exactly what the ORM path stores.

Only plain rows qualify: every row gives the same columns and no missing column has a Python-side
default (which only SQLAlchemy would fill in); anything else takes SQLAlchemy's path.

On PostgreSQL the rows go in with one ``COPY … FROM STDIN`` (:func:`copy_rows`) instead of an
``INSERT`` per row: the same values through the same column input functions (text format), the
same defaults, constraints and triggers, at a fraction of the client's and the server's work.
Tables holding identity (:data:`NO_COPY`) keep the ``INSERT``: PostgreSQL quotes the offending
value of a refused ``COPY`` row in its message, which must never carry a name or an MRN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError

#: Tables whose rows hold identity (names, MRNs, birth dates, a consent giver's name): inserted
#: with ``INSERT`` on PostgreSQL too (see the module docstring).
NO_COPY = frozenset({"patient_identity", "procedure_consent"})


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
    if dialect.name == "postgresql" and table.name not in NO_COPY:
        copy_rows(
            connection,
            table.name,
            [table.c[name].name for name in names],
            (
                tuple(row[n] if process is None else process(row[n]) for n, process in pairs)
                for row in rows
            ),
        )
        return
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


def copy_rows(
    connection: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL (psycopg): ``rows`` (values in the order of ``columns``, as the columns' bind
    processors give them) into ``table`` with one ``COPY … FROM STDIN``, in the caller's
    transaction. A refusal is raised as SQLAlchemy raises the driver's errors (an
    ``IntegrityError`` for a key another writer took, …), without parameters."""
    import psycopg

    quote = connection.dialect.identifier_preparer.quote  # "end", "user": reserved words
    statement = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, psycopg.Error, hide_parameters=True, dialect=connection.dialect
        ) from exc


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
