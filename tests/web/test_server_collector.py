"""A served app keeps its long-lived objects out of the cycle collector's full collections
(``gc.freeze`` once started, given back when it stops); an app built for a test or a script
does not touch the collector."""

from __future__ import annotations

import gc
import weakref

import pytest
from fastapi.testclient import TestClient

from trephine.api.app import create_app, served_app
from trephine.cli.app_commands import WORKER_APP
from trephine.collector import long_lived_frozen
from trephine.settings import get_settings


def test_a_served_app_freezes_what_is_alive_once_started_and_gives_it_back(sqlite_url: str) -> None:
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(sqlite_url, server=True)) as client:
        frozen = gc.get_freeze_count()
        # The interpreter, the app and its routes: far more than any one request makes.
        assert frozen > 50_000, frozen
        assert client.get("/healthz").status_code == 200
        gc.collect()  # a full collection walks only the unfrozen objects, and thaws none
        assert gc.get_freeze_count() > frozen * 0.9  # (reference counting may free a few)
    assert gc.get_freeze_count() == 0


def test_an_app_for_a_test_or_a_script_leaves_the_collector_alone(sqlite_url: str) -> None:
    with TestClient(create_app(sqlite_url)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0


def test_unreachable_cycles_are_collected_before_freezing() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b  # a cycle nobody can reach: the freeze must not keep it for the server's life
    gc.disable()  # no automatic collection may run before the freeze's own
    try:
        with long_lived_frozen():
            assert gone() is None
    finally:
        gc.enable()
    assert gc.get_freeze_count() == 0


def test_serve_workers_build_the_served_app(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, name = WORKER_APP.split(":")
    assert (module, name) == ("trephine.api.app", "served_app")
    monkeypatch.setenv("TREPHINE_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    try:
        with TestClient(served_app()):
            assert gc.get_freeze_count() > 50_000
    finally:
        get_settings.cache_clear()
    assert gc.get_freeze_count() == 0


def test_a_served_app_lays_out_every_chart_grid_before_its_first_page(sqlite_url: str) -> None:
    """make_subplots costs a page 15-50 ms the first time a worker meets a set of chart rows;
    a served worker pays it once at start-up instead (web/chart.py), a test's app does not."""
    from trephine.web import chart

    chart._grid_of_rows.cache_clear()
    with TestClient(create_app(sqlite_url)) as client:
        assert client.get("/healthz").status_code == 200
        assert chart._grid_of_rows.cache_info().currsize == 0
    with TestClient(create_app(sqlite_url, server=True)) as client:
        assert chart._grid_of_rows.cache_info().currsize == 2 ** (len(chart.ROWS) - 1)
        assert client.get("/healthz").status_code == 200
