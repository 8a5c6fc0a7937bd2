"""Fish-plot geometry (fishplot paper examples), figures and plot-data JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from trephine.analysis.clonal.pipeline import analyse
from trephine.analysis.clonal.plotdata import check_nesting, fish_layout, tree_layout
from trephine.analysis.clonal.plots import fish_figure, write_patient_plots
from trephine.analysis.clonal.records import VariantObservation
from trephine.errors import ValidationError


def _fishplot_example(
    real_data: Path, sample: str
) -> tuple[list[str], list[str | None], list[float], np.ndarray]:
    path = real_data / "clonal/fishplot_examples/fishplot_clone_fractions.tsv"
    with path.open() as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["sample"] == sample]
    clones = sorted({r["clone"] for r in rows}, key=int)
    days = sorted({float(r["day"]) for r in rows})
    parent = {r["clone"]: (None if r["parent"] == "0" else r["parent"]) for r in rows}
    frac = np.zeros((len(clones), len(days)))
    for r in rows:
        # The column is named fraction_pct: percent of cells, converted explicitly here.
        frac[clones.index(r["clone"]), days.index(float(r["day"]))] = float(r["fraction_pct"]) / 100
    return clones, [parent[c] for c in clones], days, frac


@pytest.mark.shared_data
@pytest.mark.parametrize("sample", ["AML31", "150288"])
def test_fishplot_examples_draw_with_valid_nesting(
    real_data: Path, sample: str, tmp_path: Path
) -> None:
    clones, parents, days, frac = _fishplot_example(real_data, sample)
    layout = fish_layout(clones, parents, days, frac)
    assert check_nesting(layout) == []
    if sample == "AML31":
        assert len(days) == 7 and parents[clones.index("7")] is None  # independent clone
        # Band heights equal the published fractions (nothing had to be rescaled).
        np.testing.assert_allclose(layout.upper - layout.lower, frac, atol=1e-12)
    fig = fish_figure(layout, sample)
    for fmt in ("png", "svg"):
        fig.savefig(tmp_path / f"fish.{fmt}", format=fmt)
        assert (tmp_path / f"fish.{fmt}").stat().st_size > 1000


def test_rounding_is_tolerated_but_real_violations_are_named() -> None:
    # Children 50.5 % + 50 % inside a 100 % parent: rounding, scaled to fit.
    layout = fish_layout(
        ["A", "B", "C"], [None, "A", "A"], [0, 10], np.array([[1.0, 1.0], [0.505, 0.3], [0.5, 0.2]])
    )
    assert check_nesting(layout) == []
    with pytest.raises(ValidationError, match="day 10: children B, C exceed their parent"):
        fish_layout(
            ["A", "B", "C"],
            [None, "A", "A"],
            [0, 10],
            np.array([[1.0, 0.5], [0.5, 0.4], [0.4, 0.4]]),
        )


def test_cycles_and_unknown_parents_refused() -> None:
    with pytest.raises(ValidationError, match="cycle"):
        fish_layout(["A", "B"], ["B", "A"], [0], np.array([[0.5], [0.4]]))
    with pytest.raises(ValidationError, match="parent of clone 'A'"):
        tree_layout(["A"], ["Z"])


def test_patient_plots_and_plot_data(tmp_path: Path) -> None:
    obs = []
    for sid, day, (a, b) in [
        ("dx", 0.0, (450, 100)),
        ("cr", 45.0, (20, 0)),
        ("rel", 400.0, (440, 380)),
    ]:
        for i in range(5):
            obs.append(VariantObservation("P1", sid, day, "NPM1", f"t{i}", a, 1000, a / 1000))
            obs.append(VariantObservation("P1", sid, day, "FLT3", f"s{i}", b, 1000, b / 1000))
    result = analyse(obs).patients[0]
    written = write_patient_plots(result, tmp_path, lod=0.01, log=True, formats=["png", "svg"])
    names = sorted(p.name for p in written)
    assert names == sorted(
        [f"P1_{k}.{f}" for k in ("vaf", "fish", "tree") for f in ("png", "svg")]
        + ["P1_plotdata.json"]
    )
    data = json.loads((tmp_path / "P1_plotdata.json").read_text())
    assert [s["day"] for s in data["samples"]] == [0.0, 45.0, 400.0]
    assert data["fish"]["days"] == [0.0, 45.0, 400.0]
    assert {m["status"] for m in data["mutations"]} == {"persistent"}
    assert data["tree"]["fits"] is True


def test_two_specimens_on_one_day_still_plot(tmp_path: Path) -> None:
    # Marrow and blood drawn the same day: the fish plot keeps one per day, the VAF plot both.
    obs = [
        VariantObservation("P2", sid, day, "NPM1", f"m{i}", a, 1000, a / 1000)
        for sid, day, a in [("bm0", 0.0, 450), ("pb0", 0.0, 300), ("bm1", 60.0, 5)]
        for i in range(4)
    ]
    result = analyse(obs).patients[0]
    write_patient_plots(result, tmp_path, lod=0.01, log=False, formats=["png"])
    data = json.loads((tmp_path / "P2_plotdata.json").read_text())
    assert data["fish"]["days"] == [0.0, 60.0]
    assert len(data["samples"]) == 3
