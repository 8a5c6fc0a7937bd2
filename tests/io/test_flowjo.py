"""FlowJo 10 workspace import: the shared workspaces (FlowJo's and FlowKit's counts, parse-only
8-colour fixtures) and synthetic workspaces for what the shared ones do not cover (log
transform, boolean and outside-of-region populations, ellipses on biex axes, errors)."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trephine.analysis.flow.flowjo_model import FlowJoLinear, FlowJoLog, OutsideGate
from trephine.analysis.flow.gates import (
    UNCOMPENSATED,
    BooleanGate,
    BooleanOp,
    EllipsoidGate,
    PolygonGate,
    RectangleGate,
)
from trephine.analysis.flow.strategy import ArrayEvents, FcsEvents, apply_strategy
from trephine.analysis.flow.transforms import AsinhTransform, FlowJoBiex, LogicleTransform
from trephine.errors import ParseError, ValidationError
from trephine.io.fcs import read_fcs
from trephine.io.flowjo import parse_workspace, read_workspace

WSP = "flow/flowjo_wsp"

# --------------------------------------------------------------------------- synthetic builders

NS = (
    'xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
    'xmlns:transforms="http://www.isac-net.org/std/Gating-ML/v2.0/transformations" '
    'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"'
)


def workspace(*samples: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Workspace version="20.0" flowJoVersion="10.8.1" {NS}>\n'
        "<SampleList>\n" + "".join(samples) + "</SampleList>\n</Workspace>\n"
    )


def sample(
    name: str,
    transforms: str,
    populations: str,
    count: int = 1000,
    comp: str = "",
    keywords: dict[str, str] | None = None,
    sample_id: str = "1",
) -> str:
    kws = "".join(
        f'<Keyword name="{k}" value="{v}"/>' for k, v in (keywords or {"$TOT": "1000"}).items()
    )
    return (
        f'<Sample><DataSet uri="file:/data/run%201/{name}" sampleID="{sample_id}"/>\n{comp}'
        f"<Transformations>{transforms}</Transformations><Keywords>{kws}</Keywords>\n"
        f'<SampleNode name="{name}" count="{count}" sampleID="{sample_id}">\n'
        f"<Subpopulations>{populations}</Subpopulations></SampleNode></Sample>\n"
    )


def linear(param: str, lo: float = 0, hi: float = 262144) -> str:
    return (
        f'<transforms:linear transforms:minRange="{lo}" transforms:maxRange="{hi}" gain="1">'
        f'<data-type:parameter data-type:name="{param}"/></transforms:linear>'
    )


def log(param: str, offset: float = 1, decades: float = 5) -> str:
    return (
        f'<transforms:log transforms:offset="{offset}" transforms:decades="{decades}">'
        f'<data-type:parameter data-type:name="{param}"/></transforms:log>'
    )


def biex(param: str, width: float = -10, neg: float = 0, pos: float = 4.418539922) -> str:
    return (
        f'<transforms:biex transforms:length="256" transforms:maxRange="262144" '
        f'transforms:neg="{neg}" transforms:width="{width}" transforms:pos="{pos}">'
        f'<data-type:parameter data-type:name="{param}"/></transforms:biex>'
    )


def _dims(params: list[str]) -> str:
    return "".join(
        f'<gating:dimension><data-type:fcs-dimension data-type:name="{p}"/></gating:dimension>'
        for p in params
    )


def _vertices(points: list[tuple[float, float]]) -> str:
    return "".join(
        "<gating:vertex>"
        + "".join(f'<gating:coordinate data-type:value="{c}"/>' for c in pt)
        + "</gating:vertex>"
        for pt in points
    )


def population(name: str, gate: str, sub: str = "", count: int | None = None) -> str:
    c = f' count="{count}"' if count is not None else ""
    subs = f"<Subpopulations>{sub}</Subpopulations>" if sub else ""
    return f'<Population name="{name}"{c}><Gate>{gate}</Gate>{subs}</Population>\n'


def rect(dims: list[tuple[str, float | None, float | None]], inside: int = 1) -> str:
    body = ""
    for p, lo, hi in dims:
        attrs = (f' gating:min="{lo}"' if lo is not None else "") + (
            f' gating:max="{hi}"' if hi is not None else ""
        )
        body += (
            f'<gating:dimension{attrs}><data-type:fcs-dimension data-type:name="{p}"/>'
            "</gating:dimension>"
        )
    return f'<gating:RectangleGate eventsInside="{inside}">{body}</gating:RectangleGate>'


def poly(params: list[str], points: list[tuple[float, float]], inside: int = 1) -> str:
    return (
        f'<gating:PolygonGate eventsInside="{inside}">{_dims(params)}{_vertices(points)}'
        "</gating:PolygonGate>"
    )


def ellipse(
    params: list[str], foci: list[tuple[float, float]], edge: list[tuple[float, float]]
) -> str:
    return (
        f'<gating:EllipsoidGate eventsInside="1">{_dims(params)}'
        f"<gating:foci>{_vertices(foci)}</gating:foci>"
        f"<gating:edge>{_vertices(edge)}</gating:edge></gating:EllipsoidGate>"
    )


def boolean(kind: str, name: str, deps: list[str], sub: str = "") -> str:
    d = "".join(f'<Dependent name="{x}"/>' for x in deps)
    subs = f"<Subpopulations>{sub}</Subpopulations>" if sub else ""
    return f'<{kind} name="{name}"><Dependents>{d}</Dependents>{subs}</{kind}>\n'


# --------------------------------------------------------------------------- shared workspaces

QUAD = "simple_diamond_example/simple_diamond_example_quad_gate.wsp"
COUNTED = [
    # (workspace, population, count): FlowJo's stored count, which FlowKit 1.3.2 also gets.
    ("simple_line_example/single_ellipse_51_events.wsp", "ellipse1", 51),
    (QUAD, "Q1: channel_A- , channel_B+", 49671),
    (QUAD, "Q2: channel_A+ , channel_B+", 50596),
    (QUAD, "Q3: channel_A+ , channel_B-", 50330),
    (QUAD, "Q4: channel_A- , channel_B-", 49403),
    ("simple_diamond_example/test_data_diamond_asinh_rect.wsp", "upper_right", 50559),
    ("simple_diamond_example/test_data_diamond_asinh_rect2.wsp", "upper_right", 50699),
    ("simple_diamond_example/test_data_diamond_biex_rect.wsp", "upper_right", 50605),
]  # fmt: skip


def _gate_shared(real_data: Path, wsp_rel: str) -> tuple[dict[str, int], dict[str, int]]:
    path = real_data / WSP / wsp_rel
    ws = read_workspace(path)
    (s,) = ws.samples
    assert s.fcs_name is not None
    fcs = read_fcs(path.parent / s.fcs_name)
    assert s.event_count == fcs.event_count
    return apply_strategy(s.strategy, FcsEvents(fcs)).counts(), s.flowjo_counts()


@pytest.mark.shared_data
@pytest.mark.parametrize("wsp_rel", sorted({w for w, _, _ in COUNTED}))
def test_counts_equal_flowjo(real_data: Path, wsp_rel: str) -> None:
    ours, flowjo = _gate_shared(real_data, wsp_rel)
    expected = {pop: n for w, pop, n in COUNTED if w == wsp_rel}
    assert ours == expected
    assert flowjo == expected  # the stored counts are read too
    if wsp_rel == QUAD:
        # FlowJo's quadrant is four rectangles with open sides: together they partition.
        assert sum(ours.values()) == 200000


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("wsp_rel", "flowkit", "stored"),
    [
        ("simple_poly_and_rect.wsp", {"poly1": 0, "rect1": 0}, {"poly1": -1, "rect1": -1}),
        ("simple_poly_and_rect_v2_poly50.wsp", {"poly1": 50, "rect1": 0}, {"poly1": 0, "rect1": 0}),
    ],
)
def test_simple_line_matches_flowkit_not_stored(
    real_data: Path, wsp_rel: str, flowkit: dict[str, int], stored: dict[str, int]
) -> None:
    # The manifest: FlowJo stored -1 (not computed) / 0 here; FlowKit's numbers are the reference.
    ours, flowjo = _gate_shared(real_data, f"simple_line_example/{wsp_rel}")
    assert ours == flowkit
    assert flowjo == stored


@pytest.mark.shared_data
def test_transform_types_of_shared_workspaces(real_data: Path) -> None:
    d = real_data / WSP / "simple_diamond_example"
    s = read_workspace(d / "test_data_diamond_biex_rect.wsp").samples[0]
    assert s.transforms["channel_A"] == FlowJoBiex(
        width=-10.0, negative=0.0, positive=4.418539922, max_value=262144.0
    )
    s = read_workspace(d / "test_data_diamond_asinh_rect2.wsp").samples[0]
    assert s.transforms["channel_B"] == AsinhTransform(T=262144.0, M=1.3, A=0.0)
    gate = s.strategy.gate("upper_right")
    assert isinstance(gate, RectangleGate)
    # Bounds are stored in raw units and converted onto the display scale.
    assert [d.transform for d in gate.dims] == ["channel_A", "channel_B"]
    assert all(0 < b < 1.5 for pair in gate.bounds for b in pair if b is not None)


ICS = [
    ("(all events)", 283969, 285290, 290172),
    ("Time", 283968, 284933, 290172),
    ("Time/Singlets", 237375, 236035, 239691),
    ("Time/Singlets/aAmine-", 162117, 161247, 164942),
    ("Time/Singlets/aAmine-/CD3+", 132388, 131510, 133860),
    ("Time/Singlets/aAmine-/CD3+/CD4+", 81990, 81268, 82636),
    ("Time/Singlets/aAmine-/CD3+/CD4+/CD107a+", 62, 70, 71),
    ("Time/Singlets/aAmine-/CD3+/CD4+/IFNg+", 607, 10, 4),
    ("Time/Singlets/aAmine-/CD3+/CD4+/IL2+", 74, 7, 6),
    ("Time/Singlets/aAmine-/CD3+/CD4+/TNFa+", 298, 29, 21),
    ("Time/Singlets/aAmine-/CD3+/CD8+", 47046, 46627, 47241),
    ("Time/Singlets/aAmine-/CD3+/CD8+/CD107a+", 817, 308, 72),
    ("Time/Singlets/aAmine-/CD3+/CD8+/IFNg+", 1229, 350, 2),
    ("Time/Singlets/aAmine-/CD3+/CD8+/IL2+", 129, 65, 11),
    ("Time/Singlets/aAmine-/CD3+/CD8+/TNFa+", 827, 337, 8),
]  # MANIFEST.md section 2.2; columns are the samples E03_009, E05_010, E01_008
ICS_SAMPLES = [
    "101_DEN084Y5_15_E03_009_clean.fcs",
    "101_DEN084Y5_15_E05_010_clean.fcs",
    "101_DEN084Y5_15_E01_008_clean.fcs",
]


@pytest.fixture(scope="module")
def ics(real_data: Path) -> dict[str, object]:
    d = real_data / WSP / "8_color_data_set_no_fcs"
    return {
        "full": read_workspace(d / "8_color_ICS.wsp"),
        "simple": read_workspace(d / "8_color_ICS_simple.wsp"),
        "dir": d,
    }


@pytest.mark.shared_data
@pytest.mark.parametrize("which", ["full", "simple"])
def test_ics_samples_and_flowjo_counts(ics: dict[str, object], which: str) -> None:
    ws = ics[which]
    assert ws.flowjo_version == "10.6.2"  # type: ignore[attr-defined]
    assert ws.sample_names == ICS_SAMPLES  # type: ignore[attr-defined]
    rows = ICS if which == "full" else ICS[:5]
    for col, name in enumerate(ICS_SAMPLES, start=1):
        s = ws.sample(name)  # type: ignore[attr-defined]
        assert s.event_count == rows[0][col]
        expected = {row[0]: row[col] for row in rows[1:]}
        assert s.flowjo_counts() == expected
        # The tree: every population's parent is the path minus its last name.
        for p in s.populations:
            assert p.parent == (p.path.rpartition("/")[0] or None)
        assert [g.id for g in s.strategy.gates] == [row[0] for row in rows[1:]]


@pytest.mark.shared_data
def test_ics_keywords_compensation_and_transforms(ics: dict[str, object]) -> None:
    ws = ics["full"]
    s = ws.sample("101_DEN084Y5_15_E05_010_clean.fcs")  # type: ignore[attr-defined]
    assert s.uri == "file:/V:/flowkit/ep11_101_files/101_DEN084Y5_15_E05_010_clean.fcs"
    assert s.fcs_name == "101_DEN084Y5_15_E05_010_clean.fcs"
    assert s.keywords["$TOT"] == "285290"
    assert s.keywords["$P7N"] == "TNFa FITC FLR-A"
    assert len(s.keywords) == 119
    # The spillover matrix equals FlowJo's exported den_comp.csv (printed to 6 decimals).
    path = ics["dir"] / "den_comp.csv"  # type: ignore[operator]
    header = path.read_text().splitlines()[0].lstrip("# ").split(",")
    csv = np.loadtxt(path, delimiter=",", skiprows=1)
    m = s.compensation
    assert m is not None and m.id == "Acquisition-defined" and s.comp_prefix == "Comp-"
    assert list(m.fluorochromes) == header and list(m.detectors) == header
    assert np.max(np.abs(np.array(m.matrix) - csv)) < 5.1e-7
    logicle = LogicleTransform(T=262144.0, W=1.0, M=4.418539922, A=0.0)
    assert s.transforms["Comp-CD3 APC-H7 FLR-A"] == logicle
    assert s.transforms["CD3 APC-H7 FLR-A"] == logicle
    assert s.transforms["FSC-A"] == FlowJoLinear(0.0, 262144.0)
    # Transforms are per sample: this sample's Time axis differs from the first sample's.
    assert s.transforms["Time"] == FlowJoLinear(1.021415373, 65.0)
    first = ws.sample(ICS_SAMPLES[0])  # type: ignore[attr-defined]
    assert first.transforms["Time"] == FlowJoLinear(0.8511997311, 72.0)
    # A gate on a Comp- parameter reads the compensated channel on its logicle scale.
    g = s.strategy.gate("Time/Singlets/aAmine-")
    assert isinstance(g, PolygonGate)
    dim = g.dims[0]
    assert (dim.channel, dim.compensation, dim.transform) == (
        "Aqua Amine FLR-A",
        "Acquisition-defined",
        "Comp-Aqua Amine FLR-A",
    )
    assert g.dims[1].compensation == UNCOMPENSATED
    # Vertex 2 was written as -55.391865 raw: it sits just below the logicle zero.
    assert g.vertices[2][0] == pytest.approx(float(logicle.apply([-55.391865])[0]))
    assert g.vertices[2][0] < float(logicle.apply([0.0])[0])


@pytest.mark.shared_data
def test_ics_strategy_evaluates_on_synthetic_events(ics: dict[str, object]) -> None:
    """No FCS files exist for these workspaces; a synthetic tube with the same channels checks
    that the imported strategy (compensation + logicle + nested gates) evaluates consistently."""
    s = ics["full"].sample(ICS_SAMPLES[0])  # type: ignore[attr-defined]
    channels = sorted(s.strategy.channels())
    rng = np.random.default_rng(4)
    n = 20000
    data = rng.uniform(0, 200000, size=(n, len(channels)))
    t = channels.index("Time")
    data[:, t] = rng.uniform(0, 200, size=n)
    ev = ArrayEvents(data, channels)
    counts = apply_strategy(s.strategy, ev).counts()
    for p in s.populations:
        if p.parent is not None:
            assert counts[p.path] <= counts[p.parent]
    assert 0 < counts["Time"] < n


@pytest.mark.shared_data
def test_biex_from_workspace_matches_flowjo_lut(real_data: Path) -> None:
    path = real_data / "flow/transforms/flowjo_biex_lut_w-7.943282_n1_m4.418540_r262144.csv"
    lut = np.loadtxt(path, delimiter=",", skiprows=1)
    xml = workspace(sample("s.fcs", biex("A", width=-7.943282, neg=1, pos=4.418540), "", count=10))
    t = parse_workspace(xml).samples[0].transforms["A"]
    assert isinstance(t, FlowJoBiex)
    channels = t.apply(lut[1:, 1]) * t.channel_range
    rel = np.abs(channels - lut[1:, 0]) / lut[1:, 0]
    assert rel.mean() < 1e-4  # < 0.01 %, FlowKit's own threshold for this table


# --------------------------------------------------------------------------- synthetic workspaces


def test_polygon_is_evaluated_on_the_display_scale() -> None:
    # A triangle written in raw units on two log axes. Its hypotenuse is straight on the log
    # scale (x*y = 1e4 in raw units), so (5000, 100) is outside although it is inside the
    # raw-unit triangle (x + y < 10001), and (50, 50) is inside both.
    tri = poly(["A", "B"], [(1, 1), (10000, 1), (1, 10000)])
    xml = workspace(sample("s.fcs", log("A") + log("B"), population("tri", tri)))
    s = parse_workspace(xml).samples[0]
    events = ArrayEvents([[5000.0, 100.0], [50.0, 50.0], [20000.0, 20000.0]], ["A", "B"])
    mask = apply_strategy(s.strategy, events).memberships["tri"]
    assert mask.tolist() == [False, True, False]
    assert s.transforms["A"] == FlowJoLog(offset=1.0, decades=5.0)


def test_log_axis_keeps_values_below_its_offset() -> None:
    # FlowJo pins values under the log offset to the axis bottom; a gate starting there keeps
    # them (Gating-ML's flog would drop zero and negative values as undefined).
    xml = workspace(sample("s.fcs", log("A"), population("low", rect([("A", 1, 10)]))))
    s = parse_workspace(xml).samples[0]
    ev = ArrayEvents([[-5.0], [0.0], [5.0], [50.0], [np.nan]], ["A"])
    assert apply_strategy(s.strategy, ev).memberships["low"].tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]


@pytest.fixture(scope="module")
def tree() -> tuple[object, ArrayEvents, np.ndarray]:
    """Nested populations, booleans and an outside-of-region gate on 3 channels."""
    rng = np.random.default_rng(11)
    data = rng.uniform(-1000, 100000, size=(5000, 3))
    pops = population(
        "Cells",
        rect([("FSC-A", 20000, 90000)]),
        population("Hi", rect([("B", 50000, None)]))
        + population("Lo", rect([("B", None, 30000)]))
        + population("Not-box", rect([("B", 40000, 60000), ("C", 40000, 60000)], inside=0))
        + boolean("OrNode", "Hi or Lo", ["Cells/Hi", "Cells/Lo"])
        + boolean("AndNode", "Hi and C+", ["Hi", "Cells/C+"])
        + boolean("NotNode", "not Hi", ["Cells/Hi"], sub=population("deep", rect([("C", 0, None)])))
        + population("C+", rect([("C", 50000, None)])),
        count=4000,
    )
    tr = linear("FSC-A") + biex("B") + biex("C")
    ws = parse_workspace(workspace(sample("tube 1.fcs", tr, pops)), source="tree.wsp")
    return ws, ArrayEvents(data, ["FSC-A", "B", "C"]), data


def test_nested_and_boolean_populations(tree: tuple[object, ArrayEvents, np.ndarray]) -> None:
    ws, ev, x = tree
    s = ws.sample("tube 1.fcs")  # type: ignore[attr-defined]
    m = apply_strategy(s.strategy, ev).memberships
    cells = (x[:, 0] >= 20000) & (x[:, 0] < 90000)
    hi = cells & (x[:, 1] >= 50000)
    lo = cells & (x[:, 1] < 30000)
    cpos = cells & (x[:, 2] >= 50000)
    box = (x[:, 1] >= 40000) & (x[:, 1] < 60000) & (x[:, 2] >= 40000) & (x[:, 2] < 60000)
    np.testing.assert_array_equal(m["Cells"], cells)
    np.testing.assert_array_equal(m["Cells/Hi"], hi)
    np.testing.assert_array_equal(m["Cells/Lo"], lo)
    np.testing.assert_array_equal(m["Cells/Not-box"], cells & ~box)
    np.testing.assert_array_equal(m["Cells/Hi or Lo"], hi | lo)
    np.testing.assert_array_equal(m["Cells/Hi and C+"], hi & cpos)
    np.testing.assert_array_equal(m["Cells/not Hi"], cells & ~hi)
    np.testing.assert_array_equal(m["Cells/not Hi/deep"], cells & ~hi & (x[:, 2] >= 0))
    assert 0 < int(np.count_nonzero(m["Cells/Not-box"])) < int(np.count_nonzero(cells))
    g = s.strategy.gate("Cells/Hi and C+")
    assert isinstance(g, BooleanGate) and g.op is BooleanOp.AND and g.parent == "Cells"
    assert isinstance(s.strategy.gate("Cells/Not-box"), OutsideGate)
    assert [p.kind for p in s.populations][:2] == ["rectangle", "rectangle"]
    assert s.populations[0].on == ("FSC-A",)
    assert next(p for p in s.populations if p.kind == "and").on == ("Hi", "Cells/C+")
    assert s.flowjo_counts() == {"Cells": 4000}
    assert s.fcs_name == "tube 1.fcs"  # %20 in the URI decoded


def test_ellipse_on_biex_axes_is_exact() -> None:
    # An ellipse drawn in FlowJo's 256-bin display space: centre (120, 100), semi-axes 40 and
    # 15, rotated 30 degrees. FlowJo writes the foci, then the major- and minor-axis ends.
    cx, cy, a, b, th = 120.0, 100.0, 40.0, 15.0, math.radians(30)
    c = math.sqrt(a * a - b * b)
    u = (math.cos(th), math.sin(th))
    v = (-u[1], u[0])
    foci = [(cx - c * u[0], cy - c * u[1]), (cx + c * u[0], cy + c * u[1])]
    edge = [
        (cx + a * u[0], cy + a * u[1]),
        (cx - a * u[0], cy - a * u[1]),
        (cx + b * v[0], cy + b * v[1]),
        (cx - b * v[0], cy - b * v[1]),
    ]
    xml = workspace(
        sample("s.fcs", biex("X") + biex("Y"), population("E", ellipse(["X", "Y"], foci, edge)))
    )
    s = parse_workspace(xml).samples[0]
    g = s.strategy.gate("E")
    assert isinstance(g, EllipsoidGate)
    bx = s.transforms["X"]
    rng = np.random.default_rng(2)
    disp = rng.uniform(40, 200, size=(4000, 2))  # display units
    raw = np.column_stack([bx.inverse(disp[:, 0] / 256), bx.inverse(disp[:, 1] / 256)])
    got = apply_strategy(s.strategy, ArrayEvents(raw, ["X", "Y"])).memberships["E"]
    dx, dy = disp[:, 0] - cx, disp[:, 1] - cy
    along, across = dx * u[0] + dy * u[1], dx * v[0] + dy * v[1]
    want = (along / a) ** 2 + (across / b) ** 2 <= 1
    r = np.sqrt((along / a) ** 2 + (across / b) ** 2)
    clear = np.abs(r - 1) > 1e-6  # boundary events may go either way in floating point
    np.testing.assert_array_equal(got[clear], want[clear])
    assert 100 < int(want.sum()) < 3900


def test_sample_lookup_by_name_file_or_id_and_unknown_lists_names() -> None:
    xml = workspace(
        sample("A1", "", "", sample_id="7"),
        sample("B2", "", "", sample_id="8"),
    )
    ws = parse_workspace(xml, source="two.wsp")
    assert ws.sample("B2").sample_id == "8"
    assert ws.sample("8").name == "B2"
    with pytest.raises(ValidationError) as err:
        ws.sample("C3")
    msg = str(err.value)
    assert "two.wsp" in msg and "'C3'" in msg and "A1, B2" in msg
    twice = parse_workspace(
        workspace(sample("A1", "", "", sample_id="7"), sample("A1", "", "", sample_id="9"))
    )
    with pytest.raises(ValidationError, match=r"give the sample id\); allowed: 7 \(A1\), 9 \(A1\)"):
        twice.sample("A1")
    assert twice.sample("9").sample_id == "9"


BAD = [
    ("<Workspace><SampleList>", "not well-formed", ":1"),
    (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Workspace/>',
        "entity declaration",
        "",
    ),
    ("<Other/>", "<Workspace>", ""),
    (workspace(sample("s", '<transforms:miltenyi><data-type:parameter data-type:name="A"/>'
                      "</transforms:miltenyi>", "")), "linear, log, biex, logicle, fasinh", "A"),
    (workspace(sample("s", log("A", offset=0), "")), "log.offset", "transform log of 'A'"),
    # pos="1e-320" used to escape as a bare OverflowError from the table build.
    (workspace(sample("s", biex("A", pos=1e-320), "")), "positive=1e-320",
     "transform biex of 'A'"),
    (workspace(sample("s", "", population("p", "<gating:CurlyGate/>"))), "RectangleGate",
     "Population 'p'"),
    (workspace(sample("s", "", population("p", rect([("A", "x", 5)])))), "'x'", "@gating:min"),  # type: ignore[list-item]
    (workspace(sample("s", "", population("p", rect([("A", 5, 1)])))), ">= min", "Population 'p'"),
    (workspace(sample("s", "", population("p", poly(["A", "B"], [(1, 2), (3, 4)])))),
     "at least 3 vertices", "Population 'p'"),
    (workspace(sample("s", "", boolean("AndNode", "b", ["x", "y"]))), "a population path",
     "Dependent"),
    (workspace(sample("s", "", boolean("NotNode", "b", ["x", "y"]))), "exactly 1 dependent",
     "NotNode 'b'"),
    (workspace(sample("s", "", population("p", rect([("A", 1, 2)])) * 2)),
     "unique population names", "the first is on line 7"),
    (workspace(sample("s", linear("A") + linear("B"),
                      population("e", ellipse(["A", "B"], [(1, 1), (2, 2)], [(0, 0)])))),
     "4 edge points", "Population 'e'"),
    (workspace(sample("s", linear("A"), population("e", ellipse(["A", "B"], [], [])))),
     "no display transform", "dimension 'B'"),
]  # fmt: skip


@pytest.mark.parametrize(("xml", "says", "where"), BAD)
def test_bad_workspaces_are_refused_with_a_location(xml: str, says: str, where: str) -> None:
    with pytest.raises((ParseError, ValidationError)) as err:
        parse_workspace(xml, source="bad.wsp")
    msg = str(err.value)
    assert msg.startswith("bad.wsp")
    assert says in msg
    assert where in msg


def test_error_names_the_line() -> None:
    xml = workspace(sample("s", "", population("p", rect([("A", 5, 1)]))))
    line = next(i for i, t in enumerate(xml.splitlines(), 1) if "RectangleGate" in t)
    with pytest.raises(ParseError, match=rf"^bad\.wsp:{line}, field"):
        parse_workspace(xml, source="bad.wsp")


def test_outside_gate_requires_a_region() -> None:
    with pytest.raises(ValidationError):
        OutsideGate(id="x", parent=None, region=None)


def test_spectral_matrix_unmixes_by_least_squares() -> None:
    # Two dyes seen by three detectors (spectral="1"): Comp-F1 is the least-squares unmixed F1.
    m = np.array([[1.0, 0.3, 0.1], [0.2, 1.0, 0.4]])
    rows = "".join(
        f'<transforms:spillover data-type:parameter="{f}">'
        + "".join(
            f'<transforms:coefficient data-type:parameter="{d}" transforms:value="{m[i, j]}"/>'
            for j, d in enumerate(["D1", "D2", "D3"])
        )
        + "</transforms:spillover>"
        for i, f in enumerate(["F1", "F2"])
    )
    comp = (
        '<transforms:spilloverMatrix spectral="1" prefix="Comp-" suffix="" name="FCS">'
        f"{rows}</transforms:spilloverMatrix>"
    )
    pops = population("F1+", rect([("Comp-F1", 1000, None)]))
    s = parse_workspace(workspace(sample("s.fcs", "", pops, comp=comp))).samples[0]
    assert s.compensation is not None and s.compensation.detectors == ("D1", "D2", "D3")
    # A matrix named "FCS" must not be taken for the file's own spillover.
    assert s.compensation.id == "FlowJo FCS"
    rng = np.random.default_rng(3)
    true = rng.uniform(0, 2000, size=(3000, 2))
    events = ArrayEvents(true @ m, ["D1", "D2", "D3"])
    got = apply_strategy(s.strategy, events).memberships["F1+"]
    clear = np.abs(true[:, 0] - 1000) > 1e-6
    np.testing.assert_array_equal(got[clear], (true[:, 0] >= 1000)[clear])


def test_identical_transforms_are_shared_across_channels_and_samples() -> None:
    xml = workspace(
        sample("a.fcs", biex("X") + biex("Y") + log("Z"), "", sample_id="1"),
        sample("b.fcs", biex("X"), "", sample_id="2"),
    )
    a, b = parse_workspace(xml).samples
    assert a.transforms["X"] is a.transforms["Y"] is b.transforms["X"]
    assert a.transforms["Z"] is not a.transforms["X"]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    lo=st.floats(-500, 5e4),
    width=st.floats(1, 2e5),
    kind=st.sampled_from(["biex", "log", "linear", "logicle"]),
)
def test_rectangle_on_any_axis_equals_the_raw_range(
    seed: int, lo: float, width: float, kind: str
) -> None:
    """Bounds are converted onto the display scale; every FlowJo transform is monotone, so the
    imported gate must select exactly the events whose raw value is in [min, max)."""
    hi = lo + width
    axis = {
        "biex": biex("A"),
        "log": log("A", offset=1, decades=5),
        "linear": linear("A"),
        "logicle": (
            '<transforms:logicle transforms:T="262144" transforms:W="0.5" transforms:M="4.5" '
            'transforms:A="0"><data-type:parameter data-type:name="A"/></transforms:logicle>'
        ),
    }[kind]
    xml = workspace(sample("s.fcs", axis, population("r", rect([("A", lo, hi)]))))
    s = parse_workspace(xml).samples[0]
    x = np.random.default_rng(seed).uniform(-2000, 3e5, 2000)
    # The log axis pins everything under its offset (1) to the bottom, and FlowJo's biex table
    # pins values beyond its ends (about -132 and 261622 here) to the first/last channel, as
    # FlowJo displays off-scale events: so a gate reaching an axis end takes those events too.
    bottom, top = -np.inf, np.inf
    if kind == "log":
        bottom = 1.0
    elif kind == "biex":
        table = s.transforms["A"].table  # type: ignore[attr-defined]
        bottom, top = float(table[0]), float(table[-1])
    raw = np.clip(x, bottom, top)
    lo_eff, hi_eff = (float(np.clip(v, bottom, top)) for v in (lo, hi))
    want = (raw >= lo_eff) & (raw < hi_eff)
    got = apply_strategy(s.strategy, ArrayEvents(x[:, None], ["A"])).memberships["r"]
    # Values within rounding of a bound may fall either way on a transformed axis.
    tol = 1e-7 * max(1.0, abs(lo_eff), abs(hi_eff))
    clear = (np.abs(raw - lo_eff) > tol) & (np.abs(raw - hi_eff) > tol)
    np.testing.assert_array_equal(got[clear], want[clear])


_FUZZ_BASE = workspace(
    sample(
        "s.fcs",
        biex("A") + log("B") + linear("C"),
        population(
            "P",
            poly(["A", "B"], [(1, 1), (500, 2), (40, 900)]),
            population("E", ellipse(["A", "B"], [(90, 100), (110, 120)], [(120, 130), (80, 90),
                                                                            (95, 115), (105, 105)]))
            + population("R", rect([("C", 5, 9000)], inside=0))
            + boolean("OrNode", "E or R", ["P/E", "P/R"]),
            count=17,
        ),
    )
).encode()  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(_FUZZ_BASE) - 1), st.integers(0, 255), st.booleans()),
        min_size=1,
        max_size=4,
    )
)
def test_any_byte_mutation_gives_a_workspace_or_a_typed_error(
    edits: list[tuple[int, int, bool]],
) -> None:
    data = bytearray(_FUZZ_BASE)
    for pos, byte, delete in edits:
        pos = min(pos, len(data) - 1)
        if delete:
            del data[pos]
        else:
            data[pos] = byte
    try:
        ws = parse_workspace(bytes(data), source="m.wsp")
    except (ParseError, ValidationError) as exc:
        assert str(exc).startswith("m.wsp")
        return
    for s in ws.samples:  # a surviving strategy must also evaluate (or refuse) cleanly
        with contextlib.suppress(ValidationError):
            apply_strategy(s.strategy, ArrayEvents(np.full((3, 3), 50.0), ["A", "B", "C"]))


def test_fuzz_base_is_a_valid_workspace() -> None:
    s = parse_workspace(_FUZZ_BASE).samples[0]
    assert [p.kind for p in s.populations] == ["polygon", "ellipse", "rectangle", "or"]
    assert isinstance(s.strategy.gate("P/R"), OutsideGate)
