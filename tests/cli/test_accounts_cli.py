"""``trephine users|tokens|sessions``: the contract used by checks outside the test suite
(``users add --password-stdin``, ``tokens create`` printing only the token) and that nothing
secret is ever printed or stored readable."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.services import accounts, audit
from trephine.store.database import Database

runner = CliRunner()
PASSWORD = "a perfectly long password"


def run(url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", url], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def ok(url: str, *args: str, stdin: str | None = None) -> str:
    code, out, err = run(url, *args, stdin=stdin)
    assert code == 0, err
    return out


@pytest.fixture
def admin(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The first account, an admin added while the database has none (the bootstrap path),
    then acting as it (TREPHINE_USER): once accounts exist, nobody administers anonymously."""
    from trephine.settings import get_settings

    ok(database.url, "users", "add", "boss", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    monkeypatch.setenv("TREPHINE_USER", "boss")
    get_settings.cache_clear()
    yield "boss"
    monkeypatch.delenv("TREPHINE_USER", raising=False)
    get_settings.cache_clear()


def test_users_add_from_stdin_then_list_without_secrets(
    database: Database, admin: str, production_password_hashing: None
) -> None:
    url = database.url
    out = ok(
        url,
        "users",
        "add",
        "dr.lee",
        "--role",
        "clinician",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert "dr.lee" in out and "clinician" in out and PASSWORD not in out
    (listed,) = [u for u in json.loads(ok(url, "users", "list", "--json")) if u["name"] != admin]
    assert listed["name"] == "dr.lee" and listed["role"] == "clinician" and listed["enabled"]
    assert listed["sign_in"] == ["password"]
    with database.engine.connect() as c:
        stored = c.execute(
            text("SELECT password_hash FROM app_user WHERE name = 'dr.lee'")
        ).scalar_one()
    # argon2id with at least the OWASP minimum parameters (m=19 MiB, t=2, p=1).
    found = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$.+", stored)
    assert found and PASSWORD not in stored
    m, t, p = map(int, found.groups())
    assert m >= 19456 and t >= 2 and p >= 1
    with database.unit_of_work("t") as uow:
        (event,) = audit.events(uow, "user", "dr.lee")
    assert event.actor == admin
    assert (event.action, event.entity_id, event.detail["role"]) == (
        "user-add",
        "dr.lee",
        "clinician",
    )
    assert PASSWORD not in repr(event)


@pytest.mark.parametrize(
    ("name", "password", "says"),
    [
        ("dr.lee", "short one", "at least 12 characters"),
        ("dr.lee.lee.lee", "DR.LEE.LEE.LEE", "account name"),
        ("bad name", PASSWORD, "name"),
    ],
)
def test_users_add_refuses_weak_passwords_and_bad_names_without_echoing(
    database: Database, name: str, password: str, says: str
) -> None:
    code, out, err = run(
        database.url,
        "users",
        "add",
        name,
        "--role",
        "lab",
        "--password-stdin",
        stdin=password + "\n",
    )
    assert code == 2 and says in err
    assert password not in out + err
    with database.unit_of_work("t") as uow:
        assert accounts.list_users(uow) == []


def test_users_add_refuses_an_unknown_role_and_a_duplicate(database: Database, admin: str) -> None:
    url = database.url
    code, _, err = run(
        url, "users", "add", "x.y", "--role", "boss", "--password-stdin", stdin=PASSWORD
    )
    assert code == 2 and "admin, lab, clinician, researcher, patient" in err
    ok(url, "users", "add", "x.y", "--role", "lab", "--password-stdin", stdin=PASSWORD)
    code, _, err = run(
        url, "users", "add", "x.y", "--role", "lab", "--password-stdin", stdin=PASSWORD
    )
    assert code == 2 and "x.y" in err


def test_users_add_without_stdin_flag_needs_a_terminal(database: Database) -> None:
    code, _, err = run(database.url, "users", "add", "x.y", "--role", "lab", stdin=PASSWORD)
    assert code == 2 and "--password-stdin" in err


def test_set_role_disable_enable_reset_are_audited(database: Database, admin: str) -> None:
    url = database.url
    ok(url, "users", "add", "ann", "--role", "researcher", "--password-stdin", stdin=PASSWORD)
    ok(url, "users", "set-role", "ann", "lab")
    ok(url, "users", "disable", "ann")
    (listed,) = [u for u in json.loads(ok(url, "users", "list", "--json")) if u["name"] == "ann"]
    assert listed["role"] == "lab" and listed["enabled"] is False
    ok(url, "users", "enable", "ann")
    ok(url, "users", "reset-password", "ann", "--password-stdin", stdin="another long password\n")
    code, _, err = run(url, "users", "reset-password", "ann", "--password-stdin", stdin="ann\n")
    assert code == 2 and "at least 12 characters" in err
    with database.unit_of_work("t") as uow:
        events = audit.events(uow, "user", "ann")
    assert [e.action for e in events] == [
        "user-add",
        "role-change",
        "user-disable",
        "user-enable",
        "password-reset",
    ]
    assert events[1].detail == {"from": "researcher", "to": "lab"}
    assert all(e.actor == admin for e in events)
    code, _, err = run(url, "users", "set-role", "nobody", "lab")
    assert code == 2 and "nobody" in err


def test_tokens_create_prints_only_the_token_once(database: Database, admin: str) -> None:
    url = database.url
    ok(url, "users", "add", "robot", "--role", "researcher", "--password-stdin", stdin=PASSWORD)
    result = runner.invoke(
        app, ["tokens", "create", "robot", "--expires", "7", "--database-url", url]
    )
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and re.fullmatch(r"trp_[A-Za-z0-9_-]{43}", lines[0])
    token = lines[0]
    assert "not shown again" in result.stderr and token not in result.stderr
    listing = ok(url, "tokens", "list", "--json")
    (entry,) = json.loads(listing)
    assert token not in listing and entry["user"] == "robot" and entry["revoked_at"] is None
    with database.engine.connect() as c:
        assert token not in str(c.execute(text("SELECT * FROM api_token")).all())
        assert token not in str(c.execute(text("SELECT * FROM audit_event")).all())
    with database.unit_of_work("t") as uow:
        assert accounts.resolve_token(uow, token, "127.0.0.1") is not None
    ok(url, "tokens", "revoke", str(entry["id"]))
    with database.unit_of_work("t") as uow:
        assert accounts.resolve_token(uow, token, "127.0.0.1") is None
    code, _, err = run(url, "tokens", "create", "robot", "--expires", "0")
    assert code == 2 and "--expires" in err
    code, _, err = run(url, "tokens", "create", "ghost")
    assert code == 2 and "ghost" in err


def test_trephine_user_must_be_an_admin_to_manage_accounts(
    database: Database, monkeypatch: pytest.MonkeyPatch, admin: str
) -> None:
    url = database.url
    ok(url, "users", "add", "res", "--role", "researcher", "--password-stdin", stdin=PASSWORD)
    from trephine.settings import get_settings

    monkeypatch.setenv("TREPHINE_USER", "res")
    get_settings.cache_clear()
    code, _, err = run(url, "users", "set-role", "res", "admin")
    assert code == 2 and "researcher role, which does not grant users:manage" in err
    monkeypatch.setenv("TREPHINE_USER", "boss")
    get_settings.cache_clear()
    ok(url, "users", "disable", "res")
    with database.unit_of_work("t") as uow:
        last = audit.events(uow, "user")[-1]
    assert (last.action, last.actor) == ("user-disable", "boss")
    monkeypatch.delenv("TREPHINE_USER")
    get_settings.cache_clear()
    code, _, err = run(url, "users", "enable", "res")
    assert code == 2 and "this database has accounts: set TREPHINE_USER" in err


def test_sessions_list_and_revoke(database: Database, admin: str) -> None:
    url = database.url
    ok(url, "users", "add", "ann", "--role", "researcher", "--password-stdin", stdin=PASSWORD)
    with database.unit_of_work("ann") as uow:
        account = accounts.get_user(uow, "ann")
        raw = accounts.start_session(uow, account, "password", "10.0.0.7")
    (listed,) = json.loads(ok(url, "sessions", "list", "--json"))
    assert listed["user"] == "ann" and listed["client_address"] == "10.0.0.7"
    assert raw not in json.dumps(listed)
    ok(url, "sessions", "revoke", str(listed["id"]))
    assert json.loads(ok(url, "sessions", "list", "--json")) == []
    (ended,) = json.loads(ok(url, "sessions", "list", "--all", "--json"))
    assert ended["ended_reason"] == "revoked"
