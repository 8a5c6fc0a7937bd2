"""What the batch writers of the services share: outcomes, chunked key look-ups, inserts that
return their ids, and audit events kept in the order the facts were recorded.

A batch writer (``register_patients``, ``record_results`` …) takes many facts and answers, per
fact and in order, ``(row id, Outcome)`` or the :class:`~trephine.errors.TrephineError` that
refuses it — the same answer the one-fact writer gives, so an importer can locate every error.
It reads the natural keys it needs in a few ``IN`` queries, inserts new rows with one
``executemany`` per table, and appends the audit events of the whole batch in one call, one
event per recorded fact exactly as the one-fact writers do. The caller's unit of work stays the
transaction: a batch is all-or-nothing together with everything else in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, cast

from sqlalchemy import Table, func, insert, select

from trephine.errors import TrephineError
from trephine.services import audit
from trephine.store.bulk import insert_many
from trephine.store.database import UnitOfWork
from trephine.store.tables import Base

T = TypeVar("T")

#: Keys per ``IN (…)`` look-up: far below SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


class Outcome(StrEnum):
    """What a writer did with a fact: added it, added to it (audited), or found it recorded."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


Written = tuple[int, Outcome]
Answer = Written | TrephineError


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def patient_ids(uow: UnitOfWork, external_ids: Iterable[str]) -> dict[str, int]:
    """Row ids of the patients among ``external_ids`` that are recorded."""
    found: dict[str, int] = {}
    session = uow.session
    session.flush()  # as session.execute would: patients added but not yet written count too
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    # Plain SQL: SQLAlchemy renders an IN list value by value on every execution (~2 µs each),
    # and an import asks for every patient of every sheet; text and integer columns need no
    # processing either way.
    for batch in chunks(sorted(set(external_ids))):
        marks = ", ".join([mark] * len(batch))
        statement = f"SELECT external_id, id FROM patient WHERE external_id IN ({marks})"
        found.update(
            (pid, row_id) for pid, row_id in connection.exec_driver_sql(statement, tuple(batch))
        )
    return found


def insert_rows(uow: UnitOfWork, model: type[Base], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` into ``model``'s table with one executemany (no ORM objects); their new
    ids, in the order of ``rows``.

    The ids are chosen first and inserted with the rows, so the driver's plain executemany
    does the work (``INSERT … RETURNING`` of many rows in a known order costs one statement per
    row on SQLite): on PostgreSQL they are drawn from the table's sequence; on SQLite the first
    row is inserted alone and gives its id, and the rest follow it — the transaction now holds
    SQLite's one write lock, so no other writer can take those ids, and a taken one would fail
    the primary key (and roll the unit of work back), never overwrite.
    """
    if not rows:
        return []
    table = cast(Table, model.__table__)
    session = uow.session
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        sequence = select(func.nextval(func.pg_get_serial_sequence(table.name, "id"))).select_from(
            func.generate_series(1, len(rows))
        )
        ids = list(session.execute(sequence).scalars())
    else:
        first = session.execute(insert(table).returning(table.c.id), [rows[0]]).scalar_one()
        ids = list(range(first, first + len(rows)))
        rows = rows[1:]
    if rows:
        start = len(ids) - len(rows)
        insert_many(session.connection(), table, rows, ids[start:])
    return ids


@dataclass
class Events:
    """Audit events of a batch, in the order of the facts. An event about a row not inserted yet
    names it by its position among the batch's new rows; :meth:`append` resolves it."""

    #: ``(action, entity, entity_id, detail, None)``: as :func:`audit.append_many` takes them.
    entries: list[tuple[str, str, object, dict[str, Any], None]] = field(default_factory=list)
    pending: list[tuple[int, str, str, int, dict[str, Any]]] = field(default_factory=list)

    def add(self, action: str, entity: str, entity_id: object, detail: dict[str, Any]) -> None:
        self.entries.append((action, entity, entity_id, detail, None))

    def add_new(self, action: str, entity: str, new_row: int, detail: dict[str, Any]) -> None:
        """An event about the ``new_row``-th row this batch inserts."""
        self.pending.append((len(self.entries), action, entity, new_row, detail))
        self.entries.append((action, entity, None, detail, None))

    def append(self, uow: UnitOfWork, new_ids: Sequence[int] = ()) -> None:
        """Write the events to the audit trail, in order, then forget them."""
        for position, action, entity, new_row, detail in self.pending:
            self.entries[position] = (action, entity, new_ids[new_row], detail, None)
        audit.append_many(uow, self.entries)
        self.entries, self.pending = [], []


def unique_runs(items: Sequence[T], key: Callable[[T], object]) -> Iterator[list[int]]:
    """Positions of ``items`` split into consecutive runs in which no key repeats.

    A batch reads its natural keys once, before writing; a fact given twice in one batch must
    see the first one written, as it would one at a time, so the second starts a new run.
    """
    run: list[int] = []
    seen: set[object] = set()
    for position, item in enumerate(items):
        k = key(item)
        if k in seen:
            yield run
            run, seen = [], set()
        run.append(position)
        seen.add(k)
    if run:
        yield run


def in_runs(
    uow: UnitOfWork,
    items: Sequence[T],
    key: Callable[[T], object],
    write: Callable[[UnitOfWork, list[T]], list[Answer]],
) -> list[Answer]:
    """``write`` each run of :func:`unique_runs` in turn; the answers of all runs, in order."""
    answers: list[Answer] = []
    for run in unique_runs(items, key):
        answers += write(uow, [items[i] for i in run])
    return answers


def resolved(answers: Sequence[Answer | int], new_ids: Sequence[int]) -> list[Answer]:
    """Answers of a run: an int stands for the n-th new row, now inserted as ``new_ids[n]``."""
    return [(new_ids[a], Outcome.CREATED) if isinstance(a, int) else a for a in answers]
