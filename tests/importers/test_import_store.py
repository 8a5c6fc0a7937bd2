"""What an import stores does not depend on how fast it is written.

The import writes through fast paths: ``store.bulk.insert_many`` (a driver ``executemany`` of
processed tuples, a ``COPY`` on PostgreSQL) and ``store.audit_chain.append_rows`` (events
serialized once, chained from pre-built heads, one ``executemany`` or ``COPY``). Here the same
files are imported twice (and again, all present) with a fixed clock: once as shipped, once
with both fast paths replaced by SQLAlchemy's own ``insert`` and the reference
:func:`trephine.store.audit_chain.chain` (``canonical`` serialization). Every row of every
table, ids and hashes included, must be the same, and both trails must verify.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Table, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from trephine.importers.clinical import WRITE_BATCH, import_path
from trephine.services import audit
from trephine.store import audit_chain
from trephine.store.database import Database
from trephine.store.tables import AuditEventRow, Base

AT = dt.datetime(2026, 11, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
#: Copies of the example (12 results each): more results than one write batch holds.
COPIES = WRITE_BATCH // 12 + 20


def _scaled(source: Path, target: Path, copies: int) -> Path:
    """The example set ``copies`` times (patient ids, accessions and MRNs suffixed)."""
    target.mkdir()
    for path in sorted(source.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            header, *rows = list(csv.reader(handle))
        keyed = [header.index(c) for c in ("patient_id", "accession", "mrn") if c in header]
        with (target / path.name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for copy in range(copies):
                for row in rows:
                    writer.writerow(
                        [f"{v}-{copy}" if i in keyed and v else v for i, v in enumerate(row)]
                    )
    return target


def _reference_insert_many(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    ids: Sequence[int] | None = None,
) -> None:
    if rows:
        given = [dict(row) if ids is None else {**row, "id": ids[n]} for n, row in enumerate(rows)]
        connection.execute(insert(table), given)


def _reference_append_rows(session: Session, rows: Sequence[audit_chain.Queued]) -> None:
    if not rows:
        return
    session.flush()
    audit_chain.take_lock(session)
    linked = audit_chain.chain(
        audit_chain.last_hash(session),
        [
            {
                "occurred_at": r.occurred_at,
                "actor": r.actor,
                "action": r.action,
                "entity": r.entity,
                "entity_id": r.entity_id,
                "detail": audit_chain.stored_detail(r.detail),
            }
            for r in rows
        ],
    )
    session.execute(insert(AuditEventRow.__table__), linked)


def _imported(url: str, folder: Path) -> tuple[list[Any], dict[str, list[tuple[Any, ...]]]]:
    db = Database(url, clock=lambda: AT)
    try:
        reports = [import_path(db, folder, "importer") for _ in range(2)]
        outcome = [
            (sorted(r.created.items()), sorted(r.updated.items()), sorted(r.unchanged.items()))
            for r in reports
        ]
        with db.unit_of_work("auditor") as uow:
            chain = audit.walk_chain(uow)
        assert chain.first_break is None and chain.events > 0, chain
        tables = Base.metadata.tables
        names = [n for n in inspect(db.engine).get_table_names() if n in tables]
        with db.engine.connect() as connection:
            stored = {
                name: [
                    tuple(row)
                    for row in connection.execute(
                        select(tables[name]).order_by(*tables[name].primary_key.columns)
                    )
                ]
                for name in sorted(names)
            }
    finally:
        db.dispose()
    return outcome, stored


@contextmanager
def _second(database: Database, tmp_path: Path) -> Iterator[str]:
    """Another migrated database on the same backend as ``database``."""
    if database.engine.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path / 'reference.db'}"
        Database(url).upgrade()
        yield url
        return
    name = f"trephine_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(database.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(database.url).set(database=name).render_as_string(hide_password=False)
        db = Database(url)
        db.upgrade()
        db.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_fast_write_paths_store_exactly_what_sqlalchemy_stores(
    database: Database, example_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _scaled(example_dir, tmp_path / "scaled", COPIES)
    fast = _imported(database.url, folder)
    with _second(database, tmp_path) as url:
        monkeypatch.setattr("trephine.services._batch.insert_many", _reference_insert_many)
        monkeypatch.setattr("trephine.store.audit_chain.append_rows", _reference_append_rows)
        reference = _imported(url, folder)
    assert fast[0] == reference[0]
    assert dict(fast[0][0][0])["results"] == COPIES * 12
    assert len(fast[1]["audit_event"]) > COPIES * 12 * 2  # create + verify per result, and more
    for name, rows in reference[1].items():
        assert fast[1][name] == rows, name
