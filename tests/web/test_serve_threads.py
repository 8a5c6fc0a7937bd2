"""``TREPHINE_SERVE_THREADS``: the thread pool a served worker runs its routes in; an app built
for a test or a script keeps anyio's default."""

from __future__ import annotations

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.settings import Settings


def _threads(client: TestClient) -> float:
    # Asked on the app's event loop: anyio keeps one default limiter per loop.
    assert client.portal is not None
    return client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)


@pytest.mark.parametrize("threads", [1, 3])
def test_a_served_worker_works_on_that_many_requests_at_once(sqlite_url: str, threads: int) -> None:
    settings = Settings(database_url=sqlite_url, serve_threads=threads)
    with TestClient(create_app(sqlite_url, settings=settings, server=True)) as client:
        assert _threads(client) == threads
        assert client.get("/healthz").status_code == 200


def test_an_app_for_a_test_or_a_script_keeps_anyios_default(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, serve_threads=1)
    with TestClient(create_app(sqlite_url, settings=settings)) as client:
        assert _threads(client) == 40


def test_the_setting_is_refused_below_one() -> None:
    with pytest.raises(ValueError, match="serve_threads"):
        Settings(serve_threads=0)
