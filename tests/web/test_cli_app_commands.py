"""``trephine demo`` and ``trephine serve`` argument handling (in process, no server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.services import open_database
from trephine.services.patients import list_patients


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_demo_loads_into_the_database_named_by_the_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    monkeypatch.setenv("TREPHINE_DATABASE_URL", url)
    from trephine.settings import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["demo", "--patients", "3", "--seed", "5"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "3 patients loaded (0 already present)" in result.output
    db = open_database(url)
    with db.unit_of_work("test") as uow:
        assert [p.patient_id for p in list_patients(uow)] == ["DEMO-0001", "DEMO-0002", "DEMO-0003"]
    db.dispose()


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_demo_refuses_a_bad_patient_count_with_exit_2(runner: CliRunner, bad: str) -> None:
    result = runner.invoke(app, ["demo", "--patients", bad])
    assert result.exit_code == 2
    assert "--patients" in result.output


def test_serve_defaults_to_loopback(runner: CliRunner) -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "127.0.0.1" in result.output and "8000" in result.output


def test_serve_refuses_a_bad_port(runner: CliRunner) -> None:
    result = runner.invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 2
    assert "--port" in result.output


def test_demo_on_an_unusable_database_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory where the SQLite file should be: the driver cannot open it.
    (tmp_path / "d.db").mkdir()
    monkeypatch.setenv("TREPHINE_DATABASE_URL", f"sqlite:///{tmp_path / 'd.db'}")
    from trephine.settings import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["demo", "--patients", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "error: database" in result.output and "d.db" in result.output


def test_demo_refuses_to_mix_with_other_patients_unless_asked(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trephine.domain.patient import Patient, Sex
    from trephine.services.patients import register_patient
    from trephine.settings import get_settings

    url = f"sqlite:///{tmp_path / 'real.db'}"
    db = open_database(url)
    db.upgrade()
    with db.unit_of_work("test") as uow:
        register_patient(uow, Patient("P-0001", Sex.FEMALE, 1970))
    monkeypatch.setenv("TREPHINE_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        refused = runner.invoke(app, ["demo", "--patients", "2"])
        assert refused.exit_code == 2
        assert "P-0001" in refused.output and "--allow-mixed" in refused.output
        with db.unit_of_work("test") as uow:
            assert [p.patient_id for p in list_patients(uow)] == ["P-0001"]  # nothing written
        mixed = runner.invoke(app, ["demo", "--patients", "2", "--allow-mixed"])
        assert mixed.exit_code == 0, mixed.output
    finally:
        get_settings.cache_clear()
    with db.unit_of_work("test") as uow:
        assert len(list_patients(uow)) == 3
    db.dispose()


def test_database_urls_are_shown_without_passwords() -> None:
    from trephine.cli.common import shown_url as _shown_url

    shown = _shown_url("postgresql+psycopg://lab:s3cret@db.example:5432/trephine")
    assert "s3cret" not in shown and "lab:***@db.example" in shown
