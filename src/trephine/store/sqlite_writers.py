"""SQLite writers wait in line, not by polling: a writer gate in front of SQLite's write lock.

SQLite lets one connection write at a time. A connection that finds the write lock taken waits
through its busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between tries and does not
notice the lock coming free in between. Every audited page read is a short write (the audit
event), so with several requests at once — threads of one server process, or several worker
processes — a writer often sleeps long after the lock was released: measured on the 2-core
machine, one audited-read transaction took p95 80-110 ms and up to 1 s with 8 writers in one or
two processes, against about 6 ms alone.

The gate: just before a connection's first ``INSERT``/``UPDATE``/``DELETE``/``REPLACE`` of a
transaction — where Python's ``sqlite3`` begins the transaction and SQLite takes its write lock —
the connection takes the gate, and gives it back right after its commit or rollback (or when it
is closed). Inside a process the gate is a lock whose waiters wake when it is released; across
processes, an exclusive ``flock`` on a file beside the database (``<database>-writers``, same
mode as the database; it holds nothing), tried every millisecond at most. SQLite's own lock is
still taken as before, so correctness never depends on the gate, and programs other than
Trephine simply wait SQLite's way. The busy timeout keeps its meaning: a writer that waited it
out at the gate is refused at once by SQLite ("database is locked"; its busy timeout is set to 0
for that statement and put back at the end of the transaction); one that cannot open the lock
file waits SQLite's way.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

#: Statements before which Python's sqlite3 opens a transaction (and SQLite takes its write
#: lock), as its legacy transaction control detects them: by the first keyword.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
#: Longest sleep between two tries of another process's gate.
_POLL = 0.001
#: What :meth:`WriterGate._lock_file` answers when another process kept the file too long.
_TIMED_OUT = -1

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: the gate works within the process only
    fcntl = None  # type: ignore[assignment]


def _is_write(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(_WRITES)


class WriterGate:
    """One writing connection at a time per database file (see the module docstring)."""

    def __init__(self, database_file: Path, timeout: float) -> None:
        self.path = database_file.with_name(database_file.name + "-writers")
        self.timeout = timeout
        self._lock = threading.Lock()
        #: ``id`` of the DBAPI connection holding the gate, and the open lock file (or None).
        self._holder: int | None = None
        self._fd: int | None = None

    def acquire(self, connection: Any) -> bool:
        """Take the gate for ``connection`` (True at once when it holds it already); False when
        another writer kept it for the whole busy timeout."""
        if self._holder == id(connection):
            return True
        deadline = time.monotonic() + self.timeout
        if not self._lock.acquire(timeout=self.timeout):
            return False
        fd = self._lock_file(deadline)
        if fd == _TIMED_OUT:
            self._lock.release()
            return False
        self._holder, self._fd = id(connection), fd
        return True

    def release(self, connection: Any) -> None:
        """Give the gate back if ``connection`` holds it."""
        if self._holder != id(connection):
            return
        fd, self._holder, self._fd = self._fd, None, None
        if fd is not None:
            os.close(fd)  # closing the file gives up its flock
        self._lock.release()

    def _lock_file(self, deadline: float) -> int | None:
        """The lock file, flocked; None when there is no file to lock (the gate then works
        within this process only); :data:`_TIMED_OUT` when another process kept it past
        ``deadline``."""
        if fcntl is None:  # pragma: no cover
            return None
        try:
            mode = self.path.with_name(self.path.name.removesuffix("-writers")).stat().st_mode
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, mode & 0o666)
        except OSError:
            return None
        pause = 0.0001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return _TIMED_OUT
                time.sleep(pause)
                pause = min(pause * 2, _POLL)
            except OSError:
                os.close(fd)
                return None


#: The gate of each engine that has one.
_GATES: weakref.WeakKeyDictionary[Engine, WriterGate] = weakref.WeakKeyDictionary()


def gate_of(engine: Engine) -> WriterGate | None:
    return _GATES.get(engine)


def install(engine: Engine, database_file: Path, timeout: float) -> WriterGate:
    """Put a :class:`WriterGate` in front of ``engine``'s writes to ``database_file``."""
    gate = _GATES[engine] = WriterGate(database_file, timeout)
    milliseconds = int(timeout * 1000)
    #: Connections whose busy timeout is 0 until their transaction ends (they waited it out).
    refused: set[int] = set()

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(
        connection: Any, _cursor: Any, statement: str, _p: Any, _c: Any, _many: bool
    ) -> None:
        if not _is_write(statement):
            return
        dbapi_connection = connection.connection.dbapi_connection
        if not gate.acquire(dbapi_connection) and id(dbapi_connection) not in refused:
            refused.add(id(dbapi_connection))
            dbapi_connection.execute("PRAGMA busy_timeout=0")

    def ended(dbapi_connection: Any, closed: bool) -> None:
        gate.release(dbapi_connection)
        if id(dbapi_connection) in refused:
            refused.discard(id(dbapi_connection))
            if not closed:
                dbapi_connection.execute(f"PRAGMA busy_timeout={milliseconds}")

    # After the commit or rollback has reached SQLite (the connection events fire before it),
    # and when a connection is closed or dropped while holding the gate.
    dialect = engine.dialect
    for name in ("do_commit", "do_rollback", "do_close", "do_terminate"):
        setattr(dialect, name, _ending(getattr(dialect, name), ended, name.endswith(("se", "te"))))
    return gate


def _ending(
    method: Callable[[Any], None], ended: Callable[[Any, bool], None], closes: bool
) -> Callable[[Any], None]:
    def wrapped(connection: Any) -> None:
        try:
            method(connection)
        finally:
            # The pool's proxy (commit, rollback, reset on return) or the raw connection (close).
            ended(getattr(connection, "dbapi_connection", connection), closes)

    return wrapped
