"""What several server processes (``trephine serve --workers N``) must share lives in the database.

Two app instances on one database stand for two worker processes: each has its own engine,
settings objects and module state, so anything kept in process memory (a session cache, a
failure counter, a CSRF secret) would make them disagree, and these tests fail. The served
two-worker test (``tests/web/test_serve_workers.py``) checks the same with real processes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from trephine.api.app import create_app
from trephine.services import accounts, audit
from trephine.settings import Settings
from trephine.store.database import Database
from trephine.testing.accounts import TEST_PASSWORD, ensure_user, sign_in
from trephine.testing.clock import ManualClock as Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def two(database: Database, clock: Clock) -> Iterator[tuple[FastAPI, FastAPI]]:
    settings = Settings(signin_slow_after=3, signin_lock_after=6)
    first = create_app(database.url, clock=clock, settings=settings)
    second = create_app(database.url, clock=clock, settings=settings)
    yield first, second
    first.state.database.dispose()
    second.state.database.dispose()


def _try(client: TestClient, name: str, password: str) -> int:
    page = client.get("/sign-in")
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found
    answer = client.post(
        "/sign-in",
        data={"name": name, "password": password, "form_token": found.group(1)},
        follow_redirects=False,
    )
    return answer.status_code


def test_a_session_made_by_one_process_works_and_ends_in_the_other(
    two: tuple[FastAPI, FastAPI], clock: Clock
) -> None:
    first, second = two
    name = ensure_user(first.state.database, "clinician")
    with TestClient(first) as a, TestClient(second) as b:
        csrf = sign_in(a, name)
        b.cookies.set("trephine_session", a.cookies["trephine_session"])
        assert b.get("/api/v1/patients").status_code == 200
        # The CSRF token is the session's, not a secret of the process that made it.
        passed = b.post("/api/v1/alerts/1/acknowledge", json={}, headers={"X-CSRF-Token": csrf})
        assert passed.status_code == 404  # past the CSRF check: there is no alert 1 here
        # Activity seen by one process keeps the session alive for the other.
        for client in (b, a, b, a):
            clock.advance(minutes=14)
            assert client.get("/api/v1/patients").status_code == 200
        out = b.post("/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303
        assert a.get("/api/v1/patients").status_code == 401


def test_failed_sign_ins_count_across_processes(two: tuple[FastAPI, FastAPI]) -> None:
    first, second = two
    name = ensure_user(first.state.database, "lab")
    with TestClient(first) as a, TestClient(second) as b:
        assert [_try(a, name, "wrong password!"), _try(b, name, "wrong password!")] == [401, 401]
        assert _try(a, name, "wrong password!") == 401  # the 3rd failure, wherever it lands
        assert _try(b, name, TEST_PASSWORD) == 429  # the 4th try waits, in either process
        assert _try(a, name, TEST_PASSWORD) == 429


def test_two_processes_appending_at_once_keep_one_audit_chain(
    two: tuple[FastAPI, FastAPI],
) -> None:
    import threading

    first, second = two
    name = ensure_user(first.state.database, "clinician")
    failures: list[BaseException] = []

    def sign_ins(app: FastAPI) -> None:
        try:
            with TestClient(app) as client:
                for _ in range(4):  # sign-in, session replaced: audit events each time
                    sign_in(client, name)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=sign_ins, args=(app,)) for app in (first, second) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    with first.state.database.unit_of_work("auditor") as uow:
        (chain,) = audit.chain_checks(uow)
        signed = [e for e in audit.events(uow, "user") if e.action == "sign-in"]
        sessions = accounts.list_sessions(uow, active_only=False)
    assert chain.passed is True, chain.detail
    assert len(signed) == len(sessions) == 16
