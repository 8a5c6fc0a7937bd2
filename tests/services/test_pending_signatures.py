"""Pending electronic signatures in the database (services/pending_signatures.py, migration
0021), on SQLite and PostgreSQL: kept with digests only, taken once, never after the window."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select, update

from trephine.services import pending_signatures
from trephine.store.database import Database
from trephine.store.tables import PendingSignatureRow

WINDOW = 300


def _keep(database: Database, key: str, **detail: object) -> None:
    pending_signatures.keep(
        database,
        key,
        state=f"state-{key}",
        nonce=f"nonce-{key}",
        user="dr.oidc",
        session_id=None,
        subject="https://idp|0042",
        action="result-sign-out",
        detail=dict(detail),
        window=WINDOW,
    )


def _rows(database: Database) -> list[PendingSignatureRow]:
    with database.unit_of_work("t") as uow:
        return list(uow.session.scalars(select(PendingSignatureRow)))


def test_kept_with_digests_only_and_taken_once(database: Database) -> None:
    _keep(database, "key-one", result=7)
    (row,) = _rows(database)
    stored = {str(getattr(row, c.name)) for c in PendingSignatureRow.__table__.columns}
    for secret in ("key-one", "state-key-one", "nonce-key-one"):
        assert not any(secret in value for value in stored), secret  # nothing in clear
    assert row.key_hash == hashlib.sha256(b"key-one").hexdigest()

    assert pending_signatures.take(database, "another-key", window=WINDOW) is None
    taken = pending_signatures.take(database, "key-one", window=WINDOW)
    assert taken is not None
    assert (taken.user, taken.subject, taken.action, taken.detail) == (
        "dr.oidc",
        "https://idp|0042",
        "result-sign-out",
        {"result": 7},
    )
    assert taken.asked_with("state-key-one", "nonce-key-one")
    assert not taken.asked_with("state-key-one", "nonce-of-another-flow")
    assert not taken.asked_with("forged-state", "nonce-key-one")
    assert pending_signatures.take(database, "key-one", window=WINDOW) is None  # single use
    assert _rows(database) == []


def test_none_after_the_window_and_old_ones_are_deleted(database: Database) -> None:
    _keep(database, "late")
    _keep(database, "old")
    with database.engine.begin() as connection:
        table = PendingSignatureRow.__table__
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=WINDOW + 1)
        connection.execute(update(table).values(started_at=long_ago))
    assert pending_signatures.take(database, "late", window=WINDOW) is None
    _keep(database, "new")  # keeping one deletes those past the window
    assert [r.key_hash for r in _rows(database)] == [hashlib.sha256(b"new").hexdigest()]
    assert pending_signatures.take(database, "new", window=WINDOW) is not None


def test_of_two_returns_at_once_one_takes_it(database: Database) -> None:
    """Two server processes receiving the same return at the same moment: one applies it."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    for round_ in range(3):
        _keep(database, f"raced-{round_}")
        start = Barrier(2)

        def take(key: str = f"raced-{round_}", start: Barrier = start) -> object:
            start.wait()
            return pending_signatures.take(database, key, window=WINDOW)

        with ThreadPoolExecutor(2) as pool:
            taken = [f.result() for f in [pool.submit(take), pool.submit(take)]]
        assert sum(t is not None for t in taken) == 1, taken
