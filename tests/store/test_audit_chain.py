"""The audit trail is a hash chain: tampering shows in ``audit verify`` at the first broken
event, concurrent writers never fork it, and migration 0007 back-fills existing events."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from trephine.domain import Patient, Sex
from trephine.errors import ValidationError
from trephine.services import audit, patients
from trephine.store import audit_chain
from trephine.store.database import Database
from trephine.workflow import ResultState


def _trail(database: Database, events: int = 3) -> None:
    with database.unit_of_work("lab") as uow:
        for n in range(events):
            patients.register_patient(uow, Patient(f"CH-{n}", Sex.FEMALE, 1960 + n))


def _chain(database: Database) -> list[audit.Check]:
    with database.unit_of_work("auditor") as uow:
        return audit.chain_checks(uow)


def _ids(database: Database) -> list[int]:
    with database.engine.connect() as connection:
        return list(connection.scalars(text("SELECT id FROM audit_event ORDER BY id")))


def _behind_the_guards(database: Database, statement: str) -> None:
    """What an owner of the database can do: lift the append-only guard, change the trail, put
    the guard back (SQLite: drop and recreate the trigger; PostgreSQL: disable and enable it)."""
    with database.engine.begin() as connection:
        if database.engine.dialect.name == "sqlite":
            (sql,) = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = :n"),
                {"n": f"audit_event_no_{statement.split()[0].lower()}"},
            ).one()
            name = f"audit_event_no_{statement.split()[0].lower()}"
            connection.execute(text(f"DROP TRIGGER {name}"))
            connection.execute(text(statement))
            connection.execute(text(sql))
        else:
            connection.execute(
                text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
            )
            connection.execute(text(statement))
            connection.execute(
                text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
            )


def test_an_untouched_trail_is_an_unbroken_chain(database: Database) -> None:
    _trail(database)
    (check,) = _chain(database)
    assert check.passed is True
    last = _ids(database)[-1]
    assert check.detail.startswith(f"3 events; head #{last}:")
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT prev_hash, hash FROM audit_event ORDER BY id")).all()
    assert rows[0][0] == audit_chain.GENESIS
    assert [r[0] for r in rows[1:]] == [r[1] for r in rows[:-1]]  # each links to the one before


def test_an_edited_event_breaks_the_chain_even_with_the_guard_put_back(database: Database) -> None:
    """The defect: drop the trigger, edit, recreate it, and ``audit verify`` used to pass."""
    _trail(database)
    middle = _ids(database)[1]
    _behind_the_guards(database, f"UPDATE audit_event SET actor = 'mallory' WHERE id = {middle}")
    (check,) = _chain(database)
    assert check.passed is False
    assert check.detail.startswith(f"first break at event #{middle}: its content hashes to")
    assert "actor" in check.detail and "changed after it was written" in check.detail


def test_a_removed_event_breaks_the_chain_at_the_next_one(database: Database) -> None:
    _trail(database)
    first, second, third = _ids(database)
    statement = f"DELETE FROM audit_event WHERE id = {second}"
    _behind_the_guards(database, statement)
    (check,) = _chain(database)
    assert check.passed is False
    assert check.detail.startswith(f"first break at event #{third}: it links to")
    assert f"event #{first} hashes to" in check.detail and "removed, inserted" in check.detail


def test_a_forged_insert_is_refused_or_breaks_the_chain(database: Database) -> None:
    """A plain INSERT (no hashes) is refused by the database; one with made-up hashes is named
    by ``audit verify`` as the first break."""
    _trail(database)
    columns = "occurred_at, actor, action, entity, entity_id, detail"
    values = "'2026-01-01 00:00:00+00:00', 'mallory', 'verify', 'result', '1', '{}'"
    with pytest.raises(sqlalchemy.exc.DatabaseError), database.engine.begin() as connection:
        connection.execute(text(f"INSERT INTO audit_event ({columns}) VALUES ({values})"))
    with database.engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO audit_event ({columns}, prev_hash, hash) VALUES ({values}, :p, :p)"),
            {"p": "f" * 64},
        )
    forged = _ids(database)[-1]
    (check,) = _chain(database)
    assert check.passed is False and f"first break at event #{forged}" in check.detail
    # Events appended after the forgery do not hide it.
    _trail(database, 1)
    (check,) = _chain(database)
    assert f"first break at event #{forged}" in check.detail


def test_a_recorded_head_detects_a_rewritten_trail(database: Database) -> None:
    """Recomputing every hash after an edit makes a consistent chain again; the head recorded
    elsewhere (``--anchor``) no longer matches, and says so."""
    _trail(database)
    (check,) = _chain(database)
    head_id, head_hash = audit.parse_anchor(check.detail.split("head #", 1)[1])
    _behind_the_guards(database, f"UPDATE audit_event SET actor = 'mallory' WHERE id = {head_id}")
    with database.unit_of_work("auditor") as uow:
        chain_check, anchor = audit.chain_checks(uow, [(head_id, head_hash)])
    assert chain_check.passed is False
    assert anchor.passed is True  # the hash column itself was not touched
    rewritten = "f" * 64
    _behind_the_guards(
        database, f"UPDATE audit_event SET hash = '{rewritten}' WHERE id = {head_id}"
    )
    with database.unit_of_work("auditor") as uow:
        _, anchor = audit.chain_checks(uow, [(head_id, head_hash)])
    assert anchor.passed is False and "the trail was rewritten" in anchor.detail
    with pytest.raises(ValidationError, match="EVENT_ID:SHA256"):
        audit.parse_anchor("12:nothex")


def test_append_takes_one_or_many_events_in_order(database: Database) -> None:
    with database.unit_of_work("lab") as uow:
        audit.append(uow, audit.Entry("read", "patient", "X-1"))
        audit.append(
            uow,
            [audit.Entry("read", "patient", f"X-{n}", {"n": n, "ratio": 2.0}) for n in range(2, 6)]
            + [audit.Entry("sign-in", "account", "dr.lee", actor="dr.lee")],
        )
        # Visible to the same transaction's readers before the commit.
        assert len(audit.events(uow, "patient")) == 5
    with database.unit_of_work("auditor") as uow:
        stored = audit.events(uow)
        (check,) = audit.chain_checks(uow)
    assert [e.entity_id for e in stored] == ["X-1", "X-2", "X-3", "X-4", "X-5", "dr.lee"]
    assert [e.actor for e in stored] == ["lab"] * 5 + ["dr.lee"]
    assert stored[2].detail == {"n": 3, "ratio": 2.0}
    assert check.passed is True


def test_a_rolled_back_unit_of_work_appends_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError), database.unit_of_work("lab") as uow:
        audit.append(uow, audit.Entry("read", "patient", "X-1"))
        raise RuntimeError("stop")
    assert _ids(database) == []


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (audit.Entry("", "patient", "X"), "audit action"),
        (audit.Entry("read", "p" * 33, "X"), "audit entity"),
        (audit.Entry("read", "patient", ""), "audit entity_id"),
        (audit.Entry("read", "patient", "X", actor=" "), "audit actor"),
        (audit.Entry("read", "patient", "X", {"when": dt.date(2024, 1, 1)}), "audit detail"),
        (audit.Entry("read", "patient", "X", {"v": float("nan")}), "audit detail"),
    ],
)
def test_a_malformed_event_is_refused_before_anything_is_written(
    database: Database, entry: audit.Entry, field: str
) -> None:
    with pytest.raises(ValidationError) as refused, database.unit_of_work("lab") as uow:
        audit.append(uow, [audit.Entry("read", "patient", "OK"), entry])
    assert refused.value.field == field
    assert _ids(database) == []


def test_the_first_malformed_event_is_the_one_refused(database: Database) -> None:
    """Events are checked in order, names and detail alike, with the unit of work's context
    merged in: a bad detail before a bad name is refused as the detail, naming its action."""
    with pytest.raises(ValidationError) as refused, database.unit_of_work("lab") as uow:
        uow.context = {"import": "a.csv"}
        audit.append(
            uow,
            [
                audit.Entry("read", "patient", "OK", {"n": 1}),
                audit.Entry("amend", "patient", "X", {"when": dt.date(2024, 1, 1)}),
                audit.Entry("", "patient", "X"),
            ],
        )
    assert (refused.value.field, refused.value.value) == ("audit detail", "amend")
    with pytest.raises(ValidationError) as refused, database.unit_of_work("lab") as uow:
        audit.append(
            uow,
            [
                audit.Entry("read", "patient", ""),
                audit.Entry("amend", "patient", "X", {"when": dt.date(2024, 1, 1)}),
            ],
        )
    assert refused.value.field == "audit entity_id"
    assert _ids(database) == []


def test_concurrent_appenders_do_not_fork_the_chain(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first writer pauses between reading the last hash and inserting; the second tries to
    append meanwhile. Without the chain lock both link to the same predecessor (a fork)."""
    _trail(database, 1)
    paused, go_on = threading.Event(), threading.Event()
    real_last_hash = audit_chain.last_hash

    def slow_last_hash(session: object) -> str:
        found = real_last_hash(session)  # type: ignore[arg-type]
        if threading.current_thread().name == "first":
            paused.set()
            go_on.wait(timeout=1.5)  # the second writer gets its chance (blocked by the lock)
        return found

    monkeypatch.setattr(audit_chain, "last_hash", slow_last_hash)
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            with database.unit_of_work(name) as uow:
                audit.append(uow, audit.Entry("read", "patient", name))
        except BaseException as exc:  # reported below
            errors.append(exc)

    first = threading.Thread(target=write, args=("first",), name="first")
    first.start()
    assert paused.wait(timeout=30)
    second = threading.Thread(target=write, args=("second",), name="second")
    second.start()
    second.join(timeout=1.0)  # with the lock it is still waiting here
    go_on.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert not errors, errors
    with database.engine.connect() as connection:
        links = connection.execute(text("SELECT prev_hash FROM audit_event")).scalars().all()
    assert len(links) == 3 and len(set(links)) == 3  # no two events share a predecessor
    (check,) = _chain(database)
    assert check.passed is True, check.detail


def test_many_writers_at_once_keep_one_chain(database: Database) -> None:
    def write(n: int) -> None:
        for k in range(4):
            with database.unit_of_work(f"w{n}") as uow:
                audit.append(
                    uow, [audit.Entry("read", "patient", f"{n}-{k}-{i}") for i in range(3)]
                )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    (check,) = _chain(database)
    assert check.passed is True, check.detail
    assert check.detail.startswith("72 events")


_APPENDER = """
import sys, time
from trephine.services import audit
from trephine.store.database import Database
url, name, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
database = Database(url)
time.sleep(max(0.0, start - time.time()))  # both processes begin together
for k in range(12):
    with database.unit_of_work(name) as uow:
        audit.append(uow, [audit.Entry("read", "patient", f"{name}-{k}-{i}") for i in range(2)])
database.dispose()
"""


def test_two_processes_appending_at_once_keep_one_chain(database: Database) -> None:
    """What two ``serve`` workers (or a worker and an import) do: separate processes, each
    with its own engine, appending at the same moment; ``audit verify`` passes after."""
    import subprocess
    import sys
    import time

    _trail(database, 1)
    start = f"{time.time() + 3:.3f}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPENDER, database.url, name, start],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("worker-1", "worker-2")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    (check,) = _chain(database)
    assert check.passed is True, check.detail
    assert check.detail.startswith("49 events")
    with database.engine.connect() as connection:
        links = connection.execute(text("SELECT prev_hash FROM audit_event")).scalars().all()
    assert len(set(links)) == len(links)  # no two events share a predecessor


def test_migration_0007_backfills_the_chain_of_existing_events(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.upgrade("0006")
        with db.engine.begin() as connection:
            for n in range(3):
                connection.execute(
                    text(
                        "INSERT INTO audit_event (occurred_at, actor, action, entity, entity_id,"
                        " detail) VALUES (:at, 'lab', 'create', 'patient', :id, :detail)"
                    ),
                    {
                        "at": dt.datetime(2024, 1, 1, 8, n, 0, 123456, tzinfo=dt.UTC),
                        "id": f"OLD-{n}",
                        "detail": json.dumps({"sex": "male", "n": n, "nested": {"b": [1, 2.5]}}),
                    },
                )
        db.upgrade()
        with db.unit_of_work("lab") as uow:
            audit.append(uow, audit.Entry("create", "patient", "NEW-1"))
        with db.unit_of_work("auditor") as uow:
            (check,) = audit.chain_checks(uow)
        assert check.passed is True and check.detail.startswith("4 events"), check.detail
        # Still append-only after the back-fill lifted and restored the guard.
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
            db.engine.begin() as c,
        ):
            c.execute(text("UPDATE audit_event SET actor = 'x'"))
        db.downgrade("0006")
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 4
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
            db.engine.begin() as c,
        ):
            c.execute(text("DELETE FROM audit_event"))
    finally:
        db.dispose()


def _deep(levels: int) -> list[object]:
    value: list[object] = ["bottom", 2.0]
    for _ in range(levels):
        value = [value]
    return value


#: Details an event may carry: flat (the fast path), floats (integral ones hash as ints), nested
#: maps and lists, tuples, non-text keys, unicode and characters JSON must escape.
_DETAILS = [
    {},
    {"specimen": "BM-1", "kind": "blood_count", "analyte": "", "version": 1, "ok": True},
    {"import": "a.csv", "sha256": "ab" * 32, "none": None},
    {"reason": 'typo "Hb" → 9.1\nsecond line\\ tab\t', "naïve": "Zoë"},
    {"level": 2.0, "pct": 0.25, "big": 1e20, "neg": -0.0},
    {"changed": ["value", "unit"], "nested": {"b": [1, 2.0, {"z": None}], "a": (3, "x")}},
    {1: "int key", "b": {2: 3.5}},
    # Nested values that are not exactly str/int/float/bool/None/list/tuple/dict (an enum, a
    # map with a non-text key, very deep nesting) take the JSON round trip; the rest do not.
    {"nested": {"state": ResultState.VERIFIED, "n": [True, False, None, -1.5, 10**30]}},
    {"nested": [{"a": {3: "x"}}, (1.0, -0.0)]},
    {"deep": _deep(80)},
]


@pytest.mark.parametrize("detail", _DETAILS)
def test_the_bulk_append_path_hashes_byte_for_byte_as_canonical(detail: dict) -> None:
    """What append_rows hashes (head + prev + tail) is exactly the frozen v1 serialization of
    what the column stores; audit verify recomputes it with canonical()."""
    at = dt.datetime(2026, 12, 3, 10, 5, 7, 123456, tzinfo=dt.UTC)
    event = audit_chain.queued(at, "lab", "create", "result", "42", detail)
    # The stored detail is what the JSON column gives back, and its text is that JSON.
    assert json.loads(event.detail_json) == event.detail
    assert event.detail == audit_chain._normal(audit_chain.stored_detail(detail))
    prev = "ab" * 32
    ((linked_prev, digest),) = audit_chain.link(prev, [event])
    reference = audit_chain.event_hash(
        prev,
        occurred_at=at,
        actor="lab",
        action="create",
        entity="result",
        entity_id="42",
        detail=json.loads(event.detail_json),
    )
    assert (linked_prev, digest) == (prev, reference)


_CONTEXTS = [
    {},
    {"import": "/data/klinik ö/a.csv", "sha256": "ab" * 32},
    {"version": "from the context", "z": None, "a": True, "n": -(10**25)},
    {"import": 'quote " back\\slash \n\u2028 \x7f', "é": "ß"},
]
#: Flat details of text keys and plain values (the ones queue_many encodes from a plan).
_FLAT = [
    {},
    {"specimen": "BM-1", "kind": "blood_count", "analyte": "", "version": 1},
    {"version": 2},
    {"z": False, "a": None, "m": 0, "é": "ü", "": "empty key", 'k\n"': "esc\t\\\u2028"},
    {"sha256": "overrides the context", "n": 10**30, "t": True, "neg": -7},
]


@pytest.mark.parametrize("context", _CONTEXTS)
def test_queued_details_are_what_json_dumps_writes(context: dict) -> None:
    """queue_many writes a flat detail from a plan made once per key set (context values
    encoded once); the text is, character for character, the canonical JSON of the merged
    detail, for every mix of keys, overrides, escapes and value types."""
    at = dt.datetime(2026, 12, 3, 10, 5, 7, 123456, tzinfo=dt.UTC)
    details = [*_FLAT, *_DETAILS, *_FLAT]  # plans are reused after other key sets
    events = [("lab", "create", "result", str(n), d) for n, d in enumerate(details)]
    queued = audit_chain.queue_many(at, context, events)
    for event, detail in zip(queued, details, strict=True):
        merged = {**context, **detail}
        reference = audit_chain._normal(audit_chain.stored_detail(merged))
        assert event.detail == reference
        assert event.detail_json == json.dumps(
            reference, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )


def test_the_bulk_path_refuses_what_json_cannot_hold() -> None:
    at = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        audit_chain.queued(at, "lab", "create", "result", "1", {"x": float("nan")})
    with pytest.raises(TypeError):
        audit_chain.queued(at, "lab", "create", "result", "1", {"x": object()})
    for nested in ({"x": [1, float("nan")]}, {"x": {"y": float("-inf")}}):
        with pytest.raises(ValueError):
            audit_chain.queued(at, "lab", "create", "result", "1", nested)
    with pytest.raises(TypeError):
        audit_chain.queued(at, "lab", "create", "result", "1", {"x": [dt.date(2026, 1, 1)]})


def test_events_appended_in_bulk_verify_and_read_back(database: Database) -> None:
    """Many events in one append (as an import writes them) are stored with the detail the
    caller gave, chained, and pass audit verify."""
    with database.unit_of_work("lab") as uow:
        uow.context = {"import": "big.csv"}
        audit.append(
            uow,
            [audit.Entry("create", "probe", n, detail) for n, detail in enumerate(_DETAILS * 3)],
        )
    (check,) = _chain(database)
    assert check.passed is True and check.detail.startswith(f"{len(_DETAILS) * 3} events")
    with database.unit_of_work("auditor") as uow:
        shown = audit.events(uow, "probe")
    assert [e.detail for e in shown[:2]] == [
        {"import": "big.csv"},
        {"import": "big.csv", **_DETAILS[1]},
    ]
    assert shown[4].detail["level"] == 2 and shown[4].detail["pct"] == 0.25
    assert shown[6].detail["1"] == "int key" and shown[6].detail["b"] == {"2": 3.5}


@pytest.mark.parametrize(
    ("actor", "action", "entity", "entity_id"),
    [
        ("lab", "create", "result", "42"),
        ("dr.lee@site", "verify", "result", 'EX-1 "quoted" é\u2028'),
        ("lab", "create", "specimen", "ASP-1"),  # the same instant and actor, another entity
        ("lab", "create", "specimen", "ASP-1"),  # and the same again (the parts are reused)
    ],
)
def test_queued_heads_are_event_head_byte_for_byte(
    actor: str, action: str, entity: str, entity_id: str
) -> None:
    """queued() builds the head from parts it made before; it is exactly event_head()."""
    at = dt.datetime(2026, 12, 3, 10, 5, 7, 123456, tzinfo=dt.UTC)
    event = audit_chain.queued(at, actor, action, entity, entity_id, {"n": 1, "x": "é"})
    assert event.head == audit_chain.event_head(
        audit_chain.instant_text(at), actor, action, entity, entity_id, event.detail_json
    )
