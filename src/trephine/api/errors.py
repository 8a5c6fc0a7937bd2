"""One error shape for the whole app: ``{"error": {"code", "message", "field"?, "allowed"?}}``.

Trephine's typed errors map onto HTTP statuses here, once, so route handlers just raise. Pages
(anything outside ``/api/``) get the same information rendered as an HTML error page, because a
person in a browser should not be shown raw JSON.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from trephine.api.schemas.errors import ErrorBody, ErrorResponse
from trephine.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    NotAuthenticated,
    NotFound,
    ParseError,
    TooManyAttempts,
    TrephineError,
    ValidationError,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/"


def status_for(exc: TrephineError) -> int:
    """The HTTP status a Trephine error stands for."""
    if isinstance(exc, NotFound):
        return HTTPStatus.NOT_FOUND
    if isinstance(exc, NotAuthenticated):
        return HTTPStatus.UNAUTHORIZED
    if isinstance(exc, Forbidden):
        return HTTPStatus.FORBIDDEN
    if isinstance(exc, TooManyAttempts):
        return HTTPStatus.TOO_MANY_REQUESTS
    if isinstance(exc, ValidationError | ParseError):
        return HTTPStatus.UNPROCESSABLE_ENTITY
    if isinstance(exc, IllegalTransition | Conflict):
        return HTTPStatus.CONFLICT
    return HTTPStatus.BAD_REQUEST


def body_for(exc: TrephineError) -> ErrorBody:
    """The error body for a Trephine error, carrying its typed fields."""
    if isinstance(exc, NotFound):
        return ErrorBody(code="not_found", message=str(exc))
    if isinstance(exc, ValidationError):
        return ErrorBody(
            code="validation_error", message=str(exc), field=exc.field, allowed=exc.allowed
        )
    if isinstance(exc, ParseError):
        field = exc.location.field if exc.location is not None else None
        return ErrorBody(code="parse_error", message=str(exc), field=field)
    if isinstance(exc, IllegalTransition):
        return ErrorBody(code="illegal_transition", message=str(exc))
    if isinstance(exc, NotAuthenticated):
        return ErrorBody(code="not_authenticated", message=str(exc))
    if isinstance(exc, Forbidden):
        return ErrorBody(code="forbidden", message=str(exc))
    if isinstance(exc, TooManyAttempts):
        return ErrorBody(code="too_many_attempts", message=str(exc))
    if isinstance(exc, Conflict):
        return ErrorBody(code="conflict", message=str(exc), field=exc.field)
    return ErrorBody(code="error", message=str(exc))


def _code_for_status(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


#: Paths outside /api/ that answer JSON, not pages.
JSON_PATHS = frozenset({"/healthz", "/openapi.json"})
#: Path prefixes that answer JSON: the API and the read-only FHIR API.
JSON_PREFIXES = (API_PREFIX, "/fhir/")


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(JSON_PREFIXES) and request.url.path not in JSON_PATHS


def sign_in_redirect(request: Request) -> Response:
    """Send a browser to the sign-in page, coming back here afterwards (same-site path only)."""
    from urllib.parse import urlencode

    from fastapi.responses import RedirectResponse

    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?{urlencode({'next': back})}", status_code=303)


def _respond(request: Request, status: int, body: ErrorBody) -> Response:
    if _wants_html(request):
        # Imported here so the API stays usable without the page layer's templates.
        from trephine.web.render import render_error

        return render_error(request, status, body)
    return JSONResponse(
        ErrorResponse(error=body).model_dump(mode="json", exclude_none=True), status_code=status
    )


def _control_character_in(request: Request) -> ValidationError | None:
    """A control character in the path or a query parameter, as the error that refuses it."""
    from trephine.io.tabular import control_character

    found = control_character(request.url.path)
    if found is not None:
        return ValidationError("path", found, "text without control characters")
    for name, value in request.query_params.multi_items():
        found = control_character(name) or control_character(value)
        if found is not None:
            return ValidationError(name, found, "text without control characters")
    return None


class ControlCharacterGuard:
    """Refuses a control character in the path or query at the edge, the same on SQLite and
    PostgreSQL (which cannot store a NUL and used to answer 503); the value itself is not
    echoed, only which character it was.

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` form ran every request's
    response through an extra task and memory stream (about 1 ms of CPU each)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            problem = _control_character_in(request)
            if problem is not None:
                response = _respond(request, HTTPStatus.UNPROCESSABLE_ENTITY, body_for(problem))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the app can raise through :func:`_respond`."""
    app.add_middleware(ControlCharacterGuard)

    @app.exception_handler(TrephineError)
    async def _trephine_error(request: Request, exc: TrephineError) -> Response:
        if isinstance(exc, NotAuthenticated) and _wants_html(request):
            return sign_in_redirect(request)
        response = _respond(request, status_for(exc), body_for(exc))
        if isinstance(exc, NotAuthenticated):
            response.headers["WWW-Authenticate"] = 'Bearer realm="trephine"'
        elif isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        # FastAPI locations look like ("query", "limit"); the last part is the parameter.
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
        field = ".".join(loc) or None
        message = first.get("msg", "invalid request")
        body = ErrorBody(
            code="validation_error",
            message=f"{field}: {message}" if field else str(message),
            field=field,
            allowed=_allowed_from_ctx(first.get("ctx")),
        )
        return _respond(request, HTTPStatus.UNPROCESSABLE_ENTITY, body)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == HTTPStatus.NOT_FOUND and message == "Not Found":
            message = f"no page or resource at {request.url.path}"
        body = ErrorBody(code=_code_for_status(exc.status_code), message=message)
        response = _respond(request, exc.status_code, body)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        # Unreachable server or missing tables: an operator problem with a known fix. The
        # driver's message (SQL, host names) is logged, not sent.
        log.error("database error on %s %s: %s", request.method, request.url.path, exc)
        reason = str(exc.orig).lower() if exc.orig is not None else ""
        if "locked" in reason or "busy" in reason:
            message = "the database is busy with another write; nothing was saved, try again"
        else:
            message = "the database is unreachable or not migrated; run `trephine init`"
        body = ErrorBody(code="database_unavailable", message=message)
        return _respond(request, HTTPStatus.SERVICE_UNAVAILABLE, body)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Log the traceback for the operator; the client learns only that it failed, because
        # internals (SQL, paths) must not leak into a clinical UI.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = ErrorBody(code="internal_error", message="internal server error")
        return _respond(request, HTTPStatus.INTERNAL_SERVER_ERROR, body)


def _allowed_from_ctx(ctx: object) -> str | None:
    """Describe the accepted range from a pydantic error context (e.g. ``ge``/``le`` bounds)."""
    if not isinstance(ctx, dict):
        return None
    bounds = []
    for key, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in ctx:
            bounds.append(f"{sign} {ctx[key]}")
    if "expected" in ctx:
        bounds.append(str(ctx["expected"]))
    return " and ".join(bounds) or None
