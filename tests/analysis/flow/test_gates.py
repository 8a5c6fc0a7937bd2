"""Region tests of each gate type, boundary conventions, and hierarchy evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from trephine.analysis.flow.strategy import ArrayEvents, SpectrumMatrix, Strategy, apply_strategy
from trephine.analysis.flow.transforms import LogicleTransform
from trephine.errors import ValidationError

X = Dimension("X")
Y = Dimension("Y")


def _cols(*cols: list[float]) -> list[np.ndarray]:
    return [np.array(c, dtype=np.float64) for c in cols]


def test_rectangle_min_inclusive_max_exclusive_and_open_ends() -> None:
    g = RectangleGate("r", None, dims=(X,), bounds=((1.0, 2.0),))
    assert g.contains(_cols([0.999, 1.0, 1.5, 2.0, np.nan])).tolist() == [
        False,
        True,
        True,
        False,
        False,
    ]
    lo_only = RectangleGate("r", None, dims=(X,), bounds=((1.0, None),))
    assert lo_only.contains(_cols([0.5, 1.0, 1e300])).tolist() == [False, True, True]
    hi_only = RectangleGate("r", None, dims=(X,), bounds=((None, 1.0),))
    assert hi_only.contains(_cols([-1e300, 1.0, np.nan])).tolist() == [True, False, False]


@settings(max_examples=80, deadline=None)
@given(
    pts=st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), min_size=1, max_size=40),
    b=st.tuples(
        st.one_of(st.none(), st.floats(-10, 10)),
        st.one_of(st.none(), st.floats(-10, 10)),
        st.one_of(st.none(), st.floats(-10, 10)),
        st.one_of(st.none(), st.floats(-10, 10)),
    ),
)
def test_rectangle_equals_intersection_of_its_ranges(
    pts: list[tuple[float, float]], b: tuple[float | None, ...]
) -> None:
    x0, x1, y0, y1 = b
    if (x0 is None and x1 is None) or (y0 is None and y1 is None):
        return
    if x0 is not None and x1 is not None and x0 > x1:
        x0, x1 = x1, x0
    if y0 is not None and y1 is not None and y0 > y1:
        y0, y1 = y1, y0
    xs, ys = _cols([p[0] for p in pts], [p[1] for p in pts])
    rect = RectangleGate("r", None, dims=(X, Y), bounds=((x0, x1), (y0, y1)))
    rx = RectangleGate("rx", None, dims=(X,), bounds=((x0, x1),))
    ry = RectangleGate("ry", None, dims=(Y,), bounds=((y0, y1),))
    assert np.array_equal(rect.contains([xs, ys]), rx.contains([xs]) & ry.contains([ys]))


def test_polygon_boundary_vertices_and_outside() -> None:
    tri = PolygonGate("p", None, dims=(X, Y), vertices=((5, 5), (500, 5), (500, 500)))
    x, y = _cols(
        [100, 100, 250, 5, 500, 499.9, 600, 100, 100],
        [50, 100, 5, 5, 500, 250, 250, 100.0000001, np.nan],
    )
    # inside, on the diagonal edge, on the bottom edge, two vertices, inside near the right
    # edge, outside, just above the diagonal, NaN.
    assert tri.contains([x, y]).tolist() == [
        True,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_polygon_even_odd_on_self_intersecting_shape() -> None:
    # A bow-tie: the two lobes are inside, the centre of the crossing is on both edges.
    bow = PolygonGate("b", None, dims=(X, Y), vertices=((0, 0), (10, 10), (10, 0), (0, 10)))
    x, y = _cols([2, 8, 5, 5, -1], [5, 5, 2, 8, 5])
    assert bow.contains([x, y]).tolist() == [True, True, False, False, False]


@settings(max_examples=60, deadline=None)
@given(pts=st.lists(st.tuples(st.floats(-2, 12), st.floats(-2, 12)), min_size=1, max_size=50))
def test_polygon_square_equals_closed_rectangle(pts: list[tuple[float, float]]) -> None:
    sq = PolygonGate("s", None, dims=(X, Y), vertices=((0, 0), (10, 0), (10, 10), (0, 10)))
    x, y = _cols([p[0] for p in pts], [p[1] for p in pts])
    expected = (x >= 0) & (x <= 10) & (y >= 0) & (y <= 10)  # boundary belongs to the polygon
    assert np.array_equal(sq.contains([x, y]), expected)


def test_polygon_many_events_uses_blocks_consistently() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 11, 200_000), rng.uniform(-1, 11, 200_000)
    sq = PolygonGate("s", None, dims=(X, Y), vertices=((0, 0), (10, 0), (10, 10), (0, 10)))
    assert np.array_equal(sq.contains([x, y]), (x >= 0) & (x <= 10) & (y >= 0) & (y <= 10))


def test_ellipsoid_includes_its_boundary() -> None:
    e = EllipsoidGate(
        "e",
        None,
        dims=(X, Y),
        mean=(0.0, 0.0),
        covariance=((4.0, 0.0), (0.0, 1.0)),
        distance_square=1.0,
    )
    x, y = _cols([2.0, 0.0, 2.0001, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0001, 0.5])
    assert e.contains([x, y]).tolist() == [True, True, False, False, True]
    with pytest.raises(ValidationError, match="covarianceMatrix"):
        EllipsoidGate(
            "bad",
            None,
            dims=(X, Y),
            mean=(0, 0),
            covariance=((1, 1), (1, 1)),
            distance_square=1,
        )


def test_quadrant_intervals_follow_locations() -> None:
    dx = Divider("dx", X, (10.0,))
    dy = Divider("dy", Y, (0.0, 5.0))
    low = Quadrant("q1", None, quadrant_gate="Q", dividers=(dx, dy), locations=(0, -1))
    mid = Quadrant("q2", None, quadrant_gate="Q", dividers=(dx, dy), locations=(11, 2))
    assert low.intervals() == ((None, 10.0), (None, 0.0))
    assert mid.intervals() == ((10.0, None), (0.0, 5.0))
    x, y = _cols([9.9, 10.0, 10.0, 10.0, np.nan], [-5, 0, 4.99, 5, -1])
    assert low.contains([x, y]).tolist() == [True, False, False, False, False]
    assert mid.contains([x, y]).tolist() == [False, True, True, False, False]


def _strategy() -> Strategy:
    gates = (
        RectangleGate("A", None, dims=(X,), bounds=((0.0, None),)),
        RectangleGate("B", "A", dims=(Y,), bounds=((None, 5.0),)),
        BooleanGate(
            "AnotB",
            None,
            op=BooleanOp.AND,
            operands=(GateReference("A"), GateReference("B", complement=True)),
        ),
        BooleanGate("notA", None, op=BooleanOp.NOT, operands=(GateReference("A"),)),
        BooleanGate(
            "AorB", "A", op=BooleanOp.OR, operands=(GateReference("A"), GateReference("B"))
        ),
    )
    return Strategy(gates=gates)


def test_hierarchy_and_boolean_gates() -> None:
    ev = ArrayEvents(np.array([[-1, 0], [1, 0], [1, 9], [2, 4]], dtype=float), ["X", "Y"])
    r = apply_strategy(_strategy(), ev)
    assert r.memberships["A"].tolist() == [False, True, True, True]
    assert r.memberships["B"].tolist() == [False, True, False, True]  # B within A only
    assert r.memberships["AnotB"].tolist() == [False, False, True, False]
    assert r.memberships["notA"].tolist() == [True, False, False, False]
    assert r.counts() == {"A": 3, "B": 2, "AnotB": 1, "notA": 1, "AorB": 3}
    assert r.parents["B"] == "A" and r.parents["A"] is None


def test_subset_evaluation_equals_full_evaluation() -> None:
    # A deep gate under a small parent is computed on the parent's events only; the result
    # must equal evaluating everything on all events.
    rng = np.random.default_rng(11)
    n = 50_000
    raw = np.column_stack([rng.uniform(0, 100, n), rng.lognormal(5, 2, n), rng.lognormal(5, 2, n)])
    spill = SpectrumMatrix("S", ("F1", "F2"), ("F1", "F2"), ((1.0, 0.1), (0.05, 1.0)))
    lg = LogicleTransform()
    rare = RectangleGate("rare", None, dims=(Dimension("X"),), bounds=((0.0, 5.0),))
    child = RectangleGate(
        "child",
        "rare",
        dims=(Dimension("F1", "S", "lg"), Dimension("F2", "S", "lg")),
        bounds=((0.3, 0.9), (0.2, None)),
    )
    flat = RectangleGate(
        "flat",
        None,
        dims=(Dimension("F1", "S", "lg"), Dimension("F2", "S", "lg")),
        bounds=((0.3, 0.9), (0.2, None)),
    )
    s = Strategy(gates=(rare, child, flat), transforms={"lg": lg}, matrices={"S": spill})
    r = apply_strategy(s, ArrayEvents(raw, ["X", "F1", "F2"]))
    assert r.count("rare") < 0.25 * n  # the subset path is taken
    assert np.array_equal(r.memberships["child"], r.memberships["rare"] & r.memberships["flat"])
    # And the compensated values are raw @ inv(S).
    comp = raw[:, 1:] @ np.linalg.inv(np.array([[1.0, 0.1], [0.05, 1.0]]))
    t = lg.apply(comp)
    expected = (t[:, 0] >= 0.3) & (t[:, 0] < 0.9) & (t[:, 1] >= 0.2)
    assert np.array_equal(r.memberships["flat"], expected)


def test_strategy_refuses_bad_references() -> None:
    g = RectangleGate("A", "nope", dims=(X,), bounds=((0.0, 1.0),))
    with pytest.raises(ValidationError, match="parent_id"):
        Strategy(gates=(g,))
    g2 = RectangleGate("A", None, dims=(Dimension("X", "spill9"),), bounds=((0.0, 1.0),))
    with pytest.raises(ValidationError, match="compensation-ref"):
        Strategy(gates=(g2,))
    g3 = RectangleGate("A", None, dims=(Dimension("X", transform="t"),), bounds=((0.0, 1.0),))
    with pytest.raises(ValidationError, match="transformation-ref"):
        Strategy(gates=(g3,))
    a = RectangleGate("A", "B", dims=(X,), bounds=((0.0, 1.0),))
    b = RectangleGate("B", "A", dims=(X,), bounds=((0.0, 1.0),))
    with pytest.raises(ValidationError, match="cycles"):
        Strategy(gates=(a, b))


def test_unknown_channel_is_refused_naming_gate_and_channel() -> None:
    s = Strategy(gates=(RectangleGate("A", None, dims=(Dimension("CD45"),), bounds=((0, 1),)),))
    with pytest.raises(ValidationError) as err:
        apply_strategy(s, ArrayEvents(np.zeros((3, 1)), ["FSC-A"], source="tube.fcs"))
    msg = str(err.value)
    assert "tube.fcs" in msg and "gate A" in msg and "CD45" in msg and "FSC-A" in msg


def test_dimension_values_prefetch_equals_reference() -> None:
    from trephine.analysis.flow.strategy import dimension_values

    rng = np.random.default_rng(5)
    n = 70_000  # more than one block
    raw = np.column_stack([rng.uniform(0, 1e5, n), rng.lognormal(6, 2, n), rng.lognormal(6, 2, n)])
    m = ((1.0, 0.2), (0.1, 1.0))
    spill = SpectrumMatrix("S", ("F1", "F2"), ("F1", "F2"), m)
    lg = LogicleTransform()
    s = Strategy(gates=(), transforms={"lg": lg}, matrices={"S": spill})
    dims = [
        Dimension("F1", "S", "lg"),
        Dimension("F2", "S"),
        Dimension("F1", "S", "lg"),  # shares the first one's column
        Dimension("FSC", "S"),  # not in the matrix: passes through
    ]
    out = dimension_values(s, ArrayEvents(raw, ["FSC", "F1", "F2"]), dims)
    comp = raw[:, 1:] @ np.linalg.inv(np.array(m))
    assert np.allclose(out[0], lg.apply(comp[:, 0]), rtol=0, atol=1e-12)
    assert np.allclose(out[1], comp[:, 1], rtol=1e-12)
    assert out[2] is out[0]
    assert np.array_equal(out[3], raw[:, 0])


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(3, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_polygon_agrees_with_matplotlib_away_from_edges(n: int, seed: int) -> None:
    # An independent implementation (matplotlib's Path) for a random star-shaped polygon;
    # only events clearly off the boundary are compared (boundary conventions differ).
    from matplotlib.path import Path as MplPath

    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(1, 10, n)
    verts = np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])
    pts = rng.uniform(-11, 11, (2000, 2))
    gate = PolygonGate("p", None, dims=(X, Y), vertices=tuple(map(tuple, verts)))
    ours = gate.contains([pts[:, 0], pts[:, 1]])
    path = MplPath(verts, closed=False)
    ref = path.contains_points(pts)
    # Distance of each point to the nearest edge.
    a, b = verts, np.roll(verts, -1, axis=0)
    ab = b - a
    t = np.clip(((pts[:, None, :] - a[None]) * ab[None]).sum(-1) / (ab * ab).sum(-1)[None], 0, 1)
    nearest = a[None] + t[..., None] * ab[None]
    dist = np.sqrt(((pts[:, None, :] - nearest) ** 2).sum(-1)).min(axis=1)
    clear = dist > 1e-9
    assert np.array_equal(ours[clear], ref[clear])
