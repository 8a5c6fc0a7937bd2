"""``trephine procedures``: plan, checklist with its decision, consent, done, report — and the
refusals, all through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.settings import get_settings
from trephine.store.database import Database

runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_settings() -> None:
    get_settings.cache_clear()


def run(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--database-url", url])
    return result.exit_code, result.output


def test_plan_checklist_consent_done_and_report(clinic: Database) -> None:
    url = clinic.url
    code, out = run(
        url, "procedures", "plan", "P001", "--at", "2026-12-03T09:00",
        "--indication", "Suspected leukaemia", "--operator", "dr.lee", "--quiet", "--as", "dr.lee",
    )  # fmt: skip
    assert code == 0, out
    plan = out.strip()
    code, out = run(
        url, "procedures", "checklist", plan, "--medication", "apixaban@2026-12-02T20:00",
        "--platelets", "18", "--as", "dr.lee",
    )  # fmt: skip
    assert code == 0, out
    assert "REVIEW_REQUIRED" in out and "Platelets 18" in out and "apixaban" in out
    code, out = run(url, "procedures", "done", plan, "--at", "2026-12-03T09:10", "--as", "dr.lee")
    assert code == 2 and "without consent" in out
    code, out = run(
        url, "procedures", "consent", plan, "--taken-by", "dr.lee", "--at", "2026-12-03T08:30",
        "--leaflet", "2026-1", "--risk", "pain", "--risk", "infection", "--as", "dr.lee",
    )  # fmt: skip
    assert code == 0, out
    code, out = run(
        url, "procedures", "done", plan, "--at", "2026-12-03T09:10", "--needle", "Jamshidi 11G",
        "--as", "dr.lee",
    )  # fmt: skip
    assert code == 0 and "done" in out, out
    code, out = run(url, "procedures", "show", plan, "--json")
    shown = json.loads(out)
    assert (
        shown["status"] == "done" and shown["checklist"]["safety"]["decision"] == "REVIEW_REQUIRED"
    )
    assert [r["code"] for r in shown["checklist"]["safety"]["reasons"]] == [
        "PLATELETS_LOW",
        "ANTICOAGULANT",
    ]
    procedure = str(shown["procedure_id"])
    code, out = run(
        url, "procedures", "complication", procedure, "--kind", "hematoma", "--severity", "mild",
        "--onset", "2026-12-03T12:00", "--outcome", "resolved", "--as", "dr.lee",
    )  # fmt: skip
    assert code == 0 and "(bleeding)" in out, out
    code, out = run(url, "procedures", "report", "--by", "needle", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["groups"][0]["group"] == "Jamshidi 11G"
    assert report["overall"]["complication_rate"]["x"] == 1
    code, out = run(url, "procedures", "report")
    assert "1/1 = 100 %" in out and "Bain" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--indication", "biopsy"], "--indication: 'biopsy' is not allowed; allowed: diagnosis"),
        (["--indication", "MRD", "--site", "skull"], "--site: 'skull' is not allowed"),
    ],
)
def test_plan_refuses_unknown_choices(clinic: Database, args: list[str], message: str) -> None:
    code, out = run(clinic.url, "procedures", "plan", "P001", "--at", "2026-12-03T09:00", *args)
    assert code == 2 and message in out


def test_checklist_refusals_name_the_field(clinic: Database, tmp_path: Path) -> None:
    code, out = run(
        clinic.url, "procedures", "plan", "P001", "--at", "2026-12-03", "--indication", "MRD",
        "--quiet",
    )  # fmt: skip
    plan = out.strip()
    for args, message in [
        (["--medication", "metformin"], "not a known antithrombotic"),
        (["--medication", "warfarin:other"], "warfarin is an anticoagulant"),
        (["--platelets", "lots"], "--platelets: 'lots' is not allowed; allowed: a number"),
        (["--sedation", "general"], "escort: a value is required"),
        (["--fasting", "maybe"], "allowed: eat as usual, light meal, fast"),
    ]:
        code, out = run(clinic.url, "procedures", "checklist", plan, *args)
        assert code == 2 and message in out, (args, out)
    code, out = run(clinic.url, "procedures", "report", "--by", "surgeon")
    assert code == 2 and "operator, site, needle, period" in out
