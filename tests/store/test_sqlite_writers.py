"""SQLite writers wait in line at the writer gate (store/sqlite_writers.py): taken at a
transaction's first write, given back at its end, honoured across processes through the lock
file, and the busy timeout still bounds the wait."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from trephine.store import sqlite_writers
from trephine.store.database import make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}", busy_timeout=5)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    engine.dispose()


def _gate(engine: Engine) -> sqlite_writers.WriterGate:
    gate = sqlite_writers.gate_of(engine)
    assert gate is not None
    return gate


def test_the_gate_is_taken_at_the_first_write_and_given_back_at_commit_or_rollback(
    engine: Engine,
) -> None:
    gate = _gate(engine)
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM t")).scalar()
        assert gate._holder is None  # reads never wait in line
        connection.execute(text("INSERT INTO t VALUES (1)"))
        assert gate._holder == id(connection.connection.dbapi_connection)
        connection.execute(text("UPDATE t SET x = 2"))  # the same transaction: held already
        connection.commit()
        assert gate._holder is None and not gate._lock.locked()
        connection.execute(text("DELETE FROM t"))
        assert gate._holder is not None
        connection.rollback()
        assert gate._holder is None and not gate._lock.locked()
        connection.execute(text("INSERT INTO t VALUES (3)"))
    # Closed without commit: the pool's reset on return rolls back and gives it back.
    assert gate._holder is None and not gate._lock.locked()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT x FROM t")).scalars().all() == [2]


def test_a_second_writer_waits_at_the_gate_and_goes_on_after_the_commit(engine: Engine) -> None:
    gate = _gate(engine)
    waited: list[bool] = []
    real_lock = gate._lock

    class Watched:
        """The gate's lock, noting whether an acquire found it taken."""

        def acquire(self, timeout: float = -1) -> bool:
            waited.append(real_lock.locked())
            return real_lock.acquire(timeout=timeout)

        def release(self) -> None:
            real_lock.release()

        def locked(self) -> bool:
            return real_lock.locked()

    gate._lock = Watched()  # type: ignore[assignment]
    order: list[str] = []
    holding, done = threading.Event(), threading.Event()

    def first() -> None:
        with engine.connect() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            done.wait(timeout=30)
            order.append("first commits")
            connection.commit()

    def second() -> None:
        with engine.connect() as connection:
            connection.execute(text("INSERT INTO t VALUES (2)"))
            connection.commit()
            order.append("second committed")

    a = threading.Thread(target=first)
    a.start()
    assert holding.wait(timeout=30)
    b = threading.Thread(target=second)
    b.start()
    b.join(timeout=0.3)
    assert b.is_alive()  # waiting at the gate
    done.set()
    a.join(timeout=30)
    b.join(timeout=30)
    assert order == ["first commits", "second committed"]
    assert waited == [False, True]


def test_another_process_holding_the_lock_file_holds_the_writers_here(
    engine: Engine, tmp_path: Path
) -> None:
    gate = _gate(engine)
    assert gate.path == tmp_path / "gate.db-writers"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(gate.path)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(0.5)\n"
            "released = time.time()\n"
            "fcntl.flock(fd, fcntl.LOCK_UN)\n"
            "print(released, flush=True)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    with engine.connect() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))  # waits for the other process
        written = time.time()
        connection.commit()
    released = float(holder.stdout.readline())
    holder.wait(timeout=30)
    assert written >= released
    # The lock file has the database's mode (0600 for a file Trephine created).
    assert (gate.path.stat().st_mode & 0o777) == ((tmp_path / "gate.db").stat().st_mode & 0o777)


def test_the_busy_timeout_still_bounds_the_wait(tmp_path: Path) -> None:
    """A writer that waited out the busy timeout at the gate is refused at once by SQLite (not
    after a second wait), and its connection gets its busy timeout back afterwards."""
    engine = make_engine(f"sqlite:///{tmp_path / 'busy.db'}", busy_timeout=0.3)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as first, engine.connect() as second:
            first.execute(text("INSERT INTO t VALUES (1)"))
            with pytest.raises(OperationalError, match="locked"):
                second.execute(text("INSERT INTO t VALUES (2)"))
            second.rollback()
            assert second.execute(text("PRAGMA busy_timeout")).scalar() == 300
            first.commit()
            second.execute(text("INSERT INTO t VALUES (2)"))
            second.commit()
            assert second.execute(text("SELECT count(*) FROM t")).scalar() == 2
    finally:
        engine.dispose()
    assert os.path.exists(tmp_path / "busy.db-writers")
