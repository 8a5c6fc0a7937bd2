"""The schema revision checks every command makes read the database and the migration files
directly (no Alembic import); they must agree with Alembic itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from trephine.store.database import MIGRATIONS, Database, head_of


def test_head_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert (
        head_of(MIGRATIONS / "versions") == ScriptDirectory.from_config(config).get_current_head()
    )


def test_current_revision_follows_upgrades_and_downgrades(tmp_path: Path) -> None:
    from alembic.runtime.migration import MigrationContext

    database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    assert database.current_revision() is None  # empty file: no alembic_version table
    for step in ("0001", "0003", "head"):
        database.upgrade(step)
        with database.engine.connect() as connection:
            expected = MigrationContext.configure(connection).get_current_revision()
        assert database.current_revision() == expected
    assert database.current_revision() == database.head_revision()
    database.downgrade("0002")
    assert database.current_revision() == "0002"
    database.dispose()


def _migration(folder: Path, name: str, revision: str, down: str | None) -> None:
    down_text = "None" if down is None else f'"{down}"'
    (folder / f"{name}.py").write_text(
        f'"""{name}"""\nrevision: str = "{revision}"\ndown_revision: str | None = {down_text}\n'
    )


def test_a_forked_history_is_refused_not_guessed(tmp_path: Path) -> None:
    _migration(tmp_path, "a", "0001", None)
    _migration(tmp_path, "b", "0002", "0001")
    assert head_of(tmp_path) == "0002"
    _migration(tmp_path, "c", "0003", "0001")  # two lanes both followed 0001
    with pytest.raises(RuntimeError, match="several heads"):
        head_of(tmp_path)
