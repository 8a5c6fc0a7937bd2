"""Who the command line acts as (issue 9: "the CLI's free --as NAME gives way to the configured
user (or a token) once accounts exist, so nobody signs as someone else").

Without accounts the database is the embedded single-user one and ``--as`` names the actor
freely; once an account exists the actor is ``TREPHINE_USER`` or the owner of ``TREPHINE_TOKEN``,
its role must grant the command (the web's grant table) and ``--as`` may only repeat it. What a
command shows of a patient's record is audited with that user, as a web read is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.services import accounts, audit
from trephine.settings import get_settings
from trephine.store.database import Database

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "templates" / "example"
PASSWORD = "a perfectly long password"
runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set TREPHINE_* for the next commands (the settings cache is cleared around each test)."""
    for name in ("TREPHINE_USER", "TREPHINE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    for name in ("TREPHINE_USER", "TREPHINE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


def act_as(env: pytest.MonkeyPatch, user: str | None = None, token: str | None = None) -> None:
    for name, value in (("TREPHINE_USER", user), ("TREPHINE_TOKEN", token)):
        if value is None:
            env.delenv(name, raising=False)
        else:
            env.setenv(name, value)
    get_settings.cache_clear()


def run(database: Database, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", database.url])
    return result.exit_code, result.stdout, result.stderr


def draft_id(database: Database) -> str:
    code, out, err = run(database, "results", "list", "--state", "draft", "--ids")
    assert code == 0, err
    return out.split()[0]


@pytest.fixture
def imported(database: Database, env: pytest.MonkeyPatch) -> Database:
    code, _, err = run(database, "import", str(EXAMPLE))
    assert code == 0, err
    return database


def add_users(database: Database, **roles: str) -> None:
    with database.unit_of_work("test-setup") as uow:
        for name, role in roles.items():
            accounts.add_user(uow, name, role, PASSWORD)


def test_without_accounts_as_names_the_actor_freely(imported: Database) -> None:
    draft = draft_id(imported)
    code, out, err = run(imported, "results", "verify", draft, "--as", "dr.lee")
    assert code == 0, err
    assert "signed out by dr.lee" in out


def test_once_accounts_exist_the_configured_user_signs_and_as_may_only_repeat_it(
    imported: Database, env: pytest.MonkeyPatch
) -> None:
    add_users(imported, lee="lab", okafor="lab")
    draft = draft_id_as(imported, env, "lee")
    act_as(env)  # nobody configured
    code, _, err = run(imported, "results", "verify", draft, "--as", "lee")
    assert code == 2 and "set TREPHINE_USER" in err
    act_as(env, "lee")
    code, _, err = run(imported, "results", "verify", draft, "--as", "okafor")
    assert code == 2 and "--as" in err and "nobody acts as someone else" in err
    code, out, err = run(imported, "results", "verify", draft, "--as", "lee")
    assert code == 0 and "signed out by lee" in out, err
    with imported.unit_of_work("t") as uow:
        (verified,) = [e for e in audit.events(uow, "result", draft) if e.action == "verify"]
    assert verified.actor == "lee"


def draft_id_as(database: Database, env: pytest.MonkeyPatch, user: str) -> str:
    act_as(env, user)
    return draft_id(database)


def test_the_role_must_grant_the_command(imported: Database, env: pytest.MonkeyPatch) -> None:
    add_users(imported, res="researcher", doc="clinician", gone="lab")
    draft = draft_id_as(imported, env, "res")
    code, _, err = run(imported, "results", "verify", draft)
    assert code == 2 and "researcher role, which does not grant results:write" in err
    act_as(env, "doc")
    code, _, err = run(imported, "import", str(EXAMPLE))
    assert code == 2 and "clinician role, which does not grant results:write" in err
    with imported.unit_of_work("t") as uow:
        accounts.disable_user(uow, "gone")
    act_as(env, "gone")
    code, _, err = run(imported, "results", "list")
    assert code == 2 and "not an enabled account" in err
    act_as(env, "nobody")
    code, _, err = run(imported, "patients", "list")
    assert code == 2 and "not an enabled account" in err


def test_an_api_token_proves_the_user(imported: Database, env: pytest.MonkeyPatch) -> None:
    add_users(imported, lee="lab", res="researcher")
    with imported.unit_of_work("test-setup") as uow:
        token, _ = accounts.create_token(uow, "lee", 7)
        other, view = accounts.create_token(uow, "res", 7)
    draft = draft_id_as(imported, env, "lee")
    act_as(env, token=token)
    code, out, err = run(imported, "results", "verify", draft)
    assert code == 0 and "signed out by lee" in out, err
    act_as(env, "res", token=token)  # the token is lee's: a different TREPHINE_USER is refused
    code, _, err = run(imported, "patients", "list")
    assert code == 2 and "TREPHINE_USER" in err
    with imported.unit_of_work("test-setup") as uow:
        accounts.revoke_token(uow, view.id)
    act_as(env, token=other)
    code, _, err = run(imported, "patients", "list")
    assert code == 2 and "TREPHINE_TOKEN is unknown, expired or revoked" in err
    with imported.unit_of_work("t") as uow:
        used = [e for e in audit.events(uow, "token") if e.action == "token-use"]
    assert used and all(e.detail["client"] == "cli" for e in used)


def test_cli_reads_of_records_are_audited_with_the_user(
    imported: Database, env: pytest.MonkeyPatch
) -> None:
    add_users(imported, res="researcher")
    act_as(env, "res")
    for args in (
        ("patients", "list", "--json"),
        ("patients", "show", "EX-001"),
        ("patients", "show", "EX-001", "--json"),
        ("results", "list", "--patient", "EX-001", "--json"),
        ("alerts", "list", "--json"),
    ):
        code, _, err = run(imported, *args)
        assert code == 0, f"{args}: {err}"
    code, out, _ = run(imported, "results", "list", "--patient", "EX-001", "--ids")
    code, _, err = run(imported, "results", "show", out.split()[0], "--json")
    assert code == 0, err
    with imported.unit_of_work("t") as uow:
        shown = [e for e in audit.reads(uow, user="res") if e.action in ("view", "query")]
    whats = [e.detail["what"] for e in shown]
    assert whats[:4] == ["patients list", "patient", "timeline", "results list"]
    assert "result" in whats
    for event in shown:
        assert event.detail["role"] == "researcher" and event.detail["client"] == "cli"
        assert event.detail["view"] == "pseudonymised"
    listing = shown[0]
    assert listing.action == "query" and "EX-001" in listing.detail["patients"]
    # `audit list --reads` is an admin's: the researcher may not read the trail.
    code, _, err = run(imported, "audit", "list", "--reads")
    assert code == 2 and "audit:read" in err
    add_users(imported, boss="admin")
    act_as(env, "boss")
    code, out, err = run(imported, "audit", "list", "--reads", "--user", "res", "--json")
    assert code == 0, err
    assert {e["actor"] for e in json.loads(out)} == {"res"}
