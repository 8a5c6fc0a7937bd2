"""Bad input is refused with a message naming the field and what is allowed (CLI: exit 2)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.criteria.cases import evaluate_case
from trephine.errors import ValidationError

from .helpers import aml


def _eval(input_: dict[str, Any], ruleset: str = "ELN2022") -> dict[str, Any]:
    return evaluate_case({"id": "v", "ruleset": ruleset, "input": input_})


@pytest.mark.parametrize(
    ("ruleset", "input_", "field", "allowed"),
    [
        ("ELN2022", aml(bm_blasts_pct=140), "bm_blasts_pct", "<= 100"),
        ("ELN2022", aml(anc=-1), "anc", ">= 0"),
        ("ELN2022", aml(cells_counted=-5), "cells_counted", ">= 0"),
        ("ELN2022", aml(blasts=3), "blasts", "bm_blasts_pct"),
        ("ELN2022", aml(spicules_present="yes"), "spicules_present", "true, false"),
        ("ELN2022", aml(anc="lots"), "anc", "a number"),
        ("ELN2022", aml(anc={"value": 1500, "unit": "cells/L"}), "anc.unit", "x10^9/L"),
        ("ELN2022", aml(disease="AMLX"), "disease", "AML"),
        ("ELN2022+ELN2021", aml(mrd={"method": "FISH"}), "mrd.method", "MFC"),
        (
            "ELN2022+ELN2021",
            aml(mrd={"method": "MFC", "pct": 140, "cd45_events": 1}),
            "mrd.pct",
            "<= 100",
        ),
        ("IMWG2016", {"serum_ife": "maybe"}, "serum_ife", "negative, positive"),
        ("IWG2006", {"baseline_hb": 8, "hb": 40, "duration_weeks": 8}, "hb", "<= 25"),
        (
            "WHO5",
            {"bm_blasts_pct": 5, "pb_blasts_pct": 0, "genetics": ["NPM9"]},
            "genetics[0]",
            "NPM1",
        ),
        ("Chimerism", {"donor_pct": 101}, "donor_pct", "<= 100"),
        ("iwCLL2018", {"leukocytes_analysed": -3, "cll_events": 0}, "leukocytes_analysed", ">= 0"),
    ],
)
def test_refused_with_field_and_allowed(
    ruleset: str, input_: dict[str, Any], field: str, allowed: str
) -> None:
    with pytest.raises(ValidationError) as info:
        _eval(input_, ruleset)
    assert info.value.field.endswith(field)
    assert allowed in str(info.value)


def test_unit_conversion_at_ingestion() -> None:
    # 1500 /µL is 1.5 ×10^9/L; haemoglobin in g/L is converted to g/dL (G1).
    out = _eval(aml(anc={"value": 1500, "unit": "/uL"}))
    assert out["response"] == "CR"
    out = _eval(aml(anc={"value": 990, "unit": "/uL"}))
    assert out["response"] == "CRh"


def test_unknown_ruleset_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="unknown ruleset") as info:
        evaluate_case({"id": "v", "ruleset": "ELN2099", "input": {}})
    assert "ELN2022" in str(info.value)


def test_comparison_rulesets_need_known_sides() -> None:
    with pytest.raises(ValidationError):
        evaluate_case({"id": "v", "ruleset": "ELN2022 vs ELN1999", "input": aml()})


def _run(tmp_path: Path, payload: Any) -> Any:
    path = tmp_path / "cases.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return CliRunner().invoke(app, ["criteria", "evaluate", str(path)]), path


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"id": "a", "ruleset": "ELN2022", "input": aml(bm_blasts_pct=140)}, "bm_blasts_pct"),
        ({"id": "a", "ruleset": "NOPE", "input": {}}, "unknown ruleset"),
        (
            [
                {"id": "a", "ruleset": "ELN2022", "input": aml()},
                {"id": "b", "ruleset": "ELN2022", "input": aml(plt=-1)},
            ],
            "cases[1] 'b'.input.plt",
        ),
        ('{"id": "a", "ruleset": ', "not valid JSON"),
    ],
)
def test_cli_refuses_with_exit_2_and_one_line(tmp_path: Path, payload: Any, needle: str) -> None:
    result, path = _run(tmp_path, payload)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert str(path) in lines[0]
    assert "Traceback" not in result.output


def test_cli_missing_file_and_bad_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["criteria", "evaluate", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr
    ok, path = _run(tmp_path, {"id": "a", "ruleset": "ELN2022", "input": aml()})
    assert ok.exit_code == 0
    bad = CliRunner().invoke(app, ["criteria", "evaluate", str(path), "--format", "xml"])
    assert bad.exit_code == 2
    assert "json, table" in bad.stderr


def test_cli_single_case_list_and_wrapped_forms(tmp_path: Path) -> None:
    case = {"id": "a", "ruleset": "ELN2022", "input": aml()}
    for payload in (case, [case], {"cases": [case]}):
        result, _ = _run(tmp_path, payload)
        assert result.exit_code == 0, result.output
        (out,) = json.loads(result.stdout)
        assert out["response"] == "CR"
        assert out["explanation"]["response"]["rule"] == "ELN22-CR"


def test_cli_list_and_show() -> None:
    listed = CliRunner().invoke(app, ["criteria", "list"])
    assert listed.exit_code == 0
    assert "IMWG2016" in listed.stdout and "WHO5" in listed.stdout
    shown = CliRunner().invoke(app, ["criteria", "show", "ELN2022"])
    assert shown.exit_code == 0
    assert "ELN22-CRh" in shown.stdout and "anc >= 0.5" in shown.stdout
    assert "cri_mode" in shown.stdout
    bad = CliRunner().invoke(app, ["criteria", "show", "XYZ"])
    assert bad.exit_code == 2
    assert "unknown ruleset" in bad.stderr


def test_json_numbers_are_decimal_not_float(tmp_path: Path) -> None:
    # 0.1 + 0.2 style float error would move this exactly-50 % reduction below 50 %.
    case = {
        "id": "a",
        "ruleset": "ELN2022",
        "input": aml(bm_blasts_pct=Decimal("0.3") * 50, baseline_bm_blasts_pct=30),
    }
    text = json.dumps(case, default=str).replace('"15.0"', "15.0")
    result, _ = _run(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["response"] == "PR"


def test_empty_mrd_list_is_refused() -> None:
    with pytest.raises(ValidationError, match="non-empty list"):
        _eval(aml(mrd=[]), "ELN2022+ELN2021")
