"""``trephine users ...``, ``trephine tokens ...`` and ``trephine sessions ...``.

Account administration from the command line of the server (whoever may run it already holds
the database credentials). The acting user recorded in the audit trail is the configured CLI user
while the database has no accounts (to add the first admin); once it has, ``TREPHINE_USER`` or
``TREPHINE_TOKEN`` must name an enabled admin. Passwords are read
from standard input (``--password-stdin``, one line) or prompted without echo; they are never
printed, logged or accepted as a command-line argument (which ``ps`` and shell history would
show). ``tokens create`` prints the token alone on standard output, once.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import typer

from trephine.cli.common import (
    DATABASE_HELP,
    PASSWORD_STDIN_HELP,
    acting,
    fail,
    open_database,
    read_password,
    working,
)
from trephine.errors import TrephineError

if TYPE_CHECKING:
    from trephine.services.accounts import Account, SessionView, TokenView

users_app = typer.Typer(help="Add, list, disable and re-role accounts.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="API tokens for scripts (Authorization: Bearer TOKEN).", no_args_is_help=True
)
sessions_app = typer.Typer(help="List and revoke signed-in sessions.", no_args_is_help=True)


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _admin_actor(database_url: str | None, permission: str = "users:manage") -> str:
    """Who administers (``cli/common.acting``): the CLI user while there are no accounts (to
    add the first one), then the admin named by TREPHINE_USER or proved by TREPHINE_TOKEN."""
    database = open_database(database_url, migrate=False)
    try:
        return acting(database, permission).name
    finally:
        database.dispose()


def _read_password(password_stdin: bool, *, confirm: bool) -> str:
    return read_password(password_stdin, confirm=confirm)


def _user_dict(a: Account) -> dict[str, object]:
    return {
        "name": a.name,
        "role": str(a.role),
        "enabled": a.enabled,
        "created_at": _when(a.created_at),
        "created_by": a.created_by,
        "disabled_at": _when(a.disabled_at),
        "sign_in": [m for m, on in (("password", a.has_password), ("oidc", a.oidc_subject)) if on],
    }


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="Account name (one person: no shared accounts)."),
    role: str = typer.Option(
        ..., "--role", help="admin, lab, clinician, researcher or patient (docs/security.md)."
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Add an account with a password (at least 12 characters, not the name)."""
    from trephine.access import parse_role
    from trephine.services import accounts

    try:
        chosen = parse_role(role)
        accounts.check_name(name)
    except TrephineError as exc:
        raise fail(exc) from None
    password = _read_password(password_stdin, confirm=True)
    try:
        accounts.check_password(name, password)
    except TrephineError as exc:
        raise fail(exc) from None
    actor = _admin_actor(database_url)
    with working(open_database(database_url, migrate=False), actor) as uow:
        account = accounts.add_user(uow, name, chosen, password)
    typer.echo(f"user {account.name} added with the {account.role} role")


@users_app.command("list")
def users_list(
    as_json: bool = typer.Option(False, "--json", help="JSON for scripts."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Every account: name, role, enabled, created when and by whom (no secrets)."""
    from trephine.services import accounts

    with working(open_database(database_url, migrate=False), _admin_actor(database_url)) as uow:
        found = accounts.list_users(uow)
    if as_json:
        typer.echo(json.dumps([_user_dict(a) for a in found], indent=2))
        return
    if not found:
        typer.echo("no accounts yet; add one with `trephine users add NAME --role ROLE`")
    for a in found:
        state = "enabled" if a.enabled else f"disabled {_when(a.disabled_at)}"
        typer.echo(f"{a.name:<24} {a.role!s:<11} {state}")


@users_app.command("disable")
def users_disable(
    name: str = typer.Argument(...),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Disable an account: its sessions end, its tokens stop working; the trail keeps it."""
    from trephine.services import accounts

    with working(open_database(database_url, migrate=False), _admin_actor(database_url)) as uow:
        accounts.disable_user(uow, name)
    typer.echo(f"user {name} disabled")


@users_app.command("enable")
def users_enable(
    name: str = typer.Argument(...),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Enable a disabled account again."""
    from trephine.services import accounts

    with working(open_database(database_url, migrate=False), _admin_actor(database_url)) as uow:
        accounts.enable_user(uow, name)
    typer.echo(f"user {name} enabled")


@users_app.command("set-role")
def users_set_role(
    name: str = typer.Argument(...),
    role: str = typer.Argument(..., help="admin, lab, clinician, researcher or patient."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Change an account's role (audited: from, to, by whom)."""
    from trephine.services import accounts

    with working(open_database(database_url, migrate=False), _admin_actor(database_url)) as uow:
        account = accounts.set_role(uow, name, role)
    typer.echo(f"user {account.name} now has the {account.role} role")


@users_app.command("reset-password")
def users_reset_password(
    name: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Set a new password; the account's open sessions end."""
    from trephine.services import accounts

    password = _read_password(password_stdin, confirm=True)
    try:
        accounts.check_password(name, password)
    except TrephineError as exc:
        raise fail(exc) from None
    with working(open_database(database_url, migrate=False), _admin_actor(database_url)) as uow:
        accounts.reset_password(uow, name, password)
    typer.echo(f"password of {name} reset; its sessions were ended")


# --------------------------------------------------------------------------- tokens


def _token_dict(t: TokenView) -> dict[str, object]:
    return {
        "id": t.id,
        "user": t.user,
        "created_at": _when(t.created_at),
        "created_by": t.created_by,
        "expires_at": _when(t.expires_at),
        "revoked_at": _when(t.revoked_at),
        "last_used_at": _when(t.last_used_at),
    }


@tokens_app.command("create")
def tokens_create(
    name: str = typer.Argument(..., help="The account the token acts as (with its role)."),
    expires: int = typer.Option(
        90, "--expires", min=1, max=366, help="Days until the token stops working."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Print a new API token, alone on standard output, once (only its digest is stored)."""
    from trephine.services import accounts

    with working(open_database(database_url, migrate=False), _admin_actor(database_url)) as uow:
        raw, view = accounts.create_token(uow, name, expires)
    typer.echo(raw)
    typer.echo(
        f"token {view.id} for {view.user}, expires {_when(view.expires_at)}; it is not shown again",
        err=True,
    )


@tokens_app.command("list")
def tokens_list(
    as_json: bool = typer.Option(False, "--json", help="JSON for scripts."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Every token: id, user, created, expires, revoked, last used (never the token)."""
    from trephine.services import accounts

    with working(open_database(database_url, migrate=False), _admin_actor(database_url)) as uow:
        found = accounts.list_tokens(uow)
    if as_json:
        typer.echo(json.dumps([_token_dict(t) for t in found], indent=2))
        return
    for t in found:
        state = (
            f"revoked {_when(t.revoked_at)}" if t.revoked_at else f"expires {_when(t.expires_at)}"
        )
        typer.echo(f"{t.id:>5}  {t.user:<24} {state}  last used {_when(t.last_used_at) or '-'}")


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: int = typer.Argument(..., help="The token's id (from `tokens list`)."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Revoke a token: it stops working at once."""
    from trephine.services import accounts

    with working(open_database(database_url, migrate=False), _admin_actor(database_url)) as uow:
        view = accounts.revoke_token(uow, token_id)
    typer.echo(f"token {view.id} of {view.user} revoked")


# --------------------------------------------------------------------------- sessions


def _session_dict(s: SessionView) -> dict[str, object]:
    return {
        "id": s.id,
        "user": s.user,
        "role": str(s.role),
        "method": s.method,
        "client_address": s.client_address,
        "created_at": _when(s.created_at),
        "last_seen_at": _when(s.last_seen_at),
        "ended_at": _when(s.ended_at),
        "ended_reason": s.ended_reason,
    }


@sessions_app.command("list")
def sessions_list(
    all_: bool = typer.Option(False, "--all", help="Ended sessions too."),
    as_json: bool = typer.Option(False, "--json", help="JSON for scripts."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Signed-in sessions: who, from where, since when, last seen."""
    from trephine.services import accounts

    actor = _admin_actor(database_url, "sessions:manage")
    with working(open_database(database_url, migrate=False), actor) as uow:
        found = accounts.list_sessions(uow, active_only=not all_)
    if as_json:
        typer.echo(json.dumps([_session_dict(s) for s in found], indent=2))
        return
    for s in found:
        end = f"  ended {_when(s.ended_at)} ({s.ended_reason})" if s.ended_at else ""
        typer.echo(
            f"{s.id:>5}  {s.user:<24} {s.role!s:<11} {s.client_address or '-':<15} "
            f"since {_when(s.created_at)}  seen {_when(s.last_seen_at)}{end}"
        )


@sessions_app.command("revoke")
def sessions_revoke(
    session_id: int = typer.Argument(..., help="The session's id (from `sessions list`)."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """End a session at once (its browser must sign in again)."""
    from trephine.services import accounts

    actor = _admin_actor(database_url, "sessions:manage")
    with working(open_database(database_url, migrate=False), actor) as uow:
        accounts.revoke_session(uow, session_id)
    typer.echo(f"session {session_id} revoked")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(sessions_app, name="sessions")
