"""Signing in and out: the sign-in page, the password form, sign-out.

The sign-in form is protected against login CSRF by a double-submit value: ``GET /sign-in`` sets
a short-lived random cookie and puts the same value in the form; ``POST /sign-in`` must send both.
A successful sign-in always starts a NEW server-side session (a fresh random id: no session
fixation) and sets it as an HttpOnly, SameSite=Lax cookie, Secure with the ``__Host-`` prefix
under TLS. Sign-out ends the session in the database, so the old cookie is refused afterwards.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trephine.access import Permission, Role
from trephine.api.deps import (
    CSRF_FIELD,
    client_address,
    get_database,
    require,
    same_origin,
    session_cookie_name,
)
from trephine.errors import NotAuthenticated, TooManyAttempts
from trephine.services import accounts
from trephine.web.render import render

router = APIRouter(include_in_schema=False)

#: The login-CSRF cookie of the sign-in form (not a session: it authenticates nothing).
FORM_COOKIE = "trephine_signin"
#: Where a signed-in user lands when the sign-in page has no (acceptable) ``next``.
HOME = "/"


def safe_next(value: str | None) -> str:
    """Only a path on this site (``/...`` but not ``//host`` or ``/\\host``): no open redirect."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return HOME
    if any(c in value for c in "\r\n"):
        return HOME
    return value


def sign_in_form(
    request: Request, *, next_path: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The sign-in page (with a fresh login-CSRF value), optionally with an error."""
    value = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        {
            "next_path": next_path,
            "error": error,
            "form_token": value,
            "oidc": request.app.state.oidc is not None,
        },
        status_code=status_code,
    )
    response.set_cookie(
        FORM_COOKIE,
        value,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/sign-in",
    )
    return response


@router.get(
    "/sign-in",
    response_class=HTMLResponse,
    name="sign_in_page",
    dependencies=[require(Permission.PUBLIC)],
)
def sign_in_page(request: Request, next: str | None = None) -> Response:
    # Shown also when signed in (the header says as whom): signing in again switches account.
    return sign_in_form(request, next_path=safe_next(next))


@router.post(
    "/sign-in",
    response_class=HTMLResponse,
    name="sign_in",
    dependencies=[require(Permission.PUBLIC)],
)
def sign_in(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    form_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    next_path = safe_next(next)
    cookie = request.cookies.get(FORM_COOKIE, "")
    if not same_origin(request) or not cookie or not hmac.compare_digest(cookie, form_token):
        return sign_in_form(
            request,
            next_path=next_path,
            error="The sign-in form expired or came from another site. Please try again.",
            status_code=403,
        )
    database = get_database(request)
    client = client_address(request)
    try:
        account = accounts.sign_in(
            database, name.strip(), password, client, request.app.state.throttle
        )
    except TooManyAttempts as exc:
        response = sign_in_form(
            request, next_path=next_path, error=str(exc).capitalize() + ".", status_code=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except NotAuthenticated:
        return sign_in_form(
            request,
            next_path=next_path,
            error="Wrong name or password, or the account is disabled.",
            status_code=401,
        )
    return start_browser_session(request, account, "password", next_path)


def start_browser_session(
    request: Request, account: accounts.Account, method: str, next_path: str
) -> Response:
    """Open a new session for ``account`` and send the browser on with its cookie."""
    database = get_database(request)
    old = request.cookies.get(session_cookie_name(request))
    with database.unit_of_work(account.name) as uow:
        if old:
            accounts.end_session(uow, old, client_address(request), reason="replaced")
        raw = accounts.start_session(uow, account, method, client_address(request))
    if next_path == HOME and account.role is Role.PATIENT:
        next_path = "/my"  # a patient's home is their own pages, not the patient list
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        session_cookie_name(request),
        raw,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(FORM_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out", name="sign_out", dependencies=[require(Permission.SIGNED_IN)])
def sign_out(request: Request) -> Response:
    raw = request.cookies.get(session_cookie_name(request))
    if raw:
        with get_database(request).unit_of_work("web:auth") as uow:
            accounts.end_session(uow, raw, client_address(request))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(session_cookie_name(request), path="/")
    return response


__all__ = ["CSRF_FIELD", "router", "safe_next", "sign_in_form", "start_browser_session"]
