"""The export key of a database (services/site_secret.py) on SQLite and PostgreSQL: made once
and kept, the same from another process's connection, different in another database, one key
when two processes make it at once, ``TREPHINE_EXPORT_KEY`` overriding it, and the CLI's
export, study and paired views working without the setting."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from trephine.errors import ValidationError
from trephine.present.deidentify import Level
from trephine.services import site_secret as ss
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.store.tables import SiteSecretRow


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TREPHINE_EXPORT_KEY", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _rows(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(SiteSecretRow)).scalar_one())


def test_made_once_kept_and_shared_by_another_connection(database: Database) -> None:
    assert _rows(database) == 0  # nothing until needed
    key = ss.export_key(database)
    assert len(key) == ss.SECRET_BYTES
    assert ss.export_key(database) == key
    other = Database(database.url)  # another process's engine
    try:
        assert ss.export_key(other) == key
        # A process that lost the race inserts nothing and reads the winner's key.
        ss._insert_if_absent(other, ss.EXPORT)
        assert ss.site_secret(other) == key
    finally:
        other.dispose()
    assert _rows(database) == 1
    pseudonym = ss.deidentifier(database, Level.SAFE_HARBOR).patient("K-1")
    assert pseudonym == ss.deidentifier(database, Level.LIMITED).patient("K-1")
    assert ss.deidentifier(database, Level.NONE).patient("K-1") == "K-1"


def test_two_processes_making_it_at_once_end_with_one_key(database: Database) -> None:
    engines = [Database(database.url), Database(database.url)]
    start = threading.Barrier(len(engines))
    keys: list[bytes] = []

    def make(db: Database) -> None:
        start.wait()
        keys.append(ss.site_secret(db))

    threads = [threading.Thread(target=make, args=(db,)) for db in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for db in engines:
            db.dispose()
    assert len(keys) == 2 and keys[0] == keys[1] == ss.site_secret(database)
    assert _rows(database) == 1


def test_each_database_has_its_own_and_the_setting_overrides(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        other.upgrade()
        own, others = ss.export_key(database), ss.export_key(other)
        assert own != others
        deid = ss.deidentifier(database, Level.SAFE_HARBOR)
        assert deid.patient("K-1") != ss.deidentifier(other, Level.SAFE_HARBOR).patient("K-1")
        monkeypatch.setenv("TREPHINE_EXPORT_KEY", "a-site-wide-secret-0123456789")
        get_settings.cache_clear()
        assert ss.export_key(database) == ss.export_key(other) == b"a-site-wide-secret-0123456789"
        shared = ss.deidentifier(database, Level.SAFE_HARBOR).patient("K-1")
        assert shared == ss.deidentifier(other, Level.SAFE_HARBOR).patient("K-1")
        assert shared != deid.patient("K-1")
        assert ss.site_secret(database) == own  # the database's own is kept, unused
        monkeypatch.setenv("TREPHINE_EXPORT_KEY", "short")
        get_settings.cache_clear()
        with pytest.raises(ValidationError, match="TREPHINE_EXPORT_KEY"):
            ss.deidentifier(database, Level.SAFE_HARBOR)
    finally:
        other.dispose()
