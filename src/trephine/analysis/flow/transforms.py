"""Scale transformations of flow cytometry data (Gating-ML 2.0 and FlowJo's biex).

Every transform is a frozen value object with ``apply`` (data -> scale) and ``inverse``
(scale -> data), vectorized over numpy arrays. The definitions follow the Gating-ML 2.0
transformation specification (ISAC, 2013): ``flin``, ``flog``, ``fasinh``, ``logicle``,
``hyperlog`` and the two-dimension ``fratio``. :class:`FlowJoBiex` reproduces the lookup table
FlowJo 10 builds for its "biex" display transform.

Why the logicle and hyperlog are not solved per value: both are defined as the inverse of a
biexponential, which has no closed form. A per-value root finder (FlowUtils' approach) costs about
0.3 s per 2-million-event channel. Here the inverse is tabulated once per parameter set on a fine
grid where the forward function is monotone, each value gets a starting point by vectorized linear
interpolation on that table, and one or two vectorized Newton steps on the exact function bring it
to machine precision (the interpolation error is ~1e-8, Newton squares it).

Only numpy is imported: this module sits on the gating hot path whose start-up time is measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from trephine.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

LN10 = math.log(10.0)

#: Points in the tabulated inverse of the logicle/hyperlog. 8192 keeps the linear-interpolation
#: error of the starting guess near 1e-8 on the scale, so one Newton step reaches ~1e-15; the
#: table itself costs well under a millisecond.
_GRID_POINTS = 8192
#: Newton steps after the interpolated start. One is enough for 1e-12; the second is cheap
#: insurance for parameter sets where the curvature is extreme (tiny W, huge M).
_NEWTON_STEPS = 2
#: Values solved per block (see ``_TabulatedInverse.solve``).
_BLOCK = 1 << 16


def _as_float_array(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _require(cond: bool, field_name: str, value: object, allowed: str) -> None:
    if not cond:
        raise ValidationError(field_name, value, allowed)


@dataclass(frozen=True)
class Transform:
    """Base of one-dimensional transforms (data value -> display/gating scale)."""

    def apply(self, x: ArrayLike) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, y: ArrayLike) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class LinearTransform(Transform):
    """Gating-ML ``flin``: ``(x + A) / (T + A)``."""

    T: float = 262144.0
    A: float = 0.0

    def __post_init__(self) -> None:
        _require(math.isfinite(self.T) and self.T > 0, "flin.T", self.T, "finite T > 0")
        _require(0 <= self.A <= self.T, "flin.A", self.A, "0 <= A <= T")  # NaN fails too

    def apply(self, x: ArrayLike) -> FloatArray:
        return (_as_float_array(x) + self.A) / (self.T + self.A)

    def inverse(self, y: ArrayLike) -> FloatArray:
        return _as_float_array(y) * (self.T + self.A) - self.A


@dataclass(frozen=True)
class LogTransform(Transform):
    """Gating-ML ``flog``: ``log10(x / T) / M + 1``; undefined (NaN) for ``x <= 0``."""

    T: float = 262144.0
    M: float = 4.5

    def __post_init__(self) -> None:
        _require(math.isfinite(self.T) and self.T > 0, "flog.T", self.T, "finite T > 0")
        _require(math.isfinite(self.M) and self.M > 0, "flog.M", self.M, "finite M > 0")

    def apply(self, x: ArrayLike) -> FloatArray:
        x = _as_float_array(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log10(x / self.T) / self.M + 1.0
        # The specification leaves x <= 0 undefined; NaN keeps such events out of every gate.
        out[~(x > 0)] = np.nan
        return out

    def inverse(self, y: ArrayLike) -> FloatArray:
        return self.T * np.power(10.0, (_as_float_array(y) - 1.0) * self.M)


@dataclass(frozen=True)
class AsinhTransform(Transform):
    """Gating-ML ``fasinh``: ``(asinh(x sinh(M ln10) / T) + A ln10) / ((M + A) ln10)``."""

    T: float = 262144.0
    M: float = 4.5
    A: float = 0.0

    def __post_init__(self) -> None:
        _require(math.isfinite(self.T) and self.T > 0, "fasinh.T", self.T, "finite T > 0")
        # sinh(M ln10) must be a finite double: M up to ~308 decades.
        _require(0 < self.M < 308, "fasinh.M", self.M, "0 < M < 308")
        _require(0 <= self.A <= self.M, "fasinh.A", self.A, "0 <= A <= M")

    def apply(self, x: ArrayLike) -> FloatArray:
        x = _as_float_array(x)
        scale = math.sinh(self.M * LN10) / self.T
        return (np.arcsinh(x * scale) + self.A * LN10) / ((self.M + self.A) * LN10)

    def inverse(self, y: ArrayLike) -> FloatArray:
        y = _as_float_array(y)
        scale = math.sinh(self.M * LN10) / self.T
        return np.sinh(y * (self.M + self.A) * LN10 - self.A * LN10) / scale


def _solve_d(b: float, w: float) -> float:
    """Root ``d > 0`` of ``2 (ln d - ln b) + w (b + d) = 0`` (logicle's negative-decay rate).

    The left side is strictly increasing in ``d``; at ``d = b`` it equals ``2 w b >= 0`` and it
    tends to -inf as ``d -> 0``, so the root lies in ``(0, b]``. Bisection on ``ln d`` followed by
    Newton polishing is plenty for a once-per-transform scalar.
    """
    if w == 0:
        return b

    def g(d: float) -> float:
        return 2.0 * (math.log(d) - math.log(b)) + w * (b + d)

    lo, hi = b * 1e-300, b
    # Bisection in log space: ~1000 orders of magnitude need ~60 halvings for 1e-16.
    for _ in range(200):
        mid = math.sqrt(lo * hi) if lo > 0 else hi / 2
        if g(mid) > 0:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-15 * hi:
            break
    d = hi
    for _ in range(3):  # Newton polish: g'(d) = 2/d + w
        d -= g(d) / (2.0 / d + w)
    return d


@dataclass(frozen=True)
class _BiexParams:
    """Coefficients of ``B(y) = a e^{b y} - c e^{-d y} - f`` (``c = 0`` plus linear term for
    the hyperlog, see :class:`HyperlogTransform`)."""

    a: float
    b: float
    c: float
    d: float
    f: float
    x1: float


class _TabulatedInverse:
    """Vectorized inverse of a monotone, odd-about-``x1`` forward function ``B``.

    ``B`` maps scale ``y >= x1`` to data ``v >= 0``; values below zero use the symmetry
    ``y(-v) = 2 x1 - y(v)`` that both the logicle and the hyperlog are defined with.
    """

    def __init__(self, p: _BiexParams) -> None:
        self.p = p
        self.x1 = p.x1
        self.rate = p.b
        # Tables start at the top of the scale (y = 1, data T) and grow past it for data above T.
        self.top = 1.0
        self._u_table: tuple[float, FloatArray, FloatArray] | None = None
        self._vmax = -1.0
        self._du = 1.0

    # Subclasses provide B and dB/dy on arrays of y >= x1.
    def forward_pos(self, y: FloatArray) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def slope_pos(self, y: FloatArray) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def far_guess(self, v: FloatArray) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, name: str, params: tuple[float, ...]) -> None:
        """Build the table now, so impossible parameter sets fail where they are declared."""
        try:
            self._table(0.0)
        except (ValueError, OverflowError, ZeroDivisionError):
            raise ValidationError(
                f"{name} (T, W, M, A)", params, "parameters giving a finite, invertible scale"
            ) from None

    def newton_step(self, y: FloatArray, v: FloatArray) -> None:
        """One in-place Newton step on ``B(y) = v`` (subclasses fuse the exponentials)."""
        y -= (self.forward_pos(y) - v) / self.slope_pos(y)

    def _table(self, vmax: float) -> tuple[float, FloatArray, FloatArray]:
        """The inverse tabulated on a grid uniform in ``u = asinh(v / s)``.

        In ``u`` the inverse is close to a straight line at both ends (``y ~ x1 + v/B'(x1)`` near
        zero, ``y ~ ln(v/a)/b`` far out), and a uniform grid turns the lookup into an index
        computation instead of a binary search (np.interp's search dominated the run time).
        """
        if self._u_table is not None and vmax <= self._vmax:
            return self._u_table
        # Probing how far the table can extend overflows on purpose; that is checked below.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._build_table(vmax)

    def _build_table(self, vmax: float) -> tuple[float, FloatArray, FloatArray]:
        top = self.top
        # Extend the table to cover the largest value asked for (data above T), but only while
        # B stays finite; values beyond the table start from the asymptote (see _solve_block).
        while float(self.forward_pos(np.array([top]))[0]) < vmax:
            nxt = self.x1 + 2.0 * (top - self.x1)
            if not math.isfinite(float(self.forward_pos(np.array([nxt]))[0])):
                break
            top = nxt
        self.top = top
        vtop = float(self.forward_pos(np.array([top]))[0])
        # s = B'(x1) / b: dy/du is then 1/b at both ends of the range.
        scale = float(self.slope_pos(np.array([self.x1]))[0]) / self.rate
        if not (math.isfinite(vtop) and vtop > 0 and math.isfinite(scale) and scale > 0):
            raise ValueError("the scale is not finite and invertible for these parameters")
        u_max = math.asinh(vtop / scale)
        du = u_max / (_GRID_POINTS - 1)
        grid_u = np.arange(_GRID_POINTS, dtype=np.float64) * du
        grid_v = scale * np.sinh(grid_u)
        # Exact inverse at the grid points: interpolate on a dense y grid, then Newton.
        dense_y = np.linspace(self.x1, top, 8 * _GRID_POINTS)
        dense_v = self.forward_pos(dense_y)
        dense_v[0] = 0.0
        grid_y = np.interp(grid_v, dense_v, dense_y)
        for _ in range(4):
            grid_y -= (self.forward_pos(grid_y) - grid_v) / self.slope_pos(grid_y)
        grid_y[0] = self.x1
        if not (du > 0 and np.all(np.isfinite(grid_y)) and np.all(np.diff(grid_y) >= 0)):
            raise ValueError("the scale is not finite and invertible for these parameters")
        slopes = np.empty_like(grid_y)
        slopes[:-1] = np.diff(grid_y)
        slopes[-1] = slopes[-2]
        self._vmax = vtop
        self._u_table = (1.0 / scale, grid_y, slopes)
        self._du = du
        return self._u_table

    def solve(self, x: ArrayLike) -> FloatArray:
        arr = np.asarray(x)
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        flat = arr.reshape(-1)
        out = np.empty(flat.shape, dtype=np.float64)
        # Blocks of 64k values keep every temporary in the CPU cache and the peak memory at a
        # few MB whatever the event count (a 2M-event column would otherwise need ~7 float64
        # temporaries of 16 MB each).
        for lo in range(0, flat.size, _BLOCK):
            out[lo : lo + _BLOCK] = self._solve_block(flat[lo : lo + _BLOCK])
        return out.reshape(arr.shape)

    def _solve_block(self, x_in: npt.NDArray[np.floating]) -> FloatArray:
        x = x_in.astype(np.float64, copy=False)
        v = np.abs(x)
        vmax = float(v.max()) if v.size else 0.0
        # max() is NaN or inf exactly when some value is; only then pay for the masks.
        all_finite = math.isfinite(vmax)
        if not all_finite:
            finite = np.isfinite(v)
            v[~finite] = 0.0
            vmax = float(v.max())
        inv_scale, grid_y, slopes = self._table(vmax)
        t = np.arcsinh(v * inv_scale)
        t *= 1.0 / self._du
        # Clip before the integer cast (inf has no integer); clipped values are redone below.
        np.minimum(t, grid_y.size - 1, out=t)
        j = t.astype(np.intp)
        t -= j
        y = grid_y[j]
        y += t * slopes[j]
        if vmax > self._vmax:
            # Beyond the finite table: start from the exponential asymptote y ~ ln(v/a)/b.
            far = v > self._vmax
            y[far] = self.far_guess(v[far])
        for _ in range(_NEWTON_STEPS):
            # Newton on B(y) - v; B is convex and increasing for y >= x1, so from the
            # interpolated start (within ~1e-8) each step squares the error.
            self.newton_step(y, v)
        np.maximum(y, self.x1, out=y)
        neg = x < 0
        y[neg] = 2.0 * self.x1 - y[neg]
        if not all_finite:
            bad = ~finite
            y[bad] = np.where(np.isnan(x[bad]), np.nan, np.sign(x[bad]) * np.inf)
        return y

    def forward(self, y: ArrayLike) -> FloatArray:
        y = _as_float_array(y)
        neg = y < self.x1
        yy = np.where(neg, 2.0 * self.x1 - y, y)
        out = self.forward_pos(yy)
        out[neg] = -out[neg]
        return out


class _LogicleSolver(_TabulatedInverse):
    def forward_pos(self, y: FloatArray) -> FloatArray:
        p = self.p
        return p.a * np.exp(p.b * y) - p.c * np.exp(-p.d * y) - p.f

    def slope_pos(self, y: FloatArray) -> FloatArray:
        p = self.p
        return p.a * p.b * np.exp(p.b * y) + p.c * p.d * np.exp(-p.d * y)

    def far_guess(self, v: FloatArray) -> FloatArray:
        p = self.p
        return np.log(v / p.a) / p.b

    def newton_step(self, y: FloatArray, v: FloatArray) -> None:
        # Same arithmetic as forward_pos/slope_pos, with each exponential computed once.
        p = self.p
        up = np.exp(p.b * y)
        down = np.exp(-p.d * y)
        up *= p.a
        down *= p.c
        value = up - down
        value -= p.f
        value -= v
        up *= p.b
        down *= p.d
        up += down
        value /= up
        y -= value


class _HyperlogSolver(_TabulatedInverse):
    def forward_pos(self, y: FloatArray) -> FloatArray:
        p = self.p
        return p.a * np.exp(p.b * y) + p.c * y - p.f

    def slope_pos(self, y: FloatArray) -> FloatArray:
        p = self.p
        return p.a * p.b * np.exp(p.b * y) + p.c

    def far_guess(self, v: FloatArray) -> FloatArray:
        p = self.p
        return np.log(v / p.a) / p.b


def _check_biex(name: str, T: float, W: float, M: float, A: float) -> None:
    for key, val in (("T", T), ("W", W), ("M", M), ("A", A)):
        _require(math.isfinite(val), f"{name}.{key}", val, "a finite number")
    _require(T > 0, f"{name}.T", T, "T > 0")
    _require(M > 0, f"{name}.M", M, "M > 0")
    _require(0 <= W <= M / 2, f"{name}.W", W, "0 <= W <= M/2")
    _require(-W <= A <= M - 2 * W, f"{name}.A", A, "-W <= A <= M - 2W")


@dataclass(frozen=True)
class _BiexTransform(Transform):
    """What logicle and hyperlog share: the Gating-ML T, W, M, A parameters, the scale geometry
    derived from them (x0, x1, x2, b), and inversion through a tabulated solver. Subclasses give
    only the coefficients of their forward function and the solver that knows its shape."""

    T: float = 262144.0
    W: float = 0.5
    M: float = 4.5
    A: float = 0.0
    _solver: _TabulatedInverse = field(init=False, repr=False, compare=False)

    _name: ClassVar[str]

    def _check(self) -> None:
        _check_biex(self._name, self.T, self.W, self.M, self.A)

    def _coefficients(self, w: float, x1: float, x0: float, b: float) -> _BiexParams:
        raise NotImplementedError  # pragma: no cover - abstract

    def _make_solver(self, p: _BiexParams) -> _TabulatedInverse:
        raise NotImplementedError  # pragma: no cover - abstract

    def __post_init__(self) -> None:
        self._check()
        w = self.W / (self.M + self.A)
        x2 = self.A / (self.M + self.A)
        x1 = x2 + w
        x0 = x2 + 2 * w
        b = (self.M + self.A) * LN10
        params = (self.T, self.W, self.M, self.A)
        try:
            p = self._coefficients(w, x1, x0, b)
        except (OverflowError, ZeroDivisionError, ValueError):
            raise ValidationError(
                f"{self._name} (T, W, M, A)", params, "parameters giving a finite, invertible scale"
            ) from None
        solver = self._make_solver(p)
        solver.check(self._name, params)
        object.__setattr__(self, "_solver", solver)

    def apply(self, x: ArrayLike) -> FloatArray:
        return self._solver.solve(x)

    def inverse(self, y: ArrayLike) -> FloatArray:
        return self._solver.forward(y)


@dataclass(frozen=True)
class LogicleTransform(_BiexTransform):
    """Gating-ML ``logicle`` (Parks, Roederer & Moore 2006; Moore & Parks 2012).

    ``apply`` returns the scale value ``y`` with ``B(y) = x`` where
    ``B(y) = a e^{b y} - c e^{-d y} - f`` for ``y >= x1`` and ``B(y) = -B(2 x1 - y)`` below.
    """

    _name: ClassVar[str] = "logicle"

    def _coefficients(self, w: float, x1: float, x0: float, b: float) -> _BiexParams:
        d = _solve_d(b, w)
        c_a = math.exp(x0 * (b + d))
        mf_a = math.exp(b * x1) - c_a / math.exp(d * x1)
        a = self.T / ((math.exp(b) - mf_a) - c_a / math.exp(d))
        return _BiexParams(a=a, b=b, c=c_a * a, d=d, f=mf_a * a, x1=x1)

    def _make_solver(self, p: _BiexParams) -> _TabulatedInverse:
        return _LogicleSolver(p)


@dataclass(frozen=True)
class HyperlogTransform(_BiexTransform):
    """Gating-ML ``hyperlog`` (Bagwell 2005), inverse of ``a e^{b y} + c y - f``."""

    _name: ClassVar[str] = "hyperlog"

    def _check(self) -> None:
        super()._check()
        # Its linear coefficient is e^{b x0} / w: unlike logicle, hyperlog has no W = 0 case.
        _require(self.W > 0, "hyperlog.W", self.W, "W > 0")

    def _coefficients(self, w: float, x1: float, x0: float, b: float) -> _BiexParams:
        e0 = math.exp(b * x0)
        c_a = e0 / w
        f_a = math.exp(b * x1) + c_a * x1
        a = self.T / ((math.exp(b) + c_a) - f_a)
        return _BiexParams(a=a, b=b, c=c_a * a, d=0.0, f=f_a * a, x1=x1)

    def _make_solver(self, p: _BiexParams) -> _TabulatedInverse:
        return _HyperlogSolver(p)


@dataclass(frozen=True)
class RatioTransform:
    """Gating-ML ``fratio``: a new dimension ``A (x1 - B) / (x2 - C)`` from two channels.

    ``numerator`` and ``denominator`` are FCS channel names ($PnN); the values are taken after
    the compensation of the gate dimension that uses the ratio.
    """

    numerator: str
    denominator: str
    A: float = 1.0
    B: float = 0.0
    C: float = 0.0

    def apply(self, x1: ArrayLike, x2: ArrayLike) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.A * (_as_float_array(x1) - self.B) / (_as_float_array(x2) - self.C)


@dataclass(frozen=True)
class FlowJoBiex(Transform):
    """FlowJo 10's "biex" display transform, reproduced from the lookup table FlowJo builds.

    FlowJo tabulates a logicle-shaped biexponential on ``channel_range`` output channels and maps
    a value to its channel by linear interpolation in that table; ``apply`` returns
    ``channel / channel_range`` (0..1, like the Gating-ML scales). Parameters as FlowJo writes them
    in a workspace: ``width`` (negative, e.g. -10), ``negative`` and ``positive`` decades and
    ``max_value``.

    How the table relates to the Gating-ML logicle (worked out against FlowJo's own table in the
    test data): ``W = log10(-width) / 2``, ``A = negative``; the zero is snapped to the integer
    channel ``z = floor(n (A + W) / (M + A))`` and the total decades are stretched to
    ``(A + W) n / z`` so the logicle's zero ``x1`` falls exactly on channel ``z``. Channel ``i``
    samples the curve at ``i / (n + 1)``, is shifted so channel ``z`` is exactly zero, mirrored
    below ``z``, and scaled by ``max / e^b`` (the bare exponential's coefficient) instead of the
    logicle's exact-``T`` normalisation.
    """

    width: float = -10.0
    negative: float = 0.0
    positive: float = 4.418540
    max_value: float = 262144.0
    channel_range: int = 4096
    _table: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require(self.width < 0, "biex.width", self.width, "width < 0 (FlowJo writes e.g. -10)")
        _require(self.positive > 0, "biex.positive", self.positive, "positive decades > 0")
        _require(self.negative >= 0, "biex.negative", self.negative, "negative decades >= 0")
        _require(self.channel_range >= 2, "biex.channel_range", self.channel_range, ">= 2")
        _require(self.max_value > 0, "biex.max_value", self.max_value, "> 0")
        for name in ("width", "negative", "positive", "max_value"):
            value = getattr(self, name)
            _require(math.isfinite(value), f"biex.{name}", value, "a finite number")
        # Parameters each in range can still leave no usable scale (pos="1e-320" overflowed the
        # zero-channel computation with a bare OverflowError): refuse them by name.
        try:
            with np.errstate(all="raise"):
                table = self._build()
            usable = bool(np.all(np.isfinite(table)) and np.all(np.diff(table) > 0))
        except (OverflowError, ValueError, ZeroDivisionError, FloatingPointError):
            usable = False
        _require(
            usable,
            "biex",
            f"width={self.width!r}, negative={self.negative!r}, positive={self.positive!r}, "
            f"max_value={self.max_value!r}",
            "parameters giving a finite, increasing scale (FlowJo's defaults: width -10, "
            "negative 0, positive 4.42, max_value 262144)",
        )
        object.__setattr__(self, "_table", table)

    def _build(self) -> FloatArray:
        n = self.channel_range
        half_width = math.log10(-self.width) / 2
        below_zero = self.negative + half_width
        zero = min(int(below_zero * n / (self.negative + self.positive)), n // 2)
        total = below_zero * n / zero if zero > 0 else self.positive + self.negative
        logicle = LogicleTransform(
            T=self.max_value, W=half_width, M=total - self.negative, A=self.negative
        )
        p = logicle._solver.p
        y = np.arange(n + 1, dtype=np.float64) / (n + 1)
        values = logicle.inverse(y)
        values -= float(logicle.inverse(np.array([zero / (n + 1)]))[0])
        values *= self.max_value / (math.exp(p.b) * p.a)
        below = np.arange(zero)
        values[below] = -values[2 * zero - below]
        return values

    @property
    def table(self) -> FloatArray:
        """Raw value at each output channel ``0..channel_range`` (FlowJo's lookup table)."""
        return self._table.copy()

    def apply(self, x: ArrayLike) -> FloatArray:
        channels = np.arange(self._table.size, dtype=np.float64)
        return np.interp(_as_float_array(x), self._table, channels) / self.channel_range

    def inverse(self, y: ArrayLike) -> FloatArray:
        channels = np.arange(self._table.size, dtype=np.float64)
        return np.interp(_as_float_array(y) * self.channel_range, channels, self._table)
