"""The record-keeping CLI: init, import, patients list/show; bad input exits 2, no traceback."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_init_is_idempotent(db_url: str) -> None:
    for _ in range(2):
        code, out, _ = run("init", "--database-url", db_url)
        assert code == 0 and re.search(r"is at revision \d{4} \(head\)", out)


def test_import_then_list_and_show(db_url: str, example_dir: Path) -> None:
    code, out, err = run("import", str(example_dir), "--database-url", db_url)
    assert code == 0, err
    assert "3 patients" in out and "12 results" in out
    code, out, _ = run("import", str(example_dir), "--database-url", db_url)
    assert code == 0 and "nothing new; 34 already present" in out

    code, out, _ = run("patients", "list", "--json", "--database-url", db_url)
    page = json.loads(out)  # the shape of GET /api/v1/patients
    rows = page["items"]
    assert [r["id"] for r in rows] == ["EX-001", "EX-002", "EX-003"] and page["total"] == 3
    assert "name" not in rows[0] and "mrn" not in rows[0]
    code, out, _ = run(
        "patients", "list", "--limit", "2", "--offset", "2", "--database-url", db_url
    )
    assert code == 0 and "EX-003" in out and "EX-001" not in out and "3-3 of 3 patient(s)" in out
    code, _, err = run("patients", "list", "--sort", "name", "--database-url", db_url)
    assert code == 2 and "sort: 'name' is not allowed" in err and "last_biopsy" in err
    code, _, err = run("patients", "list", "--diagnosis", "flu", "--database-url", db_url)
    assert code == 2 and "diagnosis: 'flu' is not allowed" in err

    code, out, _ = run("patients", "show", "EX-001", "--database-url", db_url)
    assert code == 0
    lines = out.splitlines()
    dates = [line[:10] for line in lines[1:] if line[:4].isdigit()]
    assert dates == sorted(dates)  # timeline in date order
    assert "AML" in out and "line 1: 7+3" in out and "blasts 62.0 % of 500 cells" in out
    assert "Synthetic" not in out  # identity is not part of the research view

    code, out, _ = run("patients", "show", "EX-001", "--json", "--database-url", db_url)
    record = json.loads(out)
    diffs = [r for r in record["results"] if r["kind"] == "differential"]
    assert {d["detail"]["derived"]["blast_percent"] for d in diffs} == {"62", "2.4"}


def test_dry_run_checks_against_the_database_and_writes_nothing(
    db_url: str, example_dir: Path
) -> None:
    assert run("init", "--database-url", db_url)[0] == 0
    code, out, _ = run("import", str(example_dir), "--dry-run", "--database-url", db_url)
    assert code == 0 and out.startswith("would import (dry run, nothing written)")
    assert "12 results" in out
    code, out, _ = run("patients", "list", "--json", "--database-url", db_url)
    assert json.loads(out)["items"] == []
    # A problem only the database reveals is still reported by a dry run.
    (example_dir / "specimens.csv").write_text(
        "accession,patient_id,type,collected_at\nZ1,NOBODY,aspirate,2024-01-01T10:00Z\n",
        encoding="utf-8",
    )
    code, _, err = run("import", str(example_dir), "--dry-run", "--database-url", db_url)
    assert code == 2 and "patient 'NOBODY' not found" in err


def test_rejected_import_exits_2_with_located_message(db_url: str, example_dir: Path) -> None:
    (example_dir / "patients.csv").write_text(
        "patient_id,sex\nP1,female\nP2,sometimes\n", encoding="utf-8"
    )
    code, out, err = run("import", str(example_dir), "--database-url", db_url)
    assert code == 2
    assert "rejected, nothing imported" in err
    assert "patients.csv, row 3, column 'sex'" in err and "'sometimes'" in err
    assert "Traceback" not in err + out
    code, out, _ = run("patients", "list", "--json", "--database-url", db_url)
    assert code == 0 and json.loads(out) == {"items": [], "total": 0, "limit": 50, "offset": 0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "nope.csv"], "file not found"),
        (["patients", "show", "P404"], "patient 'P404' not found"),
    ],
)
def test_bad_input_one_line_on_stderr(db_url: str, args: list[str], message: str) -> None:
    run("init", "--database-url", db_url)
    code, _, err = run(*args, "--database-url", db_url)
    assert code == 2 and message in err and "Traceback" not in err


def test_uninitialised_database_and_bad_url(tmp_path: Path) -> None:
    missing = tmp_path / "new.db"
    code, _, err = run("patients", "list", "--database-url", f"sqlite:///{missing}")
    assert code == 2 and "trephine init" in err
    assert not missing.exists()  # reading must not create an empty database file
    sqlite3.connect(missing).close()  # the file exists now, but has no schema
    code, _, err = run("patients", "show", "P1", "--database-url", f"sqlite:///{missing}")
    assert code == 2 and "not initialised" in err
    code, _, err = run("init", "--database-url", "notadb://x")
    assert code == 2 and "database URL" in err


def test_dry_run_never_creates_or_migrates_a_database(tmp_path: Path, example_dir: Path) -> None:
    """A missing (or empty) database is checked as an empty one, in memory; nothing is created."""
    target = tmp_path / "missing.db"
    url = f"sqlite:///{target}"
    code, out, err = run("import", str(example_dir), "--dry-run", "--database-url", url)
    assert code == 0, err
    assert out.startswith("would import (dry run against an empty database:")
    assert "3 patients" in out and "12 results" in out
    assert not target.exists()
    # An empty file (no schema) stays empty: no tables, no alembic_version.
    sqlite3.connect(target).close()
    code, out, _ = run("import", str(example_dir), "--dry-run", "--database-url", url)
    assert code == 0 and "against an empty database" in out
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_dry_run_refuses_a_database_that_needs_migrating(db_url: str, example_dir: Path) -> None:
    from trephine.store.database import Database

    database = Database(db_url)
    database.upgrade("0001")
    database.dispose()
    code, _, err = run("import", str(example_dir), "--dry-run", "--database-url", db_url)
    assert code == 2 and "is at revision 0001, not the latest; run `trephine init`" in err
    database = Database(db_url)
    assert database.current_revision() == "0001"
    database.dispose()


def test_import_reports_a_line_given_new_cycles(db_url: str, example_dir: Path) -> None:
    assert run("import", str(example_dir), "--database-url", db_url)[0] == 0
    with (example_dir / "therapies.csv").open("a", encoding="utf-8") as handle:
        handle.write(
            "EX-002,1,azacitidine,palliative,less intensive,2023-10-02,,3,2023-11-27,2023-12-03\n"
        )
    code, out, _ = run("import", str(example_dir), "--database-url", db_url)
    assert code == 0
    assert "nothing new; 1 therapies added to (new cycles or end date); 33 already present" in out


@pytest.mark.parametrize("argument", ["EX\x00-001", "EX\x1b[31m-001", "EX-001\x7f"])
def test_control_characters_in_arguments_are_refused(db_url: str, argument: str) -> None:
    code, out, err = run("patients", "show", argument, "--database-url", db_url)
    assert code == 2 and out == ""
    assert err.startswith("error: command-line argument 3 contains the control character U+")
    assert "EX" not in err and len(err.strip().splitlines()) == 1
