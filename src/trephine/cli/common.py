"""What every ``trephine`` command shares: refusing, opening the database, who is acting.

* :func:`fail` / :func:`refuse` - the one-line ``error: ...`` on stderr and the exit code
  (2 for bad input, 1 for a database that cannot be reached). :func:`refuse` folds a message
  onto one line (the flow and batch contract); :func:`fail` prints it as given.
* :func:`message` - the text of a refusal. Services, importers, readers and ``batch/`` name
  the *domain* field that is wrong (``specimen``, ``ruleset``, ``abnormal_gate``); the user
  typed an option, so :data:`FLAGS` - the one field → flag map - puts the flag back.
* :func:`refusals` - a ``with`` block turning Trephine's typed errors into the refusal and
  echoing each distinct warning once.
* :func:`open_database`, :func:`working`, :func:`shown_url`.
* :func:`acting` - who the command acts as, and whether their role may: the configured CLI
  user while the database has no accounts (the embedded single-user default), otherwise the
  account named by ``TREPHINE_USER`` or proved by ``TREPHINE_TOKEN``, checked against the same
  grant table as the web app; ``--as`` may only repeat it. Every command that reads or writes
  records goes through it (``tests/cli/test_every_command_acts_as_an_account.py`` walks the
  app and proves it). :func:`audit_reads` records what a command showed, as a web response does.

Only the standard library, Typer and the error tree are imported at module level, so every
command module may import this one without slowing ``trephine --help``.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from trephine.errors import ImportRejected, Severity, TrephineError, ValidationError

if TYPE_CHECKING:
    from trephine.services.accounts import AccountRefused
    from trephine.store.database import Database, UnitOfWork

#: The domain field a service, importer or reader names → the option the user typed.
#: Only fields not located at a row of a file are mapped (those are columns, not options).
FLAGS: dict[str, str] = {
    "specimen": "--specimen",
    "ruleset": "--ruleset",
    "study": "--study",
    "denominator_gate": "--denominator",
    "abnormal_gate": "--abnormal",
    "denominator_gate/abnormal_gate": "--denominator/--abnormal",
    "marrow_gate": "--marrow-gate",
    "min_marrow_percent": "--min-marrow-percent",
    "criteria": "--criteria",
    "sample": "--sample",
    "specimen_map": "--specimens",
    "output": "--out",
    "memory_limit": "--memory-limit",
    "scheduler": "--scheduler",
    "workers": "--workers",
    "unit": "--unit",
    "lod": "--lod",
    "lloq": "--lloq",
    "assignment": "--set",
    "inputs": "DIR_OR_GLOB",
    "variant_file": "FILE",
    "sample_sheet": "--samples",
    "allow_missing_depth": "--allow-missing-depth",
}

#: A choice named in a message by :func:`trephine.errors.option` (a domain field in backquotes).
_OPTION = re.compile(r"`([a-z][a-z0-9_]*)`")


def flagged(text: str) -> str:
    """``text`` with each choice marked by :func:`trephine.errors.option` shown as its option
    (a marked name with no option stays as written)."""
    return _OPTION.sub(lambda m: FLAGS.get(m.group(1), m.group(0)), text)


def as_flags(exc: ValidationError) -> ValidationError:
    """``exc`` naming the option instead of the domain field (itself when nothing maps)."""
    flag = FLAGS.get(exc.field)
    if flag is None or (exc.location is not None and exc.location.row is not None):
        return exc
    return ValidationError(flag, exc.value, exc.allowed, location=exc.location, reason=exc.reason)


def message(exc: BaseException | str) -> str:
    """The refusal text of ``exc``: typed errors with flags for fields, file errors by name."""
    if isinstance(exc, ValidationError):
        return flagged(str(as_flags(exc)))
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return flagged(str(exc))


def one_line(text: str) -> str:
    return " ".join(text.split())


def fail(reason: BaseException | str, code: int = 2) -> typer.Exit:
    """Print ``error: REASON`` on stderr; return the exit to raise (``raise fail(...)``)."""
    typer.echo(f"error: {message(reason)}", err=True)
    return typer.Exit(code=code)


def refuse(reason: BaseException | str) -> typer.Exit:
    """:func:`fail` on one line, exit code 2 (the flow and batch contract)."""
    return fail(one_line(message(reason)))


def refuse_import(exc: Exception) -> NoReturn:
    """Refuse with the first error of an :class:`ImportRejected` (and how many more)."""
    if isinstance(exc, ImportRejected):
        errors = [i for i in exc.issues if i.severity == Severity.ERROR]
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        text = f"{errors[0].location}: {flagged(errors[0].message)}{more}; nothing imported"
        raise fail(text)
    raise fail(message(exc).replace("\n", " "))


@contextmanager
def refusals() -> Iterator[None]:
    """Turn Trephine's typed errors into the one-line refusal; echo warnings as one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except (TrephineError, OSError) as exc:
            raise refuse(exc) from None
        finally:
            seen: set[str] = set()
            for w in caught:
                msg = one_line(str(w.message))
                if msg not in seen and issubclass(w.category, UserWarning):
                    seen.add(msg)
                    typer.echo(f"warning: {msg}", err=True)


DATABASE_HELP = "Database URL (default: TREPHINE_DATABASE_URL or sqlite:///trephine.db)."


def shown_url(url: str) -> str:
    """The database URL with any password masked, fit for a terminal or a log."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has no password we could find either
        return url


def open_database(url: str | None, *, migrate: bool) -> Database:
    """Open (and optionally migrate) the database; a bad URL or dead server is a clean error."""
    import sqlalchemy.exc

    from trephine.services import open_database as open_

    try:
        if not migrate:
            _refuse_missing_sqlite_file(url)
        database = open_(url)
        if migrate:
            database.upgrade()
        elif database.current_revision() is None:
            raise fail(
                f"database {shown_url(database.url)} is not initialised; run `trephine init`"
            )
        return database
    except sqlalchemy.exc.ArgumentError as exc:
        raise fail(f"database URL {url!r}: {exc}") from None
    except sqlalchemy.exc.OperationalError as exc:
        reason = "; ".join(line.strip() for line in str(exc.orig).strip().splitlines())
        raise fail(f"cannot open the database: {reason}", code=1) from None


def _refuse_missing_sqlite_file(url: str | None) -> None:
    """Reading commands must not create an empty SQLite file as a side effect."""
    from sqlalchemy.engine import make_url

    from trephine.settings import get_settings

    parsed = make_url(url or get_settings().database_url)
    name = parsed.database
    if parsed.get_backend_name() == "sqlite" and name not in (None, "", ":memory:"):
        assert name is not None
        if not Path(name).exists():
            raise fail(f"database file {name} does not exist; run `trephine init`")


@dataclass(frozen=True)
class Acting:
    """Who a command acts as. ``role`` is None while the database has no accounts (the
    embedded single-user default, where the CLI user or ``--as`` names the actor freely)."""

    name: str
    role: str | None
    #: "cli-user" (no accounts yet), "TREPHINE_USER" or "TREPHINE_TOKEN".
    via: str


@contextmanager
def working(database: Database, actor: Acting | str) -> Iterator[UnitOfWork]:
    """One unit of work on an opened ``database``, which is disposed of afterwards.

    ``actor`` is who acts: an :class:`Acting` from :func:`acting` (its events then carry the
    role and client ``cli``, as a web request's carry the role and client address), or a
    system name. A refusal from the services (:class:`TrephineError`: unknown patient, illegal
    transition …) becomes the one-line ``error:`` exit 2 instead of a traceback.
    """
    try:
        name = actor.name if isinstance(actor, Acting) else actor
        with database.unit_of_work(name) as uow:
            if isinstance(actor, Acting):
                uow.context.update(role=actor.role or "(no accounts)", client="cli")
            yield uow
    except TrephineError as exc:
        raise fail(exc) from None
    finally:
        database.dispose()


def acting(
    database: Database, permission: str, named: str | None = None, *, option: str = "--as"
) -> Acting:
    """The user this command acts as, refused (exit 2) unless their role grants ``permission``.

    Without accounts in the database: ``named`` (``--as``) or ``TREPHINE_CLI_USER``. Once an
    account exists nobody acts as someone else: the account is ``TREPHINE_USER`` (an enabled
    account) or the owner of ``TREPHINE_TOKEN`` (an API token: unexpired, not revoked, its use
    audited), its role must grant ``permission`` (``access.GRANTS``, the web's table) and
    ``named`` may only repeat its name.
    """
    from trephine.access import Permission
    from trephine.domain.actor import check_actor
    from trephine.services import accounts
    from trephine.settings import get_settings

    settings = get_settings()
    wanted = Permission(permission)
    try:
        with database.unit_of_work("cli") as uow:
            found = accounts.acting_principal(
                uow,
                wanted,
                user=settings.user,
                token=settings.token.get_secret_value() if settings.token is not None else None,
                client="cli",
            )
            if found is None:  # no accounts yet: the embedded single-user default
                if named is not None:
                    return Acting(check_actor(named.strip(), option), None, "cli-user")
                name = check_actor(settings.cli_user.strip(), "TREPHINE_CLI_USER")
                return Acting(name, None, "cli-user")
    except TrephineError as exc:
        database.dispose()
        raise fail(exc) from None
    if isinstance(found, accounts.AccountRefused):
        database.dispose()
        raise fail(_refused(found, wanted.value)) from None
    principal = found
    via = "TREPHINE_TOKEN" if principal.via == "token" else "TREPHINE_USER"
    if named is not None and named.strip() != principal.name:
        database.dispose()
        raise fail(
            ValidationError(
                option,
                named,
                f"{principal.name} (the account of {via}) or nothing",
                reason="nobody acts as someone else",
            )
        )
    return Acting(principal.name, str(principal.role), via)


def _refused(found: AccountRefused, permission: str) -> TrephineError | str:
    """The command line's words for :func:`services.accounts.acting_principal`'s refusal:
    they name the settings a person sets (``TREPHINE_USER``, ``TREPHINE_TOKEN``)."""
    from trephine.errors import NotAuthenticated
    from trephine.services.accounts import Refusal

    who = found.principal
    if found.refusal is Refusal.UNKNOWN_TOKEN:
        return NotAuthenticated("TREPHINE_TOKEN is unknown, expired or revoked")
    if found.refusal is Refusal.NOT_THE_TOKENS_ACCOUNT and who is not None:
        return ValidationError("TREPHINE_USER", found.name, f"the token's account, {who.name}")
    if found.refusal is Refusal.NOT_AN_ACCOUNT:
        return NotAuthenticated(f"TREPHINE_USER {found.name!r} is not an enabled account")
    if found.refusal is Refusal.NOT_GRANTED and who is not None:
        return (
            f"{who.name} has the {who.role} role, which does not grant "
            f"{permission} (docs/security.md)"
        )
    return NotAuthenticated(
        "this database has accounts: set TREPHINE_USER to your account name "
        "(or TREPHINE_TOKEN to one of your API tokens)"
    )


def identified(who: Acting) -> bool:
    """May ``who`` see name, MRN and birth date (``identity:read``)? Never without accounts:
    the embedded single-user CLI shows the pseudonymised view."""
    from trephine.access import Permission, Role, allows

    return who.role is not None and allows(Role(who.role), Permission.IDENTITY_READ)


def audit_reads(
    uow: UnitOfWork,
    who: Acting,
    what: str,
    patients: Iterable[str],
    *,
    query: bool = False,
    view: str = "pseudonymised",
) -> None:
    """Record that this command's output shows these patients' records, like a web response:
    the user (the unit of work's actor, ``who.name``), their role, the client (``cli``) and the
    view (``identified`` only for the few outputs that carry identity, e.g. a report)."""
    from trephine.services import audit

    audit.record_read(
        uow,
        what,
        patients,
        role=who.role or "(no accounts)",
        client="cli",
        view=view,
        query=query,
    )


PASSWORD_STDIN_HELP = "Read the password from one line of standard input instead of prompting."


def read_password(password_stdin: bool, *, confirm: bool = False) -> str:
    """A password from one line of standard input (``--password-stdin``) or typed at a prompt
    without echo; never from an option or the environment (shell history, process lists)."""
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise fail(ValidationError("password", None, "one line on standard input"))
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise fail("standard input is not a terminal: pass --password-stdin and pipe one line")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return value
