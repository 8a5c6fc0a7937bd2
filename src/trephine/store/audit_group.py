"""Audit events of read-only requests committed together (group commit).

Every web page or API response that shows a patient appends an audit event, so every such
request ends in a write transaction of its own: on SQLite one writer at a time (the writer gate,
:mod:`trephine.store.sqlite_writers`) and one ``fsync`` of the WAL per commit. With several
requests at once they queue at the gate, each waiting for the others' commits in turn.

Here a unit of work that read but wrote nothing hands its queued audit events to the process's
:class:`AuditGroup` instead of writing them itself. The first such request to arrive leads: it
writes the events waiting then — its own and those of every request that finished reading
meanwhile — in ONE transaction (one chain-lock, one gate turn, one commit), and returns. Requests
arriving while a commit is under way wait for it to end; the first of them then leads the next
group. No request waits on purpose: alone, a request commits at once, as before; under load,
the commits a request would have waited for anyway carry its events with them.

What does not change: each request's events are committed before its unit of work returns (so
before its response is sent; ``api/deps.py`` commits before responding), in its order and
contiguous in the hash chain; a failed group commit is raised in every request of the group (each
answers an error, as when its own commit failed); a unit of work that wrote anything (or has
changes not flushed yet) writes its events in its own transaction, atomically with its changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from trephine.store.audit_chain import Queued


def wrote_nothing(session: Session) -> bool:
    """True when ``session``'s transaction has written nothing and has nothing to flush:
    asked of the database itself, so a write by any path (ORM, Core, driver-level) counts.

    SQLite: Python's ``sqlite3`` opens a transaction only before a write statement
    (``in_transaction``); PostgreSQL: a transaction gets an id only when it writes or locks
    rows (``txid_current_if_assigned()`` is null until then). Another backend: False.
    """
    if session.new or session.dirty or session.deleted:
        return False
    connection = session.connection()
    name = connection.dialect.name
    if name == "sqlite":
        return not connection.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
    if name == "postgresql":
        return connection.scalar(text("SELECT txid_current_if_assigned()")) is None
    return False


class _Waiter:
    __slots__ = ("done", "error", "lead", "rows")

    def __init__(self, rows: Sequence[Queued]) -> None:
        self.rows = rows
        self.done = threading.Event()
        self.error: BaseException | None = None
        #: Set when the group before it ended and this request leads the next one.
        self.lead = False


class AuditGroup:
    """Commit the audit events of concurrent read-only units of work together (module doc).

    ``write`` appends the rows it is given to the chain in one transaction and commits it.
    """

    def __init__(self, write: Callable[[list[Queued]], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._waiting: list[_Waiter] = []
        self._busy = False
        #: Groups committed and requests carried, for the tests and the benchmark's reading.
        self.groups = 0
        self.requests = 0

    def commit(self, rows: Sequence[Queued]) -> None:
        """Return once ``rows`` are committed (with those of other requests that were waiting);
        raise what the group's commit raised if it failed."""
        me = _Waiter(rows)
        with self._lock:
            self._waiting.append(me)
            lead = not self._busy
            self._busy = True
        if not lead:
            me.done.wait()
            if not me.lead:  # a leader committed our rows (or failed to)
                if me.error is not None:
                    raise me.error
                return
        with self._lock:
            group, self._waiting = self._waiting, []
        error: BaseException | None = None
        try:
            self._write([row for waiter in group for row in waiter.rows])
        except BaseException as exc:  # every request of the group gets it
            error = exc
        with self._lock:
            if error is None:
                self.groups += 1
                self.requests += len(group)
            following = self._waiting[0] if self._waiting else None
            if following is None:
                self._busy = False
        for waiter in group:
            if waiter is not me:
                waiter.error = error
                waiter.done.set()
        if following is not None:
            following.lead = True
            following.done.set()
        if error is not None:
            raise error
