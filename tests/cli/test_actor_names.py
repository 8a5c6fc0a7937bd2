"""``--as``/``--actor`` and TREPHINE_CLI_USER take a user name, not any string: markup, spaces
and control characters are refused in one line, before anything is written (the defect: HTML
was accepted as the signer of a result)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.domain.actor import ACTOR_RULE, check_actor
from trephine.errors import ValidationError
from trephine.settings import get_settings
from trephine.store.database import Database

runner = CliRunner()
FILES = {
    "patients.csv": "patient_id,sex,birth_year\nACT-1,female,1970\n",
    "specimens.csv": (
        "accession,patient_id,type,collected_at\nS-A1,ACT-1,aspirate,2024-07-01T08:00:00Z\n"
    ),
    "results.csv": (
        "accession,kind,item,field,value,unit,lod,lloq,status\n"
        "S-A1,flow_mrd,,mrd,0.12,%,,,draft\n"
        "S-A1,flow_mrd,,method,DfN,,,,draft\n"
    ),
}
BAD = ["<b>dr.x</b>", "dr lee", "", " ", "dr.a;rm", "'; DROP TABLE result; --", "x" * 201]


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", url])
    return result.exit_code, result.stdout, result.stderr


def events(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


@pytest.fixture
def draft(database: Database, tmp_path: Path) -> int:
    folder = tmp_path / "set"
    folder.mkdir()
    for name, content in FILES.items():
        (folder / name).write_text(content, encoding="utf-8")
    code, _, err = run(database.url, "import", str(folder), "--actor", "lab")
    assert code == 0, err
    code, out, err = run(database.url, "results", "list", "--json")
    (row,) = json.loads(out)
    return int(row["id"])


@pytest.mark.parametrize("name", BAD)
def test_a_bad_signer_is_refused_and_nothing_is_signed(
    database: Database, draft: int, name: str
) -> None:
    before = events(database)
    code, _, err = run(database.url, "results", "verify", str(draft), "--as", name)
    assert code == 2
    assert err.startswith("error: --as") and "letters, digits and . _ - @ : +" in err
    assert len(err.strip().splitlines()) == 1
    assert events(database) == before
    code, out, _ = run(database.url, "results", "list", "--json")
    assert json.loads(out)[0]["state"] == "draft"


def test_a_bad_configured_user_and_a_bad_importer_are_refused(
    database: Database, draft: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREPHINE_CLI_USER", "<img src=x>")
    get_settings.cache_clear()
    try:
        code, _, err = run(database.url, "results", "verify", str(draft))
    finally:
        monkeypatch.delenv("TREPHINE_CLI_USER")
        get_settings.cache_clear()
    assert code == 2 and err.startswith("error: TREPHINE_CLI_USER")
    before = events(database)
    code, _, err = run(database.url, "import", str(tmp_path / "set"), "--actor", "<i>lab</i>")
    assert code == 2 and "letters, digits" in err and "Traceback" not in err
    assert events(database) == before


def test_good_names_pass_through() -> None:
    for name in ("dr.lee", "lab", "j.smith@example.org", "web:anonymous", "a", "x" * 200):
        assert check_actor(name) == name
    with pytest.raises(ValidationError) as refused:
        check_actor("<b>")
    assert refused.value.field == "actor" and refused.value.allowed == ACTOR_RULE
