"""FastAPI dependencies: the database, who is asking, what they may do, a unit of work.

Every route declares exactly one permission with :func:`require` (in its decorator's
``dependencies=[require(Permission.X)]``), deny by default: ``Permission.PUBLIC`` is the only one
an anonymous request passes. Who is asking comes from an ``Authorization: Bearer`` API token or
the server-side session cookie (``services/accounts.py``); nobody → :class:`NotAuthenticated`
(401 for the API, a redirect to the sign-in page for pages), a role without the permission →
:class:`Forbidden` (403). A state-changing request made with a session cookie must carry the
session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``) and, when the browser
sends one, an ``Origin`` of this site; bearer-token requests carry no ambient credential and need
neither.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.params import Depends as DependsParam

from trephine.access import Permission, Principal
from trephine.errors import Forbidden, NotAuthenticated, ValidationError
from trephine.services import accounts
from trephine.store.database import Database, UnitOfWork

#: The session cookie over plain HTTP (loopback) and under TLS, where the ``__Host-`` prefix
#: makes browsers insist on Secure, Path=/ and no Domain.
SESSION_COOKIE = "trephine_session"
SECURE_SESSION_COOKIE = "__Host-trephine_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: A row number in a path (``/alerts/{alert_id}``): 1 to the largest 64-bit integer, so a huge
#: number is a 422 naming the parameter, not a database overflow (found by the OpenAPI fuzz run).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _database(request: Request) -> Database:
    """:func:`get_database` as a dependency: ``async`` because FastAPI runs a plain ``def``
    dependency in the thread pool, a hand-over to another thread and back (~0.05 ms of CPU,
    and a wait for the GIL under load) for an attribute read."""
    return get_database(request)


DatabaseDep = Annotated[Database, Depends(_database)]


def client_address(request: Request) -> str:
    """The client's address (the proxy's forwarded one only when ``--behind-proxy`` trusts it)."""
    return request.client.host if request.client else "unknown"


def session_cookie_name(request: Request) -> str:
    return SECURE_SESSION_COOKIE if request.url.scheme == "https" else SESSION_COOKIE


def _limits(request: Request) -> accounts.SessionLimits:
    limits: accounts.SessionLimits = request.app.state.session_limits
    return limits


def current_principal(request: Request) -> Principal | None:
    """Who is asking, or None; resolved once per request and kept on ``request.state``."""
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    database = get_database(request)
    principal: Principal | None = None
    request.state.session_id = None
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer TOKEN'")
        with database.unit_of_work("web:auth") as uow:
            principal = accounts.resolve_token(uow, credential.strip(), client_address(request))
        if principal is None:
            raise NotAuthenticated("the API token is unknown, expired or revoked")
    else:
        raw = request.cookies.get(session_cookie_name(request))
        if raw:
            with database.unit_of_work("web:auth") as uow:
                principal = accounts.resolve_session(uow, raw, _limits(request))
            if principal is not None:
                request.state.session_id = raw
    request.state.principal = principal
    return principal


def get_principal(request: Request) -> Principal:
    principal = current_principal(request)
    if principal is None:
        raise NotAuthenticated()
    return principal


async def _principal(request: Request) -> Principal:
    """:func:`get_principal` as a dependency, without a thread-pool hand-over when the
    permission check (:func:`require`, which every route declares and FastAPI runs first)
    has already resolved who is asking; a look-up still runs off the event loop."""
    principal = await _resolve(request)
    if principal is None:
        raise NotAuthenticated()
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


def csrf_token_for(request: Request) -> str | None:
    """The CSRF token pages put in their forms (None when not signed in with a session)."""
    raw = getattr(request.state, "session_id", None)
    return accounts.csrf_token(raw) if raw else None


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (``Origin`` header)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin.rstrip("/") == expected


async def check_csrf(request: Request, expected: str | None) -> None:
    """Refuse a state-changing request without the expected token or from a foreign origin."""
    if not same_origin(request):
        raise Forbidden("csrf", "request from another site")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    import hmac

    if expected is None or sent is None or not hmac.compare_digest(sent, expected):
        raise Forbidden("csrf", "request without this session's CSRF token")


def _query_names(dependant: Any) -> set[str]:
    names = {str(getattr(f, "alias", None) or f.name) for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def check_query(request: Request) -> None:
    """Refuse query parameters the route does not declare (``?gene=FLT3`` must not silently
    return every patient). The refusal names the parameter, never its value."""
    if not request.query_params:
        return
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    allowed = _query_names(dependant)
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        raise ValidationError(
            "query",
            unknown[0],
            ", ".join(sorted(allowed)) or "no query parameters",
            reason="unknown query parameter",
        )


async def _resolve(request: Request) -> Principal | None:
    """:func:`current_principal` off the event loop: the session lookup is a database query
    (and, every 30 s of a session's use, a write that may wait for SQLite's write lock), which
    on the loop would stall every other request of this worker meanwhile."""
    credential = "authorization" in request.headers or session_cookie_name(request) in (
        request.cookies
    )
    if hasattr(request.state, "principal") or not credential:  # nothing to look up
        return current_principal(request)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(current_principal, request)


def require(permission: Permission) -> Any:
    """The dependency a route declares: ``dependencies=[require(Permission.RECORDS_READ)]``.

    The returned ``Depends`` carries ``.dependency.permission`` so tests and docs can list every
    route's permission.
    """

    if permission is Permission.PUBLIC:

        async def public(request: Request) -> None:
            # Resolve (without requiring) so pages can show who is signed in.
            await _resolve(request)
            check_query(request)

        public.permission = permission  # type: ignore[attr-defined]
        return Depends(public)

    async def dependency(request: Request) -> Principal:
        principal = await _resolve(request)
        if principal is None:
            raise NotAuthenticated()
        if not principal.may(permission):
            raise Forbidden(str(permission), str(principal.role))
        check_query(request)
        if request.method not in SAFE_METHODS and principal.via == "session":
            await check_csrf(request, csrf_token_for(request))
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]
    return Depends(dependency)


def route_permission(dependencies: list[DependsParam]) -> list[Permission]:
    """The permissions declared among a route's dependencies (exactly one is expected)."""
    found: list[Permission] = []
    for dep in dependencies:
        call: Callable[..., Any] | None = dep.dependency
        permission = getattr(call, "permission", None)
        if isinstance(permission, Permission):
            found.append(permission)
    return found


def audit_read(
    request: Request, uow: UnitOfWork, what: str, patients: Iterable[str], *, query: bool = False
) -> None:
    """Record that this response shows these patients' records (docs/security.md)."""
    from trephine.services import audit

    principal = get_principal(request)
    audit.record_read(
        uow,
        what,
        patients,
        role=str(principal.role),
        client=client_address(request),
        view="identified" if principal.may(Permission.IDENTITY_READ) else "pseudonymised",
        query=query,
    )


async def get_unit_of_work(
    request: Request, database: DatabaseDep, principal: PrincipalDep
) -> AsyncIterator[UnitOfWork]:
    """One transaction per request, acting as the signed-in user (so audit events name them);
    every audit event of the request also carries the user's role and client address. A
    request that only read commits its audit events together with concurrent ones
    (``store/audit_group.py``), before its response as every other commit.

    Opened on the event loop: a session takes its connection at its first statement (in the
    route, in the thread pool), so opening it does no I/O, and a thread-pool hand-over less
    per request. Closed in the thread pool (commit or rollback, the audit events, a WAL sync),
    as FastAPI closes a plain generator's: exited with the route's exception, if any."""
    from starlette.concurrency import run_in_threadpool

    work = database.unit_of_work(principal.name, group_audit=True)
    uow = work.__enter__()
    try:
        uow.context.update(role=str(principal.role), client=client_address(request))
        yield uow
    except Exception as exc:
        if not await run_in_threadpool(work.__exit__, type(exc), exc, exc.__traceback__):
            raise
    else:
        await run_in_threadpool(work.__exit__, None, None, None)


#: ``scope="function"``: the transaction commits when the route function returns and BEFORE
#: the response is sent, so a failed commit ("database is locked") becomes the error response
#: instead of following a 200 that claimed the write was stored. Every route and page that
#: writes or audits takes its unit of work from here.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work, scope="function")]


@dataclass(frozen=True)
class DeclaredRoute:
    """One route of the app as the tests and docs see it."""

    path: str
    methods: frozenset[str]
    #: The permissions its dependencies declare (exactly one for every route of Trephine).
    permissions: tuple[Permission, ...]
    #: True for a mounted static-file directory (public, no dependencies).
    static: bool = False
    #: The route's name, which pages' ``url_for`` resolves (must be unique in the app).
    name: str | None = None


def declared_routes(app: FastAPI) -> list[DeclaredRoute]:
    """Every route of ``app`` (routers flattened), with its declared permissions."""
    from starlette.routing import Mount

    try:  # FastAPI >= 0.120 keeps included routers as lazy branches
        from fastapi.routing import iter_route_contexts

        contexts: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI: routes are flat already
        contexts = list(app.routes)
    found: list[DeclaredRoute] = []
    for route in contexts:
        effective = getattr(route, "_effective_route", route)
        if isinstance(effective, Mount) or isinstance(route, Mount):
            found.append(DeclaredRoute(str(route.path), frozenset({"GET"}), (), static=True))
            continue
        dependencies = getattr(route, "dependencies", None) or []
        found.append(
            DeclaredRoute(
                str(route.path),
                frozenset(route.methods or ()),
                tuple(route_permission(list(dependencies))),
                name=getattr(route, "name", None),
            )
        )
    return found
