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

Signing (21 CFR 11.200: the signer re-identifies at every signature; clinical-systems.md §6.3
P8, A8). A password account re-enters its password. An account that signs in only through
the provider has none, so :func:`start_signature` keeps the signature to apply in the
database (services/pending_signatures.py: the signer, their session, their identity's subject,
the registered :func:`signing_action` and its detail; the flow's key, state and nonce only as
digests; never in the browser) and shows a link to the provider with ``prompt=login`` and
``max_age=0`` (a fresh login, not the provider's session). Whichever server process the
browser comes back to, the same callback takes the pending signature named by the flow cookie
(once: a second return finds nothing) and applies it only when the flow is the one it was
asked with, the ID token passes every check of a sign-in, is for the same subject with the
same role, and says (``auth_time``) that the signer authenticated after the signature was
asked for, within :data:`SIGNATURE_SECONDS`; the signed-in session must be the one that asked.
Anything else signs nothing and is audited as ``signature-failed`` (method ``oidc``).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from trephine.access import Permission, Principal, Role
from trephine.api.deps import client_address, current_principal, get_database, require
from trephine.errors import NotAuthenticated, NotFound, TooManyAttempts, ValidationError
from trephine.services import accounts
from trephine.web.signin import safe_next, sign_in_form, start_browser_session

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

    from trephine.services.pending_signatures import PendingSignature
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
#: A signature waiting for the signer's fresh login at the provider is applied only when that
#: login happened after it was asked for and within this many seconds of it.
SIGNATURE_SECONDS = 300
#: The method an electronic signature records when the signer re-identified at the provider.
SIGNATURE_METHOD = "oidc"


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
    """Who the provider says signed in: ``subject`` is ``issuer|sub``; ``auth_time`` when the
    user last authenticated at the provider (seconds since the epoch), if the token says."""

    subject: str
    name: str
    role: Role
    auth_time: int | None = None


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

    def authorization_url(
        self, redirect_uri: str, state: str, nonce: str, verifier: str, *, fresh: bool = False
    ) -> str:
        """The provider's authorization URL; ``fresh`` asks for a new login whatever session
        the browser holds there (``prompt=login``, ``max_age=0``: OpenID Connect Core 3.1.2.1)."""
        endpoint = self.metadata()["authorization_endpoint"]
        extra: dict[str, Any] = {"prompt": "login", "max_age": 0} if fresh else {}
        with self._oauth(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                endpoint, state=state, nonce=nonce, code_verifier=verifier, **extra
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
        auth_time = claims.get("auth_time")
        return Identity(
            subject=f"{self.issuer}|{claims['sub']}",
            name=name,
            role=role,
            auth_time=auth_time if isinstance(auth_time, int) else None,
        )

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


# ---------------------------------------------------------------------------- signing


#: Applies a pending signature's ``detail`` as the signer (method :data:`SIGNATURE_METHOD`) and
#: answers the browser.
Apply = Callable[[Request, Principal, dict[str, Any]], Response]
#: Answers the signer's browser when the signature was not applied (the reason as a sentence).
Refuse = Callable[[Request, Principal, dict[str, Any], str], Response]


@dataclass(frozen=True)
class SigningAction:
    """What a pending signature does when its signer comes back, and says when it does not."""

    apply: Apply
    refuse: Refuse


#: The signatures a pending one may apply, by name: registered by the pages that sign
#: (web/lab.py: a result's sign-out and amendment; web/reports.py: a report version). The
#: database keeps the name and the detail, never code, so any server process can apply it.
ACTIONS: dict[str, SigningAction] = {}


def signing_action(name: str, apply: Apply, refuse: Refuse) -> str:
    """Register the signing action ``name`` (its pending signatures' ``action``); answers it."""
    if len(name) > 32:
        raise ValueError(f"signing action name {name!r} is longer than 32 characters")
    ACTIONS[name] = SigningAction(apply, refuse)
    return name


def provider_subject(request: Request, principal: Principal) -> str | None:
    """The provider subject ``principal`` signs with, or None when they sign with a password:
    an account without a password, linked to an identity, signed in with a browser session,
    while OpenID Connect is configured."""
    if request.app.state.oidc is None or principal.via != "session":
        return None
    with get_database(request).unit_of_work(principal.name) as uow:
        account = accounts.find_user(uow, principal.name)
    if account is None or account.has_password or not account.oidc_subject:
        return None
    return account.oidc_subject


def sign_at_provider(
    request: Request,
    principal: Principal,
    password: str,
    action: str,
    detail: dict[str, Any],
    *,
    what: str,
    back: str,
) -> Response | None:
    """The signing forms' one rule: a signer who typed no password and holds an account of the
    identity provider signs there again (:func:`start_signature`: ``action``, registered with
    :func:`signing_action`, applies ``detail`` when they come back); None when the password
    path applies (the form re-checks the password itself)."""
    subject = None if password else provider_subject(request, principal)
    if subject is None:
        return None
    return start_signature(request, principal, subject, action, detail, what=what, back=back)


def start_signature(
    request: Request,
    principal: Principal,
    subject: str,
    action: str,
    detail: dict[str, Any],
    *,
    what: str = "it",
    back: str = "/",
) -> Response:
    """Keep the signature in the database (services/pending_signatures.py) and send the signer
    to the provider for a fresh login; :func:`oidc_callback`, in whichever server process the
    browser comes back to, applies it when the signer comes back re-identified.

    The answer is a page with a link to the provider, not a redirect: the form was posted,
    and the pages' ``form-action 'self'`` (api/security.py) stops a browser following a form's
    redirect to another site, where a link is an ordinary navigation."""
    from trephine.services import pending_signatures

    client = _client(request)
    handler = ACTIONS[action]
    key = secrets.token_urlsafe(32)
    flow = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(48),
        "next": "/",
        "signature": key,
    }
    try:
        url = client.authorization_url(
            _redirect_uri(request), flow["state"], flow["nonce"], flow["verifier"], fresh=True
        )
    except ProviderUnreachable as exc:
        log.warning("OpenID Connect provider unusable: %s", exc)
        return handler.refuse(
            request, principal, detail, "The organisation's sign-in service cannot be reached."
        )
    from trephine.web.render import render

    pending_signatures.keep(
        get_database(request),
        key,
        state=flow["state"],
        nonce=flow["nonce"],
        user=principal.name,
        session_id=principal.session_id,
        subject=subject,
        action=action,
        detail=detail,
        window=SIGNATURE_SECONDS,
    )
    response = render(
        request,
        "oidc_sign.html",
        {"url": url, "what": what, "back": safe_next(back), "error": None},
    )
    _set_flow_cookie(request, response, flow)
    return response


def _signature_refused(request: Request, user: str, reason: str) -> None:
    """Audit a signature that was not applied (``signature-failed``, method ``oidc``)."""
    from trephine.services import audit

    with get_database(request).unit_of_work("web:signature") as uow:
        audit.append(
            uow,
            audit.Entry(
                "signature-failed",
                "user",
                user,
                {"client": client_address(request), "reason": reason, "method": "oidc"},
            ),
        )


def _finish_signature(
    request: Request, client: OidcClient, flow: dict[str, str], code: str | None
) -> Response:
    """The provider sent the signer back: apply the pending signature if every check holds."""
    from trephine.services import pending_signatures

    pending = pending_signatures.take(
        get_database(request), flow["signature"], window=SIGNATURE_SECONDS
    )
    handler = ACTIONS.get(pending.action) if pending is not None else None
    if pending is None or handler is None:
        principal = current_principal(request)
        _signature_refused(
            request, principal.name if principal else "(unknown)", "no pending signature"
        )
        return _refusal(
            request, "/", "The signature waited too long or was already used; sign again.", 400
        )
    response = _check_and_apply(request, client, flow, code, pending, handler)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


def _check_and_apply(
    request: Request,
    client: OidcClient,
    flow: dict[str, str],
    code: str | None,
    pending: PendingSignature,
    handler: SigningAction,
) -> Response:
    principal = current_principal(request)
    if (
        principal is None
        or principal.name != pending.user
        or principal.session_id != pending.session_id
    ):
        # Not the signer's session: nothing of what was to be signed is shown to it.
        _signature_refused(request, pending.user, "the signature was asked for in another session")
        from trephine.web.render import render

        return render(
            request,
            "oidc_sign.html",
            {"error": "This is not the session that asked for the signature; nothing was signed."},
            status_code=422,
        )
    started = pending.started.timestamp()
    try:
        if not pending.asked_with(flow["state"], flow["nonce"]):
            raise Refused("the sign-in flow is not the one the signature was asked with")
        if code is None:
            raise Refused("the provider answered without a code")
        token = client.exchange(_redirect_uri(request), code, flow["verifier"])
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Refused("the token endpoint sent no ID token")
        access = token.get("access_token")
        identity = client.identity(
            id_token, flow["nonce"], access if isinstance(access, str) else None
        )
        if identity.subject != pending.subject:
            raise Refused("the provider identified someone else")
        if identity.role != principal.role:
            # The provider is the authority for the role: one it no longer gives signs nothing
            # (the next sign-in takes the new role).
            raise Refused(f"the provider now gives the {identity.role} role")
        now = time.time()
        if identity.auth_time is None:
            raise Refused("the ID token has no auth_time")
        if identity.auth_time < started - client.leeway:
            raise Refused("the provider did not authenticate the signer again")
        if identity.auth_time > now + client.leeway or now - started > SIGNATURE_SECONDS:
            raise Refused("the fresh authentication is outside the signing window")
    except Refused as exc:
        _signature_refused(request, pending.user, exc.reason)
        return handler.refuse(
            request,
            principal,
            pending.detail,
            "Signing in again at your organisation did not succeed; nothing was signed.",
        )
    except ProviderUnreachable as exc:
        log.warning("OpenID Connect provider unusable: %s", exc)
        _signature_refused(request, pending.user, "provider unreachable")
        return handler.refuse(
            request,
            principal,
            pending.detail,
            "The organisation's sign-in service cannot be reached; nothing was signed.",
        )
    return handler.apply(request, principal, pending.detail)


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
    if not isinstance(flow, dict) or set(flow) - {"signature"} != keys:
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
    _set_flow_cookie(request, response, flow)
    return response


def _set_flow_cookie(request: Request, response: Response, flow: dict[str, str]) -> None:
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
        if "signature" in flow:  # back from re-identifying for an electronic signature
            return _finish_signature(request, client, flow, None if error else code)
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
