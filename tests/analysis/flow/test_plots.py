"""Density plots with gates drawn: one figure per drawable gate, valid PNG/SVG, titles and axes
that say what is shown, the gate geometry where the gate is."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from trephine.analysis.flow.flowjo_model import OutsideGate
from trephine.analysis.flow.gates import (
    BooleanGate,
    BooleanOp,
    Dimension,
    Divider,
    EllipsoidGate,
    GateReference,
    PolygonGate,
    Quadrant,
    RectangleGate,
)
from trephine.analysis.flow.plots import drawable, gate_figure, plot_strategy
from trephine.analysis.flow.strategy import ArrayEvents, Strategy, apply_strategy
from trephine.analysis.flow.transforms import LinearTransform, LogicleTransform
from trephine.errors import ValidationError

CHANNELS = ["FSC-A", "SSC-A", "FL1-A", "FL2-A"]
MARKERS = {"FSC-A": None, "SSC-A": None, "FL1-A": "CD45 PerCP", "FL2-A": "CD34 PE"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _strategy() -> Strategy:
    fsc = Dimension("FSC-A", transform="lin")
    ssc = Dimension("SSC-A", transform="lin")
    cd45 = Dimension("FL1-A", transform="lgc")
    cd34 = Dimension("FL2-A", transform="lgc")
    d45 = Divider("d45", cd45, (0.55,))
    d34 = Divider("d34", cd34, (0.5,))
    return Strategy(
        gates=(
            PolygonGate(
                "Cells",
                None,
                dims=(fsc, ssc),
                vertices=((0.1, 0.05), (0.8, 0.05), (0.8, 0.7), (0.1, 0.5)),
            ),
            RectangleGate("CD45+", "Cells", dims=(cd45,), bounds=((0.5, None),)),
            EllipsoidGate(
                "Blasts",
                "CD45+",
                dims=(cd45, ssc),
                mean=(0.62, 0.2),
                covariance=((0.004, 0.001), (0.001, 0.006)),
                distance_square=1.0,
            ),
            Quadrant(
                "CD34+CD45dim",
                "Cells",
                quadrant_gate="Q",
                dividers=(d45, d34),
                locations=(0.3, 0.9),
            ),
            RectangleGate("Box", "Cells", dims=(cd45, cd34), bounds=((0.4, 0.7), (None, 0.6))),
            OutsideGate(
                "Not box",
                "Cells",
                region=RectangleGate(
                    "Box region", None, dims=(cd45, cd34), bounds=((0.4, 0.7),) * 2
                ),
            ),
            BooleanGate(
                "Blasts and box",
                "Cells",
                op=BooleanOp.AND,
                operands=(GateReference("Blasts"), GateReference("Box")),
            ),
            RectangleGate(
                "FlowJo quad", "Cells", dims=(cd45, cd34), bounds=((0.55, None), (None, 0.5))
            ),
            RectangleGate("Nothing", "Cells", dims=(fsc, ssc), bounds=((5.0, 6.0), (5.0, 6.0))),
            RectangleGate("Under nothing", "Nothing", dims=(cd45, cd34), bounds=((0, 1), (0, 1))),
        ),
        transforms={
            "lin": LinearTransform(T=262144.0),
            "lgc": LogicleTransform(T=262144.0, W=0.5, M=4.5, A=0.0),
        },
    )


@pytest.fixture(scope="module")
def tube() -> tuple[Strategy, ArrayEvents]:
    rng = np.random.default_rng(5)
    n = 6000
    scatter = rng.uniform(10000, 200000, size=(n, 2))
    fl = np.concatenate(
        [rng.lognormal(8, 1.0, size=(n - 300, 2)), rng.normal(0, 200, size=(300, 2))]
    )
    data = np.column_stack([scatter, fl])
    return _strategy(), ArrayEvents(data, CHANNELS)


def test_one_valid_png_per_drawable_gate(
    tube: tuple[Strategy, ArrayEvents], tmp_path: Path
) -> None:
    strategy, events = tube
    plots = plot_strategy(strategy, events, tmp_path, "png", markers=MARKERS)
    drawn = [g.id for g in strategy.gates if drawable(g)]
    assert [p.gate_id for p in plots] == drawn
    assert "Blasts and box" not in drawn and len(drawn) == len(strategy.gates) - 1
    assert sorted(tmp_path.iterdir()) == sorted(p.path for p in plots)
    import matplotlib.image as mpimg

    result = apply_strategy(strategy, events)
    for p in plots:
        assert p.path.read_bytes()[:8] == PNG_MAGIC
        assert mpimg.imread(p.path).shape[:2] == (520, 600)
        assert p.count == result.count(p.gate_id)
        kind = "histogram" if p.gate_id == "CD45+" else "density"
        assert p.kind == kind
    assert plots[0].path.name == "1_Cells.png"


def test_svg_files_are_svg(tube: tuple[Strategy, ArrayEvents], tmp_path: Path) -> None:
    strategy, events = tube
    plots = plot_strategy(strategy, events, tmp_path, "svg", gate_ids=["Blasts", "Not box"])
    assert [p.path.suffix for p in plots] == [".svg", ".svg"]
    for p in plots:
        root = ET.parse(p.path).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_title_axes_and_gate_geometry(tube: tuple[Strategy, ArrayEvents]) -> None:
    strategy, events = tube
    result = apply_strategy(strategy, events)
    counts = result.counts()

    fig = gate_figure(strategy, events, result, strategy.gate("Blasts"), markers=MARKERS)
    ax = fig.axes[0]
    title = ax.get_title()
    share = 100.0 * counts["Blasts"] / counts["CD45+"]
    assert "Blasts" in title and "parent: CD45+" in title
    assert f"{counts['Blasts']:,} events" in title and f"{share:.2f} % of parent" in title
    assert ax.get_xlabel() == "FL1-A (CD45 PerCP) [logicle]"
    assert ax.get_ylabel() == "SSC-A [linear]"
    # The logicle axis is labelled at decades, the linear one in data units.
    xt = [t.get_text() for t in ax.get_xticklabels()]
    assert "$10^{4}$" in xt and "5k" in xt  # a narrow window gets 2x/5x values too
    assert any(t.get_text().endswith("k") for t in ax.get_yticklabels())
    (ell,) = ax.patches
    assert tuple(ell.get_center()) == pytest.approx((0.62, 0.2))
    # The histogram shows the parent's events only.
    (image,) = ax.images
    assert int(image.get_array().sum()) == counts["CD45+"]

    fig = gate_figure(strategy, events, result, strategy.gate("Cells"))
    (poly,) = fig.axes[0].patches
    np.testing.assert_allclose(poly.get_xy()[:4], strategy.gate("Cells").vertices)  # type: ignore[attr-defined]
    assert "parent: all events (6,000)" in fig.axes[0].get_title()

    fig = gate_figure(strategy, events, result, strategy.gate("CD34+CD45dim"))
    ax = fig.axes[0]
    xs = {line.get_xdata()[0] for line in ax.lines}
    ys = {line.get_ydata()[0] for line in ax.lines}
    assert 0.55 in xs and 0.5 in ys  # both dividers drawn

    # A rectangle open on one side per axis (how FlowJo writes quadrants) is drawn as one.
    fig = gate_figure(strategy, events, result, strategy.gate("FlowJo quad"))
    ax = fig.axes[0]
    assert [line.get_xdata()[0] for line in ax.lines] == [0.55, 0.0]
    assert ax.lines[1].get_ydata()[0] == 0.5
    (shade,) = ax.patches
    assert shade.get_x() == 0.55 and shade.get_y() + shade.get_height() == 0.5

    fig = gate_figure(strategy, events, result, strategy.gate("CD45+"))
    ax = fig.axes[0]
    assert ax.get_ylabel() == "events"
    assert [line.get_xdata()[0] for line in ax.lines] == [0.5]  # open max: one limit line

    fig = gate_figure(strategy, events, result, strategy.gate("Not box"))
    (box,) = fig.axes[0].patches
    assert box.get_linestyle() == "--"  # the region is drawn, dashed: events are outside it


def test_empty_parent_does_not_break(tube: tuple[Strategy, ArrayEvents]) -> None:
    strategy, events = tube
    result = apply_strategy(strategy, events)
    fig = gate_figure(strategy, events, result, strategy.gate("Under nothing"))
    ax = fig.axes[0]
    assert "parent is empty" in ax.get_title()
    assert any(t.get_text() == "no events" for t in ax.texts)


def test_refusals(tube: tuple[Strategy, ArrayEvents], tmp_path: Path) -> None:
    strategy, events = tube
    with pytest.raises(ValidationError, match="format"):
        plot_strategy(strategy, events, tmp_path, "pdf")  # type: ignore[arg-type]
    result = apply_strategy(strategy, events)
    with pytest.raises(ValidationError, match="not boolean"):
        gate_figure(strategy, events, result, strategy.gate("Blasts and box"))
    with pytest.raises(ValidationError, match="Nope"):
        plot_strategy(strategy, events, tmp_path, gate_ids=["Nope"])


def test_gating_and_flowjo_import_do_not_load_matplotlib() -> None:
    code = (
        "import sys; import trephine.analysis.flow.plots, trephine.io.flowjo, "
        "trephine.cli.flow_plots; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
