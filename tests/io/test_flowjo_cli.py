"""``trephine flow gate --flowjo``, ``trephine flow workspace`` and ``trephine flow plot``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_flowjo import biex, boolean, linear, poly, population, rect, sample, workspace
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.io.fcs import Spillover, write_fcs

runner = CliRunner()
DIAMOND = "flow/flowjo_wsp/simple_diamond_example"
ICS = "flow/flowjo_wsp/8_color_data_set_no_fcs/8_color_ICS.wsp"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _spillover_xml(channels: list[str], m: np.ndarray) -> str:
    params = "".join(f'<data-type:parameter data-type:name="{c}"/>' for c in channels)
    rows = ""
    for i, c in enumerate(channels):
        coeffs = "".join(
            f'<transforms:coefficient data-type:parameter="{d}" transforms:value="{m[i, j]}"/>'
            for j, d in enumerate(channels)
        )
        rows += f'<transforms:spillover data-type:parameter="{c}">{coeffs}</transforms:spillover>'
    return (
        '<transforms:spilloverMatrix spectral="0" prefix="Comp-" suffix="" name="Tube comp">'
        f"<data-type:parameters>{params}</data-type:parameters>{rows}"
        "</transforms:spilloverMatrix>"
    )


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """An FCS file with spillover and a workspace gating it on compensated biex axes."""
    d = tmp_path_factory.mktemp("fj")
    rng = np.random.default_rng(8)
    n = 4000
    fsc = rng.uniform(0, 250000, n)
    true = rng.lognormal(8.5, 1.2, size=(n, 2)) - 500
    spill = np.array([[1.0, 0.15], [0.05, 1.0]])
    raw = true @ spill
    data = np.column_stack([fsc, raw])
    fcs = d / "tube.fcs"
    write_fcs(
        fcs,
        data,
        ["FSC-A", "FL1-A", "FL2-A"],
        markers=[None, "CD45", "CD34"],
        spillover=Spillover(["FL1-A", "FL2-A"], spill),
    )
    pops = population(
        "Cells",
        rect([("FSC-A", 30000, 220000)]),
        population("CD45+", rect([("Comp-FL1-A", 2000, None)]))
        + population(
            "Tri", poly(["Comp-FL1-A", "Comp-FL2-A"], [(100, 100), (100000, 100), (100, 100000)])
        )
        + boolean("OrNode", "CD45+ or Tri", ["Cells/CD45+", "Cells/Tri"]),
    )
    tr = linear("FSC-A") + biex("Comp-FL1-A") + biex("Comp-FL2-A")
    wsp = d / "tube.wsp"
    comp = _spillover_xml(["FL1-A", "FL2-A"], spill)
    wsp.write_text(workspace(sample("tube.fcs", tr, pops, count=n, comp=comp)))
    return {"fcs": fcs, "wsp": wsp, "true": true, "fsc": fsc, "dir": d}


def test_gate_flowjo_json_end_to_end(synthetic: dict[str, object]) -> None:
    res = runner.invoke(
        app,
        [
            "flow", "gate", str(synthetic["fcs"]), "--flowjo", str(synthetic["wsp"]),
            "--sample", "tube.fcs", "--json",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    gates = json.loads(res.stdout)["gates"]
    true = np.asarray(synthetic["true"], dtype=np.float32).astype(np.float64)
    fsc = np.asarray(synthetic["fsc"], dtype=np.float32).astype(np.float64)
    cells = (fsc >= 30000) & (fsc < 220000)
    # The file stores float32 raw values; compensation recovers the true values to ~1e-3.
    cd45 = cells & (true[:, 0] >= 2000)
    assert gates["Cells"] == {"count": int(cells.sum()), "parent": None}
    assert gates["Cells/CD45+"]["parent"] == "Cells"
    assert abs(gates["Cells/CD45+"]["count"] - int(cd45.sum())) <= 2
    assert 0 < gates["Cells/Tri"]["count"] < int(cells.sum())
    assert gates["Cells/CD45+ or Tri"]["count"] >= max(
        gates["Cells/CD45+"]["count"], gates["Cells/Tri"]["count"]
    )
    assert list(gates) == ["Cells", "Cells/CD45+", "Cells/Tri", "Cells/CD45+ or Tri"]


@pytest.mark.shared_data
def test_gate_flowjo_reproduces_flowjo_counts(real_data: Path) -> None:
    d = real_data / DIAMOND
    res = runner.invoke(
        app,
        [
            "flow", "gate", str(d / "test_data_diamond_01.fcs"),
            "--flowjo", str(d / "test_data_diamond_biex_rect.wsp"),
            "--sample", "test_data_diamond_01.fcs", "--json",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"gates": {"upper_right": {"count": 50605, "parent": None}}}


def test_gate_flowjo_without_sample_uses_the_only_sample(synthetic: dict[str, object]) -> None:
    base = ["flow", "gate", str(synthetic["fcs"]), "--flowjo", str(synthetic["wsp"]), "--json"]
    without = runner.invoke(app, base)
    named = runner.invoke(app, [*base, "--sample", "tube.fcs"])
    assert without.exit_code == 0, without.output
    assert json.loads(without.stdout) == json.loads(named.stdout)
    assert "None is not allowed" not in without.output


def test_gate_flowjo_without_sample_picks_the_sample_of_this_file(
    synthetic: dict[str, object], tmp_path: Path
) -> None:
    cells = population("Cells", rect([("FSC-A", 30000, 220000)]))
    tr = linear("FSC-A")
    wsp = tmp_path / "two.wsp"
    wsp.write_text(
        workspace(
            sample("other.fcs", tr, cells, count=4000),
            sample("tube.fcs", tr, cells, count=4000, sample_id="2"),
        )
    )
    res = runner.invoke(
        app, ["flow", "gate", str(synthetic["fcs"]), "--flowjo", str(wsp), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout)["gates"]) == ["Cells"]


def test_gate_flowjo_refusals(synthetic: dict[str, object], tmp_path: Path) -> None:
    fcs, wsp = str(synthetic["fcs"]), str(synthetic["wsp"])
    bad = tmp_path / "bad.wsp"
    bad.write_text(workspace(sample("s", "", population("p", rect([("A", 5, 1)])))))
    two = tmp_path / "two.wsp"
    cells = population("Cells", rect([("FSC-A", 1, None)]))
    two.write_text(workspace(sample("a.fcs", "", cells), sample("b.fcs", "", cells, sample_id="2")))
    cases = [
        # no --sample, two samples and neither made from tube.fcs: the names to choose from
        (["--flowjo", str(two)], "--sample: a value is required (two.wsp has 2 samples"),
        (["--flowjo", wsp, "--sample", "other.fcs"], "allowed: tube.fcs"),
        (["--flowjo", wsp, "--sample", "tube.fcs", "--gating-ml", wsp], "give one strategy"),
        (["--flowjo", str(bad), "--sample", "s"], "bad.wsp:"),
        (["--flowjo", str(tmp_path / "none.wsp"), "--sample", "s"], "none.wsp"),
    ]
    for extra, says in cases:
        res = runner.invoke(app, ["flow", "gate", fcs, *extra])
        assert res.exit_code == 2, (extra, res.output)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines


@pytest.mark.shared_data
def test_gate_flowjo_warns_when_the_file_is_not_the_samples(
    synthetic: dict[str, object], real_data: Path
) -> None:
    wsp = real_data / DIAMOND / "simple_diamond_example_quad_gate.wsp"
    res = runner.invoke(
        app,
        [
            "flow", "gate", str(synthetic["fcs"]),
            "--flowjo", str(wsp), "--sample", "test_data_diamond_01.fcs",
        ],
    )  # fmt: skip
    # channel_A is not in the synthetic file: the warning comes first, then the refusal.
    assert res.exit_code == 2
    assert "FlowJo recorded 200000" in res.stderr and "channel_A" in res.stderr


@pytest.mark.shared_data
def test_workspace_json_and_text(real_data: Path) -> None:
    res = runner.invoke(app, ["flow", "workspace", str(real_data / ICS), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["flowjo_version"] == "10.6.2"
    names = [s["name"] for s in doc["samples"]]
    assert names[0] == "101_DEN084Y5_15_E03_009_clean.fcs" and len(names) == 3
    first = doc["samples"][0]
    assert first["events"] == 283969 and first["compensation"]["prefix"] == "Comp-"
    assert first["populations"][1] == {
        "id": "Time/Singlets",
        "parent": "Time",
        "gate": "polygon",
        "on": ["FSC-W", "FSC-H"],
        "flowjo_count": 237375,
    }
    assert "DEN" in doc["groups"]

    res = runner.invoke(app, ["flow", "workspace", str(real_data / ICS), "--sample", names[2]])
    assert res.exit_code == 0, res.output
    assert (
        "IFNg+  [rectangle on Comp-CD3 APC-H7 FLR-A, Comp-IFNg APC FLR-A]  FlowJo count 2\n"
        in res.stdout
    )
    assert "populations=14" in res.stdout


def test_plot_flowjo_svg_and_gating_ml_png(synthetic: dict[str, object], tmp_path: Path) -> None:
    out = tmp_path / "svg"
    args = ["flow", "plot", str(synthetic["fcs"]), "--flowjo", str(synthetic["wsp"])]
    res = runner.invoke(app, [*args, "--sample", "tube.fcs", "--out", str(out), "--format", "svg"])
    assert res.exit_code == 0, res.output
    files = sorted(out.iterdir())
    # Three gates with geometry; the boolean population has none.
    assert [f.name for f in files] == ["1_Cells.svg", "2_Cells_CD45+.svg", "3_Cells_Tri.svg"]
    assert all(f.read_text()[:200].lstrip().startswith("<?xml") for f in files)
    assert "(1 gate(s) not drawn: boolean gates have no geometry" in res.stdout

    for extra, says in [
        (["--sample", "tube.fcs", "--out", str(out), "--format", "pdf"], "png, svg"),
        (["--sample", "tube.fcs", "--out", str(out), "--gating-ml", "x.xml"], "exactly one"),
        (["--sample", "tube.fcs", "--out", str(out), "--gate", "Nope"], "Nope"),
    ]:
        res = runner.invoke(app, [*args, *extra])
        assert res.exit_code == 2, (extra, res.output)
        assert says in res.stderr


@pytest.mark.shared_data
def test_plot_gating_ml(real_data: Path, tmp_path: Path) -> None:
    c = real_data / "flow/gatingml2_compliance"
    res = runner.invoke(
        app,
        [
            "flow", "plot", str(c / "data1.fcs"),
            "--gating-ml", str(c / "gml/gml_quadrant1_gate.xml"), "--out", str(tmp_path),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    files = sorted(tmp_path.iterdir())
    assert len(files) == 4  # the four quadrants
    assert all(f.read_bytes()[:8] == PNG_MAGIC for f in files)


@pytest.mark.shared_data
def test_plot_skips_a_3d_gate(real_data: Path, tmp_path: Path) -> None:
    c = real_data / "flow/gatingml2_compliance"
    res = runner.invoke(
        app,
        [
            "flow", "plot", str(c / "data1.fcs"),
            "--gating-ml", str(c / "gml/gml_ellipsoid3d_gate.xml"), "--out", str(tmp_path),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert list(tmp_path.iterdir()) == []
    assert "0 figure(s) written" in res.stdout and "1 gate(s) not drawn" in res.stdout
