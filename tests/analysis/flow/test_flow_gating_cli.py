"""``trephine flow gate`` / ``trephine flow mrd`` and the bench hierarchy against FlowKit."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trephine.cli.main import app

runner = CliRunner()


def mrd_args(fcs: str | Path, gating_ml: Path, denominator: str, abnormal: str) -> list[str]:
    """``flow mrd`` with the gates that define the percentage; options go after it."""
    return [
        "flow",
        "mrd",
        str(fcs),
        "--gating-ml",
        str(gating_ml),
        "--denominator",
        denominator,
        "--abnormal",
        abnormal,
    ]


@pytest.mark.shared_data
@pytest.mark.slow
def test_bench_hierarchy_counts_equal_flowkit(mrd_tube: Path, mrd_gating_ml: Path) -> None:
    flowkit = pytest.importorskip("flowkit")
    res = runner.invoke(
        app, ["flow", "gate", str(mrd_tube), "--gating-ml", str(mrd_gating_ml), "--json"]
    )
    assert res.exit_code == 0, res.output
    ours = json.loads(res.stdout)["gates"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = flowkit.Session(gating_strategy=str(mrd_gating_ml), fcs_samples=str(mrd_tube))
        sample_id = session.get_sample_ids()[0]
        session.analyze_samples(sample_id=sample_id)
        report = session.get_gating_results(sample_id).report
    theirs = {row.gate_name: int(row.count) for row in report.itertuples()}
    assert {g: v["count"] for g, v in ours.items()} == theirs
    assert ours["Singlets"]["parent"] == "Cells" and ours["Cells"]["parent"] is None
    assert 0 < ours["CD34pos_CD117pos"]["count"] < ours["Blasts"]["count"]


@pytest.mark.shared_data
def test_gate_json_and_membership_match_compliance_truth(real_data: Path, tmp_path: Path) -> None:
    base = real_data / "flow/gatingml2_compliance"
    out = tmp_path / "m.npz"
    res = runner.invoke(
        app,
        [
            "flow",
            "gate",
            str(base / "data1.fcs"),
            "--gating-ml",
            str(base / "gml/gml_parent_poly1_boolean_and2_gate.xml"),
            "--json",
            "--membership",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    gates = json.loads(res.stdout)["gates"]
    truth = np.loadtxt(base / "truth/Results_ParAnd2.txt", dtype=int).astype(bool)
    assert gates["ParAnd2"]["count"] == int(truth.sum()) == 12
    with np.load(out) as npz:
        assert set(npz.files) == set(gates)
        assert npz["ParAnd2"].dtype == bool and npz["ParAnd2"].shape == (13367,)
        assert np.array_equal(npz["ParAnd2"], truth)
        for gid, info in gates.items():
            assert int(npz[gid].sum()) == info["count"]
            if info["parent"] is not None:
                assert not np.any(npz[gid] & ~npz[info["parent"]])


@pytest.mark.shared_data
def test_mrd_json(mrd_tube: Path, mrd_gating_ml: Path) -> None:
    res = runner.invoke(
        app, [*mrd_args(mrd_tube, mrd_gating_ml, "CD45pos", "CD34pos_CD117pos"), "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["denominator_gate"] == "CD45pos"
    assert doc["denominator_events"] > doc["abnormal_events"] > 0
    assert doc["call"] == "positive"  # ~1.5 % blasts in the synthetic tube
    # 20k events cannot reach 1e-4: the flag says so, with its rule.
    flags = {f["code"]: f for f in doc["flags"]}
    assert flags["too_few_events"]["rule"] == "M4"
    assert "below_target_sensitivity" in flags


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trephine", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.shared_data
def test_refusal_unknown_channel_is_one_line_exit_2(real_data: Path, mrd_gating_ml: Path) -> None:
    data1 = real_data / "flow/gatingml2_compliance/data1.fcs"
    p = _run("flow", "gate", str(data1), "--gating-ml", str(mrd_gating_ml), "--json")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr
    assert "data1.fcs" in lines[0] and "gate Cells" in lines[0] and "FSC-A" in lines[0]
    assert p.stdout == ""


@pytest.mark.shared_data
def test_refusals_bad_inputs(real_data: Path, mrd_gating_ml: Path, tmp_path: Path) -> None:
    bad_xml = tmp_path / "bad.xml"
    bad_xml.write_text("<gating:Gating-ML", encoding="utf-8")
    data1 = str(real_data / "flow/gatingml2_compliance/data1.fcs")
    corrupted = str(real_data / "flow/fcs/fcsparser/corrupted/corrupted.fcs")
    cases = [
        (["flow", "gate", data1, "--gating-ml", str(bad_xml)], "bad.xml"),
        (["flow", "gate", corrupted, "--gating-ml", str(mrd_gating_ml)], "corrupted.fcs"),
        (["flow", "gate", data1], "--gating-ml"),
        (mrd_args(data1, mrd_gating_ml, "CD45", "Blasts"), "CD45"),
        ([*mrd_args(data1, mrd_gating_ml, "Cells", "Blasts"), "--criteria", "XYZ"], "XYZ"),
    ]
    for args, needle in cases:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        err = res.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_gating_path_imports_stay_light() -> None:
    # Start-up time is part of the measured whole-process figure: the CLI and the gating
    # engine must not pull pandas, scipy or matplotlib in.
    code = (
        "import sys, trephine.cli.main, trephine.cli.flow_gating, trephine.io.gatingml, "
        "trephine.analysis.flow.strategy, trephine.analysis.flow.mrd, trephine.io.fcs; "
        "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "[]"


@pytest.mark.shared_data
def test_mrd_hemodilution_options(mrd_tube: Path, mrd_gating_ml: Path) -> None:
    base = [*mrd_args(mrd_tube, mrd_gating_ml, "CD45pos", "CD34pos_CD117pos"), "--json"]
    res = runner.invoke(app, [*base, "--no-spicules"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["call"] == "positive"  # a positive stays reportable from a haemodilute sample
    assert "hemodilution" in {f["code"] for f in doc["flags"]}
    # Blasts are ~2 % of CD45+ here: a 50 % site threshold flags, a 0.5 % one does not.
    high = runner.invoke(app, [*base, "--marrow-gate", "Blasts", "--min-marrow-percent", "50"])
    low = runner.invoke(app, [*base, "--marrow-gate", "Blasts", "--min-marrow-percent", "0.5"])
    assert high.exit_code == 0 and low.exit_code == 0
    assert "hemodilution" in {f["code"] for f in json.loads(high.stdout)["flags"]}
    assert "hemodilution" not in {f["code"] for f in json.loads(low.stdout)["flags"]}
    half = runner.invoke(app, [*base, "--marrow-gate", "Blasts"])
    assert half.exit_code == 2 and "both or neither" in half.stderr


@pytest.mark.shared_data
def test_dataset_out_of_range_is_refused(real_data: Path) -> None:
    base = real_data / "flow/gatingml2_compliance"
    res = runner.invoke(
        app,
        [
            "flow",
            "gate",
            str(base / "data1.fcs"),
            "--gating-ml",
            str(base / "gml/gml_range_gate.xml"),
            "--dataset",
            "3",
        ],
    )
    assert res.exit_code == 2
    assert "dataset" in res.stderr and "data1.fcs" in res.stderr
