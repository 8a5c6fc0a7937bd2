"""Sign-in, sessions, CSRF, throttling and API tokens over HTTP (spec §6: H3, H7, A2-A6)."""

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
from trephine.testing.accounts import TEST_PASSWORD, client_as, ensure_user, sign_in, token_for
from trephine.testing.clock import ManualClock as Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()  # frozen at 2026-01-05 08:00 UTC


@pytest.fixture
def app(database: Database, clock: Clock) -> Iterator[FastAPI]:
    app = create_app(database.url, clock=clock, settings=Settings())
    yield app
    app.state.database.dispose()


def _form_token(client: TestClient) -> str:
    page = client.get("/sign-in")
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def _try(client: TestClient, name: str, password: str) -> int:
    answer = client.post(
        "/sign-in",
        data={"name": name, "password": password, "form_token": _form_token(client)},
        follow_redirects=False,
    )
    return answer.status_code


def _events(app: FastAPI, action: str) -> list[audit.AuditEvent]:
    with app.state.database.unit_of_work("test") as uow:
        return [e for e in audit.events(uow, "user") if e.action == action]


def test_sign_in_sets_a_fresh_httponly_lax_cookie_and_sign_out_kills_it(app: FastAPI) -> None:
    name = ensure_user(app.state.database, "researcher")
    with TestClient(app) as client:
        token = _form_token(client)
        r = client.post(
            "/sign-in",
            data={"name": name, "password": TEST_PASSWORD, "form_token": token, "next": "/alerts"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/alerts"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("trephine_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP on loopback; TLS below
        first = client.cookies["trephine_session"]
        assert len(first) >= 43  # 256 bits, URL-safe base64
        assert client.get("/").status_code == 200
        # Signing in again gives a new session id (no fixation) and ends the old one.
        sign_in(client, name)
        second = client.cookies["trephine_session"]
        assert second != first
        with TestClient(app) as stale:
            stale.cookies.set("trephine_session", first)
            assert stale.get("/api/v1/patients").status_code == 401
        # The database holds only a digest of the id.
        with app.state.database.unit_of_work("t") as uow:
            stored = [s.id for s in accounts.list_sessions(uow)]
            assert len(stored) == 1
        csrf = client.headers["X-CSRF-Token"]
        out = client.post("/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    with TestClient(app) as replay:
        replay.cookies.set("trephine_session", second)
        assert replay.get("/api/v1/patients").status_code == 401
        page = replay.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/sign-in?next=%2F"
    assert [e.entity_id for e in _events(app, "sign-in")] == [name, name]
    assert [e.entity_id for e in _events(app, "sign-out")] == [name]


def test_cookie_is_secure_with_host_prefix_under_tls(app: FastAPI) -> None:
    name = ensure_user(app.state.database, "researcher")
    with TestClient(app, base_url="https://testserver") as client:
        r = client.post(
            "/sign-in",
            data={"name": name, "password": TEST_PASSWORD, "form_token": _form_token(client)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("__Host-trephine_session=") and "Secure" in cookie
        assert client.get("/api/v1/patients").status_code == 200


def test_wrong_password_and_unknown_name_look_the_same_and_are_audited(app: FastAPI) -> None:
    name = ensure_user(app.state.database, "clinician")
    with TestClient(app) as client:
        wrong = client.post(
            "/sign-in",
            data={"name": name, "password": "not the password", "form_token": _form_token(client)},
        )
        unknown = client.post(
            "/sign-in",
            data={"name": "nobody", "password": "whatever pass", "form_token": _form_token(client)},
        )
        assert wrong.status_code == unknown.status_code == 401
        for r in (wrong, unknown):
            assert "Wrong name or password" in r.text and "trephine_session" not in str(r.cookies)
    failed = _events(app, "sign-in-failed")
    assert [(e.entity_id, e.detail["reason"]) for e in failed] == [
        (name, "wrong password"),
        ("(unknown)", "unknown account"),
    ]
    assert all(e.detail["client"] == "testclient" for e in failed)
    assert "not the password" not in repr(failed) and "nobody" not in repr(failed)


def test_sign_in_form_refuses_a_missing_or_foreign_form_token(app: FastAPI) -> None:
    name = ensure_user(app.state.database, "researcher")
    with TestClient(app) as client:
        _form_token(client)
        forged = client.post(
            "/sign-in", data={"name": name, "password": TEST_PASSWORD, "form_token": "x" * 43}
        )
        assert forged.status_code == 403
        foreign = client.post(
            "/sign-in",
            data={"name": name, "password": TEST_PASSWORD, "form_token": _form_token(client)},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        assert "trephine_session" not in client.cookies


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_next_never_leaves_the_site(app: FastAPI, target: str) -> None:
    name = ensure_user(app.state.database, "researcher")
    with TestClient(app) as client:
        r = client.post(
            "/sign-in",
            data={
                "name": name,
                "password": TEST_PASSWORD,
                "form_token": _form_token(client),
                "next": target,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_idle_and_absolute_timeouts_with_a_frozen_clock(app: FastAPI, clock: Clock) -> None:
    with client_as(app, "researcher") as client:
        clock.advance(minutes=14)
        assert client.get("/api/v1/patients").status_code == 200  # activity keeps it alive
        clock.advance(minutes=14)
        assert client.get("/api/v1/patients").status_code == 200
        clock.advance(minutes=15)  # 15 min idle: the default limit
        assert client.get("/api/v1/patients").status_code == 401
        clock.advance(minutes=-30)  # turning the clock back does not revive it
        assert client.get("/api/v1/patients").status_code == 401
    with client_as(app, "researcher") as client:
        for _ in range(12 * 6 - 1):  # active every 10 minutes, just under 12 h
            clock.advance(minutes=10)
            assert client.get("/api/v1/alerts").status_code == 200
        clock.advance(minutes=10)
        assert client.get("/api/v1/alerts").status_code == 401  # absolute limit
    reasons = [e.detail["reason"] for e in _events(app, "session-end")]
    assert reasons == ["idle", "expired"]


def _last_seen(app: FastAPI) -> dt.datetime:
    with app.state.database.unit_of_work("t") as uow:
        (session,) = accounts.list_sessions(uow)
        return session.last_seen_at


def test_the_last_seen_time_is_written_at_most_every_30_s_and_idle_ends_within_30_s_early(
    app: FastAPI, clock: Clock
) -> None:
    """Not a write per request: ``last_seen_at`` moves only when 30 s old, so a session ends
    after between idle - 30 s and idle without a request, never later."""
    with client_as(app, "researcher") as client:
        signed_in = _last_seen(app)
        clock.advance(seconds=29)
        assert client.get("/api/v1/patients").status_code == 200
        assert _last_seen(app) == signed_in  # no write
        clock.advance(seconds=1)
        assert client.get("/api/v1/patients").status_code == 200
        touched = _last_seen(app)
        assert touched == signed_in + dt.timedelta(seconds=30) == clock.now
        clock.advance(seconds=29)  # the last request: not written
        assert client.get("/api/v1/patients").status_code == 200
        # 14 min 31 s after that last request, but 15 min after the last written time: ended.
        clock.advance(minutes=14, seconds=31)
        assert client.get("/api/v1/patients").status_code == 401
    with client_as(app, "researcher") as client:
        clock.advance(minutes=14, seconds=59)  # idle: just under the limit since sign-in
        assert client.get("/api/v1/patients").status_code == 200
        clock.advance(minutes=14, seconds=59)
        assert client.get("/api/v1/patients").status_code == 200
        clock.advance(minutes=15)
        assert client.get("/api/v1/patients").status_code == 401  # never later than the limit


def test_state_changing_requests_need_the_csrf_token_and_our_origin(app: FastAPI) -> None:
    with client_as(app, "clinician") as client:
        token = client.headers.pop("X-CSRF-Token")
        assert client.post("/api/v1/alerts/1/acknowledge", json={}).status_code == 403
        bad = client.post("/api/v1/alerts/1/acknowledge", json={}, headers={"X-CSRF-Token": "0"})
        assert bad.status_code == 403 and bad.json()["error"]["code"] == "forbidden"
        foreign = client.post(
            "/api/v1/alerts/1/acknowledge",
            json={},
            headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        ok = client.post("/api/v1/alerts/1/acknowledge", json={}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 404  # past the CSRF check: there is no alert 1 here
        assert client.post("/sign-out", follow_redirects=False).status_code == 403
        assert client.get("/api/v1/alerts").status_code == 200  # still signed in


def test_failed_sign_ins_are_slowed_then_refused(database: Database, clock: Clock) -> None:
    settings = Settings(signin_slow_after=3, signin_lock_after=5, signin_window_minutes=15)
    app = create_app(database.url, clock=clock, settings=settings)
    name = ensure_user(app.state.database, "lab")
    with TestClient(app) as client:
        assert [_try(client, name, "wrong password!") for _ in range(3)] == [401, 401, 401]
        assert _try(client, name, TEST_PASSWORD) == 429  # must wait 1 s after the 3rd
        clock.advance(seconds=1)
        assert _try(client, name, "wrong password!") == 401  # 4th failure
        clock.advance(seconds=1)
        assert _try(client, name, TEST_PASSWORD) == 429  # now 2 s
        clock.advance(seconds=1)
        assert _try(client, name, "wrong password!") == 401  # 5th: locked for the window
        clock.advance(minutes=10)
        refused = client.post(
            "/sign-in",
            data={"name": name, "password": TEST_PASSWORD, "form_token": _form_token(client)},
        )
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 200
        clock.advance(minutes=6)
        assert _try(client, name, TEST_PASSWORD) == 303  # the window has passed
    app.state.database.dispose()


def test_one_address_trying_many_accounts_is_throttled(database: Database, clock: Clock) -> None:
    settings = Settings(signin_address_slow_after=2, signin_address_lock_after=4)
    app = create_app(database.url, clock=clock, settings=settings)
    name = ensure_user(app.state.database, "lab")
    with TestClient(app) as client:
        statuses = []
        for i in range(4):
            statuses.append(_try(client, f"guess{i}", "some password"))
            clock.advance(seconds=5)
        assert statuses == [401, 401, 401, 401]
        assert _try(client, name, TEST_PASSWORD) == 429  # a real account, same address
    app.state.database.dispose()


def test_bearer_tokens_act_with_the_role_and_stop_when_revoked_expired_or_disabled(
    app: FastAPI, clock: Clock
) -> None:
    database = app.state.database
    researcher = token_for(database, "researcher", days=1)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {researcher}"}
        assert client.get("/api/v1/patients", headers=auth).status_code == 200
        assert client.get("/", headers=auth).status_code == 200
        refused = client.post("/api/v1/alerts/1/acknowledge", json={}, headers=auth)
        assert refused.status_code == 403  # a researcher may not acknowledge
        clock.advance(days=1)
        assert client.get("/api/v1/patients", headers=auth).status_code == 401  # expired

        clinician = token_for(database, "clinician")
        auth = {"Authorization": f"Bearer {clinician}"}
        # A bearer token needs no CSRF token (nothing ambient to forge).
        assert client.post("/api/v1/alerts/1/acknowledge", json={}, headers=auth).status_code == 404
        with database.unit_of_work("admin") as uow:
            (view,) = [t for t in accounts.list_tokens(uow) if t.user == "test-clinician"]
            accounts.revoke_token(uow, view.id)
        assert client.get("/api/v1/patients", headers=auth).status_code == 401

        lab = token_for(database, "lab")
        auth = {"Authorization": f"Bearer {lab}"}
        assert client.get("/api/v1/patients", headers=auth).status_code == 200
        with database.unit_of_work("admin") as uow:
            accounts.disable_user(uow, "test-lab")
        assert client.get("/api/v1/patients", headers=auth).status_code == 401
    with database.unit_of_work("t") as uow:
        used = [e for e in audit.events(uow, "token") if e.action == "token-use"]
    assert len(used) == 5 and {e.detail["user"] for e in used} == {
        "test-researcher",
        "test-clinician",
        "test-lab",
    }
    assert all(researcher not in repr(e.detail) for e in used)


def test_disabling_an_account_or_resetting_its_password_ends_its_sessions(app: FastAPI) -> None:
    database = app.state.database
    with client_as(app, "clinician") as client:
        assert client.get("/api/v1/alerts").status_code == 200
        with database.unit_of_work("admin") as uow:
            accounts.reset_password(uow, "test-clinician", "a brand new passphrase")
        assert client.get("/api/v1/alerts").status_code == 401
    with client_as(app, "lab") as client:
        with database.unit_of_work("admin") as uow:
            accounts.disable_user(uow, "test-lab")
        assert client.get("/api/v1/alerts").status_code == 401
        assert _try(client, "test-lab", TEST_PASSWORD) == 401  # cannot sign in either


def test_the_session_lookup_runs_off_the_event_loop(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup is a query (and every 30 s a write that may wait for SQLite's lock): on the
    event loop it would stall every other request of the worker meanwhile."""
    import asyncio

    on_loop: list[bool] = []
    real = accounts.resolve_session

    def watched(*args: object, **kwargs: object) -> object:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(accounts, "resolve_session", watched)
    with client_as(app, "clinician") as client:
        assert client.get("/api/v1/patients").status_code == 200
        assert client.get("/sign-in").status_code == 200  # a public page resolves it too
        assert client.post("/api/v1/alerts/1/acknowledge", json={}).status_code == 404
    assert on_loop == [False, False, False]
