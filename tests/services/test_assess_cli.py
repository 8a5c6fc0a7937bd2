"""``trephine assess`` / ``trephine alerts`` on both databases (in process)."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assess_case import biopsy, cll_marrow_and_blood_mrd, marrow_items, seed_aml_patient
from trephine.cli.main import app
from trephine.present.explain import category_label
from trephine.present.numbers import format_value
from trephine.store.database import Database


@pytest.fixture
def url(database: Database) -> str:
    seed_aml_patient(database)
    biopsy(database, 150, 3, marrow_items(40))  # 8 % blasts after CR: relapse
    return database.engine.url.render_as_string(hide_password=False)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_assess_json_then_rerun_adds_nothing(url: str) -> None:
    code, out = invoke("assess", "P1", "--json", "--database-url", url)
    assert code == 0, out
    data = json.loads(out)
    assert data["ruleset"] == "ELN2022+ELN2021" and data["baseline_bm_blasts_pct"] == "62"
    assert data["new_assessments"] == len(data["assessments"]) > 0
    response = next(a for a in data["assessments"] if a["call"] == "response")
    assert {"category", "rule", "evidence", "missing", "edition", "software_version"} <= set(
        response
    )
    assert [a["code"] for a in data["alerts"]] == ["HEMATOLOGIC_RELAPSE"]
    code, out = invoke("assess", "P1", "--json", "--database-url", url)
    again = json.loads(out)
    assert again["new_assessments"] == 0 and again["new_alerts"] == 0


def test_alerts_list_and_acknowledge(url: str) -> None:
    assert invoke("assess", "--all", "--database-url", url)[0] == 0
    code, out = invoke("alerts", "list", "--json", "--database-url", url)
    listed = json.loads(out)  # the shape of GET /api/v1/alerts
    assert listed["status"] == "open"
    (alert,) = listed["items"]
    assert alert["code"] == "HEMATOLOGIC_RELAPSE" and alert["acknowledged_by"] is None
    assert invoke("alerts", "list", "--ids", "--database-url", url)[1].split() == [str(alert["id"])]
    code, out = invoke(
        "alerts",
        "ack",
        str(alert["id"]),
        "--note",
        "seen",
        "--actor",
        "dr.a",
        "--database-url",
        url,
    )
    assert code == 0 and "acknowledged by dr.a" in out
    code, out = invoke("alerts", "list", "--json", "--database-url", url)
    assert json.loads(out)["items"] == []
    code, out = invoke(
        "alerts", "list", "--status", "acknowledged", "--json", "--database-url", url
    )
    assert [a["acknowledged_by"] for a in json.loads(out)["items"]] == ["dr.a"]
    code, out = invoke("alerts", "list", "--all", "--database-url", url)
    assert "(acknowledged by dr.a)" in out
    code, out = invoke("alerts", "list", "--status", "closed", "--database-url", url)
    assert code == 2 and "status: 'closed' is not allowed" in out
    code, out = invoke("alerts", "ack", str(alert["id"]), "--database-url", url)
    assert code == 2 and f"alert {alert['id']} was already acknowledged by 'dr.a' at " in out
    # The same person acknowledging twice: said plainly, not "recorded with 'cli', not 'cli'".
    code, out = invoke("alerts", "ack", str(alert["id"]), "--actor", "dr.a", "--database-url", url)
    assert code == 2 and "already acknowledged by 'dr.a'" in out and "not 'dr.a'" not in out


def test_the_table_and_the_alert_list_say_calls_and_alerts_in_words(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader's table: each category and each alert in the pages' words, no code; ``--json``
    (the contract for scripts) keeps the codes."""
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line, no wrapping
    code, out = invoke("assess", "P1", "--json", "--database-url", url)
    data = json.loads(out)
    categories = [a["category"] for a in data["assessments"]]
    assert {"HEMATOLOGIC_RELAPSE", "CR_MRD-"} <= set(categories)
    assert [a["code"] for a in data["alerts"]] == ["HEMATOLOGIC_RELAPSE"]
    code, table = invoke("assess", "P1", "--database-url", url)
    assert code == 0, table
    rows = [
        tuple(cell.strip() for cell in line.split("│")[1:4])
        for line in table.splitlines()
        if line.startswith("│ 2025")
    ]
    assert [category for _, _, category in rows] == [category_label(c) for c in categories]
    assert ("2025-06-05", "Relapse", "Haematologic relapse") in rows
    assert ("2025-02-05", "Response", "CR MRD-") in rows
    assert (
        "ALERT 2025-06-05 Haematologic relapse: haematologic relapse after CR (ELN22-REL-BM) (open)"
        in table
    )
    # The superseded response's worded item reads as the page words it, not as codes.
    assert "Not current: haematologic relapse was called on this marrow (ELN22-REL-BM)" in table
    for code_only in ("HEMATOLOGIC_RELAPSE", "CR_MRD-", "SUPERSEDED"):
        assert code_only not in table
    code, listed = invoke("alerts", "list", "--database-url", url)
    assert code == 0 and "HEMATOLOGIC_RELAPSE" not in listed
    (alert_id,) = invoke("alerts", "list", "--ids", "--database-url", url)[1].split()
    assert (
        f"#{alert_id} 2025-06-05 P1 Haematologic relapse: haematologic relapse after CR "
        "(ELN22-REL-BM) (open)"
    ) in listed


def test_the_table_names_the_sample_of_each_mrd_call_of_a_day(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A marrow and a blood MRD result of one date: two rows, each naming its sample under the
    call; ``--json`` has the same in ``sample``."""
    monkeypatch.setenv("COLUMNS", "400")
    cll_marrow_and_blood_mrd(database)
    url = database.engine.url.render_as_string(hide_password=False)
    code, table = invoke("assess", "P1", "--database-url", url)
    assert code == 0, table
    lines = table.splitlines()
    calls = [
        (line.split("│")[2].strip(), below.split("│")[2].strip(), line.split("│")[3].strip())
        for line, below in itertools.pairwise(lines)
        if line.startswith("│ 2025") and line.split("│")[2].strip() == "MRD"
    ]
    assert calls == [
        ("MRD", "bone marrow", "Undetectable MRD4"),
        ("MRD", "peripheral blood", "MRD positive"),
    ]
    # The call's kind in words too (assess/call_kinds), not its code.
    kinds = {line.split("│")[2].strip() for line in lines if line.startswith("│ 2025")}
    assert kinds == {"MRD"}  # both rows of the day name the kind in words
    assert "sample" not in table  # said under the call, not again as an evidence item
    code, out = invoke("assess", "P1", "--json", "--database-url", url)
    assert [(a["sample"], a["category"]) for a in json.loads(out)["assessments"]] == [
        ("bone marrow", "UNDETECTABLE_MRD4"),
        ("peripheral blood", "MRD_POSITIVE"),
    ]


def test_bad_input_is_one_line_exit_2(url: str) -> None:
    code, out = invoke("assess", "NOPE", "--database-url", url)
    assert code == 2 and "patient 'NOPE' not found" in out
    code, out = invoke("assess", "P1", "--ruleset", "RECIST", "--database-url", url)
    assert code == 2 and "--ruleset" in out and "ELN2022" in out
    code, out = invoke("assess", "--database-url", url)
    assert code == 2 and "--all" in out


def test_an_old_schema_is_refused_with_a_hint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    db.upgrade("0002")
    db.dispose()
    code, out = invoke("assess", "--all", "--database-url", url)
    assert code == 2 and "revision 0002" in out and "trephine init" in out


def test_table_rounds_evidence_that_json_keeps_exact(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line, no wrapping
    code, out = invoke("assess", "P1", "--json", "--database-url", url)
    values = [
        str(e["value"])
        for a in json.loads(out)["assessments"]
        for e in a["evidence"]
        if _long_number(e.get("value"))
    ]
    assert values, "the seeded case has a long exact value (a blast reduction %)"
    code, table = invoke("assess", "P1", "--database-url", url)
    assert code == 0, table
    for exact in values:
        assert exact not in table
        assert format_value(exact) in table


def _long_number(value: object) -> bool:
    try:
        return len(Decimal(str(value)).as_tuple().digits) > 6
    except InvalidOperation:
        return False
