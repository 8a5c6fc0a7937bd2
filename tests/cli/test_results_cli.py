"""``trephine results``: draft → verified → amended from the command line, on SQLite and PostgreSQL.

Everything goes through the CLI (typer's CliRunner); the database is inspected directly only to
prove that a refused command wrote nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.settings import get_settings
from trephine.store.database import Database

runner = CliRunner()

# Synthetic records: two patients, an aspirate each; a draft flow MRD, a signed-out
# differential (30 blasts of 500 cells) and a signed-out NPM1 variant.
PATIENTS = "patient_id,sex,birth_year\nSYN-01,female,1962\nSYN-02,male,1955\n"
SPECIMENS = (
    "accession,patient_id,type,collected_at\n"
    "S-1,SYN-01,aspirate,2024-03-04T09:30:00+00:00\n"
    "S-2,SYN-02,aspirate,2024-05-06T10:00:00+00:00\n"
)
RESULTS = """accession,kind,item,field,value,unit,lod,lloq,status
S-1,flow_mrd,,mrd,0.35,%,0.01,0.02,draft
S-1,flow_mrd,,method,LAIP,,,,draft
S-1,flow_mrd,,events_acquired,500000,,,,draft
S-1,differential,,blasts,30,,,,verified
S-1,differential,,neutrophils,320,,,,verified
S-1,differential,,erythroblasts,100,,,,verified
S-1,differential,,lymphocytes,50,,,,verified
S-2,ngs_variant,1,gene,NPM1,,,,verified
S-2,ngs_variant,1,hgvs,c.860_863dupTCTG,,,,verified
S-2,ngs_variant,1,vaf,38.5,%,,,verified
S-2,ngs_variant,1,depth,1200,,,,verified
"""


def write_import_set(folder: Path, results: str = RESULTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    (folder / "specimens.csv").write_text(SPECIMENS, encoding="utf-8")
    (folder / "results.csv").write_text(results, encoding="utf-8")
    return folder


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", url])
    return result.exit_code, result.stdout, result.stderr


def ok(url: str, *args: str) -> str:
    code, out, err = run(url, *args)
    assert code == 0, err
    return out


def ids_by_kind(url: str) -> dict[str, int]:
    rows = json.loads(ok(url, "results", "list", "--json"))
    return {r["kind"]: int(r["id"]) for r in rows}


def snapshot(database: Database) -> tuple[list[Any], int]:
    """Every result row as stored, and the number of audit events."""
    with database.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, version, state, value, verified_by, amended_by, amendment_reason, "
                "supersedes_id FROM result ORDER BY id"
            )
        ).all()
        events = connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    return [tuple(r) for r in rows], int(events)


@pytest.fixture
def loaded(database: Database, tmp_path: Path) -> str:
    """A migrated database (SQLite and PostgreSQL) with the synthetic set imported by the CLI."""
    out = ok(database.url, "import", str(write_import_set(tmp_path / "set")), "--actor", "import")
    assert "3 results" in out
    return database.url


def test_draft_verify_amend_keeps_the_original_readable(loaded: str) -> None:
    flow = ids_by_kind(loaded)["flow_mrd"]
    shown = json.loads(ok(loaded, "results", "show", str(flow), "--json"))
    assert shown["result"]["state"] == "draft" and shown["result"]["verified_by"] is None

    out = ok(loaded, "results", "verify", str(flow), "--as", "dr.sign")
    assert f"result {flow} " in out and "signed out by dr.sign" in out

    out = ok(
        loaded,
        "results",
        "amend",
        str(flow),
        "--reason",
        "gating corrected",
        "--set",
        "mrd=<0.01",
        "--lod",
        "mrd=0.005",
        "--as",
        "dr.amend",
    )
    assert f"supersedes result {flow} v1" in out and "amended by dr.amend" in out
    new = json.loads(ok(loaded, "results", "list", "--json", "--kind", "flow_mrd"))
    (current,) = new
    assert current["id"] != str(flow) and current["supersedes"] == str(flow)
    assert (current["state"], current["version"]) == ("amended", 2)
    assert (current["amended_by"], current["amendment_reason"]) == ("dr.amend", "gating corrected")
    assert current["verified_by"] == "dr.amend"  # the amending person signs the correction out
    mrd = current["detail"]["mrd"]
    assert (mrd["qualifier"], mrd["value"], mrd["lod"], mrd["unit"]) == ("<", "0.01", "0.005", "%")
    assert mrd["lloq"] == "0.02"  # not given again: carried over from the amended version
    # Fields not touched by --set are carried over.
    assert current["detail"]["events_acquired"] == 500000 and current["detail"]["method"] == "LAIP"

    # The original is still readable, unchanged in content, and marked superseded.
    old = json.loads(ok(loaded, "results", "show", str(flow), "--json"))
    assert old["result"]["state"] == "superseded"
    assert old["result"]["detail"]["mrd"]["value"] == "0.35"
    assert old["result"]["verified_by"] == "dr.sign"
    assert [v["version"] for v in old["versions"]] == [1, 2]
    assert [(e["action"], e["actor"]) for e in old["audit"]] == [
        ("create", "import"),
        ("verify", "dr.sign"),
        ("amend", "dr.amend"),
    ]
    assert old["audit"][-1]["detail"]["reason"] == "gating corrected"

    text_out = ok(loaded, "results", "show", str(current["id"]))
    assert "state: amended (version 2 of 2, current)" in text_out
    assert "mrd: <0.01 % (LOD 0.005 %, LLOQ 0.02 %)" in text_out
    assert "mrd: 0.35 % (LOD 0.01 %, LLOQ 0.02 %)" in text_out  # v1 shown in the history
    assert "amended by dr.amend" in text_out and "reason: gating corrected" in text_out
    assert f"supersedes result {flow}" in text_out

    # Listing: current versions by default; the superseded one on request.
    default = json.loads(ok(loaded, "results", "list", "--json"))
    assert str(flow) not in [r["id"] for r in default] and current["id"] in [
        r["id"] for r in default
    ]
    superseded = json.loads(ok(loaded, "results", "list", "--json", "--state", "superseded"))
    assert [r["id"] for r in superseded] == [str(flow)]

    # The superseded version is refused by the lifecycle, pointing at the current one.
    code, _, err = run(loaded, "results", "amend", str(flow), "--reason", "x", "--set", "mrd=1")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "cannot go from 'superseded'" in err
    assert f"amend the current version, result {current['id']} (v2, amended)" in err
    # An amended version can be amended again; the chain grows, nothing is overwritten.
    ok(loaded, "results", "amend", str(current["id"]), "--reason", "typo", "--set", "mrd=0.02")
    history = json.loads(ok(loaded, "results", "show", str(flow), "--json"))["versions"]
    assert [(v["version"], v["state"]) for v in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "amended"),
    ]


def test_refusals_exit_2_with_one_line_and_write_nothing(loaded: str, database: Database) -> None:
    ids = ids_by_kind(loaded)
    draft, diff, ngs = ids["flow_mrd"], ids["differential"], ids["ngs_variant"]
    before = snapshot(database)
    cases: list[tuple[list[str], list[str]]] = [
        (["results", "show", "999"], ["result 999 not found"]),
        (["results", "verify", "999"], ["result 999 not found"]),
        (["results", "amend", "999", "--reason", "x", "--set", "mrd=1"], ["not found"]),
        # No reason, or a blank one.
        (["results", "amend", str(diff), "--set", "blasts=31"], ["--reason is required"]),
        (["results", "amend", str(diff), "--reason", "  ", "--set", "blasts=31"], ["--reason"]),
        (["results", "amend", str(diff), "--reason", "x"], ["give at least one --set"]),
        # Amending a draft is the lifecycle's call (drafts are edited, not amended).
        (
            ["results", "amend", str(draft), "--reason", "x", "--set", "mrd=0.2"],
            ["cannot go from 'draft'", "amend is allowed only from amended, verified"],
        ),
        (
            ["results", "verify", str(diff)],
            ["cannot go from 'verified'", "only a draft can be signed out"],
        ),
        # Bad values: the field, the value and what is allowed.
        (
            ["results", "amend", str(draft), "--reason", "x", "--set", "method=XYZ"],
            ["cannot go from 'draft'"],  # still the lifecycle first, whatever the value
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "vaf=abc", "--unit", "vaf=%"],
            ["error: --set vaf=abc: vaf: 'abc' is not allowed", "a number, optionally prefixed"],
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "vaf=140", "--unit", "vaf=%"],
            ["vaf", "140", "0–100 %"],
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "vaf=0.4"],
            ["unit", "allowed: %"],  # as at import: VAF needs its unit (percent vs fraction)
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "vaf=4", "--unit", "vaf=mg"],
            ["vaf unit: 'mg' is not allowed", "allowed: %"],
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "depth=-3"],
            ["depth: '-3' is not allowed", "0–10000000000"],
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "colour=red"],
            ["field: 'colour' is not allowed", "not a field of ngs_variant", "depth, gene"],
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "gene=FLT3"],
            ["analyte", "record a new result instead"],
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "depth=1200"],
            ["value: 'unchanged'"],
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "depth=9", "--lod", "depth=1"],
            ["--lod", "depth has no unit"],
        ),
        (
            ["results", "amend", str(ngs), "--reason", "x", "--set", "depth"],
            ["--set: 'depth' is not allowed; allowed: FIELD=VALUE"],
        ),
        # The domain re-checks the whole value: 31 blasts no longer add up to 500 cells.
        (
            ["results", "amend", str(diff), "--reason", "x", "--set", "blasts=31"],
            ["cells_counted: 500 is not allowed", "the sum of the class counts (501)"],
        ),
        (["results", "cancel", str(diff), "--reason", "x"], ["cannot go from 'verified'"]),
        (["results", "list", "--state", "final"], ["--state: 'final'", "draft, verified"]),
        (["results", "list", "--kind", "pet"], ["--kind: 'pet'", "flow_mrd"]),
        (["results", "list", "--patient", "NOBODY"], ["patient 'NOBODY' not found"]),
    ]
    for args, expected in cases:
        code, out, err = run(loaded, *args)
        assert code == 2, (args, out, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (args, err)
        assert err.startswith("error: "), (args, err)
        for fragment in expected:
            assert fragment in err, (args, fragment, err)
    assert snapshot(database) == before


def test_amend_converts_units_and_reads_qualifiers_as_the_importer_does(loaded: str) -> None:
    ids = ids_by_kind(loaded)
    ok(loaded, "results", "verify", str(ids["flow_mrd"]))
    # A VAF given as a fraction is converted to percent, exactly as an import row would be.
    ok(
        loaded,
        *("results", "amend", str(ids["ngs_variant"]), "--reason", "re-called"),
        *("--set", "vaf=0.402", "--unit", "vaf=1", "--set", "depth=1500"),
    )
    (ngs,) = json.loads(ok(loaded, "results", "list", "--json", "--kind", "ngs_variant"))
    # 0.402 × 100 keeps the three reported decimals: 40.200 %.
    assert Decimal(ngs["detail"]["vaf"]["value"]) == Decimal("40.2")
    assert ngs["detail"]["vaf"]["unit"] == "%" and ngs["detail"]["depth"] == 1500
    assert ngs["detail"]["gene"] == "NPM1"  # identity carried over
    # "not detected" with a detection limit: no number, a qualifier, the LOD kept.
    ok(
        loaded,
        *("results", "amend", str(ids["flow_mrd"]), "--reason", "negative on review"),
        *("--set", "mrd=not detected", "--lod", "mrd=0.002", "--set", "panel=8-colour"),
    )
    (flow,) = json.loads(ok(loaded, "results", "list", "--json", "--kind", "flow_mrd"))
    mrd = flow["detail"]["mrd"]
    assert (mrd["value"], mrd["qualifier"], mrd["lod"]) == (None, "not detected", "0.002")
    assert mrd["lloq"] == "0.02"  # the assay's LLOQ is not lost by correcting the number
    assert flow["detail"]["panel"] == "8-colour" and flow["detail"]["method"] == "LAIP"
    out = ok(loaded, "results", "show", str(flow["id"]))
    assert "mrd: not detected (LOD 0.002 %, LLOQ 0.02 %)" in out
    # A carried-over limit is still checked against the new one; an empty --lloq removes it.
    code, _, err = run(
        loaded,
        *("results", "amend", str(flow["id"]), "--reason", "x"),
        *("--set", "mrd=0.5", "--lod", "mrd=0.05"),
    )
    assert (
        code == 2
        and "mrd lod: '0.05' is not allowed (LOD cannot exceed LLOQ" in err
        and "--lod/--lloq" in err
    )
    ok(
        loaded,
        *("results", "amend", str(flow["id"]), "--reason", "LLOQ not validated"),
        *("--set", "mrd=0.5", "--lod", "mrd=0.05", "--lloq", "mrd="),
    )
    (flow,) = json.loads(ok(loaded, "results", "list", "--json", "--kind", "flow_mrd"))
    assert (flow["detail"]["mrd"]["lod"], flow["detail"]["mrd"]["lloq"]) == ("0.05", None)


def test_differential_amendment_recounts_consistently(loaded: str) -> None:
    diff = ids_by_kind(loaded)["differential"]
    ok(
        loaded,
        *("results", "amend", str(diff), "--reason", "recount"),
        *("--set", "blasts=60", "--set", "neutrophils=290"),
    )
    (new,) = json.loads(ok(loaded, "results", "list", "--json", "--kind", "differential"))
    assert new["detail"]["counts"]["blasts"] == 60 and new["detail"]["cells_counted"] == 500
    assert new["value"]["display"] == "12 %"
    out = ok(loaded, "results", "show", str(new["id"]))
    assert "blast percent (derived): 12.0 %" in out


def test_the_acting_user_defaults_to_the_configured_cli_user(
    loaded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = ids_by_kind(loaded)["flow_mrd"]
    monkeypatch.setenv("TREPHINE_CLI_USER", "dr.default")
    get_settings.cache_clear()
    ok(loaded, "results", "verify", str(flow))
    shown = json.loads(ok(loaded, "results", "show", str(flow), "--json"))
    assert shown["result"]["verified_by"] == "dr.default"
    assert shown["audit"][-1]["actor"] == "dr.default"
    code, _, err = run(loaded, "results", "cancel", str(flow), "--reason", "x", "--as", " ")
    assert code == 2 and "--as" in err


def test_a_signed_out_result_is_not_changed_in_place_by_a_reimport(
    loaded: str, database: Database, tmp_path: Path
) -> None:
    before = snapshot(database)
    changed = RESULTS.replace("S-1,differential,,blasts,30", "S-1,differential,,blasts,31")
    changed = changed.replace("neutrophils,320", "neutrophils,319")
    code, _, err = run(loaded, "import", str(write_import_set(tmp_path / "again", changed)))
    assert code == 2 and "record an amendment instead" in err
    assert snapshot(database) == before


def test_cancel_a_draft_keeps_it_listed_as_cancelled(loaded: str) -> None:
    flow = ids_by_kind(loaded)["flow_mrd"]
    out = ok(loaded, "results", "cancel", str(flow), "--reason", "wrong tube", "--as", "tech")
    assert "cancelled by tech: wrong tube" in out
    assert "flow_mrd" not in ids_by_kind(loaded)
    (row,) = json.loads(ok(loaded, "results", "list", "--json", "--state", "cancelled"))
    assert row["id"] == str(flow) and row["state"] == "cancelled"
    code, _, err = run(loaded, "results", "verify", str(flow))
    assert code == 2 and "cannot go from 'cancelled'" in err


def test_list_filters_and_text_table(loaded: str) -> None:
    rows = json.loads(ok(loaded, "results", "list", "--json", "--patient", "SYN-02"))
    assert [(r["patient"], r["kind"]) for r in rows] == [("SYN-02", "ngs_variant")]
    drafts = json.loads(ok(loaded, "results", "list", "--json", "--state", "draft"))
    assert [r["kind"] for r in drafts] == ["flow_mrd"]
    # --ids: the same selection, one id per line, nothing else (for id=$(...) in scripts)
    ids = ok(loaded, "results", "list", "--state", "draft", "--patient", "SYN-01", "--ids")
    assert ids.splitlines() == [str(r["id"]) for r in drafts]
    everything = json.loads(ok(loaded, "results", "list", "--json"))
    assert ok(loaded, "results", "list", "--ids").split() == [str(r["id"]) for r in everything]
    out = ok(loaded, "results", "list")
    assert "3 result(s)" in out and "0.35 % (LOD 0.01 %, LLOQ 0.02 %)" in out
    # The table names each kind as the pages do (domain/result_kinds); --json keeps the code.
    assert "NGS variant NPM1 c.860_863dupTCTG" in out and "Flow cytometry MRD LAIP" in out
    assert "ngs_variant" not in out and "flow_mrd" not in out


def test_the_list_names_the_number_it_shows(tmp_path: Path) -> None:
    """README's tour: 'results list --state draft' showed EX-001's day-32 blood count as
    'blood_count  1.6 10^9/L' without saying that 1.6 is the ANC."""
    from testdata import REPO_ROOT

    url = f"sqlite:///{tmp_path / 'tour.db'}"
    ok(url, "init")
    ok(url, "import", str(REPO_ROOT / "docs" / "templates" / "example"))
    out = ok(url, "results", "list", "--patient", "EX-001")
    assert "ANC 1.6 10^9/L" in out and "blasts 62 %" in out and "cellularity 90 %" in out


def test_reading_an_uninitialised_database_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    code, _, err = run(url, "results", "list")
    assert code == 2 and "does not exist; run `trephine init`" in err
    assert not (tmp_path / "missing.db").exists()


def test_a_concurrent_amendment_loses_cleanly(
    loaded: str, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trephine.services import results as service

    ngs = ids_by_kind(loaded)["ngs_variant"]
    real_next_state = service.next_state
    raced: list[bool] = []

    def racing(entity: str, current: Any, action: Any) -> Any:
        # Between the service reading the signed-out row and writing the new version, another
        # user amends the same version and commits first, in their own transaction.
        if not raced:
            raced.append(True)
            with database.unit_of_work("dr.fast") as other:
                old = service.get_result(other, ngs)
                fixed = replace(old.value, depth=1300)
                service.amend_result(other, ngs, fixed, "their correction")
        return real_next_state(entity, current, action)

    monkeypatch.setattr(service, "next_state", racing)
    code, _, err = run(loaded, "results", "amend", str(ngs), "--reason", "mine", "--set", "depth=9")
    assert code == 1, err
    assert f"result {ngs} was changed by someone else at the same time" in err
    assert "nothing was written" in err and "Traceback" not in err
    monkeypatch.undo()
    history = json.loads(ok(loaded, "results", "show", str(ngs), "--json"))
    assert [(v["state"], v["amended_by"]) for v in history["versions"]] == [
        ("superseded", None),
        ("amended", "dr.fast"),
    ]
    assert [e["detail"].get("reason") for e in history["audit"] if e["action"] == "amend"] == [
        "their correction"
    ]


def test_every_command_is_documented_and_every_documented_command_exists() -> None:
    import re

    from trephine.cli.results import audit_app, results_app

    doc = (Path(__file__).resolve().parents[2] / "docs" / "results-lifecycle.md").read_text(
        encoding="utf-8"
    )
    registered = {
        f"trephine {group} {command.name}"
        for group, typer_app in (("results", results_app), ("audit", audit_app))
        for command in typer_app.registered_commands
    }
    documented = set(re.findall(r"trephine (?:results|audit) [a-z]+", doc))
    assert documented == registered
    for line in sorted(registered):
        result = runner.invoke(app, [*line.split()[1:], "--help"])
        assert result.exit_code == 0, line
