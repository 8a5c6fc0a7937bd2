"""One account rule outside the web (services.accounts.acting_principal): the command line
(``cli/common.acting``) and the notebook (``trephine.connect``) find who acts, or why nobody
does, through the same function, and each says a refusal in its own words. On SQLite and
PostgreSQL (the ``database`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer

import trephine
from trephine.access import Permission
from trephine.cli.common import acting
from trephine.errors import Forbidden, NotAuthenticated, ValidationError
from trephine.services import accounts, audit
from trephine.services.accounts import AccountRefused, Refusal
from trephine.settings import get_settings
from trephine.store.database import Database

READ, WRITE = Permission.RECORDS_READ, Permission.RESULTS_WRITE


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("TREPHINE_USER", "TREPHINE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _add(database: Database, name: str, role: str) -> None:
    # Accounts of the identity provider: no argon2 hashing, the test stays fast.
    with database.unit_of_work("t") as uow:
        accounts.add_user(uow, name, role, None, oidc_subject=f"https://idp|{name}")


def _rule(
    database: Database, permission: Permission, user: str | None = None, token: str | None = None
) -> accounts.Principal | AccountRefused | None:
    with database.unit_of_work("t") as uow:
        return accounts.acting_principal(uow, permission, user=user, token=token, client="test")


def test_the_rule_finds_the_account_or_says_why_not(database: Database) -> None:
    assert _rule(database, READ, user="anyone") is None  # no accounts: the caller's default
    _add(database, "lab.one", "lab")
    _add(database, "res.one", "researcher")
    _add(database, "gone.one", "lab")
    with database.unit_of_work("t") as uow:
        accounts.disable_user(uow, "gone.one")
        raw, _ = accounts.create_token(uow, "lab.one", 1)
        revoked, view = accounts.create_token(uow, "lab.one", 1)
        accounts.revoke_token(uow, view.id)

    found = _rule(database, WRITE, user=" lab.one ")
    assert isinstance(found, accounts.Principal)
    assert (found.name, found.role, found.via) == ("lab.one", "lab", "cli")
    by_token = _rule(database, WRITE, token=raw, user="lab.one")
    assert isinstance(by_token, accounts.Principal) and by_token.via == "token"
    with database.unit_of_work("t") as uow:
        uses = [e for e in audit.events(uow, "token") if e.action == "token-use"]
    assert uses[-1].detail == {"user": "lab.one", "client": "test"}

    def refusal(found: object) -> Refusal:
        assert isinstance(found, AccountRefused), found
        return found.refusal

    assert refusal(_rule(database, READ)) is Refusal.NO_ACCOUNT_GIVEN
    assert refusal(_rule(database, READ, token="trp_not-a-token")) is Refusal.UNKNOWN_TOKEN
    assert refusal(_rule(database, READ, token=revoked)) is Refusal.UNKNOWN_TOKEN
    assert refusal(_rule(database, READ, user="nobody")) is Refusal.NOT_AN_ACCOUNT
    assert refusal(_rule(database, READ, user="gone.one")) is Refusal.NOT_AN_ACCOUNT
    other = _rule(database, READ, token=raw, user="res.one")
    assert isinstance(other, AccountRefused) and other.refusal is Refusal.NOT_THE_TOKENS_ACCOUNT
    assert other.principal is not None and other.principal.name == "lab.one"
    lacking = _rule(database, WRITE, user="res.one")
    assert isinstance(lacking, AccountRefused) and lacking.refusal is Refusal.NOT_GRANTED
    assert lacking.principal is not None and lacking.principal.role == "researcher"


#: Each refusal: the environment, what the command line says, what the notebook raises.
WORDS = [
    ({}, "this database has accounts: set TREPHINE_USER", NotAuthenticated, "user= (or"),
    (
        {"TREPHINE_TOKEN": "trp_not-a-token"},
        "TREPHINE_TOKEN is unknown, expired or revoked",
        NotAuthenticated,
        "the API token is unknown",
    ),
    (
        {"TREPHINE_USER": "nobody"},
        "TREPHINE_USER 'nobody' is not an enabled account",
        NotAuthenticated,
        "user 'nobody' is not an enabled account",
    ),
    (
        {"TREPHINE_USER": "pat.one"},
        "pat.one has the patient role, which does not grant records:read",
        Forbidden,
        "records:read",
    ),
    (
        {"TREPHINE_USER": "pat.one", "TREPHINE_TOKEN": "TOKEN"},
        "TREPHINE_USER",
        ValidationError,
        "the token's account, lab.one",
    ),
]


def test_the_command_line_and_the_notebook_refuse_alike_in_their_own_words(
    database: Database, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _add(database, "lab.one", "lab")
    _add(database, "pat.one", "patient")
    with database.unit_of_work("t") as uow:
        raw, _ = accounts.create_token(uow, "lab.one", 1)

    def act(setting: dict[str, str]) -> None:
        for name in ("TREPHINE_USER", "TREPHINE_TOKEN"):
            env.delenv(name, raising=False)
        for name, value in setting.items():
            env.setenv(name, raw if value == "TOKEN" else value)
        get_settings.cache_clear()

    for setting, cli_says, raised, notebook_says in WORDS:
        act(setting)
        with pytest.raises(typer.Exit) as exit_:
            acting(Database(database.url), READ.value)
        assert exit_.value.exit_code == 2, setting
        assert cli_says in capsys.readouterr().err, setting
        with pytest.raises(raised, match=notebook_says.replace("(", r"\(")):
            trephine.connect(database.url)
    # The account that may read is found by both, as the same principal.
    act({"TREPHINE_TOKEN": "TOKEN"})
    opened = Database(database.url)
    who = acting(opened, READ.value)
    opened.dispose()
    assert (who.name, who.role, who.via) == ("lab.one", "lab", "TREPHINE_TOKEN")
    with trephine.connect(database.url) as nb:
        assert (nb.user, nb.role) == ("lab.one", "lab")
