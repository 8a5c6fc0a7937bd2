"""Engines, migrations and units of work.

``Database(url)`` owns one engine. ``upgrade()`` runs the Alembic migrations shipped inside the
package (so ``trephine init`` works from an installed wheel), and ``unit_of_work(actor)`` opens
one transaction that commits on success and rolls back on any error — the all-or-nothing
guarantee importers rely on.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from trephine.domain.actor import check_actor
from trephine.jsontext import dumps_with
from trephine.store import audit_chain
from trephine.store.audit_group import AuditGroup, wrote_nothing

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, *, busy_timeout: float | None = None) -> Engine:
    """An engine for ``url``. ``hide_parameters``: a database error's message (and so any log
    line or traceback made of it) never shows a statement's values — names, MRNs, birth dates.

    SQLite files hold names and MRNs, so a new file is created readable by its owner only
    (0600; SQLite gives its -wal/-shm files the same mode). Connections use WAL journaling, so
    readers never wait for a writer, and wait up to ``busy_timeout`` seconds (default: the
    ``TREPHINE_SQLITE_BUSY_TIMEOUT`` setting) for another writer's lock, in line behind a
    writer gate (:mod:`trephine.store.sqlite_writers`) rather than polling.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if busy_timeout is None:
            from trephine.settings import get_settings

            busy_timeout = get_settings().sqlite_busy_timeout
        if parsed.database and parsed.database != ":memory:":
            _create_private(Path(parsed.database))
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={"timeout": busy_timeout},
            json_serializer=_JSON_TEXT,
        )
        milliseconds = int(busy_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # SQLite ignores foreign keys unless asked, per connection.
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={milliseconds}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        if parsed.database and parsed.database != ":memory:":
            from trephine.store import sqlite_writers

            sqlite_writers.install(engine, Path(parsed.database), busy_timeout)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, json_serializer=_JSON_TEXT)


#: What the JSON columns store: ``json.dumps(value)`` (SQLAlchemy's default serializer), made
#: once instead of once per value (an import writes hundreds of thousands of JSON cells).
_JSON_TEXT = dumps_with()


def _create_private(path: Path) -> None:
    """Create the database file 0600 if it does not exist yet (an existing file keeps its mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


_REVISION = re.compile(r"^(down_)?revision\s*(?::[^=]*)?=\s*(None|[\"']([^\"']+)[\"'])", re.M)


def head_of(versions: Path) -> str | None:
    """The head of a linear migration history, read from the files' ``revision`` and
    ``down_revision`` lines without importing them (the revision no other file follows).

    Equal to Alembic's ``ScriptDirectory.get_current_head()`` (a test holds them equal); a
    history with two heads, or none, is refused rather than guessed.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        found = {m.group(1) or "": m.group(3) for m in _REVISION.finditer(path.read_text("utf-8"))}
        if found.get(""):
            revisions.add(found[""])
            if found.get("down_"):
                parents.add(found["down_"])
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"migrations in {versions} have several heads: {sorted(heads)}")
    return next(iter(heads), None)


@lru_cache(maxsize=1)
def _shipped_head() -> str | None:
    """:func:`head_of` the migrations inside the package, read once per process: they change
    only with the package (``/healthz`` asks at every probe)."""
    return head_of(MIGRATIONS / "versions")


#: SQLSTATEs of a transaction that lost a race with another writer (PostgreSQL): a unique key
#: taken meanwhile, a deadlock, a serialization failure.
_RACE_SQLSTATES = {"23505", "40P01", "40001"}
#: The same on SQLite: a unique key taken meanwhile, or the write lock not obtained in time.
_RACE_SQLITE = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_BUSY"}


def lost_write_race(exc: BaseException) -> bool:
    """Did ``exc`` end a transaction because another one wrote the same rows at the same time?

    Idempotent writers (the importer, the demo loader) can simply run again: the second run reads
    what the winner committed. Anything else (a refused NUL, a trigger) is not a race.
    """
    import sqlalchemy.exc

    if not isinstance(exc, sqlalchemy.exc.IntegrityError | sqlalchemy.exc.OperationalError):
        return False
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state is not None:
        return state in _RACE_SQLSTATES
    return getattr(orig, "sqlite_errorname", None) in _RACE_SQLITE


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UnitOfWork:
    """One transaction acting on behalf of ``actor``; writes audit events inside it."""

    def __init__(self, session: Session, actor: str, clock: Callable[[], dt.datetime]) -> None:
        self.session = session
        self.actor = actor
        self._clock = clock
        #: Merged into every audit event's detail (e.g. the import file and its checksum).
        self.context: dict[str, Any] = {}
        self._audit_queue: list[audit_chain.Queued] = []
        #: Patient rows found by their external id in this transaction
        #: (``services._rows.patient_row``): a page asks for the same patient several times.
        self.patient_rows: dict[str, Any] = {}

    def now(self) -> dt.datetime:
        return self._clock()

    def queue_audit(self, rows: list[audit_chain.Queued]) -> None:
        """Hold audit rows until :meth:`write_audit` (called just before commit). Services call
        ``trephine.services.audit.append``, which builds the rows; nothing else calls this."""
        self._audit_queue.extend(rows)

    def has_audit(self) -> bool:
        return bool(self._audit_queue)

    def take_audit(self) -> list[audit_chain.Queued]:
        """The queued rows, handed over to be written elsewhere (the group commit)."""
        rows, self._audit_queue = self._audit_queue, []
        return rows

    def write_audit(self) -> None:
        """Append the queued rows to the hash chain now, in this transaction."""
        rows, self._audit_queue = self._audit_queue, []
        audit_chain.append_rows(self.session, rows)


class Database:
    def __init__(self, url: str, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._clock = clock
        self._audit_group: AuditGroup | None = None
        self._group_lock = threading.Lock()

    def upgrade(self, revision: str = "head") -> None:
        """Migrate up; running it on an up-to-date database does nothing."""
        from alembic import command

        with self.engine.begin() as connection:
            config = _alembic_config(self.engine)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def downgrade(self, revision: str = "base") -> None:
        from alembic import command

        with self.engine.begin() as connection:
            config = _alembic_config(self.engine)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)

    def current_revision(self) -> str | None:
        """The schema revision recorded in ``alembic_version`` (None on an empty database).

        Read with one query rather than through Alembic: every command checks it, and importing
        Alembic (with Mako and Pygments) cost each command about half a second.
        """
        if not inspect(self.engine).has_table("alembic_version"):
            return None
        with self.engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        if len(rows) > 1:  # a branched history, which Trephine never makes
            raise RuntimeError(f"alembic_version holds {len(rows)} rows; expected one")
        return str(rows[0][0]) if rows else None

    def head_revision(self) -> str | None:
        """The newest migration this version ships (see :func:`head_of`)."""
        return _shipped_head()

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    @contextmanager
    def unit_of_work(self, actor: str, *, group_audit: bool = False) -> Iterator[UnitOfWork]:
        """Commit on success, roll back on any exception (nothing half-written).

        Audit events are chained just before the commit (:mod:`trephine.store.audit_chain`):
        the chain lock is then the last lock the transaction takes. With ``group_audit`` (the
        web's requests), a unit of work that wrote nothing commits its audit events together
        with those of concurrent ones (:mod:`trephine.store.audit_group`), still before this
        returns.
        """
        check_actor(actor)  # the name goes into the trail and sign-out columns: refuse markup
        rows: list[audit_chain.Queued] = []
        with self._sessions() as session, session.begin():
            uow = UnitOfWork(session, actor, self._clock)
            yield uow
            if group_audit and uow.has_audit() and wrote_nothing(session):
                rows = uow.take_audit()
            else:
                uow.write_audit()
        if rows:
            self.audit_group.commit(rows)

    @property
    def audit_group(self) -> AuditGroup:
        """This process's group commit of read-only units of work's audit events."""
        group = self._audit_group
        if group is None:
            with self._group_lock:
                group = self._audit_group
                if group is None:
                    group = self._audit_group = AuditGroup(self._append_audit)
        return group

    def _append_audit(self, rows: list[audit_chain.Queued]) -> None:
        with self._sessions() as session, session.begin():
            audit_chain.append_rows(session, rows)

    def dispose(self) -> None:
        self.engine.dispose()
