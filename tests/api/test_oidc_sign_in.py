"""OpenID Connect sign-in against an identity provider running in this process
(:mod:`trephine.testing.oidc`: a real HTTP server on a loopback port). Each test can bend the
next ID token (another audience, another nonce, an expired one, an unknown role, another
signing key) and the app must refuse it, audited.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from trephine.api.app import create_app
from trephine.errors import ValidationError
from trephine.services import accounts, audit
from trephine.services.views import AuditEvent
from trephine.settings import Settings
from trephine.store.database import Database
from trephine.testing.oidc import CLIENT_ID, CLIENT_SECRET, Provider
from trephine.testing.served import free_port


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with Provider() as running:
        yield running


@pytest.fixture
def app(database: Database, provider: Provider) -> Iterator[FastAPI]:
    provider.user = {}
    provider.signing_key = None
    settings = Settings(
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_role_claim="groups",
        oidc_role_map={"haem-consultants": "clinician", "marrow-lab": "lab"},
    )
    app = create_app(database.url, settings=settings)
    yield app
    app.state.database.dispose()


def _sign_in(client: TestClient, next_path: str = "/?diagnosis=AML") -> httpx.Response:
    """The browser's round trip: our app → the provider → our callback."""
    start = client.get("/sign-in/oidc", params={"next": next_path}, follow_redirects=False)
    assert start.status_code == 303, start.text
    location = start.headers["location"]
    assert location.startswith(client.app.state.oidc.issuer + "/authorize?")  # type: ignore[attr-defined]
    at_provider = httpx.get(location, follow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/sign-in/oidc/callback"
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def _events(database: Database, action: str) -> list[AuditEvent]:
    with database.unit_of_work("test") as uow:
        return [e for e in audit.events(uow, "user") if e.action == action]


def _refused(database: Database, response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    assert "did not succeed" in response.text
    assert not any(k.endswith("trephine_session") for k in response.cookies)
    (failed,) = _events(database, "sign-in-failed")
    assert failed.detail["method"] == "oidc"
    assert not _events(database, "sign-in")
    return str(failed.detail["reason"])


def test_sign_in_creates_the_account_with_the_mapped_role_and_is_audited(
    app: FastAPI, database: Database
) -> None:
    with TestClient(app) as client:
        done = _sign_in(client)
        assert done.status_code == 303 and done.headers["location"] == "/?diagnosis=AML"
        assert client.get("/api/v1/patients").status_code == 200
        page = client.get("/")
        assert "dr.oidc" in page.text and "clinician" in page.text
    with database.unit_of_work("test") as uow:
        account = accounts.get_user(uow, "dr.oidc")
    assert account.role == "clinician" and not account.has_password
    assert account.oidc_subject == f"{app.state.oidc.issuer}|subject-0042"
    (signed_in,) = _events(database, "sign-in")
    assert signed_in.entity_id == "dr.oidc" and signed_in.detail["method"] == "oidc"
    (added,) = _events(database, "user-add")
    assert added.actor == "web:oidc" and added.detail["oidc"] is True


def test_the_provider_stays_the_authority_for_the_role(
    app: FastAPI, database: Database, provider: Provider
) -> None:
    with TestClient(app) as client:
        assert _sign_in(client).status_code == 303
    provider.user = {"groups": ["marrow-lab"]}
    with TestClient(app) as client:
        assert _sign_in(client).status_code == 303
    with database.unit_of_work("test") as uow:
        assert accounts.get_user(uow, "dr.oidc").role == "lab"
    (change,) = _events(database, "role-change")
    assert change.detail == {"from": "clinician", "to": "lab"}


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "another-client"}, "aud"),
        ({"nonce": "not-the-nonce-we-sent"}, "nonce"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "exp"),
        ({"iss": "http://127.0.0.1:1/elsewhere"}, "iss"),
        ({"groups": ["staff", "janitors"]}, "no known role"),
        ({"groups": ["haem-consultants", "marrow-lab"]}, "several roles"),
        ({"groups": None}, "no known role"),
        ({"preferred_username": "<b>x</b>"}, "not a valid account name"),
    ],
    ids=[
        "wrong-audience",
        "bad-nonce",
        "expired",
        "wrong-issuer",
        "unknown-role",
        "ambiguous-role",
        "no-role",
        "bad-name",
    ],
)
def test_a_bad_id_token_is_refused_and_audited(
    app: FastAPI, database: Database, provider: Provider, claims: dict[str, Any], reason: str
) -> None:
    provider.user = claims
    with TestClient(app) as client:
        assert reason in _refused(database, _sign_in(client))
        assert client.get("/api/v1/patients").status_code == 401
    with database.unit_of_work("test") as uow:
        assert accounts.find_user(uow, "dr.oidc") is None


def test_a_token_signed_with_another_key_is_refused(
    app: FastAPI, database: Database, provider: Provider
) -> None:
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with TestClient(app) as client:
        assert "signature" in _refused(database, _sign_in(client))


def test_a_forged_or_replayed_callback_is_refused(app: FastAPI, database: Database) -> None:
    with TestClient(app) as client:
        start = client.get("/sign-in/oidc", follow_redirects=False)
        at_provider = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
        back = parse_qs(urlsplit(at_provider.headers["location"]).query)
        # Another browser (no flow cookie) receiving the code: login CSRF.
        with TestClient(app) as other:
            forged = other.get(
                "/sign-in/oidc/callback",
                params={"code": back["code"][0], "state": back["state"][0]},
                follow_redirects=False,
            )
        assert "state" in _refused(database, forged)
        # The right browser with a tampered state.
        tampered = client.get(
            "/sign-in/oidc/callback",
            params={"code": back["code"][0], "state": "x" + back["state"][0]},
            follow_redirects=False,
        )
        assert tampered.status_code == 401


def test_a_local_account_is_never_taken_over_by_an_identity_of_the_same_name(
    app: FastAPI, database: Database
) -> None:
    with database.unit_of_work("test") as uow:
        accounts.add_user(uow, "dr.oidc", "admin", "a long local password")
    with TestClient(app) as client:
        assert "another account" in _refused(database, _sign_in(client))


def test_a_disabled_oidc_account_cannot_sign_in(app: FastAPI, database: Database) -> None:
    with TestClient(app) as client:
        assert _sign_in(client).status_code == 303
    with database.unit_of_work("test") as uow:
        accounts.disable_user(uow, "dr.oidc")
    with TestClient(app) as client:
        response = _sign_in(client)
    assert response.status_code == 401
    assert _events(database, "sign-in-failed")[-1].detail["reason"] == "account disabled"


def test_the_sign_in_page_offers_oidc_only_when_configured(
    app: FastAPI, database: Database
) -> None:
    with TestClient(app) as client:
        assert "/sign-in/oidc?next=" in client.get("/sign-in").text
    plain = create_app(database.url, settings=Settings())
    with TestClient(plain) as client:
        assert "/sign-in/oidc" not in client.get("/sign-in").text
        assert client.get("/sign-in/oidc", follow_redirects=False).status_code == 404
    plain.state.database.dispose()


def test_an_unreachable_provider_is_a_clear_page_not_a_crash(database: Database) -> None:
    settings = Settings(
        oidc_issuer=f"http://127.0.0.1:{free_port()}",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    app = create_app(database.url, settings=settings)
    with TestClient(app) as client:
        response = client.get("/sign-in/oidc", follow_redirects=False)
    assert response.status_code == 502 and "cannot be reached" in response.text
    app.state.database.dispose()


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"oidc_client_id": CLIENT_ID}, "TREPHINE_OIDC_CLIENT_SECRET"),
        (
            {
                "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": CLIENT_SECRET,
                "oidc_role_map": {"x": "superuser"},
            },
            "TREPHINE_OIDC_ROLE_MAP[x]",
        ),
        (
            {"oidc_client_id": CLIENT_ID, "oidc_client_secret": CLIENT_SECRET, "oidc_scopes": "x"},
            "TREPHINE_OIDC_SCOPES",
        ),
    ],
)
def test_incomplete_settings_are_refused_naming_the_setting(
    database: Database, settings: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        create_app(database.url, settings=Settings(oidc_issuer="http://127.0.0.1:9", **settings))
    assert refused.value.field == field
