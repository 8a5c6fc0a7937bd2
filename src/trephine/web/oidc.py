"""Signing in through the hospital's identity provider: OpenID Connect, through Authlib.

Offered when ``TREPHINE_OIDC_ISSUER`` is set (with ``TREPHINE_OIDC_CLIENT_ID`` and
``TREPHINE_OIDC_CLIENT_SECRET``); local accounts stay the default. The flow is the authorization
code flow with PKCE (S256):

1. ``GET /sign-in/oidc?next=/...`` reads the provider's discovery document
   (``ISSUER/.well-known/openid-configuration``, whose ``issuer`` must be the configured one),
   draws a random ``state``, ``nonce`` and PKCE verifier, keeps them in a short-lived HttpOnly
   cookie and sends the browser to the provider (Authlib's ``OAuth2Client`` builds the URL).
2. ``GET /sign-in/oidc/callback?code=...&state=...``: the ``state`` must equal the cookie's (no
   login CSRF); the code is exchanged at the token endpoint with the client secret and the PKCE
   verifier; the ID token's signature is checked against the provider's JWKS (asymmetric
   algorithms only, never ``none`` or a shared secret) and its claims with Authlib's
   ``CodeIDToken``: issuer, audience (our client id), ``azp``, expiry and issue time (with
   ``TREPHINE_OIDC_LEEWAY_SECONDS`` of clock skew) and the nonce of step 1.
3. The role claim (``TREPHINE_OIDC_ROLE_CLAIM``) is mapped through ``TREPHINE_OIDC_ROLE_MAP`` to
   one Trephine role; no role, an unknown one or several are refused (there is no default role).
   ``services.accounts.oidc_sign_in`` finds or creates the account and a new session starts,
   audited as ``sign-in`` with method ``oidc``. Every refusal is audited as ``sign-in-failed``
   and counts towards the per-address sign-in throttle.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from trephine.access import Permission, Role
from trephine.api.deps import client_address, get_database, require
from trephine.errors import NotAuthenticated, NotFound, TooManyAttempts, ValidationError
from trephine.services import accounts
from trephine.web.signin import safe_next, sign_in_form, start_browser_session

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

    from trephine.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

#: Holds state, nonce, PKCE verifier and the page to return to, between steps 1 and 2.
FLOW_COOKIE = "trephine_oidc"
FLOW_PATH = "/sign-in/oidc"
#: How long the provider's sign-in may take before the flow cookie is gone.
FLOW_SECONDS = 600
#: Signature algorithms accepted on ID tokens (asymmetric only).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
#: Discovery document and keys are read again after this long (providers rotate keys).
METADATA_SECONDS = 3600.0
HTTP_TIMEOUT = 10.0


class Refused(Exception):
    """An OpenID Connect sign-in that must not succeed; ``reason`` goes to the audit trail."""

    def __init__(self, reason: str, *, name: str | None = None) -> None:
        self.reason = reason
        self.name = name
        super().__init__(reason)


class ProviderUnreachable(Exception):
    """The provider did not answer, or answered something that is not OpenID Connect."""


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: ``subject`` is ``issuer|sub``."""

    subject: str
    name: str
    role: Role


@dataclass
class OidcClient:
    """The relying party: settings, and the provider's metadata and keys (cached)."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    role_claim: str
    name_claim: str
    role_map: dict[str, str]
    leeway: int
    _metadata: dict[str, Any] | None = field(default=None, repr=False)
    _keys: KeySet | None = field(default=None, repr=False)
    _fetched: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcClient | None:
        """The client for the configured provider, None when OIDC is not configured."""
        if not settings.oidc_issuer:
            return None
        missing = [
            n
            for n, v in (
                ("TREPHINE_OIDC_CLIENT_ID", settings.oidc_client_id),
                ("TREPHINE_OIDC_CLIENT_SECRET", settings.oidc_client_secret),
            )
            if not v
        ]
        if missing:
            raise ValidationError(
                missing[0], None, "set together with TREPHINE_OIDC_ISSUER", reason="missing"
            )
        if "openid" not in settings.oidc_scopes.split():
            raise ValidationError(
                "TREPHINE_OIDC_SCOPES", settings.oidc_scopes, "a list including openid"
            )
        for value, role in settings.oidc_role_map.items():
            try:
                Role(role)
            except ValueError:
                raise ValidationError(
                    f"TREPHINE_OIDC_ROLE_MAP[{value}]",
                    role,
                    ", ".join(r.value for r in Role),
                    reason="unknown role",
                ) from None
        assert settings.oidc_client_id is not None and settings.oidc_client_secret is not None
        return cls(
            issuer=settings.oidc_issuer.rstrip("/"),
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            scopes=settings.oidc_scopes,
            role_claim=settings.oidc_role_claim,
            name_claim=settings.oidc_name_claim,
            role_map=dict(settings.oidc_role_map),
            leeway=settings.oidc_leeway_seconds,
        )

    # ------------------------------------------------------------------ provider metadata

    def _get_json(self, url: str) -> dict[str, Any]:
        import httpx

        try:
            response = httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnreachable(f"{url}: {type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise ProviderUnreachable(f"{url}: not a JSON object")
        return data

    def metadata(self) -> dict[str, Any]:
        """The discovery document (its ``issuer`` must be exactly the configured issuer)."""
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched > METADATA_SECONDS:
                data = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
                if str(data.get("issuer", "")).rstrip("/") != self.issuer:
                    raise ProviderUnreachable("the discovery document names another issuer")
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(data.get(key), str):
                        raise ProviderUnreachable(f"the discovery document has no {key}")
                self._metadata = data
                self._keys = None
                self._fetched = time.monotonic()
            return self._metadata

    def keys(self, *, refresh: bool = False) -> KeySet:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        metadata = self.metadata()
        with self._lock:
            if self._keys is None or refresh:
                try:
                    self._keys = KeySet.import_key_set(self._get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
                except (JoseError, ValueError, KeyError, TypeError) as exc:
                    raise ProviderUnreachable(f"the JWKS is not a key set: {exc}") from None
            return self._keys

    # ------------------------------------------------------------------ the flow

    def _oauth(self, redirect_uri: str) -> Any:
        from authlib.integrations.httpx_client import OAuth2Client

        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
            timeout=HTTP_TIMEOUT,
        )

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        endpoint = self.metadata()["authorization_endpoint"]
        with self._oauth(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                endpoint, state=state, nonce=nonce, code_verifier=verifier
            )
        return str(url)

    def exchange(self, redirect_uri: str, code: str, verifier: str) -> dict[str, Any]:
        """Trade the authorization code for tokens at the token endpoint."""
        import httpx
        from authlib.integrations.base_client import OAuthError

        endpoint = self.metadata()["token_endpoint"]
        try:
            with self._oauth(redirect_uri) as oauth:
                token = oauth.fetch_token(endpoint, code=code, code_verifier=verifier)
        except OAuthError as exc:
            raise Refused(f"the token endpoint refused the code ({exc.error})") from None
        except (httpx.HTTPError, OSError) as exc:
            raise ProviderUnreachable(f"token endpoint: {type(exc).__name__}") from None
        return dict(token)

    def identity(self, id_token: str, nonce: str, access_token: str | None = None) -> Identity:
        """Check the ID token (signature, issuer, audience, times, nonce) and map its role."""
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt
        from joserfc.errors import JoseError

        allowed = [
            a
            for a in self.metadata().get("id_token_signing_alg_values_supported", ["RS256"])
            if a in ALGORITHMS
        ]
        if not allowed:
            raise ProviderUnreachable("the provider signs ID tokens with no accepted algorithm")
        try:
            try:
                token = jwt.decode(id_token, self.keys(), algorithms=allowed)
            except JoseError:
                # An unknown key id may be a rotated key: read the JWKS once more.
                token = jwt.decode(id_token, self.keys(refresh=True), algorithms=allowed)
        except (JoseError, ValueError) as exc:
            raise Refused(f"ID token signature not valid ({type(exc).__name__})") from None
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
            },
            params={"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
        )
        name = claims.get(self.name_claim)
        shown = name if isinstance(name, str) else None
        try:
            claims.validate(now=int(time.time()), leeway=self.leeway)
        except JoseError as exc:
            raise Refused(f"ID token refused: {exc.description or exc.error}", name=shown) from None
        if not isinstance(name, str):
            raise Refused(f"ID token has no {self.name_claim} claim")
        try:
            accounts.check_name(name)
        except ValidationError:
            raise Refused(f"{self.name_claim} is not a valid account name") from None
        role = self.role_of(claims.get(self.role_claim), name)
        return Identity(subject=f"{self.issuer}|{claims['sub']}", name=name, role=role)

    def role_of(self, value: object, name: str | None = None) -> Role:
        """The one Trephine role the role claim maps to; anything else is refused."""
        values = value if isinstance(value, list) else [] if value is None else [value]
        roles: set[Role] = set()
        for item in values:
            mapped = self.role_map.get(str(item)) if self.role_map else str(item)
            if mapped is not None and mapped in {r.value for r in Role}:
                roles.add(Role(mapped))
        if not roles:
            raise Refused(f"no known role in the {self.role_claim} claim", name=name)
        if len(roles) > 1:
            raise Refused(
                f"the {self.role_claim} claim maps to several roles ({', '.join(sorted(roles))})",
                name=name,
            )
        return roles.pop()


# ---------------------------------------------------------------------------- routes


def _client(request: Request) -> OidcClient:
    client: OidcClient | None = request.app.state.oidc
    if client is None:
        raise NotFound("page", request.url.path)
    return client


def _pack(flow: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(flow).encode()).decode()


def _unpack(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    try:
        flow = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, TypeError):
        return None
    keys = {"state", "nonce", "verifier", "next"}
    if not isinstance(flow, dict) or set(flow) != keys:
        return None
    if not all(isinstance(v, str) for v in flow.values()):
        return None
    return flow


def _refusal(request: Request, next_path: str, message: str, status_code: int) -> Response:
    response = sign_in_form(request, next_path=next_path, error=message, status_code=status_code)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


def _redirect_uri(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


@router.get("/sign-in/oidc", name="oidc_start", dependencies=[require(Permission.PUBLIC)])
def oidc_start(request: Request, next: str | None = None) -> Response:
    client = _client(request)
    next_path = safe_next(next)
    flow = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(48),
        "next": next_path,
    }
    try:
        url = client.authorization_url(
            _redirect_uri(request), flow["state"], flow["nonce"], flow["verifier"]
        )
    except ProviderUnreachable as exc:
        log.warning("OpenID Connect provider unusable: %s", exc)
        return _refusal(
            request, next_path, "The organisation's sign-in service cannot be reached.", 502
        )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        _pack(flow),
        max_age=FLOW_SECONDS,
        httponly=True,
        # Lax: the provider sends the browser back with a top-level GET, which carries it.
        samesite="lax",
        secure=request.url.scheme == "https",
        path=FLOW_PATH,
    )
    return response


@router.get(
    "/sign-in/oidc/callback", name="oidc_callback", dependencies=[require(Permission.PUBLIC)]
)
def oidc_callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
    iss: str | None = None,
    session_state: str | None = None,
) -> Response:
    client = _client(request)
    database = get_database(request)
    address = client_address(request)
    flow = _unpack(request.cookies.get(FLOW_COOKIE))
    next_path = safe_next(flow["next"]) if flow else "/"
    refused_text = "Signing in with your organisation's account did not succeed."
    try:
        accounts.check_oidc_throttle(database, request.app.state.throttle, address)
    except TooManyAttempts as exc:
        response = _refusal(request, next_path, str(exc).capitalize() + ".", 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    try:
        if flow is None or state is None or not secrets.compare_digest(state, flow["state"]):
            raise Refused("state does not match this browser's sign-in (expired or forged)")
        if iss is not None and iss.rstrip("/") != client.issuer:
            raise Refused("the response names another issuer")
        if error is not None or code is None:
            raise Refused(f"the provider answered {error or 'without a code'}")
        token = client.exchange(_redirect_uri(request), code, flow["verifier"])
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Refused("the token endpoint sent no ID token")
        access = token.get("access_token")
        identity = client.identity(
            id_token, flow["nonce"], access if isinstance(access, str) else None
        )
        account = accounts.oidc_sign_in(
            database,
            subject=identity.subject,
            name=identity.name,
            role=identity.role,
            client=address,
        )
    except Refused as exc:
        accounts.oidc_refused(database, exc.name, address, exc.reason)
        return _refusal(request, next_path, refused_text, 401)
    except NotAuthenticated:  # oidc_sign_in refused (and audited) it
        return _refusal(request, next_path, refused_text, 401)
    except ProviderUnreachable as exc:
        log.warning("OpenID Connect provider unusable: %s", exc)
        return _refusal(
            request, next_path, "The organisation's sign-in service cannot be reached.", 502
        )
    response = start_browser_session(request, account, "oidc", next_path)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response
