"""Every worked case of ``clinical-cases.json`` through the ``trephine criteria evaluate`` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from testdata import DATA
from trephine.cli.main import app

pytestmark = pytest.mark.shared_data

#: Keys the case file declares informative (not compared); ``*_flags`` lists are checked as
#: "every expected flag is raised" because extra review flags are allowed.
INFORMATIVE = {"note", "annotation"}
CASES_PATH = DATA / "spec" / "clinical-cases.json"


def _load_ids() -> list[str]:
    return [c["id"] for c in json.loads(CASES_PATH.read_text(encoding="utf-8"))["cases"]]


def compare(expect: dict[str, Any], got: dict[str, Any]) -> list[str]:
    problems = []
    for key, want in expect.items():
        if key in INFORMATIVE:
            continue
        if key == "flags" or key.endswith("_flags"):
            missing = set(want) - set(got.get(key) or [])
            if missing:
                problems.append(f"{key}: expected flags {sorted(missing)} not raised")
            continue
        if key not in got:
            problems.append(f"{key}: not in output")
            continue
        value = got[key]
        if isinstance(want, Decimal) and isinstance(value, int | float):
            ok = Decimal(str(value)) == want
        else:
            ok = (
                type(value) is type(want) and value == want
                if isinstance(want, bool)
                else (value == want)
            )
        if not ok:
            problems.append(f"{key}: expected {want!r}, got {value!r}")
    return problems


def test_case_file_has_80_cases(clinical_cases: dict[str, Any]) -> None:
    assert len(clinical_cases["cases"]) == 80


@pytest.mark.parametrize("case_id", _load_ids())
def test_case_through_cli(case_id: str, clinical_cases: dict[str, Any], tmp_path: Path) -> None:
    case = next(c for c in clinical_cases["cases"] if c["id"] == case_id)
    path = tmp_path / f"{case_id}.json"
    # Written from a plain (float) parse: json.dumps keeps the shortest repr, so the numbers in
    # the file are exactly those of the case file.
    raw = next(
        c for c in json.loads(CASES_PATH.read_text(encoding="utf-8"))["cases"] if c["id"] == case_id
    )
    path.write_text(json.dumps(raw), encoding="utf-8")
    result = CliRunner().invoke(app, ["criteria", "evaluate", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    (out,) = json.loads(result.stdout, parse_float=Decimal)
    assert out["id"] == case_id
    problems = compare(case["expect"], out)
    assert not problems, f"{case_id} ({case.get('title')}): " + "; ".join(problems)
    # Every output is explained: a rule (or series step) and the software version.
    assert out["explanation"], "no explanation"


def test_whole_file_in_a_subprocess(clinical_cases: dict[str, Any]) -> None:
    """The real entry point, on the file itself (``{"cases": [...]}``), in one process."""
    proc = subprocess.run(
        [sys.executable, "-m", "trephine", "criteria", "evaluate", str(CASES_PATH)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    outputs = json.loads(proc.stdout, parse_float=Decimal)
    assert [o["id"] for o in outputs] == [c["id"] for c in clinical_cases["cases"]]
    failures = {
        c["id"]: p
        for c, o in zip(clinical_cases["cases"], outputs, strict=True)
        if (p := compare(c["expect"], o))
    }
    assert not failures


def test_table_format_lists_every_case(clinical_cases: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["criteria", "evaluate", str(CASES_PATH), "--format", "table"])
    assert result.exit_code == 0, result.output
    for case in clinical_cases["cases"][:5]:
        assert case["id"] in result.stdout
