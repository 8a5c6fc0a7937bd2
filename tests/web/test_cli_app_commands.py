"""``trephine demo`` and ``trephine serve`` argument handling (in process, no server)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

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


def _demo(runner: CliRunner, url: str, *args: str) -> Any:
    from trephine.settings import get_settings

    get_settings.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("TREPHINE_DATABASE_URL", url)
            return runner.invoke(app, ["demo", "--no-accounts", *args])
    finally:
        get_settings.cache_clear()


def _latest_and_earliest(url: str) -> tuple[dt.datetime, dt.date]:
    from sqlalchemy import func, select

    from trephine.store.tables import DiagnosisRow, ProcedureRow

    db = open_database(url)
    with db.unit_of_work("test") as uow:
        latest = uow.session.scalar(select(func.max(ProcedureRow.performed_at)))
        first = uow.session.scalar(select(func.min(DiagnosisRow.diagnosed_on)))
    db.dispose()
    assert latest is not None and first is not None
    return latest, first


def test_demo_as_of_moves_the_calendar_to_end_in_the_week_before_that_day(
    runner: CliRunner, tmp_path: Path
) -> None:
    from trephine.demo import synthetic_patient
    from trephine.demo.calendar import REFERENCE_AS_OF, REFERENCE_END, shift_for

    moved = f"sqlite:///{tmp_path / 'moved.db'}"
    result = _demo(runner, moved, "-n", "5", "--seed", "10", "--as-of", "2026-06-10")
    assert result.exit_code == 0, result.output
    shift = shift_for(dt.date(2026, 6, 10))
    end = REFERENCE_END + dt.timedelta(days=shift - 1)
    assert f"moved {shift // 7:+d} weeks" in result.output
    assert f"calendar ends {end} (as of 2026-06-10)" in result.output
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    same = _demo(runner, reference, "-n", "5", "--seed", "10", "--as-of", str(REFERENCE_AS_OF))
    assert same.exit_code == 0 and "moved +0 weeks" in same.output
    latest, first = _latest_and_earliest(moved)
    ref_latest, ref_first = _latest_and_earliest(reference)
    assert latest - ref_latest == dt.timedelta(days=shift) == first - ref_first
    moved_cohort = [synthetic_patient(i, 10, shift_days=shift) for i in range(5)]
    assert first == min(d.diagnosed_on for sp in moved_cohort for d in sp.diagnoses)
    # The next marrows booked (planned procedures) fall in the weeks after the as-of day.
    from trephine.demo.planning import upcoming_plan
    from trephine.domain.planning import PlanStatus
    from trephine.services import procedure_plans

    booked = {
        sp.patient.external_id: plan
        for sp in moved_cohort
        if (plan := upcoming_plan(sp)) is not None
    }
    assert booked and f"{len(booked)} marrows booked in the coming weeks" in result.output
    db = open_database(moved)
    with db.unit_of_work("test") as uow:
        planned = procedure_plans.list_plans(uow, status=PlanStatus.PLANNED)
    db.dispose()
    assert {p.patient_id: p.plan.planned_for for p in planned} == {
        pid: plan.planned_for for pid, plan in booked.items()
    }
    # Re-running on another day keeps the calendar already loaded (and books nothing for the
    # patients already there); a conflicting --as-of is refused, naming the days that keep it.
    again = _demo(runner, moved, "-n", "7", "--seed", "10")
    assert again.exit_code == 0, again.output
    added = [synthetic_patient(i, 10, shift_days=shift) for i in (5, 6)]
    assert f"{sum(upcoming_plan(sp) is not None for sp in added)} marrows booked" in again.output
    assert "kept from the demo patients already loaded" in again.output
    assert _latest_and_earliest(moved)[1] == min(
        d.diagnosed_on for sp in [*moved_cohort, *added] for d in sp.diagnoses
    )
    refused = _demo(runner, moved, "-n", "7", "--seed", "10", "--as-of", "2025-08-01")
    assert refused.exit_code == 2
    assert "--as-of" in refused.output and "no --as-of" in refused.output


def test_demo_as_of_is_today_by_default(runner: CliRunner, tmp_path: Path) -> None:
    from trephine.demo.calendar import calendar_end, shift_for

    result = _demo(runner, f"sqlite:///{tmp_path / 'd.db'}", "-n", "1")
    assert result.exit_code == 0, result.output
    today = dt.datetime.now(dt.UTC).date()
    assert f"(as of {today})" in result.output
    assert f"ends {calendar_end(shift_for(today)) - dt.timedelta(days=1)}" in result.output


@pytest.mark.parametrize("bad", ["2026-02-30", "next week", "2999-01-01"])
def test_demo_refuses_a_bad_as_of_day_with_exit_2(
    runner: CliRunner, tmp_path: Path, bad: str
) -> None:
    result = _demo(runner, f"sqlite:///{tmp_path / 'd.db'}", "-n", "1", "--as-of", bad)
    assert result.exit_code == 2
    assert "--as-of" in result.output and "YYYY-MM-DD" in result.output
    assert not (tmp_path / "d.db").exists()  # refused before the database is opened


def test_serve_workers_default_to_the_usable_cpus_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from trephine.cli import app_commands

    monkeypatch.setattr(app_commands.os, "sched_getaffinity", lambda _pid: {0, 1, 2})
    assert app_commands.default_workers() == 3
    monkeypatch.setattr(app_commands.os, "sched_getaffinity", lambda _pid: set(range(64)))
    assert app_commands.default_workers() == app_commands.DEFAULT_WORKERS_CAP


@pytest.mark.parametrize("bad", ["0", "-1", "65", "many"])
def test_serve_refuses_a_bad_worker_count(runner: CliRunner, bad: str) -> None:
    result = runner.invoke(app, ["serve", "--workers", bad])
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_serve_refuses_several_workers_on_an_in_memory_database(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each process would hold its own empty database: sessions made by one unknown to another.
    monkeypatch.setenv("TREPHINE_DATABASE_URL", "sqlite://")
    from trephine.settings import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["serve", "--workers", "2"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "--workers" in result.stderr and "in-memory" in result.stderr
