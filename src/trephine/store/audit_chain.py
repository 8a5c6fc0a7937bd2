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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from trephine.jsontext import dumps_with
from trephine.store.bulk import copy_rows
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


# ----------------------------------------------------------------- the append path, in bulk
# An import appends hundreds of thousands of events. Only ``prev`` depends on the chain, and in
# the sorted, compact serialization of :func:`canonical` it comes after every other field but
# ``v``; so each event's bytes are ``head + prev + TAIL``, with ``head`` made once, when the event
# is queued. The result is byte for byte :func:`canonical` (tests/store/test_audit_chain.py
# compares them), so ``audit verify`` re-checks it with the reference function.

_ENCODE = dumps_with(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_TAIL = f'","v":{CHAIN_VERSION}}}'
_PLAIN = (str, int, bool, type(None))


def detail_text(detail: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """``detail`` as it is stored and hashed: the value the JSON column gives back (see
    :func:`stored_detail`; integral floats as ints, see :func:`_normal`) and its canonical JSON.

    Raises ``ValueError`` for a NaN/infinite number and ``TypeError`` for a value JSON cannot
    hold. A flat detail of text, whole numbers, booleans and nulls (nearly every event) takes
    no round trip through JSON.
    """
    if all(type(k) is str and type(v) in _PLAIN for k, v in detail.items()):
        stored = dict(detail)
    else:
        try:
            stored = _plain(detail, 0)
        except _NotPlain:  # anything else takes the reference path (and its errors)
            stored = _normal(stored_detail(detail))
    return stored, _ENCODE(stored)


class _NotPlain(Exception):
    """A value :func:`_plain` leaves to the JSON round trip."""


def _plain(value: Any, depth: int) -> Any:
    """``_normal(stored_detail(value))`` without the JSON round trip, for the values JSON gives
    back unchanged: text, whole numbers, booleans, None, finite floats (an integral one as the
    int, as :func:`_normal` makes it), lists and tuples (as lists) and maps with text keys,
    nested. Raises :class:`_NotPlain` for anything else (subclasses such as enums, other keys,
    NaN, very deep nesting), which the round trip then serializes or refuses exactly as before.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if value != value or value in (_INF, -_INF):
            raise _NotPlain
        return int(value) if value.is_integer() else value
    if depth > 64:
        raise _NotPlain
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _NotPlain
            out[k] = _plain(v, depth + 1)
        return out
    if kind is list or kind is tuple:
        return [_plain(v, depth + 1) for v in value]
    raise _NotPlain


_INF = float("inf")


def event_head(
    occurred_at: str, actor: str, action: str, entity: str, entity_id: str, detail_json: str
) -> str:
    """The bytes of :func:`canonical` before the previous hash (``occurred_at`` as
    :func:`instant_text`, ``detail_json`` as :func:`detail_text` gives it)."""
    return (
        f'{{"action":{_name(action)},"actor":{_name(actor)},"at":{_name(occurred_at)},'
        f'"detail":{detail_json},"entity":{_name(entity)},"entity_id":{_STRING(entity_id)},'
        '"prev":"'
    )


#: JSON text of a string (what :data:`_ENCODE` gives for one, without its type check).
_STRING = json.encoder.encode_basestring
#: JSON text of the few names events repeat (actors, actions, entities, instants), made once.
_NAMES: dict[str, str] = {}


def _name(text: str) -> str:
    found = _NAMES.get(text)
    if found is None:
        if len(_NAMES) > 4096:
            _NAMES.clear()
        found = _NAMES[text] = _ENCODE(text)
    return found


class Queued(NamedTuple):
    """An audit event waiting for its place in the chain: the stored fields, the canonical
    detail text, and the parts of :func:`event_head` around it (``start``: what precedes the
    detail, made once per action, actor and instant; ``middle``: what follows it up to the
    entity id, made once per entity). The head itself is put together only when the event is
    hashed (:func:`link`): an import queues hundreds of thousands of events, and a head held
    per event until commit was ~300 bytes each. A named tuple: a frozen dataclass costs a
    ``__setattr__`` per field to make."""

    occurred_at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]
    detail_json: str
    start: str
    middle: str

    @property
    def head(self) -> str:
        """:func:`event_head` of this event."""
        return f'{self.start}{self.detail_json}{self.middle}{_STRING(self.entity_id)},"prev":"'


def queued(
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    detail: Mapping[str, Any],
) -> Queued:
    """One event ready to be chained (raises as :func:`detail_text`)."""
    (event,) = queue_many(occurred_at, {}, [(actor, action, entity, entity_id, detail)])
    return event


#: The types of the values (and, for ``str``, of the keys) of a detail that is stored and
#: hashed as given (see :func:`detail_text`).
_PLAIN_TYPES = frozenset(_PLAIN)
_TEXT_TYPE = frozenset({str})


def queue_many(
    occurred_at: dt.datetime,
    context: Mapping[str, Any],
    events: Iterable[tuple[str, str, str, str, Mapping[str, Any]]],
) -> list[Queued]:
    """Events ``(actor, action, entity, entity_id, detail)`` of one instant ready to be
    chained, each detail merged over ``context`` (``{**context, **detail}``) and made what
    :func:`detail_text` makes of it. Raises as :func:`detail_text` at the first event whose
    detail JSON cannot hold; ``events`` is read one event at a time (a caller checking names
    as it yields them refuses them in the order of the events)."""
    at_json = _ENCODE(instant_text(occurred_at))
    # A context of plain keys and values is checked once; each event's own detail, by two
    # C-level scans of its key and value types (the genexpr of detail_text cost ~2 µs).
    context_plain = _TEXT_TYPE.issuperset(map(type, context)) and _PLAIN_TYPES.issuperset(
        map(type, context.values())
    )
    starts: dict[tuple[str, str], str] = {}  # what precedes the detail, by (action, actor)
    plans: dict[tuple[str, ...], tuple[list[str], list[tuple[int, str]]]] = {}
    out: list[Queued] = []
    append = out.append
    for actor, action, entity, entity_id, detail in events:
        stored = {**context, **detail}
        if (
            context_plain
            and _TEXT_TYPE.issuperset(map(type, detail))
            and _PLAIN_TYPES.issuperset(map(type, detail.values()))
        ):
            # What _ENCODE(stored) gives, from a plan made once per key set: the keys in
            # order with the context's values already encoded, and a slot per own value.
            keys = tuple(detail)
            plan = plans.get(keys)
            if plan is None:
                plan = plans[keys] = _plan(context, keys)
            parts, slots = plan
            parts = parts.copy()
            for position, key in slots:
                value = detail[key]
                kind = type(value)
                parts[position] = (
                    _STRING(value)
                    if kind is str
                    else _INT_TEXT(value)
                    if kind is int
                    else ("true" if value else "false")
                    if kind is bool
                    else "null"
                )
            text_ = "".join(parts)
        else:
            stored, text_ = detail_text(stored)
        start = starts.get((action, actor))
        if start is None:
            start = starts[action, actor] = (
                f'{{"action":{_name(action)},"actor":{_name(actor)},"at":{at_json},"detail":'
            )
        middle = _MIDDLES.get(entity)
        if middle is None:
            if len(_MIDDLES) > 4096:
                _MIDDLES.clear()
            middle = _MIDDLES[entity] = f',"entity":{_ENCODE(entity)},"entity_id":'
        append(Queued(occurred_at, actor, action, entity, entity_id, stored, text_, start, middle))
    return out


def _plan(
    context: Mapping[str, Any], keys: tuple[str, ...]
) -> tuple[list[str], list[tuple[int, str]]]:
    """How :data:`_ENCODE` writes ``{**context, **detail}`` for a detail with ``keys`` (text
    keys, plain values): the text in pieces, key-sorted and compact, the context's values
    encoded, and ``(piece, key)`` for each of the detail's values (``None`` until filled)."""
    own = set(keys)
    pieces: list[str] = []
    slots: list[tuple[int, str]] = []
    for number, key in enumerate(sorted({**context, **dict.fromkeys(keys)})):
        pieces.append(("{" if number == 0 else ",") + _STRING(key) + ":")
        if key in own:
            slots.append((len(pieces), key))
            pieces.append("null")
        else:
            pieces.append(_ENCODE(context[key]))
    pieces.append("}" if pieces else "{}")
    return pieces, slots


#: JSON text of an ``int`` (what the C encoder calls for one).
_INT_TEXT = int.__repr__

#: The part of :func:`event_head` between the detail and the entity id, by entity.
_MIDDLES: dict[str, str] = {}


def link(prev_hash: str, events: Sequence[Queued]) -> list[tuple[str, str]]:
    """``(prev_hash, hash)`` of each event of ``events`` chained after ``prev_hash``."""
    links: list[tuple[str, str]] = []
    for event in events:
        digest = _digest(event, prev_hash)
        links.append((prev_hash, digest))
        prev_hash = digest
    return links


def _digest(event: Queued, prev_hash: str) -> str:
    """The hash of ``event`` linked after ``prev_hash``: SHA-256 of its :func:`canonical`
    bytes, put together from its parts (:func:`append_rows` inlines this expression)."""
    return sha256(
        f'{event.start}{event.detail_json}{event.middle}{_STRING(event.entity_id)},"prev":"'
        f"{prev_hash}{_TAIL}".encode()
    ).hexdigest()


sha256 = hashlib.sha256


def take_lock(session: Session) -> None:
    """Serialize appenders until this transaction ends (see the module docstring)."""
    session.execute(text("UPDATE audit_chain_lock SET holds = holds WHERE id = 1"))


def last_hash(session: Session) -> str:
    """The newest event's hash (by id), or :data:`GENESIS` for an empty trail."""
    found = session.scalar(select(AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1))
    return found if found is not None else GENESIS


#: The columns an append writes, in the order of its values.
_COLUMNS = ("occurred_at", "actor", "action", "entity", "entity_id", "detail", "prev_hash", "hash")


def append_rows(session: Session, rows: Sequence[Queued]) -> None:
    """Insert ``rows`` in order at the end of the chain, in the caller's transaction.

    One driver-level executemany (a ``COPY`` on PostgreSQL): the values are already what the
    columns store (the detail as its canonical JSON text, the instant through the column type's
    own bind processor), so nothing is serialized twice and no ORM object is built.
    """
    if not rows:
        return
    session.flush()  # the audited changes first: the lock is the last one taken
    take_lock(session)
    prev = last_hash(session)
    connection = session.connection()
    dialect = connection.dialect
    column = AuditEventRow.__table__.c.occurred_at
    instant = column.type._cached_bind_processor(dialect) or (lambda value: value)
    at: dict[dt.datetime, Any] = {}
    values: list[tuple[Any, ...]] = []
    append = values.append
    string = _STRING
    for row in rows:
        when = at.get(row.occurred_at)
        if when is None:
            when = at[row.occurred_at] = instant(row.occurred_at)
        detail_json = row.detail_json
        # _digest(row, prev), inlined: one call less per event.
        digest = sha256(
            f'{row.start}{detail_json}{row.middle}{string(row.entity_id)},"prev":"'
            f"{prev}{_TAIL}".encode()
        ).hexdigest()
        append(
            (
                when,
                row.actor,
                row.action,
                row.entity,
                row.entity_id,
                detail_json,  # PostgreSQL's jsonb column reads the text as a CAST would
                prev,
                digest,
            )
        )
        prev = digest
    if dialect.name == "postgresql":
        copy_rows(connection, "audit_event", _COLUMNS, values)
        return
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = f"INSERT INTO audit_event ({', '.join(_COLUMNS)}) VALUES ({', '.join([mark] * 8)})"
    connection.exec_driver_sql(statement, values)
