"""The audit trail's hash chain: how an event is serialized and hashed, and how events are
appended without forking the chain.

Each audit event stores ``prev_hash`` (the ``hash`` of the event before it, by id; the first
event links to :data:`GENESIS`) and its own ``hash``: SHA-256 over :func:`canonical` — a
versioned, key-sorted, whitespace-free UTF-8 JSON of the previous hash and every stored field
(``occurred_at`` as UTC with microseconds, ``actor``, ``action``, ``entity``, ``entity_id``,
``detail``). Changing, deleting, inserting or re-ordering a stored event therefore breaks the
chain at that event, and ``trephine audit verify`` names it.

The serialization is frozen (``"v": 1``): migration 0007 back-filled existing rows with it and
every verifier recomputes it. A new format needs a new version tag, never an edit of this one.

Appends are serialized: :func:`append_rows` first takes the chain lock (an ``UPDATE`` of the one
row of ``audit_chain_lock``: a row lock until commit on PostgreSQL, the database write lock on
SQLite), then reads the last hash and inserts. Two concurrent writers therefore cannot both link
to the same predecessor. The unit of work calls it once, just before committing, so the lock is
the last one a transaction takes and is held only for the commit (no lock-order deadlocks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from trephine.store.tables import AuditEventRow

#: ``prev_hash`` of the first event of a trail.
GENESIS = "0" * 64
#: Version tag inside every serialization (see the module docstring).
CHAIN_VERSION = 1


def instant_text(moment: dt.datetime) -> str:
    """``occurred_at`` as it is hashed: UTC, microseconds, ``Z`` (a naive value is UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _normal(value: Any) -> Any:
    """A JSON value as every backend gives it back: an integral float reads back as an int from
    PostgreSQL's JSONB, so both are hashed as the int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value


def stored_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """``detail`` as the JSON column will store and return it (tuples become lists, keys text).

    Raises ``ValueError`` for a NaN/infinite number and ``TypeError`` for a value JSON cannot
    hold, before anything is written.
    """
    loaded: dict[str, Any] = json.loads(json.dumps(dict(detail), allow_nan=False))
    return loaded


def canonical(
    prev_hash: str,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    detail: Mapping[str, Any],
) -> bytes:
    """The bytes an event's hash is taken over (version 1; frozen)."""
    payload = {
        "v": CHAIN_VERSION,
        "prev": prev_hash,
        "at": instant_text(occurred_at),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "detail": _normal(dict(detail)),
    }
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(prev_hash: str, **fields: Any) -> str:
    """SHA-256 (hex) of :func:`canonical`."""
    return hashlib.sha256(canonical(prev_hash, **fields)).hexdigest()


def chain(prev_hash: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (occurred_at, actor, action, entity, entity_id, detail) linked after
    ``prev_hash``: each gets ``prev_hash`` and ``hash``."""
    linked: list[dict[str, Any]] = []
    for row in rows:
        fields = {
            k: row[k] for k in ("occurred_at", "actor", "action", "entity", "entity_id", "detail")
        }
        digest = event_hash(prev_hash, **fields)
        linked.append({**fields, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    return linked


def take_lock(session: Session) -> None:
    """Serialize appenders until this transaction ends (see the module docstring)."""
    session.execute(text("UPDATE audit_chain_lock SET holds = holds WHERE id = 1"))


def last_hash(session: Session) -> str:
    """The newest event's hash (by id), or :data:`GENESIS` for an empty trail."""
    found = session.scalar(select(AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1))
    return found if found is not None else GENESIS


def append_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` in order at the end of the chain, in the caller's transaction."""
    if not rows:
        return
    session.flush()  # the audited changes first: the lock is the last one taken
    take_lock(session)
    session.execute(insert(AuditEventRow), chain(last_hash(session), rows))
