"""``trephine flow info``: the JSON contract, the table, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.io.fcs import Spillover, write_fcs

runner = CliRunner()


@pytest.fixture
def small_fcs(tmp_path: Path) -> Path:
    path = tmp_path / "tube.fcs"
    data = np.arange(30, dtype=np.float32).reshape(10, 3)
    write_fcs(
        path,
        data,
        ["FSC-A", "PE-A", "APC-A"],
        markers=[None, "CD34", "CD117"],
        spillover=Spillover(["PE-A", "APC-A"], np.array([[1.0, 0.25], [0.01, 1.0]])),
    )
    return path


def test_info_json_contract(small_fcs: Path) -> None:
    result = runner.invoke(app, ["flow", "info", str(small_fcs), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["version"] == "FCS3.1"
    assert doc["events"] == 10
    assert doc["datasets"] == 1
    assert [(c["name"], c["marker"]) for c in doc["channels"]] == [
        ("FSC-A", None),
        ("PE-A", "CD34"),
        ("APC-A", "CD117"),
    ]
    assert doc["spillover"] == {"channels": ["PE-A", "APC-A"], "matrix": [[1.0, 0.25], [0.01, 1.0]]}


def test_info_table(small_fcs: Path) -> None:
    result = runner.invoke(app, ["flow", "info", str(small_fcs)])
    assert result.exit_code == 0
    for text in ("FCS3.1", "CD34", "CD117", "APC-A", "0.2500", "10 events"):
        assert text in result.stdout


@pytest.mark.shared_data
def test_info_second_data_set_and_no_spillover(real_data: Path) -> None:
    path = real_data / "flow/fcs/flowkit/multi_dataset_fcs/coulter.lmd"
    result = runner.invoke(app, ["flow", "info", str(path), "--json", "--dataset", "1"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert (doc["version"], doc["datasets"], doc["events"]) == ("FCS3.0", 2, 18110)
    assert doc["spillover"] is None
    assert doc["channels"][0] == {
        **doc["channels"][0],
        "name": "FS",
        "marker": None,
    }


@pytest.mark.shared_data
def test_info_reports_quirks_in_json(real_data: Path) -> None:
    path = real_data / "flow/fcs/cytoflow_instruments/Partec_PAS.FCS"
    result = runner.invoke(app, ["flow", "info", str(path), "--json"])
    assert result.exit_code == 0
    assert "$ENDDATA off by one" in json.loads(result.stdout)["quirks"]


@pytest.mark.parametrize(
    ("content", "args", "match"),
    [
        (b"not an fcs file", [], "not an FCS file"),
        (None, [], "cannot open"),
        ("small", ["--dataset", "1"], "dataset"),
    ],
)
def test_refusal_is_one_line_exit_2(
    tmp_path: Path, small_fcs: Path, content: bytes | str | None, args: list[str], match: str
) -> None:
    if content == "small":
        path = small_fcs
    else:
        path = tmp_path / "bad.fcs"
        if isinstance(content, bytes):
            path.write_bytes(content)
    # A real process: exit code, stderr and the absence of a traceback are the contract.
    proc = subprocess.run(
        [sys.executable, "-m", "trephine", "flow", "info", str(path), "--json", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0] and str(path) in lines[0]
    assert "Traceback" not in proc.stderr
