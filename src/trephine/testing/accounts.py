"""Signed-in test clients, one per role, through the real sign-in form.

Typical use in a test::

    from trephine.testing.accounts import client_as

    with client_as(app, "clinician") as client:      # a TestClient with a session cookie
        client.get("/patients/DEMO-0001")             # the page, as a clinician
        client.post("/api/v1/alerts/3/acknowledge", json={"note": "seen"})   # CSRF header set

``client_as`` creates the account ``test-<role>`` (password :data:`TEST_PASSWORD`) the first time,
signs in through ``GET/POST /sign-in`` (the same form a browser uses, login-CSRF included) and
sets the session's CSRF token as the ``X-CSRF-Token`` default header, so JSON POSTs pass the CSRF
check as a page's script would. ``ensure_user`` adds an account directly; ``sign_in`` signs an
existing client in; ``token_for`` issues an API token.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from trephine.access import Role, parse_role

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from trephine.store.database import Database

#: The password of every account made by these helpers (≥ 12 characters, not the name).
TEST_PASSWORD = "correct horse battery staple"
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def user_name(role: Role | str) -> str:
    return f"test-{parse_role(str(role))}"


def ensure_user(
    database: Database, role: Role | str, name: str | None = None, password: str = TEST_PASSWORD
) -> str:
    """Add the account (``test-<role>`` by default) unless it exists; return its name."""
    from trephine.services import accounts

    chosen = parse_role(str(role))
    name = name or user_name(chosen)
    with database.unit_of_work("test-setup") as uow:
        if accounts.find_user(uow, name) is None:
            accounts.add_user(uow, name, chosen, password)
    return name


def sign_in(client: TestClient, name: str, password: str = TEST_PASSWORD) -> str:
    """Sign ``client`` in through the form; returns the session's CSRF token (also set as the
    client's ``X-CSRF-Token`` header)."""
    from trephine.api.deps import CSRF_HEADER
    from trephine.services.accounts import csrf_token

    page = client.get("/sign-in")
    found = _FORM_TOKEN.search(page.text)
    assert found is not None, f"no sign-in form at /sign-in ({page.status_code})"
    answer = client.post(
        "/sign-in",
        data={"name": name, "password": password, "form_token": found.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, f"sign-in of {name} failed: {answer.status_code}"
    session = next(v for k, v in client.cookies.items() if k.endswith("trephine_session"))
    token = csrf_token(session)
    client.headers[CSRF_HEADER] = token
    return token


def client_as(app: FastAPI, role: Role | str, **kwargs: object) -> TestClient:
    """A new ``TestClient`` on ``app`` signed in as ``test-<role>`` (created if missing).

    ``kwargs`` go to ``TestClient`` (e.g. ``raise_server_exceptions=False``). Use it as a
    context manager, or close it, like any TestClient.
    """
    from fastapi.testclient import TestClient

    name = ensure_user(app.state.database, role)
    client = TestClient(app, **kwargs)  # type: ignore[arg-type]
    sign_in(client, name)
    return client


def token_for(database: Database, role: Role | str, days: int = 30) -> str:
    """A fresh API token for ``test-<role>`` (created if missing)."""
    from trephine.services import accounts

    name = ensure_user(database, role)
    with database.unit_of_work("test-setup") as uow:
        raw, _ = accounts.create_token(uow, name, days)
    return raw
