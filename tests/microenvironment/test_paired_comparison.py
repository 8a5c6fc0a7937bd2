"""Issue 14 §5: paired comparison of populations and measurements before vs after the first
therapy line — scipy's Wilcoxon reproduced on a fixture, Benjamini-Hochberg across features,
the paired-lines plot, the CLI on the shipped example, and the aplastic-anaemia niche view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

from trephine.analysis.microenvironment.paired import Pair, compare, paired_lines_svg
from trephine.cli.main import app
from trephine.services import audit
from trephine.store.database import Database

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "microenvironment"

BEFORE = [4.1, 6.3, 2.2, 8.0, 5.5, 3.9, 7.2, 6.6]
AFTER = [2.0, 5.1, 2.9, 4.4, 3.0, 3.1, 6.0, 2.5]


def test_compare_reproduces_scipy_wilcoxon_and_bh() -> None:
    pairs = [Pair(f"P{i}", b, a) for i, (b, a) in enumerate(zip(BEFORE, AFTER, strict=True))]
    flat = [Pair(f"P{i}", 1.0, 1.0) for i in range(3)]
    one = [Pair("P0", 1.0, 2.0)]
    rows = {
        c.feature: c
        for c in compare(
            {
                "Tregs": ("%", pairs),
                "same": ("%", flat),
                "lonely": ("%", one),
                "other": (
                    "%",
                    [
                        Pair(p.patient, p.before, p.before + 0.5 * (i % 3 - 1))
                        for i, p in enumerate(pairs)
                    ],
                ),
            }
        )
    }
    expected = stats.wilcoxon(AFTER, BEFORE)
    tregs = rows["Tregs"]
    assert tregs.test is not None
    assert tregs.test.p_value == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert tregs.test.statistic == pytest.approx(float(expected.statistic))
    assert tregs.test.effect_size < 0  # most pairs fell
    assert rows["same"].test is None and rows["same"].not_tested == "every pair unchanged"
    assert rows["lonely"].test is None and "at least 2" in (rows["lonely"].not_tested or "")
    p = [rows["Tregs"].test.p_value, rows["other"].test.p_value]  # type: ignore[union-attr]
    q = stats.false_discovery_control(p, method="bh")
    assert rows["Tregs"].q_value == pytest.approx(q[0])
    assert rows["other"].q_value == pytest.approx(q[1])


def test_paired_lines_plot_is_an_svg(tmp_path: Path) -> None:
    pairs = [Pair(f"P{i}", b, a) for i, (b, a) in enumerate(zip(BEFORE, AFTER, strict=True))]
    out = paired_lines_svg(compare({"Tregs": ("%", pairs)}), tmp_path / "p.svg")
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "Tregs" in text


def run(url: str, *args: str) -> str:
    res = CliRunner().invoke(app, [*args, "--database-url", url])
    assert res.exit_code == 0, res.stderr
    return res.stdout


def test_cli_compare_and_niche_on_the_example(database: Database, tmp_path: Path) -> None:
    url = database.url
    run(url, "import", str(EXAMPLE))
    doc = json.loads(run(url, "microenv", "compare", "--json", "--plot", str(tmp_path / "x.svg")))
    by = {f["feature"]: f for f in doc["features"]}
    treg = by["regulatory T cells (% of CD4 T cells)"]
    # Four AML patients, Tregs fell in all four: exact two-sided p = 2 / 2^4.
    assert treg["n_pairs"] == 4 and treg["p_value"] == pytest.approx(0.125)
    assert treg["effect_size"] == pytest.approx(-1.0)
    assert {p["patient"] for p in treg["pairs"]} == {"MX-001", "MX-002", "MX-003", "MX-004"}
    assert (tmp_path / "x.svg").exists()
    total = json.loads(
        run(
            url,
            "microenv",
            "compare",
            "--json",
            "--measure",
            "percent_of_total",
            "--diagnosis",
            "AML",
        )
    )
    assert "regulatory T cells (% of CD4 T cells)" not in {f["feature"] for f in total["features"]}
    niche = json.loads(run(url, "microenv", "niche", "MX-005", "--json"))["niche"]
    assert [row["values"]["cellularity (%)"] for row in niche] == ["10", "20", "35"]
    assert niche[-1]["values"]["microvessel density (vessels/mm2)"] == "21.3"
    with database.unit_of_work("reader") as uow:
        whats = [e.detail.get("what") for e in audit.events(uow, "patient")]
    assert "microenvironment comparison" in whats and "marrow niche" in whats


def test_compare_refuses_an_unknown_measure(database: Database) -> None:
    res = CliRunner().invoke(
        app, ["microenv", "compare", "--measure", "percent", "--database-url", database.url]
    )
    assert res.exit_code == 2 and "percent_of_parent" in res.stderr
