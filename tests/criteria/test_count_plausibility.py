"""Blood counts given per µL without their unit are refused, not read as x10^9/L.

Found in the acceptance audit: ``"anc": 2000`` (a count per µL typed without its unit) was taken
as 2000 x10^9/L and met every recovery threshold (CR). The stored blood count already bounds
ANC at 500 and platelets at 5000 x10^9/L; the criteria inputs now use the same ceilings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app

MARROW: dict[str, Any] = {
    "disease": "AML",
    "bm_blasts_pct": 3,
    "anc": 2.0,
    "plt": 150,
    "circulating_blasts": False,
    "extramedullary": False,
    "spicules_present": True,
    "cells_counted": 500,
}


def _evaluate(tmp_path: Path, ruleset: str, **changes: Any) -> tuple[int, str]:
    case = {"id": "c1", "ruleset": ruleset, "input": {**MARROW, **changes}}
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    res = CliRunner().invoke(app, ["criteria", "evaluate", str(path), "--format", "json"])
    return res.exit_code, res.output


@pytest.mark.parametrize("ruleset", ["ELN2022", "ELN2017", "IWG2003"])
@pytest.mark.parametrize(
    ("field", "per_ul", "ceiling"), [("anc", 2000, "<= 500"), ("plt", 150000, "<= 5000")]
)
def test_a_count_per_microlitre_without_unit_is_refused(
    tmp_path: Path, ruleset: str, field: str, per_ul: int, ceiling: str
) -> None:
    code, out = _evaluate(tmp_path, ruleset, **{field: per_ul})
    assert code == 2, out
    assert f"input.{field}: {per_ul} is not allowed" in out and ceiling in out, out


def test_the_same_count_with_its_unit_is_converted(tmp_path: Path) -> None:
    code, out = _evaluate(tmp_path, "ELN2022", anc={"value": 2000, "unit": "/uL"})
    assert code == 0, out
    assert json.loads(out)[0]["response"] == "CR"


def test_the_ceiling_itself_is_accepted(tmp_path: Path) -> None:
    code, out = _evaluate(tmp_path, "ELN2022", anc=500, plt=5000)
    assert code == 0, out
