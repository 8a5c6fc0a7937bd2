"""Audit events of read-only units of work committed together (store/audit_group.py): each
unit of work's events are committed before it returns, in one chain, contiguous and in order;
requests arriving during a commit share the next one; a failure reaches every request of its
group; a unit of work that wrote anything keeps its events in its own transaction."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from trephine.domain import Patient, Sex
from trephine.services import audit, patients
from trephine.store import audit_chain
from trephine.store.audit_group import wrote_nothing
from trephine.store.database import Database


def _events(database: Database) -> list[tuple[str, str]]:
    """(actor, entity id) of every stored event, in chain order, read from another connection."""
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT actor, entity_id FROM audit_event ORDER BY id"))
        return [(str(a), str(e)) for a, e in rows]


def _chain_intact(database: Database) -> bool:
    with database.unit_of_work("auditor") as uow:
        (check,) = audit.chain_checks(uow)
    return check.passed is True


def _read(database: Database, name: str, events: int = 2) -> None:
    """What a page does: read, then record the read."""
    with database.unit_of_work(name, group_audit=True) as uow:
        uow.session.execute(text("SELECT count(*) FROM patient")).scalar()
        audit.append(uow, [audit.Entry("view", "patient", f"{name}-{i}") for i in range(events)])


def test_a_read_only_unit_of_work_commits_its_events_before_it_returns(
    database: Database,
) -> None:
    _read(database, "alone")
    assert _events(database) == [("alone", "alone-0"), ("alone", "alone-1")]
    assert (database.audit_group.groups, database.audit_group.requests) == (1, 1)
    assert _chain_intact(database)


def test_reads_arriving_during_a_commit_share_the_next_one(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first group's commit is held open; five reads finish meanwhile and wait; all five
    are then committed in ONE group, each before its unit of work returns."""
    inside, go_on = threading.Event(), threading.Event()
    real = audit_chain.append_rows

    def held(session: object, rows: list[audit_chain.Queued]) -> None:
        real(session, rows)  # type: ignore[arg-type]
        if threading.current_thread().name == "first":
            inside.set()
            go_on.wait(timeout=30)

    monkeypatch.setattr(audit_chain, "append_rows", held)
    returned: dict[str, list[tuple[str, str]]] = {}
    errors: list[BaseException] = []

    def read(name: str) -> None:
        try:
            _read(database, name, events=3)
            returned[name] = _events(database)  # what is stored when the unit of work returned
        except BaseException as exc:  # reported below
            errors.append(exc)

    first = threading.Thread(target=read, args=("first",), name="first")
    first.start()
    assert inside.wait(timeout=30)
    others = [threading.Thread(target=read, args=(f"r{n}",)) for n in range(5)]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 30
    while len(database.audit_group._waiting) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(database.audit_group._waiting) == 5  # all waiting behind the first commit
    assert "r0" not in returned  # none returned before its events were committed
    go_on.set()
    for thread in [first, *others]:
        thread.join(timeout=60)
    assert not errors, errors
    assert (database.audit_group.groups, database.audit_group.requests) == (2, 6)
    stored = _events(database)
    assert len(stored) == 18
    for name, seen in returned.items():  # committed before it returned: in what it saw
        assert [(name, f"{name}-{i}") for i in range(3)] == [e for e in seen if e[0] == name]
        at = stored.index((name, f"{name}-0"))  # each request's events contiguous and in order
        assert stored[at : at + 3] == [(name, f"{name}-{i}") for i in range(3)]
    assert _chain_intact(database)


def test_a_failed_group_commit_fails_every_read_of_the_group(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside, go_on = threading.Event(), threading.Event()

    def locked(session: object, rows: list[audit_chain.Queued]) -> None:
        if threading.current_thread().name == "first":
            inside.set()
            go_on.wait(timeout=30)
        raise sqlalchemy.exc.OperationalError("INSERT", None, Exception("database is locked"))

    monkeypatch.setattr(audit_chain, "append_rows", locked)
    failed: list[str] = []

    def read(name: str) -> None:
        try:
            _read(database, name)
        except sqlalchemy.exc.OperationalError:
            failed.append(name)

    first = threading.Thread(target=read, args=("first",), name="first")
    first.start()
    assert inside.wait(timeout=30)
    others = [threading.Thread(target=read, args=(f"r{n}",)) for n in range(3)]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 30
    while len(database.audit_group._waiting) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    go_on.set()
    for thread in [first, *others]:
        thread.join(timeout=60)
    assert sorted(failed) == ["first", "r0", "r1", "r2"]
    assert _events(database) == []
    monkeypatch.undo()
    _read(database, "later")  # the group is usable again
    assert [a for a, _ in _events(database)] == ["later", "later"]


def test_a_unit_of_work_that_wrote_keeps_its_events_in_its_own_transaction(
    database: Database,
) -> None:
    with pytest.raises(RuntimeError), database.unit_of_work("lab", group_audit=True) as uow:
        patients.register_patient(uow, Patient("GRP-1", Sex.FEMALE, 1970))
        audit.append(uow, audit.Entry("view", "patient", "GRP-1"))
        raise RuntimeError("after the write")
    assert _events(database) == []  # rolled back together: no patient, no event
    with database.unit_of_work("lab", group_audit=True) as uow:
        patients.register_patient(uow, Patient("GRP-1", Sex.FEMALE, 1970))
        audit.append(uow, audit.Entry("view", "patient", "GRP-1"))
    assert [e for _, e in _events(database)] == ["GRP-1", "GRP-1"]
    assert database.audit_group.groups == 0


def test_wrote_nothing_asks_the_database(database: Database) -> None:
    """A read, a pending ORM change and a driver-level write, each told apart."""
    with database.unit_of_work("probe") as uow:
        uow.session.execute(text("SELECT count(*) FROM patient")).scalar()
        assert wrote_nothing(uow.session)
        uow.session.connection().exec_driver_sql(
            "UPDATE audit_chain_lock SET holds = holds WHERE id = 1"
        )
        assert not wrote_nothing(uow.session)
    with database.unit_of_work("probe") as uow:
        patients.register_patient(uow, Patient("GRP-2", Sex.MALE, 1950))
        assert not wrote_nothing(uow.session)
