"""A minimal OpenID Connect provider for the tests: a real HTTP server on a loopback port
(uvicorn in a thread) with a discovery document, a JWKS, an authorization endpoint that
approves at once, and a token endpoint that checks the client secret, the redirect URI and the
PKCE verifier and returns an RS256-signed ID token. No internet.

Each test can bend the next ID token (:attr:`Provider.user`: claims merged over the defaults)
or sign it with another key (:attr:`Provider.signing_key`). The provider keeps a session per
run: ``auth_time`` is when that session signed in, unless the request asks for a fresh login
(``prompt=login`` or ``max_age=0``), which the provider honours with ``auth_time`` = now and
counts in :attr:`Provider.fresh_logins`, unless :attr:`Provider.ignore_prompt` makes it behave
like a provider that skips the login it was asked for.

Typical use (tests/api/test_oidc_sign_in.py, tests/reports/test_oidc_signing.py)::

    with Provider() as provider:
        settings = Settings(oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID,
                            oidc_client_secret=CLIENT_SECRET, ...)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

from trephine.testing.served import free_port

CLIENT_ID = "trephine-test"
CLIENT_SECRET = "s3cret-of-the-test-client"


class Provider:
    """A minimal OpenID Connect provider (authorization code flow with PKCE)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.codes: dict[str, dict[str, str]] = {}
        #: Claims the next ID tokens carry (merged over the defaults; None removes a claim).
        self.user: dict[str, Any] = {}
        #: Replace the signing key of the next ID token (same kid): a forged token.
        self.signing_key: RSAKey | None = None
        self.token_requests = 0
        #: When the provider's own session signed in (``auth_time`` without a fresh login).
        self.session_auth_time = int(time.time()) - 3600
        #: Logins asked for with ``prompt=login``/``max_age=0`` and honoured.
        self.fresh_logins = 0
        #: Behave like a provider that skips the fresh login it was asked for.
        self.ignore_prompt = False
        self.app = self._build()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test provider did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def _build(self) -> FastAPI:
        app = FastAPI()
        provider = self

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": provider.issuer,
                "authorization_endpoint": f"{provider.issuer}/authorize",
                "token_endpoint": f"{provider.issuer}/token",
                "jwks_uri": f"{provider.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [provider.key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
                raise HTTPException(400, "bad client or response type")
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                raise HTTPException(400, "PKCE required")
            if "openid" not in q.get("scope", "").split():
                raise HTTPException(400, "openid scope required")
            code = secrets.token_urlsafe(16)
            auth_time = provider.session_auth_time
            if (q.get("prompt") == "login" or q.get("max_age") == "0") and not (
                provider.ignore_prompt
            ):
                provider.fresh_logins += 1
                auth_time = int(time.time())
            provider.codes[code] = {
                "nonce": q.get("nonce", ""),
                "challenge": q["code_challenge"],
                "redirect_uri": q["redirect_uri"],
                "auth_time": str(auth_time),
            }
            query = urlencode({"code": code, "state": q.get("state", "")})
            return RedirectResponse(f"{q['redirect_uri']}?{query}", status_code=302)

        @app.post("/token")
        def token(
            request: Request,
            grant_type: str = Form(),
            code: str = Form(),
            redirect_uri: str = Form(),
            code_verifier: str = Form(),
        ) -> dict[str, Any]:
            provider.token_requests += 1
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("authorization") != expected:
                raise HTTPException(401, "client authentication failed")
            grant = provider.codes.pop(code, None)
            if grant_type != "authorization_code" or grant is None:
                raise HTTPException(400, "invalid_grant")
            if redirect_uri != grant["redirect_uri"]:
                raise HTTPException(400, "redirect_uri mismatch")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if challenge != grant["challenge"]:
                raise HTTPException(400, "PKCE verifier mismatch")
            now = int(time.time())
            claims: dict[str, Any] = {
                "iss": provider.issuer,
                "sub": "subject-0042",
                "aud": CLIENT_ID,
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                "auth_time": int(grant["auth_time"]),
                "preferred_username": "dr.oidc",
                "groups": ["staff", "haem-consultants"],
            }
            claims.update(provider.user)
            claims = {k: v for k, v in claims.items() if v is not None}
            key = provider.signing_key or provider.key
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
            return {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }

        return app


def provider_url(response: Any) -> str:
    """Where our app sends the browser to the provider: the 303 of a sign-in, or the link
    (``id="reauth-link"``) of the page that asks a signer to sign in again."""
    import html
    import re

    if response.status_code == 303:
        return str(response.headers["location"])
    assert response.status_code == 200, response.text
    found = re.search(r'id="reauth-link" href="([^"]+)"', response.text)
    assert found is not None, "no link to the provider on the page"
    return html.unescape(found.group(1))


def through_provider(client: Any, response: Any) -> Any:
    """Follow a browser's round trip: ``response`` (our app's 303 or link to the provider) →
    the provider's 302 back → our callback, requested with ``client`` (a ``TestClient``)."""
    from urllib.parse import urlsplit

    import httpx

    at_provider = httpx.get(provider_url(response), follow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


__all__ = ["CLIENT_ID", "CLIENT_SECRET", "Provider", "provider_url", "through_provider"]
