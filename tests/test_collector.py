"""Bulk work runs with the cycle collector paused (a quarter of the demo's CPU went to full
collections walking every live object) and gives it back afterwards, even on error."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from trephine.collector import collector_paused
from trephine.demo import generate_cohort
from trephine.demo.load import load_cohort
from trephine.services.assessments import assess_all
from trephine.store.database import Database


def test_the_collector_is_paused_and_given_back_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("refused")
    assert gc.isenabled()
    gc.disable()  # a caller that had it off keeps it off
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_demo_load_and_assess_all_run_without_collections(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'demo.db'}")
    database.upgrade()
    seen: list[bool] = []
    load_cohort(database, generate_cohort(3, 7), on_patient=lambda *_: seen.append(gc.isenabled()))
    assert seen == [False, False, False] and gc.isenabled()
    seen.clear()
    assess_all(database, "test", on_patient=lambda *_: seen.append(gc.isenabled()))
    assert seen == [False, False, False] and gc.isenabled()
    database.dispose()
