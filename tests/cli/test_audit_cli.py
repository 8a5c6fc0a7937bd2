"""``trephine audit list`` and ``trephine audit verify`` on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.settings import get_settings
from trephine.store.database import Database

runner = CliRunner()

# One synthetic patient with one aspirate and a draft flow MRD.
FILES = {
    "patients.csv": "patient_id,sex,birth_year\nSYN-09,male,1970\n",
    "specimens.csv": (
        "accession,patient_id,type,collected_at\nS-9,SYN-09,aspirate,2024-07-01T08:00:00Z\n"
    ),
    "results.csv": (
        "accession,kind,item,field,value,unit,lod,lloq,status\n"
        "S-9,flow_mrd,,mrd,0.12,%,,,draft\n"
        "S-9,flow_mrd,,method,DfN,,,,draft\n"
    ),
}


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", url])
    return result.exit_code, result.stdout, result.stderr


def ok(url: str, *args: str) -> str:
    code, out, err = run(url, *args)
    assert code == 0, err
    return out


def event_count(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


@pytest.fixture
def lifecycle(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, int, int]:
    """Imported by 'lab', signed out by dr.a, amended by dr.b (the configured CLI user, no --as):
    (url, original id, amended id)."""
    folder = tmp_path / "set"
    folder.mkdir()
    for name, content in FILES.items():
        (folder / name).write_text(content, encoding="utf-8")
    url = database.url
    ok(url, "import", str(folder), "--actor", "lab")
    (row,) = json.loads(ok(url, "results", "list", "--json"))
    ok(url, "results", "verify", str(row["id"]), "--as", "dr.a")
    monkeypatch.setenv("TREPHINE_CLI_USER", "dr.b")
    get_settings.cache_clear()
    ok(url, "results", "amend", str(row["id"]), "--reason", "re-gated", "--set", "mrd=0.08")
    (new,) = json.loads(ok(url, "results", "list", "--json"))
    return url, int(row["id"]), int(new["id"])


def test_audit_list_shows_create_verify_amend_with_actor_and_reason(
    lifecycle: tuple[str, int, int],
) -> None:
    url, original, amended = lifecycle
    events = json.loads(ok(url, "audit", "list", "--entity", "result", "--json"))
    assert [(e["action"], e["actor"], e["entity_id"]) for e in events] == [
        ("create", "lab", str(original)),
        ("verify", "dr.a", str(original)),
        ("amend", "dr.b", str(amended)),  # no --as: the configured TREPHINE_CLI_USER
    ]
    amend = events[-1]["detail"]
    assert amend["reason"] == "re-gated" and amend["supersedes"] == original
    assert amend["changed"] == ["mrd"]
    assert all(dt.datetime.fromisoformat(e["occurred_at"]).tzinfo for e in events)

    only = json.loads(
        ok(url, "audit", "list", "--entity", "result", "--id", str(original), "--json")
    )
    assert [e["action"] for e in only] == ["create", "verify"]
    mine = json.loads(ok(url, "audit", "list", "--actor", "dr.a", "--json"))
    assert [(e["action"], e["entity"]) for e in mine] == [("verify", "result")]
    everything = json.loads(ok(url, "audit", "list", "--json"))
    assert {e["entity"] for e in everything} >= {"patient", "specimen", "result"}
    today = dt.datetime.now(dt.UTC).date()
    since = json.loads(ok(url, "audit", "list", "--since", str(today), "--json"))
    assert len(since) == len(everything)
    tomorrow = today + dt.timedelta(days=1)
    assert json.loads(ok(url, "audit", "list", "--since", str(tomorrow), "--json")) == []

    out = ok(url, "audit", "list", "--entity", "result")
    assert "3 event(s)" in out
    assert "dr.a" in out and '"reason": "re-gated"' in out


def test_audit_list_refuses_bad_filters(lifecycle: tuple[str, int, int]) -> None:
    url = lifecycle[0]
    code, _, err = run(url, "audit", "list", "--since", "last tuesday")
    assert code == 2 and "--since: 'last tuesday' is not allowed" in err and "YYYY-MM-DD" in err
    code, _, err = run(url, "audit", "list", "--id", "3")
    assert code == 2 and "given together with --entity" in err


def test_audit_verify_passes_and_writes_nothing(
    lifecycle: tuple[str, int, int], database: Database
) -> None:
    url = lifecycle[0]
    before = event_count(database)
    out = ok(url, "audit", "verify")
    assert "FAIL" not in out and out.rstrip().endswith("audit trail: intact")
    assert "ok    audit events cannot be changed: refused by the database" in out
    assert "ok    signed-out results cannot change in place" in out
    assert "ok    who signed a result out cannot be changed: refused by the database" in out
    assert "ok    audit events must carry the chain hashes: refused by the database" in out
    chained = next(line for line in out.splitlines() if "unbroken hash chain" in line)
    assert chained.startswith(
        f"ok    the audit events form an unbroken hash chain: {before} events"
    )
    report = json.loads(ok(url, "audit", "verify", "--json"))
    assert report["ok"] is True
    assert event_count(database) == before  # the probe event was rolled back
    # The head printed today, given back later as an anchor, is checked to still be there.
    head = chained.rsplit("head #", 1)[1]
    out = ok(url, "audit", "verify", "--anchor", head)
    assert f"ok    recorded head #{head.split(':')[0]} is still in the chain" in out
    code, _, err = run(url, "audit", "verify", "--anchor", "7:abc")
    assert code == 2 and "EVENT_ID:SHA256" in err


def test_audit_verify_names_the_first_event_changed_behind_the_guards(
    lifecycle: tuple[str, int, int], database: Database
) -> None:
    """Dropping the update guard, editing an event and recreating the guard used to pass."""
    url = lifecycle[0]
    with database.engine.connect() as connection:
        target = connection.execute(
            text("SELECT id FROM audit_event WHERE action = 'verify'")
        ).scalar_one()
    with database.engine.begin() as connection:
        if database.engine.dialect.name == "sqlite":
            sql = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'audit_event_no_update'")
            ).scalar_one()
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
            connection.execute(
                text("UPDATE audit_event SET actor = 'dr.forger' WHERE id = :id"), {"id": target}
            )
            connection.execute(text(sql))
        else:
            connection.execute(text("ALTER TABLE result DISABLE TRIGGER USER"))
            connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
            connection.execute(
                text("UPDATE audit_event SET actor = 'dr.forger' WHERE id = :id"), {"id": target}
            )
            connection.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
            connection.execute(text("ALTER TABLE result ENABLE TRIGGER USER"))
    code, out, _ = run(url, "audit", "verify")
    assert code == 1
    assert "ok    audit events cannot be changed: refused by the database" in out  # guard back
    assert (
        f"FAIL  the audit events form an unbroken hash chain: first break at event #{target}: "
        "its content hashes to"
    ) in out


def test_audit_verify_detects_a_missing_guard_and_an_unaudited_result(
    lifecycle: tuple[str, int, int], database: Database
) -> None:
    url, original, _ = lifecycle
    drop = {
        "sqlite": "DROP TRIGGER audit_event_no_update",
        "postgresql": "DROP TRIGGER audit_event_append_only ON audit_event",
    }[database.engine.dialect.name]
    with database.engine.begin() as connection:
        connection.execute(text(drop))
        # A result version written behind the services' back: no create event.
        connection.execute(
            text(
                "INSERT INTO result (patient_id, specimen_id, kind, analyte, collected_on, "
                "version, state, value, created_by, created_at) SELECT patient_id, specimen_id, "
                "kind, analyte, collected_on, 9, 'draft', value, 'ghost', created_at "
                "FROM result WHERE id = :id"
            ),
            {"id": original},
        )
    code, out, _ = run(url, "audit", "verify")
    assert code == 1
    assert "FAIL  audit events cannot be changed: the database ACCEPTED it" in out
    assert "v9: no create event" in out
    assert "ok    signed-out results cannot change in place" in out  # other guards still hold


def test_audit_verify_detects_a_missing_sign_out_guard(
    lifecycle: tuple[str, int, int], database: Database
) -> None:
    """Without migration 0005's trigger verified_by is writable again, and the probe says so."""
    url = lifecycle[0]
    drop = {
        "sqlite": "DROP TRIGGER result_sign_out_frozen",
        "postgresql": "DROP TRIGGER result_sign_out_guard ON result",
    }[database.engine.dialect.name]
    with database.engine.begin() as connection:
        connection.execute(text(drop))
    code, out, _ = run(url, "audit", "verify")
    assert code == 1
    assert "FAIL  who signed a result out cannot be changed: the database ACCEPTED it" in out
    assert "ok    signed-out results cannot change in place" in out


@pytest.mark.parametrize(
    ("command", "target"),
    [
        (("patients", "list"), "trephine.api.readers.patient_page"),
        (("audit", "list"), "trephine.services.audit.events"),
        (("audit", "verify"), "trephine.services.audit.trail_checks"),
    ],
)
def test_reading_commands_turn_a_refusal_into_one_line(
    lifecycle: tuple[str, int, int],
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
    target: str,
) -> None:
    """A service refusal while reading is the one-line ``error:`` exit 2, never a traceback."""
    from trephine.errors import NotFound

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise NotFound("patient", "SYN-404")

    monkeypatch.setattr(target, refuse)
    result = runner.invoke(app, [*command, "--database-url", lifecycle[0]])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("error: ") and "SYN-404" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
