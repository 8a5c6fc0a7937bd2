"""The example file of the user guide runs and says what the guide says."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trephine.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "criteria" / "examples" / "cases.json"


def test_tour_examples() -> None:
    result = CliRunner().invoke(app, ["criteria", "evaluate", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    out = {case["id"]: case for case in json.loads(result.stdout)}
    assert out["EX-1"]["response"] == "CRh_MRD-"
    assert "MRD_DETECTABLE_BELOW_THRESHOLD" in out["EX-1"]["flags"]
    assert out["EX-2"]["response"] == "PR"  # serum −62.5 %, urine < 200 mg/24 h
    assert out["EX-3"]["WHO5"] == "AML with NPM1 mutation"
    assert out["EX-3"]["ICC2022"] == "AML with mutated NPM1"
    # Neither cells counted nor biopsy cellularity: adequacy cannot be decided → not a guess.
    assert out["EX-4"]["response"] == "NON_EVALUABLE"
    assert out["EX-4"]["explanation"]["response"]["missing"] == [
        "biopsy_cellularity_pct",
        "cells_counted",
    ]
