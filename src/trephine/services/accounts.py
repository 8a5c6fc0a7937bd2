"""Accounts, sign-in, server-side sessions, API tokens and sign-in throttling.

Secrets never leave this module readable: passwords are argon2id hashes (argon2-cffi's
``PasswordHasher`` at the ``TREPHINE_PASSWORD_HASH_*`` cost; default m = 64 MiB, t = 3, p = 4,
RFC 9106's second recommended option; re-made at the next sign-in when the cost changes);
session ids and API tokens are 256-bit random values of which only the SHA-256 digest is
stored, so a copy of the database cannot be replayed as a cookie or a token. Every change to an
account and every sign-in, failed sign-in, sign-out and token use is an audit event
(docs/security.md lists them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import Select, bindparam, func, select, update

from trephine.access import Permission, Principal, Role, parse_role
from trephine.domain.actor import ACCOUNT_RULE, check_account_name
from trephine.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
    ValidationError,
)
from trephine.services import audit
from trephine.store.database import Database, UnitOfWork
from trephine.store.tables import ApiTokenRow, SessionRow, SignInFailureRow, UserRow

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from trephine.settings import Settings

PASSWORD_MIN_LENGTH = 12
#: Printed in front of API tokens so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "trp_"
#: Token lifetime when ``--expires`` is not given, and the longest allowed.
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366
#: Account names: the actor-name rule without ':' (domain/actor.py, the one home of the rule).
NAME_RULE = ACCOUNT_RULE
#: last_seen_at is written at most this often per session (not on every request).
_TOUCH_EVERY = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class HashCost:
    """The argon2id cost of new password hashes (``TREPHINE_PASSWORD_HASH_*`` settings)."""

    memory_kib: int
    time_cost: int
    parallelism: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HashCost:
        return cls(
            settings.password_hash_memory_kib,
            settings.password_hash_time_cost,
            settings.password_hash_parallelism,
        )


@lru_cache(maxsize=4)
def hasher_for(cost: HashCost) -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher(
        time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism
    )


def _hasher() -> PasswordHasher:
    """argon2id at the configured cost (default: RFC 9106's second recommended option)."""
    from trephine.settings import get_settings

    return hasher_for(HashCost.from_settings(get_settings()))


def _dummy_hash() -> str:
    # Verifying against this when the account does not exist keeps the response time the same,
    # so timing does not reveal which names are accounts: made at the cost real hashes have.
    hasher = _hasher()
    return _dummy_hash_for(hasher.time_cost, hasher.memory_cost, hasher.parallelism)


@lru_cache(maxsize=4)
def _dummy_hash_for(time_cost: int, memory_kib: int, parallelism: int) -> str:
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    return hasher.hash(secrets.token_urlsafe(16))


def digest(secret: str) -> str:
    """SHA-256 hex digest: how session ids and tokens are stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The CSRF token of a session: derived from the raw id, which only the cookie holds (the
    table keeps a different digest), so it cannot be computed from a copy of the database."""
    return hashlib.sha256(b"csrf:" + session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: Role
    created_at: dt.datetime
    created_by: str
    disabled_at: dt.datetime | None
    has_password: bool
    oidc_subject: str | None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class SessionView:
    id: int
    user: str
    role: Role
    method: str
    client_address: str | None
    created_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None
    ended_reason: str | None


@dataclass(frozen=True)
class TokenView:
    id: int
    user: str
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def _account(row: UserRow) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        created_by=row.created_by,
        disabled_at=row.disabled_at,
        has_password=row.password_hash is not None,
        oidc_subject=row.oidc_subject,
    )


# --------------------------------------------------------------------------- users


def check_name(name: str) -> str:
    return check_account_name(name, "name")


def check_password(name: str, password: str) -> None:
    """At least 12 characters and not the account name. The password itself is never echoed."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError(
            "password",
            "(not shown)",
            f"at least {PASSWORD_MIN_LENGTH} characters",
            reason=f"it has {len(password)}",
        )
    if password.strip().casefold() == name.strip().casefold():
        raise ValidationError(
            "password", "(not shown)", "anything but the account name", reason="it is the name"
        )


def _user_row(uow: UnitOfWork, name: str) -> UserRow:
    row = uow.session.scalar(select(UserRow).where(UserRow.name == name))
    if row is None:
        raise NotFound("user", name)
    return row


def get_user(uow: UnitOfWork, name: str) -> Account:
    return _account(_user_row(uow, name))


def find_user(uow: UnitOfWork, name: str) -> Account | None:
    row = uow.session.scalar(select(UserRow).where(UserRow.name == name))
    return None if row is None else _account(row)


def count_users(uow: UnitOfWork) -> int:
    return int(uow.session.scalar(select(func.count()).select_from(UserRow)) or 0)


def add_user(
    uow: UnitOfWork,
    name: str,
    role: Role | str,
    password: str | None,
    *,
    oidc_subject: str | None = None,
) -> Account:
    """Create an account; ``password`` None makes an account that signs in through OIDC only."""
    check_name(name)
    role = parse_role(role) if isinstance(role, str) else role
    if password is not None:
        check_password(name, password)
    elif oidc_subject is None:
        raise ValidationError("password", None, "a password (or an OpenID Connect identity)")
    existing = uow.session.scalar(select(UserRow).where(UserRow.name == name))
    if existing is not None:
        raise Conflict("user", name, "name", name, "a new account")
    row = UserRow(
        name=name,
        role=str(role),
        password_hash=None if password is None else _hasher().hash(password),
        oidc_subject=oidc_subject,
        created_at=uow.now(),
        created_by=uow.actor,
        disabled_at=None,
    )
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "user-add", "user", name, {"role": str(role), "oidc": oidc_subject is not None}
        ),
    )
    return _account(row)


def list_users(uow: UnitOfWork) -> list[Account]:
    return [_account(r) for r in uow.session.scalars(select(UserRow).order_by(UserRow.name))]


def _end_sessions_of(uow: UnitOfWork, user_id: int, reason: str) -> int:
    result = uow.session.execute(
        update(SessionRow)
        .where(SessionRow.user_id == user_id, SessionRow.ended_at.is_(None))
        .values(ended_at=uow.now(), ended_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def disable_user(uow: UnitOfWork, name: str) -> Account:
    """Disable an account: its sessions end and its tokens stop working (kept for the trail)."""
    row = _user_row(uow, name)
    if row.disabled_at is None:
        row.disabled_at = uow.now()
        ended = _end_sessions_of(uow, row.id, "disabled")
        audit.append(uow, audit.Entry("user-disable", "user", name, {"sessions_ended": ended}))
    return _account(row)


def enable_user(uow: UnitOfWork, name: str) -> Account:
    row = _user_row(uow, name)
    if row.disabled_at is not None:
        row.disabled_at = None
        audit.append(uow, audit.Entry("user-enable", "user", name, {}))
    return _account(row)


def set_role(uow: UnitOfWork, name: str, role: Role | str) -> Account:
    role = parse_role(role) if isinstance(role, str) else role
    row = _user_row(uow, name)
    if row.role != role:
        before = row.role
        row.role = str(role)
        audit.append(
            uow, audit.Entry("role-change", "user", name, {"from": before, "to": str(role)})
        )
    return _account(row)


def reset_password(uow: UnitOfWork, name: str, password: str) -> Account:
    """Set a new password; the account's open sessions end (whoever held them signs in again)."""
    row = _user_row(uow, name)
    check_password(name, password)
    row.password_hash = _hasher().hash(password)
    ended = _end_sessions_of(uow, row.id, "password-reset")
    audit.append(uow, audit.Entry("password-reset", "user", name, {"sessions_ended": ended}))
    return _account(row)


#: The accounts ``trephine demo`` creates (one per role that can see something), name → role.
DEMO_ACCOUNTS: dict[str, Role] = {
    "demo-admin": Role.ADMIN,
    "demo-lab": Role.LAB,
    "demo-clinician": Role.CLINICIAN,
    "demo-researcher": Role.RESEARCHER,
    #: Linked to the first demo patient by ``trephine demo`` (patient_portal.ensure_demo_patient).
    "demo-patient": Role.PATIENT,
}


def ensure_demo_accounts(uow: UnitOfWork) -> list[tuple[str, Role, str | None]]:
    """Create the demo accounts that are missing, each with a fresh random password.

    Returns ``(name, role, password)``; the password is None for an account that already
    existed (it is never shown again: ``trephine users reset-password NAME`` sets a new one).
    """
    made: list[tuple[str, Role, str | None]] = []
    for name, role in DEMO_ACCOUNTS.items():
        if find_user(uow, name) is not None:
            made.append((name, role, None))
            continue
        password = secrets.token_urlsafe(12)  # 16 characters, 96 bits
        add_user(uow, name, role, password)
        made.append((name, role, password))
    return made


# --------------------------------------------------------------------------- sign-in


@dataclass(frozen=True)
class Throttle:
    """Failed sign-ins within ``window`` slow further tries down, then refuse them."""

    window: dt.timedelta
    slow_after: int
    lock_after: int
    address_slow_after: int
    address_lock_after: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        return cls(
            window=dt.timedelta(minutes=settings.signin_window_minutes),
            slow_after=settings.signin_slow_after,
            lock_after=settings.signin_lock_after,
            address_slow_after=settings.signin_address_slow_after,
            address_lock_after=settings.signin_address_lock_after,
        )


def _wait_for(
    now: dt.datetime,
    failures: list[dt.datetime],
    slow_after: int,
    lock_after: int,
    window: dt.timedelta,
) -> float:
    """Seconds still to wait, given the failure times (oldest first) inside the window."""
    n = len(failures)
    if n >= lock_after:
        return (failures[-1] + window - now).total_seconds()
    if n >= slow_after:
        delay = dt.timedelta(seconds=min(2 ** (n - slow_after), 60))
        return (failures[-1] + delay - now).total_seconds()
    return 0.0


def _check_throttle(uow: UnitOfWork, throttle: Throttle, account_key: str, client: str) -> None:
    now = uow.now()
    since = now - throttle.window
    recent = select(SignInFailureRow.occurred_at).where(SignInFailureRow.occurred_at >= since)
    by_account = list(
        uow.session.scalars(
            recent.where(SignInFailureRow.account == account_key).order_by(
                SignInFailureRow.occurred_at
            )
        )
    )
    by_address = list(
        uow.session.scalars(
            recent.where(SignInFailureRow.client_address == client).order_by(
                SignInFailureRow.occurred_at
            )
        )
    )
    wait = max(
        _wait_for(now, by_account, throttle.slow_after, throttle.lock_after, throttle.window),
        _wait_for(
            now,
            by_address,
            throttle.address_slow_after,
            throttle.address_lock_after,
            throttle.window,
        ),
    )
    if wait > 0:
        raise TooManyAttempts(max(1, math.ceil(wait)))


def sign_in(
    database: Database, name: str, password: str, client: str, throttle: Throttle
) -> Account:
    """Check a name and password; the failure (recorded, audited) or the account.

    Throttled per account and per client address before the password is even checked. A
    failure is committed in its own transaction and then raised as :class:`NotAuthenticated`
    with one message for every cause, so the page does not tell which names exist.
    """
    account_key = digest(name.strip().casefold())
    with database.unit_of_work("web:anonymous") as uow:
        _check_throttle(uow, throttle, account_key, client)
        row = uow.session.scalar(select(UserRow).where(UserRow.name == name))
        reason = _password_problem(row, password)
        if reason is None:
            assert row is not None
            _maybe_rehash(row, password)
            return _account(row)
        uow.session.add(
            SignInFailureRow(occurred_at=uow.now(), account=account_key, client_address=client)
        )
        # The name typed is kept only when it is an account's (a password typed into the name
        # field must not land in the trail).
        audit.append(
            uow,
            audit.Entry(
                "sign-in-failed",
                "user",
                row.name if row is not None else "(unknown)",
                {"client": client, "reason": reason},
            ),
        )
    raise NotAuthenticated("wrong name or password, or the account is disabled")


def reauthenticate(
    database: Database, name: str, password: str, client: str, throttle: Throttle
) -> Account:
    """The signer proves again who they are before an electronic signature (21 CFR 11.200:
    id and password at signing; clinical-systems.md §6.3 P8).

    Same checks and the same throttle as :func:`sign_in` (a signing form is no way round the
    sign-in limits); a failure is committed in its own transaction, audited as
    ``signature-failed`` and raised as :class:`NotAuthenticated`. Nothing is written on success.
    """
    account_key = digest(name.strip().casefold())
    with database.unit_of_work("web:signature") as uow:
        _check_throttle(uow, throttle, account_key, client)
        row = uow.session.scalar(select(UserRow).where(UserRow.name == name))
        reason = _password_problem(row, password)
        if reason is None:
            assert row is not None
            return _account(row)
        oidc_only = row is not None and row.password_hash is None and bool(row.oidc_subject)
        uow.session.add(
            SignInFailureRow(occurred_at=uow.now(), account=account_key, client_address=client)
        )
        audit.append(
            uow,
            audit.Entry(
                "signature-failed",
                "user",
                row.name if row is not None else "(unknown)",
                {"client": client, "reason": reason},
            ),
        )
    if oidc_only:
        # The signer is signed in already, so saying why tells nobody which names exist.
        raise NotAuthenticated(
            "your account signs in through the identity provider and has no password: sign "
            "in the browser, where signing sends you to the provider to sign in again (or ask "
            "an administrator to set a signing password: trephine users reset-password); "
            "nothing was signed"
        )
    raise NotAuthenticated("the password is not right; nothing was signed")


def _password_problem(row: UserRow | None, password: str) -> str | None:
    from argon2.exceptions import InvalidHashError, VerificationError

    if row is None or row.password_hash is None:
        # The same work as a real check, so timing does not tell which names are accounts.
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher().verify(_dummy_hash(), password)
        return "unknown account" if row is None else "no password (OIDC account)"
    try:
        _hasher().verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return "wrong password"
    if row.disabled_at is not None:
        return "account disabled"
    return None


def _maybe_rehash(row: UserRow, password: str) -> None:
    """After a successful check: a hash made at another cost (or an older argon2 version) is
    made again at the configured one, so raising (or lowering) the cost reaches every account
    that signs in. Not audited: the password is the same, only its storage changes."""
    assert row.password_hash is not None
    hasher = _hasher()
    if hasher.check_needs_rehash(row.password_hash):
        row.password_hash = hasher.hash(password)


def oidc_sign_in(
    database: Database, *, subject: str, name: str, role: Role, client: str
) -> Account:
    """The account an OpenID Connect identity signs in as (its ID token already checked).

    ``subject`` is ``issuer|sub``, the identity's stable key. The first sign-in creates an
    account without a password (``user-add`` by ``web:oidc``); later ones take the role the
    provider now gives (a ``role-change`` event when it differs): the provider is the authority.
    Refused, audited as ``sign-in-failed``: a disabled account, and a name that already belongs
    to a local (password) account or another identity, which is never linked silently (that
    would let whoever controls the name at the provider take the local account over).
    """
    with database.unit_of_work("web:oidc") as uow:
        row = uow.session.scalar(select(UserRow).where(UserRow.oidc_subject == subject))
        reason: str | None = None
        if row is None:
            taken = uow.session.scalar(select(UserRow).where(UserRow.name == name))
            if taken is not None:
                reason = "name belongs to another account"
            else:
                return add_user(uow, name, role, None, oidc_subject=subject)
        elif row.disabled_at is not None:
            reason = "account disabled"
        else:
            if row.role != role:
                set_role(uow, row.name, role)
            return _account(row)
    oidc_refused(database, name, client, reason, subject=subject)
    raise NotAuthenticated(f"OpenID Connect sign-in refused: {reason}")


def oidc_refused(
    database: Database, name: str | None, client: str, reason: str, *, subject: str | None = None
) -> None:
    """Record a refused OpenID Connect sign-in (a failure for throttling, and an audit event).

    The name is kept only when it is an account's, as for password sign-ins."""
    with database.unit_of_work("web:anonymous") as uow:
        row = None
        if subject is not None:
            row = uow.session.scalar(select(UserRow).where(UserRow.oidc_subject == subject))
        if row is None and name:
            row = uow.session.scalar(select(UserRow).where(UserRow.name == name))
        key = digest(("oidc:" + (subject or name or "")).casefold())
        uow.session.add(SignInFailureRow(occurred_at=uow.now(), account=key, client_address=client))
        audit.append(
            uow,
            audit.Entry(
                "sign-in-failed",
                "user",
                row.name if row is not None else "(unknown)",
                {"client": client, "reason": reason, "method": "oidc"},
            ),
        )


def check_oidc_throttle(database: Database, throttle: Throttle, client: str) -> None:
    """Refuse (TooManyAttempts) an OpenID Connect sign-in from an address that failed too often."""
    with database.unit_of_work("web:anonymous") as uow:
        _check_throttle(uow, throttle, digest("oidc:(address only)"), client)


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class SessionLimits:
    idle: dt.timedelta
    absolute: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionLimits:
        return cls(
            idle=dt.timedelta(minutes=settings.session_idle_minutes),
            absolute=dt.timedelta(hours=settings.session_absolute_hours),
        )


def start_session(uow: UnitOfWork, account: Account, method: str, client: str) -> str:
    """A new session (a fresh id at every sign-in); returns the raw id for the cookie only."""
    raw = secrets.token_urlsafe(32)  # 256 bits
    now = uow.now()
    uow.session.add(
        SessionRow(
            id_hash=digest(raw),
            user_id=account.id,
            method=method,
            client_address=client,
            created_at=now,
            last_seen_at=now,
        )
    )
    audit.append(
        uow,
        audit.Entry(
            "sign-in",
            "user",
            account.name,
            {"role": str(account.role), "method": method, "client": client},
        ),
    )
    return raw


@lru_cache(maxsize=1)
def _session_query() -> Select[SessionRow, UserRow]:
    """A session and its user by the session id's digest (bind parameter ``id_hash``): built
    once, every signed-in request asks it."""
    return (
        select(SessionRow, UserRow)
        .join(UserRow, UserRow.id == SessionRow.user_id)
        .where(SessionRow.id_hash == bindparam("id_hash"))
    )


def resolve_session(uow: UnitOfWork, raw: str, limits: SessionLimits) -> Principal | None:
    """The signed-in user of a session cookie, or None (unknown, ended, timed out, disabled).

    A session found idle or past its absolute limit is ended here (and committed with the unit
    of work), so it cannot come back if the clock is turned back.
    """
    found = uow.session.execute(_session_query(), {"id_hash": digest(raw)}).first()
    if found is None:
        return None
    session, user = found
    if session.ended_at is not None:
        return None
    now = uow.now()
    reason = None
    if user.disabled_at is not None:
        reason = "disabled"
    elif now - session.created_at >= limits.absolute:
        reason = "expired"
    elif now - session.last_seen_at >= limits.idle:
        reason = "idle"
    if reason is not None:
        session.ended_at = now
        session.ended_reason = reason
        audit.append(
            uow,
            audit.Entry(
                "session-end", "user", user.name, {"session": session.id, "reason": reason}
            ),
        )
        return None
    if now - session.last_seen_at >= _TOUCH_EVERY:
        session.last_seen_at = now
    return Principal(name=user.name, role=Role(user.role), via="session", session_id=session.id)


def end_session(uow: UnitOfWork, raw: str, client: str, reason: str = "sign-out") -> bool:
    """End the session of a cookie: ``sign-out``, or ``replaced`` by a new sign-in."""
    session = uow.session.scalar(select(SessionRow).where(SessionRow.id_hash == digest(raw)))
    if session is None or session.ended_at is not None:
        return False
    session.ended_at = uow.now()
    session.ended_reason = reason
    user = uow.session.get(UserRow, session.user_id)
    assert user is not None
    detail = {"session": session.id, "client": client}
    if reason == "sign-out":
        audit.append(uow, audit.Entry("sign-out", "user", user.name, detail))
    else:
        audit.append(
            uow, audit.Entry("session-end", "user", user.name, {**detail, "reason": reason})
        )
    return True


def list_sessions(uow: UnitOfWork, *, active_only: bool = True) -> list[SessionView]:
    query = (
        select(SessionRow, UserRow)
        .join(UserRow, UserRow.id == SessionRow.user_id)
        .order_by(SessionRow.id)
    )
    if active_only:
        query = query.where(SessionRow.ended_at.is_(None))
    return [
        SessionView(
            id=s.id,
            user=u.name,
            role=Role(u.role),
            method=s.method,
            client_address=s.client_address,
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            ended_at=s.ended_at,
            ended_reason=s.ended_reason,
        )
        for s, u in uow.session.execute(query)
    ]


def revoke_session(uow: UnitOfWork, session_id: int) -> None:
    session = uow.session.get(SessionRow, session_id)
    if session is None:
        raise NotFound("session", session_id)
    if session.ended_at is None:
        session.ended_at = uow.now()
        session.ended_reason = "revoked"
        user = uow.session.get(UserRow, session.user_id)
        assert user is not None
        audit.append(uow, audit.Entry("session-revoke", "user", user.name, {"session": session_id}))


# --------------------------------------------------------------------------- API tokens


def _token_view(row: ApiTokenRow, user: str) -> TokenView:
    return TokenView(
        id=row.id,
        user=user,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def create_token(
    uow: UnitOfWork, name: str, expires_days: int | None = DEFAULT_TOKEN_DAYS
) -> tuple[str, TokenView]:
    """A new token for ``name``; the raw token is returned once and never stored."""
    user = _user_row(uow, name)
    if user.disabled_at is not None:
        raise ValidationError("user", name, "an enabled account", reason="it is disabled")
    days = DEFAULT_TOKEN_DAYS if expires_days is None else expires_days
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError("expires", days, f"1 to {MAX_TOKEN_DAYS} days")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = uow.now()
    row = ApiTokenRow(
        token_hash=digest(raw),
        user_id=user.id,
        created_at=now,
        created_by=uow.actor,
        expires_at=now + dt.timedelta(days=days),
    )
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow, audit.Entry("token-create", "token", row.id, {"user": name, "expires_days": days})
    )
    return raw, _token_view(row, name)


def list_tokens(uow: UnitOfWork) -> list[TokenView]:
    query = (
        select(ApiTokenRow, UserRow.name)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .order_by(ApiTokenRow.id)
    )
    return [_token_view(t, n) for t, n in uow.session.execute(query)]


def revoke_token(uow: UnitOfWork, token_id: int) -> TokenView:
    row = uow.session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFound("token", token_id)
    user = uow.session.get(UserRow, row.user_id)
    assert user is not None
    if row.revoked_at is None:
        row.revoked_at = uow.now()
        audit.append(uow, audit.Entry("token-revoke", "token", token_id, {"user": user.name}))
    return _token_view(row, user.name)


def resolve_token(uow: UnitOfWork, raw: str, client: str) -> Principal | None:
    """The user a bearer token acts as, or None (unknown, revoked, expired, user disabled).

    Every use is audited (which token, from where)."""
    found = uow.session.execute(
        select(ApiTokenRow, UserRow)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(ApiTokenRow.token_hash == digest(raw))
    ).first()
    if found is None:
        return None
    token, user = found
    now = uow.now()
    if (
        token.revoked_at is not None
        or (token.expires_at is not None and now >= token.expires_at)
        or user.disabled_at is not None
    ):
        return None
    token.last_used_at = now
    audit.append(
        uow, audit.Entry("token-use", "token", token.id, {"user": user.name, "client": client})
    )
    return Principal(name=user.name, role=Role(user.role), via="token", session_id=None)


# ------------------------------------------------------------------- who acts outside the web


class Refusal(StrEnum):
    """Why :func:`acting_principal` found no account to act as. Each entry point (the command
    line, the notebook API) says it in its own words, naming its own setting or argument."""

    #: The API token is unknown, expired or revoked (or its account disabled).
    UNKNOWN_TOKEN = "unknown-token"
    #: A name was given beside a token, and it is not the token's account.
    NOT_THE_TOKENS_ACCOUNT = "not-the-tokens-account"
    #: The name given is not an enabled account.
    NOT_AN_ACCOUNT = "not-an-account"
    #: The database has accounts and neither a token nor a name was given.
    NO_ACCOUNT_GIVEN = "no-account-given"
    #: The account's role does not grant the permission asked for.
    NOT_GRANTED = "not-granted"


@dataclass(frozen=True)
class AccountRefused:
    """No account acts: ``refusal`` says why; ``name`` is the name given (for
    :attr:`Refusal.NOT_AN_ACCOUNT` and :attr:`Refusal.NOT_THE_TOKENS_ACCOUNT`) and
    ``principal`` the account that was found (the token's, or the one lacking the permission)."""

    refusal: Refusal
    name: str | None = None
    principal: Principal | None = None


def acting_principal(
    uow: UnitOfWork,
    permission: Permission,
    *,
    user: str | None,
    token: str | None,
    client: str,
) -> Principal | AccountRefused | None:
    """The ONE account rule of every entry point outside the web (``trephine`` commands through
    ``cli/common.acting``, the notebook's ``trephine.connect``): who acts, or why nobody does.

    None when the database has no accounts (the embedded single-user default: the caller names
    the actor freely). Otherwise an API ``token`` wins (unexpired, not revoked, its use audited
    with ``client``) and ``user`` may only repeat its account's name; without a token ``user``
    must name an enabled account; one of them is required; and the account's role must grant
    ``permission`` (``access.GRANTS``, the web's table)."""
    if count_users(uow) == 0:
        return None
    given = user.strip() if user is not None else None
    if token:
        principal = resolve_token(uow, token, client)
        if principal is None:
            return AccountRefused(Refusal.UNKNOWN_TOKEN)
        if given is not None and given != principal.name:
            return AccountRefused(Refusal.NOT_THE_TOKENS_ACCOUNT, user, principal)
    elif given is not None:
        row = uow.session.scalar(select(UserRow).where(UserRow.name == given))
        if row is None or row.disabled_at is not None:
            return AccountRefused(Refusal.NOT_AN_ACCOUNT, given)
        principal = Principal(name=row.name, role=Role(row.role), via="cli", session_id=None)
    else:
        return AccountRefused(Refusal.NO_ACCOUNT_GIVEN)
    if not principal.may(permission):
        return AccountRefused(Refusal.NOT_GRANTED, principal.name, principal)
    return principal
