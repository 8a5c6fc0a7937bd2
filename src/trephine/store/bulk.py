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

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Date, Dialect, Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from trephine.store.types import UTCDateTime

#: Tables whose rows hold identity (names, MRNs, birth dates, a consent giver's name): inserted
#: with ``INSERT`` on PostgreSQL too (see the module docstring).
NO_COPY = frozenset({"patient_identity", "procedure_consent"})


def insert_many(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    ids: Sequence[int] | None = None,
) -> None:
    """Insert ``rows`` (column name → value) into ``table`` in the caller's transaction;
    ``ids``, when given, are the rows' ``id`` column (one each, in order)."""
    if not rows:
        return
    if ids is not None:
        if len(ids) != len(rows):
            raise ValueError(f"{len(ids)} ids for {len(rows)} rows")
        if "id" in rows[0]:
            raise ValueError("ids given twice: in the rows and as ids")
    keys = list(rows[0]) if ids is None else [*rows[0], "id"]
    wanted = set(keys)
    first = rows[0].keys()
    plain = all(row.keys() == first for row in rows) and not any(
        column.default is not None for column in table.columns if column.key not in wanted
    )
    if not plain:
        _through_sqlalchemy(connection, table, rows, ids)
        return
    dialect = connection.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    positional = compiled.positiontup
    # An INSERT's parameters are named after its columns.
    names = list(positional) if positional is not None else list(compiled.binds)
    if not set(names) <= wanted:  # pragma: no cover - a column key that is no bind name
        _through_sqlalchemy(connection, table, rows, ids)
        return
    # Column by column: each column's values, through its processor when it has one, then the
    # rows as tuples (zip). SQLAlchemy applies a column's processor to every value, None
    # included (JSON stores None as 'null'), so this does too.
    columns = []
    for name in names:
        values = list(ids) if name == "id" and ids is not None else [row[name] for row in rows]
        process = bind_processor(table.c[name].type, dialect)
        columns.append(values if process is None else _processed(process, values))
    if dialect.name == "postgresql" and table.name not in NO_COPY:
        copy_rows(
            connection,
            table.name,
            [table.c[name].name for name in names],
            zip(*columns, strict=True),
        )
        return
    params: list[Any]
    if positional is not None:
        params = list(zip(*columns, strict=True))
    else:
        params = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    connection.exec_driver_sql(compiled.string, params)


def _through_sqlalchemy(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    ids: Sequence[int] | None,
) -> None:
    given = (
        [dict(r) for r in rows]
        if ids is None
        else [{**r, "id": i} for r, i in zip(rows, ids, strict=True)]
    )
    connection.execute(insert(table), given)


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


#: The text SQLite's DATE and DATETIME types store by default (sqlalchemy.dialects.sqlite);
#: :func:`bind_processor` writes the same text faster only for these formats.
_SQLITE_DATE = "%(year)04d-%(month)02d-%(day)02d"
_SQLITE_DATETIME = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


def bind_processor(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's bind processor for ``dialect``, as SQLAlchemy would apply it.

    On SQLite a date and a UTC instant are written as their ISO text: SQLAlchemy's processor
    fills a ``%``-format from a dict of the fields (~1.5 µs a value, and an import writes a few
    hundred thousand); ``isoformat`` gives the same characters (four-digit year, six-digit
    microseconds) for the values it is given here (a ``date``; an instant already in UTC).
    Anything else (None, a datetime in a date column, another zone, a naive instant, which
    UTCDateTime refuses) goes through SQLAlchemy's own processor, so it is stored or refused
    exactly as before (tests/store/test_bulk.py compares them)."""
    process: Callable[[Any], Any] | None = column_type._cached_bind_processor(dialect)
    if process is None or dialect.name != "sqlite":
        return process
    if isinstance(column_type, UTCDateTime):
        impl = column_type.impl_instance.dialect_impl(dialect)
        if getattr(impl, "_storage_format", None) == _SQLITE_DATETIME:
            return _utc_text(process)
    elif isinstance(column_type, Date):
        impl = column_type.dialect_impl(dialect)
        if getattr(impl, "_storage_format", None) == _SQLITE_DATE and not getattr(
            impl, "_reg", None
        ):
            return _date_text(process)
    return process


def _utc_text(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    utc = dt.UTC
    datetime = dt.datetime

    def text(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is utc:
            return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"
        return process(value)

    return text


def _date_text(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    date = dt.date

    def text(value: Any) -> Any:
        if type(value) is date:
            return value.isoformat()
        return process(value)

    return text


def _processed(process: Any, values: list[Any]) -> list[Any]:
    """``[process(v) for v in values]``, processing a value only when it is not the same object
    as the one before: the rows of one batch share most instants (``created_at``,
    ``verified_at`` … are one ``now``), and a bind processor is a pure function of its value."""
    out = []
    last: Any = _NOTHING
    done: Any = None
    for value in values:
        if value is not last:
            done = process(value)
            last = value
        out.append(done)
    return out


_NOTHING = object()
