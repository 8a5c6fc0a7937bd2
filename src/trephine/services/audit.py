"""The audit trail: the ONE way to write it (:func:`append`), reading it, and checking it is
intact (``trephine audit verify``: database guards, the hash chain, result events).

Every audit event in Trephine is written by :func:`append`, one or many at a time; the unit of
work chains them (:mod:`trephine.store.audit_chain`) just before it commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy.exc
from sqlalchemy import Connection, Executable, delete, insert, select, update

from trephine.errors import ValidationError
from trephine.services.views import AuditEvent
from trephine.store import audit_chain
from trephine.store.database import Database, UnitOfWork, utc_now
from trephine.store.tables import AuditEventRow, Base
from trephine.workflow import REPORTED_STATES, ResultState

#: Column widths of ``audit_event`` (see store/tables.py).
_WIDTHS = {"actor": 200, "action": 32, "entity": 32, "entity_id": 200}


@dataclass(frozen=True)
class Entry:
    """One audit event to append: what was done (``action``: create, read, verify, amend, …) to
    which record (``entity`` type and ``entity_id``), with ``detail`` (reason, changed fields, …).

    ``actor`` defaults to the unit of work's actor; give it only when the event is about someone
    else than the one the transaction acts for (e.g. a sign-in attempt naming the account).
    """

    action: str
    entity: str
    entity_id: object
    detail: Mapping[str, Any] = field(default_factory=dict)
    actor: str | None = None


def append(uow: UnitOfWork, events: Entry | Iterable[Entry]) -> None:
    """Append one event or many, in order, to the trail as part of ``uow``'s transaction.

    They are stamped now (``uow.now()``), merged over ``uow.context`` (e.g. the import file and
    its checksum) and hash-chained when the unit of work commits; a rolled-back unit of work
    writes none of them. A malformed event (empty or over-long names, a detail JSON cannot hold)
    is refused with :class:`ValidationError` before anything is written.
    """
    batch = [events] if isinstance(events, Entry) else events
    append_many(uow, ((e.action, e.entity, e.entity_id, e.detail, e.actor) for e in batch))


def append_many(
    uow: UnitOfWork,
    events: Iterable[tuple[str, str, object, Mapping[str, Any], str | None]],
) -> None:
    """:func:`append` for events given as ``(action, entity, entity_id, detail, actor)``
    tuples (``actor`` None: the unit of work's), as the services' batch writers hold them:
    the same checks, stamps and chain, without an :class:`Entry` made for each of them."""
    # The events are checked as queue_many reads them (in order, as before); what the checks
    # (or the events' iterable) raise goes out as raised, a detail JSON cannot hold as a
    # ValidationError naming the event's action.
    failed: list[Exception] = []
    action = ""

    def checked() -> Iterator[tuple[str, str, str, str, Mapping[str, Any]]]:
        nonlocal action
        names: set[tuple[str, str, str]] = set()  # (actor, action, entity) found well-formed
        width = _WIDTHS["entity_id"]
        try:
            for action, entity, entity_id, event_detail, event_actor in events:
                actor = uow.actor if event_actor is None else event_actor
                if (actor, action, entity) not in names:
                    for name, value in (("actor", actor), ("action", action), ("entity", entity)):
                        _check_name(name, value)
                    names.add((actor, action, entity))
                text_id = str(entity_id)
                if not text_id.strip() or len(text_id) > width:
                    _check_name("entity_id", text_id)
                yield actor, action, entity, text_id, event_detail
        except Exception as exc:
            failed.append(exc)
            raise

    try:
        queued = audit_chain.queue_many(uow.now(), uow.context, checked())
    except (TypeError, ValueError) as exc:
        if failed and failed[-1] is exc:  # a name refused (or the events' own error): as is
            raise
        raise ValidationError(
            "audit detail", action, "JSON text, numbers, booleans, lists and maps"
        ) from None
    uow.queue_audit(queued)


def _check_name(name: str, value: object) -> None:
    """Refuse an empty or over-long actor, action, entity or entity id."""
    width = _WIDTHS[name]
    if not isinstance(value, str) or not value.strip() or len(value) > width:
        raise ValidationError(
            f"audit {name}", value, f"non-empty text of at most {width} characters"
        )


def events(
    uow: UnitOfWork,
    entity: str | None = None,
    entity_id: object | None = None,
    *,
    actor: str | None = None,
    since: dt.datetime | None = None,
) -> list[AuditEvent]:
    """Audit events, oldest first, narrowed by the database (the trail grows without bound, so
    reading all of it to keep a few events is not an option).

    ``since`` is an aware instant; events at or after it are kept.
    """
    uow.write_audit()  # this transaction's own events too
    query = select(AuditEventRow).order_by(AuditEventRow.id)
    if entity is not None:
        query = query.where(AuditEventRow.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEventRow.entity_id == str(entity_id))
    if actor is not None:
        query = query.where(AuditEventRow.actor == actor)
    if since is not None:
        query = query.where(AuditEventRow.occurred_at >= since)
    return [
        AuditEvent(r.id, r.occurred_at, r.actor, r.action, r.entity, r.entity_id, dict(r.detail))
        for r in uow.session.scalars(query)
    ]


def events_for(uow: UnitOfWork, entity: str, entity_ids: Iterable[object]) -> list[AuditEvent]:
    """Audit events of several entities of one kind, oldest first, in ONE query.

    A result's history has one row per version; asking per version (N+1 round trips) is what
    ``results show`` used to do, and each round trip costs far more than the rows it returns.
    """
    wanted = sorted({str(i) for i in entity_ids})
    if not wanted:
        return []
    uow.write_audit()
    query = (
        select(AuditEventRow)
        .where(AuditEventRow.entity == entity, AuditEventRow.entity_id.in_(wanted))
        .order_by(AuditEventRow.id)
    )
    return [
        AuditEvent(r.id, r.occurred_at, r.actor, r.action, r.entity, r.entity_id, dict(r.detail))
        for r in uow.session.scalars(query)
    ]


@dataclass(frozen=True)
class Check:
    """One finding of ``audit verify``; ``passed`` is None when there was nothing to check."""

    name: str
    passed: bool | None
    detail: str


def probe_guards(database: Database) -> list[Check]:
    """Try to tamper with the trail inside a transaction that is always rolled back.

    Asking the database to do the forbidden thing is a stronger check than looking for trigger
    names: it proves the guard fires on this backend, whatever the migration called it. Each probe
    runs in its own savepoint because PostgreSQL aborts a transaction after a refused statement.
    """

    def refused(connection: Connection, name: str, statement: Executable) -> Check:
        savepoint = connection.begin_nested()
        try:
            connection.execute(statement)
        except sqlalchemy.exc.DBAPIError as exc:
            savepoint.rollback()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            return Check(name, True, f"refused by the database: {reason}")
        savepoint.rollback()
        return Check(name, False, "the database ACCEPTED it: the append-only guard is missing")

    tables = Base.metadata.tables
    audit_table, assessment_table = tables["audit_event"], tables["assessment"]
    result_table = tables["result"]
    checks: list[Check] = []
    with database.engine.connect() as connection:
        outer = connection.begin()
        try:
            probe = connection.execute(
                insert(audit_table)
                .values(
                    occurred_at=utc_now(),
                    actor="audit-verify",
                    action="probe",
                    entity="probe",
                    entity_id="0",
                    detail={},
                    prev_hash=audit_chain.GENESIS,
                    hash=audit_chain.GENESIS,
                )
                .returning(audit_table.c.id)
            ).scalar_one()
            row = audit_table.c.id == probe
            checks.append(
                refused(
                    connection,
                    "audit events must carry the chain hashes",
                    insert(audit_table).values(
                        occurred_at=utc_now(),
                        actor="audit-verify",
                        action="probe",
                        entity="probe",
                        entity_id="0",
                        detail={},
                    ),
                )
            )
            checks.append(
                refused(
                    connection,
                    "audit events cannot be changed",
                    update(audit_table).where(row).values(actor="tampered"),
                )
            )
            checks.append(
                refused(
                    connection, "audit events cannot be deleted", delete(audit_table).where(row)
                )
            )
            assessment = connection.scalar(select(assessment_table.c.id).limit(1))
            if assessment is None:
                checks.append(Check("stored assessments cannot change", None, "none stored yet"))
            else:
                checks.append(
                    refused(
                        connection,
                        "stored assessments cannot change",
                        update(assessment_table)
                        .where(assessment_table.c.id == assessment)
                        .values(recorded_by="tampered"),
                    )
                )
            signed = connection.scalar(
                select(result_table.c.id).where(result_table.c.state != "draft").limit(1)
            )
            if signed is None:
                for name in (
                    "signed-out results cannot change in place",
                    "signed-out results cannot be deleted",
                ):
                    checks.append(Check(name, None, "no signed-out result yet"))
            else:
                where = result_table.c.id == signed
                checks.append(
                    refused(
                        connection,
                        "signed-out results cannot change in place",
                        update(result_table).where(where).values(created_by="tampered"),
                    )
                )
                checks.append(
                    refused(
                        connection,
                        "signed-out results cannot be deleted",
                        delete(result_table).where(where),
                    )
                )
            # A current signed-out version (verified/amended): superseded ones are frozen whole,
            # so probing one would pass even without migration 0005's sign-out guard.
            current = connection.scalar(
                select(result_table.c.id)
                .where(result_table.c.state.in_([str(s) for s in REPORTED_STATES]))
                .limit(1)
            )
            sign_out = "who signed a result out cannot be changed"
            if current is None:
                checks.append(Check(sign_out, None, "no current signed-out result yet"))
            else:
                checks.append(
                    refused(
                        connection,
                        sign_out,
                        update(result_table)
                        .where(result_table.c.id == current)
                        .values(verified_by="tampered"),
                    )
                )
        finally:
            outer.rollback()
    return checks


@dataclass(frozen=True)
class ChainBreak:
    """The first place the hash chain does not hold: which event, and what differs."""

    event_id: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    """The walk over the whole chain: how many events, the head (last id and hash) to record
    elsewhere as an anchor, and the first break if any."""

    events: int
    head_id: int | None
    head_hash: str
    first_break: ChainBreak | None


#: Events read per round trip while walking the chain.
_CHAIN_BATCH = 5000


def walk_chain(uow: UnitOfWork) -> ChainReport:
    """Recompute every event's hash in id order and check each links to the one before it.

    A changed field shows as an event whose stored hash no longer matches its content; a
    removed, inserted or re-ordered event as a link that does not match its predecessor's hash;
    an event written around the chain as one with no hash.
    """
    uow.write_audit()
    prev, prev_id, after, count = audit_chain.GENESIS, None, 0, 0
    while True:
        rows = uow.session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.id > after)
            .order_by(AuditEventRow.id)
            .limit(_CHAIN_BATCH)
        ).all()
        if not rows:
            return ChainReport(count, prev_id, prev, None)
        for row in rows:
            count += 1
            before = "the start of the trail" if prev_id is None else f"event #{prev_id}"
            if row.hash is None or row.prev_hash is None:
                return ChainReport(
                    count,
                    prev_id,
                    prev,
                    ChainBreak(row.id, "it carries no chain hash (written around the chain)"),
                )
            if row.prev_hash != prev:
                return ChainReport(
                    count,
                    prev_id,
                    prev,
                    ChainBreak(
                        row.id,
                        f"it links to {row.prev_hash[:16]}…, but {before} hashes to "
                        f"{prev[:16]}… (an event was removed, inserted or re-ordered here)",
                    ),
                )
            content = audit_chain.event_hash(
                row.prev_hash,
                occurred_at=row.occurred_at,
                actor=row.actor,
                action=row.action,
                entity=row.entity,
                entity_id=row.entity_id,
                detail=row.detail,
            )
            if content != row.hash:
                return ChainReport(
                    count,
                    prev_id,
                    prev,
                    ChainBreak(
                        row.id,
                        f"its content hashes to {content[:16]}…, not to its stored hash "
                        f"{row.hash[:16]}… (its time, actor, action, entity, entity id or "
                        "detail was changed after it was written)",
                    ),
                )
            prev, prev_id = row.hash, row.id
        after = rows[-1].id


def parse_anchor(text: str) -> tuple[int, str]:
    """``ID:HASH`` as printed by ``audit verify`` (the chain head recorded elsewhere)."""
    event_id, _, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if not event_id.isdigit() or len(digest) != 64 or set(digest) - set("0123456789abcdef"):
        raise ValidationError("anchor", text, "EVENT_ID:SHA256 as printed by 'audit verify'")
    return int(event_id), digest


def chain_checks(uow: UnitOfWork, anchors: Iterable[tuple[int, str]] = ()) -> list[Check]:
    """``audit verify``'s chain findings: the walk, and each recorded head still in place."""
    report = walk_chain(uow)
    name = "the audit events form an unbroken hash chain"
    if report.first_break is not None:
        found = report.first_break
        checks = [Check(name, False, f"first break at event #{found.event_id}: {found.problem}")]
    elif report.head_id is None:
        checks = [Check(name, None, "no audit events yet")]
    else:
        checks = [
            Check(
                name,
                True,
                f"{report.events} events; head #{report.head_id}:{report.head_hash}",
            )
        ]
    for event_id, digest in anchors:
        stored = uow.session.scalar(select(AuditEventRow.hash).where(AuditEventRow.id == event_id))
        anchor = f"recorded head #{event_id} is still in the chain"
        if stored == digest:
            checks.append(Check(anchor, True, f"event #{event_id} still hashes to {digest[:16]}…"))
        elif stored is None:
            checks.append(Check(anchor, False, f"event #{event_id} is gone"))
        else:
            checks.append(
                Check(
                    anchor,
                    False,
                    f"event #{event_id} now has hash {stored[:16]}…, not the recorded "
                    f"{digest[:16]}… (the trail was rewritten)",
                )
            )
    return checks


def trail_checks(uow: UnitOfWork) -> list[Check]:
    """Does every result version have the audit events its columns claim (who created, signed
    out, amended or cancelled it), and does every result event point at an existing version?"""
    from trephine.services import results  # results appends audit events: import it lazily

    versions = results.list_results(uow, states=None)
    by_id = {v.id: v for v in versions}
    by_result: dict[int, list[AuditEvent]] = {}
    problems: list[str] = []
    for event in events(uow, "result"):
        try:
            by_result.setdefault(int(event.entity_id), []).append(event)
        except ValueError:
            problems.append(f"event #{event.id} names result {event.entity_id!r}, not an id")
    for key in sorted(set(by_result) - set(by_id)):
        problems.append(f"events {[e.id for e in by_result[key]]} name result {key}, which is gone")
    superseded_ids = {v.supersedes_id for v in versions if v.supersedes_id is not None}
    for v in versions:
        own = by_result.get(v.id, [])

        def find(action: str, own: list[AuditEvent] = own) -> AuditEvent | None:
            return next((e for e in own if e.action == action), None)

        origin = find("amend") if v.supersedes_id is not None else find("create")
        if origin is None:
            problems.append(
                f"result {v.id} v{v.version}: no {'amend' if v.supersedes_id else 'create'} event"
            )
        elif origin.actor != v.created_by:
            problems.append(
                f"result {v.id}: created by {v.created_by!r} but the event says {origin.actor!r}"
            )
        if v.supersedes_id is not None and origin is not None:
            detail = origin.detail
            if detail.get("supersedes") != v.supersedes_id:
                problems.append(f"result {v.id}: amend event names {detail.get('supersedes')!r}")
            if detail.get("reason") != v.amendment_reason:
                problems.append(f"result {v.id}: amend event reason differs from the stored one")
        elif v.verified_by is not None:
            signed = find("verify")
            if signed is None:
                problems.append(f"result {v.id}: signed out by {v.verified_by!r}, no verify event")
            elif signed.actor != v.verified_by:
                problems.append(
                    f"result {v.id}: signed out by {v.verified_by!r}, event says {signed.actor!r}"
                )
        if v.state is ResultState.SUPERSEDED and v.id not in superseded_ids:
            problems.append(f"result {v.id}: superseded, but no later version supersedes it")
        if v.state is ResultState.CANCELLED and find("cancel") is None:
            problems.append(f"result {v.id}: cancelled without a cancel event")
    name = f"every result version ({len(versions)}) matches its audit events"
    if problems:
        return [Check(name, False, p) for p in problems]
    return [Check(name, True, f"{sum(map(len, by_result.values()))} result events checked")]


# --------------------------------------------------------------------------- audited reads
#: ``read``: the services read a patient's record or identity (``patients.patient_record``,
#: ``patient_identity``, the identified search). ``view``: a response (page, API, CLI) showed one
#: patient's record (FHIR BALP PatientRead); ``query``: a response listed several, naming them
#: all (BALP PatientQuery). Web responses carry the user's role, client address and view.
READ_ACTIONS = ("read", "view", "query")
SHOWN_ACTIONS = ("view", "query")


def record_read(
    uow: UnitOfWork,
    what: str,
    patients: Iterable[str],
    *,
    role: str,
    client: str,
    view: str,
    query: bool = False,
) -> None:
    """Append the audit event(s) of a response that shows patient data.

    ``what`` names the response (``timeline``, ``patient page`` …), ``view`` is ``identified`` or
    ``pseudonymised``. The acting user is the unit of work's actor; the time is the server's.
    """
    shown = list(dict.fromkeys(patients))
    detail = {"what": what, "role": role, "client": client, "view": view}
    if query:
        append(uow, Entry("query", "patient", len(shown), {**detail, "patients": shown}))
        return
    append(uow, [Entry("view", "patient", patient, detail) for patient in shown])


def reads(
    uow: UnitOfWork, *, user: str | None = None, patient: str | None = None
) -> list[AuditEvent]:
    """Audited reads and queries, oldest first; ``patient`` keeps those that showed them."""
    uow.write_audit()  # this transaction's own events too
    query = (
        select(AuditEventRow)
        .where(
            AuditEventRow.action.in_(READ_ACTIONS),
            AuditEventRow.entity.in_(("patient", "patient_identity")),
        )
        .order_by(AuditEventRow.id)
    )
    if user is not None:
        query = query.where(AuditEventRow.actor == user)
    found = [
        AuditEvent(r.id, r.occurred_at, r.actor, r.action, r.entity, r.entity_id, dict(r.detail))
        for r in uow.session.scalars(query)
    ]
    if patient is None:
        return found
    return [e for e in found if e.entity_id == patient or patient in e.detail.get("patients", ())]


def read_checks(uow: UnitOfWork) -> list[Check]:
    """Does every response that showed patient data name its user, role, client address, view
    and patients?"""
    problems = []
    events = [e for e in reads(uow) if e.action in SHOWN_ACTIONS]
    for e in events:
        missing = [k for k in ("what", "role", "client", "view") if not e.detail.get(k)]
        if not e.actor:
            missing.append("user")
        if e.action == "query" and not isinstance(e.detail.get("patients"), list):
            missing.append("patients")
        if missing:
            problems.append(f"audited {e.action} #{e.id} lacks {', '.join(missing)}")
    name = f"every audited read ({len(events)}) names user, role, client, view and patient"
    if problems:
        return [Check(name, False, p) for p in problems]
    return [Check(name, True if events else None, f"{len(events)} read events checked")]
