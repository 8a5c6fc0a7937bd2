"""Transforms against the Gating-ML 2.0 formulas, FlowUtils' exact solver and FlowJo's LUT."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from flowutils import transforms as fu
from hypothesis import given, settings
from hypothesis import strategies as st

from trephine.analysis.flow.transforms import (
    AsinhTransform,
    FlowJoBiex,
    HyperlogTransform,
    LinearTransform,
    LogicleTransform,
    LogTransform,
    RatioTransform,
)
from trephine.errors import ValidationError

# Values spanning negatives, the linear zone, the log decades and beyond T.
_values = st.lists(
    st.one_of(
        st.floats(-1e5, 1e6, allow_nan=False),
        st.floats(-50, 50, allow_nan=False),
        st.sampled_from([0.0, 1e-12, -1e-12, 262144.0]),
    ),
    min_size=1,
    max_size=60,
)


@st.composite
def _biex_params(draw: st.DrawFn) -> tuple[float, float, float, float]:
    t = draw(st.floats(1e2, 1e7))
    m = draw(st.floats(2.0, 7.0))
    # W = 0 is checked separately: FlowUtils' solver returns -1 for tiny values there.
    w = draw(st.floats(0.01, m / 2))
    a = draw(st.floats(-w, m - 2 * w))
    return t, w, m, a


def _ref(fn: object, x: np.ndarray, **kw: float) -> np.ndarray:
    out = fn(x.reshape(-1, 1).copy(), [0], **kw)  # type: ignore[operator]
    return np.asarray(out).ravel()


@settings(max_examples=150, deadline=None)
@given(p=_biex_params(), values=_values)
def test_logicle_matches_flowutils_within_1e6(
    p: tuple[float, float, float, float], values: list[float]
) -> None:
    t, w, m, a = p
    x = np.array(values)
    ours = LogicleTransform(T=t, W=w, M=m, A=a).apply(x)
    ref = _ref(fu.logicle, x, t=t, w=w, m=m, a=a)
    assert np.max(np.abs(ours - ref)) < 1e-6


@settings(max_examples=100, deadline=None)
@given(p=_biex_params(), values=_values)
def test_hyperlog_matches_flowutils(
    p: tuple[float, float, float, float], values: list[float]
) -> None:
    t, w, m, a = p
    x = np.array(values)
    ours = HyperlogTransform(T=t, W=w, M=m, A=a).apply(x)
    ref = _ref(fu.hyperlog, x, t=t, w=w, m=m, a=a)
    assert np.max(np.abs(ours - ref)) < 1e-6


@settings(max_examples=60, deadline=None)
@given(t=st.floats(1e2, 1e7), m=st.floats(1.0, 7.0), a_frac=st.floats(0, 1), values=_values)
def test_asinh_matches_flowutils(t: float, m: float, a_frac: float, values: list[float]) -> None:
    a = a_frac * m
    x = np.array(values)
    ours = AsinhTransform(T=t, M=m, A=a).apply(x)
    ref = _ref(fu.asinh, x, t=t, m=m, a=a)
    assert np.allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_logicle_large_array_with_blocks_matches_flowutils() -> None:
    # More values than one solver block, float32 input like a raw FCS column.
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(0, 300, 70_000), rng.lognormal(7, 2, 70_000)]).astype(np.float32)
    ours = LogicleTransform().apply(x)
    ref = _ref(fu.logicle, x.astype(np.float64), t=262144, w=0.5, m=4.5, a=0)
    assert ours.shape == x.shape
    assert np.max(np.abs(ours - ref)) < 1e-9


def test_logicle_fixed_points_and_inverse() -> None:
    lg = LogicleTransform(T=262144, W=0.5, M=4.5, A=0)
    # Zero sits at x1 = W / (M + A); T maps to 1.
    assert lg.apply(np.array([0.0]))[0] == pytest.approx(0.5 / 4.5, abs=1e-12)
    assert lg.apply(np.array([262144.0]))[0] == pytest.approx(1.0, abs=1e-12)
    y = np.linspace(-0.2, 1.2, 101)
    assert np.allclose(lg.apply(lg.inverse(y)), y, atol=1e-10)
    # Odd symmetry about zero.
    v = np.array([10.0, 1000.0, 1e5])
    assert np.allclose(lg.apply(-v), 2 * (0.5 / 4.5) - lg.apply(v), atol=1e-12)


def test_logicle_w0_is_inverse_of_its_biexponential() -> None:
    lg = LogicleTransform(T=100, W=0, M=2, A=0)
    x = np.array([1e-300, 1e-10, 1.0, 50.0, -3.0])
    # Data-space round trip is absolute-precision near zero (cancellation in the exponentials).
    assert np.allclose(lg.inverse(lg.apply(x)), x, rtol=1e-9, atol=1e-12)
    assert lg.apply(np.array([0.0]))[0] == 0.0


def test_logicle_nan_and_inf() -> None:
    out = LogicleTransform().apply(np.array([np.nan, np.inf, -np.inf, 5.0]))
    assert np.isnan(out[0])
    assert out[1] == np.inf and out[2] == -np.inf
    assert np.isfinite(out[3])


def test_linear_log_ratio_formulas() -> None:
    lin = LinearTransform(T=1000, A=100)
    assert lin.apply(np.array([-100.0, 1000.0]))[0] == 0.0
    assert lin.apply(np.array([1000.0]))[0] == 1.0
    lg = LogTransform(T=10000, M=5)
    out = lg.apply(np.array([10000.0, 0.1, 0.0, -3.0]))
    assert out[0] == pytest.approx(1.0)
    assert out[1] == pytest.approx(0.0)
    assert np.isnan(out[2]) and np.isnan(out[3])  # undefined below zero: in no gate
    assert np.allclose(lg.inverse(lg.apply(np.array([5.0, 500.0]))), [5.0, 500.0])
    r = RatioTransform("a", "b", A=2, B=1, C=-1)
    assert r.apply(np.array([3.0]), np.array([3.0]))[0] == pytest.approx(2 * 2 / 4)


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (LogicleTransform, {"T": 0.0}, "logicle.T"),
        (LogicleTransform, {"W": 3.0, "M": 4.5}, "logicle.W"),
        (LogicleTransform, {"W": 0.5, "M": 4.5, "A": -1.0}, "logicle.A"),
        (HyperlogTransform, {"W": 0.0}, "hyperlog.W"),
        (LogTransform, {"M": 0.0}, "flog.M"),
        (AsinhTransform, {"A": 9.0, "M": 4.5}, "fasinh.A"),
        (LinearTransform, {"A": -1.0}, "flin.A"),
        (FlowJoBiex, {"width": 10.0}, "biex.width"),
    ],
)
def test_invalid_parameters_name_the_field(cls: type, kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        cls(**kwargs)
    assert err.value.field == field
    assert err.value.allowed


@pytest.mark.shared_data
def test_flowjo_biex_reproduces_flowjo_lookup_table(real_data: Path) -> None:
    path = real_data / "flow/transforms/flowjo_biex_lut_w-7.943282_n1_m4.418540_r262144.csv"
    lut = np.loadtxt(path, delimiter=",", skiprows=1)
    biex = FlowJoBiex(width=-7.943282, negative=1.0, positive=4.418540, max_value=262144.0)
    table = biex.table[: lut.shape[0]]
    # The CSV prints 6 significant digits; our table agrees to that precision everywhere.
    rel = np.abs(table - lut[:, 1]) / np.maximum(np.abs(lut[:, 1]), 1e-3)
    assert rel.max() < 1e-5
    # Mapping FlowJo's raw values back gives FlowJo's channel numbers.
    channels = biex.apply(lut[1:, 1]) * biex.channel_range
    assert np.max(np.abs(channels - lut[1:, 0])) < 0.01
    assert biex.inverse(np.array([lut[2000, 0] / 4096]))[0] == pytest.approx(lut[2000, 1], rel=1e-5)
    assert math.isclose(biex.apply(np.array([0.0]))[0] * 4096, 1096, abs_tol=1e-9)


def test_values_far_beyond_the_table_are_solved() -> None:
    # FlowUtils gives up (returns -1) on such values; the asymptote plus Newton does not.
    lg = LogicleTransform()
    x = np.array([1e30, 1e200, -1e250])
    y = lg.apply(x)
    assert np.allclose(lg.inverse(y), x, rtol=1e-12)
    hl = HyperlogTransform()
    assert np.allclose(hl.inverse(hl.apply(x)), x, rtol=1e-12)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (LogicleTransform, {"T": float("inf")}),
        (LogicleTransform, {"M": float("nan")}),
        (LogicleTransform, {"T": 262144.0, "W": 0.5, "M": 400.0, "A": 0.0}),
        (HyperlogTransform, {"T": 1e-320}),
        (AsinhTransform, {"M": 400.0}),
        (LogTransform, {"T": float("inf")}),
    ],
)
def test_impossible_parameter_sets_fail_where_declared(cls: type, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        cls(**kwargs)
