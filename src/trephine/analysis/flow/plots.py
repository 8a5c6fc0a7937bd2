"""Density plots of a gating strategy: one figure per gate, with the gate drawn.

Each figure shows the gate's *parent* population on the gate's own axes - compensated and
transformed exactly as :func:`~trephine.analysis.flow.strategy.apply_strategy` sees them - so
what is drawn is what is gated:

* two-dimensional gates (rectangle, polygon, ellipse, quadrant, FlowJo's outside-of-region):
  a 2-D histogram with a logarithmic colour scale (the rare populations of an MRD tube stay
  visible beside the bulk) and the gate outline; open rectangle sides run to the plot edge;
  events beyond the plotted window pile up on its edge, as on a cytometer display;
  a quadrant draws its dividers and shades its own quarter;
* one-dimensional gates (ranges): a histogram with the range limits as vertical lines;
* boolean gates have no geometry and are not drawn.

Titles carry the gate id, the parent, the event count and the share of the parent. Axes are
labelled with the channel, its marker ($PnS) when known, and the compensation/transform; when a
transform is known its ticks are placed at round data values (``10^3``, ``0``, ``-10^2``), so a
logicle axis reads like a cytometrist expects.

matplotlib is imported inside the functions, and only its object-oriented API (no pyplot, no
global backend switch), so importing this module - or gating - never loads it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from trephine.analysis.flow.flowjo_model import FlowJoLinear, OutsideGate
from trephine.analysis.flow.gates import (
    FCS_COMPENSATION,
    UNCOMPENSATED,
    BooleanGate,
    Dimension,
    EllipsoidGate,
    Gate,
    PolygonGate,
    Quadrant,
    RectangleGate,
)
from trephine.analysis.flow.strategy import (
    EventSource,
    GatingResult,
    Strategy,
    apply_strategy,
    dimension_values,
)
from trephine.analysis.flow.transforms import LinearTransform, Transform
from trephine.errors import ValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FloatArray = npt.NDArray[np.float64]
PlotFormat = Literal["png", "svg"]
FORMATS: tuple[PlotFormat, ...] = ("png", "svg")

#: Histogram bins per axis (FlowJo draws on a 256-channel display grid too).
_BINS = 256
_GATE_COLOUR = "#d62728"


@dataclass(frozen=True)
class GatePlot:
    """One written figure."""

    gate_id: str
    path: Path
    kind: Literal["density", "histogram"]
    count: int
    parent_count: int


def drawable(gate: Gate) -> bool:
    """Whether a gate has geometry to draw (boolean gates have none)."""
    return not isinstance(gate, BooleanGate) and 1 <= len(gate.dimensions) <= 2


def plot_strategy(
    strategy: Strategy,
    events: EventSource,
    out_dir: str | Path,
    fmt: PlotFormat = "png",
    *,
    result: GatingResult | None = None,
    markers: Mapping[str, str | None] | None = None,
    gate_ids: Sequence[str] | None = None,
) -> list[GatePlot]:
    """Write one figure per drawable gate (or per gate of ``gate_ids``) into ``out_dir``.

    ``result`` may be passed when the strategy has already been evaluated on ``events``;
    ``markers`` maps channel names to their $PnS marker for the axis labels.
    """
    if fmt not in FORMATS:
        raise ValidationError("format", fmt, FORMATS)
    if result is None:
        result = apply_strategy(strategy, events)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wanted = [strategy.gate(g) for g in gate_ids] if gate_ids is not None else strategy.gates
    gates = [g for g in wanted if drawable(g)]
    width = len(str(len(gates)))
    written: list[GatePlot] = []
    for k, gate in enumerate(gates, start=1):
        fig = gate_figure(strategy, events, result, gate, markers=markers)
        path = out / f"{k:0{width}d}_{_safe(gate.id)}.{fmt}"
        fig.savefig(path, format=fmt)
        parent_n = _parent_count(result, gate)
        written.append(
            GatePlot(
                gate_id=gate.id,
                path=path,
                kind="density" if len(gate.dimensions) == 2 else "histogram",
                count=result.count(gate.id),
                parent_count=parent_n,
            )
        )
    return written


def gate_figure(
    strategy: Strategy,
    events: EventSource,
    result: GatingResult,
    gate: Gate,
    *,
    markers: Mapping[str, str | None] | None = None,
) -> Figure:
    """The figure of one gate (a matplotlib ``Figure`` not attached to pyplot)."""
    from matplotlib.figure import Figure

    if not drawable(gate):
        raise ValidationError(
            f"gate {gate.id}", type(gate).__name__, "a gate on 1 or 2 dimensions (not boolean)"
        )
    dims = gate.dimensions
    parent = result.memberships[gate.parent] if gate.parent is not None else None
    columns = dimension_values(strategy, events, dims)
    if parent is not None:
        columns = [c[parent] for c in columns]
    # Fixed margins rather than constrained layout: the layout solver measured every tick label
    # and took more than half of the drawing time; the title is two lines and labels are short.
    fig = Figure(figsize=(6.0, 5.2), dpi=100)
    two_d = len(dims) == 2
    ax = fig.add_axes((0.15, 0.11, 0.64 if two_d else 0.8, 0.76))
    count = result.count(gate.id)
    parent_n = _parent_count(result, gate)
    share = f"{100.0 * count / parent_n:.2f} % of parent" if parent_n else "parent is empty"
    ax.set_title(
        f"{gate.id}\nparent: {gate.parent or 'all events'} ({parent_n:,}) - "
        f"{count:,} events, {share}",
        fontsize=10,
    )
    labels = [_axis_label(strategy, d, markers) for d in dims]
    if len(dims) == 2:
        x, y = columns
        xlim = _limits(x, _extent(gate, 0))
        ylim = _limits(y, _extent(gate, 1))
        _density(fig, ax, x, y, xlim, ylim)
        _draw_gate(ax, gate, xlim, ylim)
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        _data_ticks(ax, strategy, dims[0], "x", xlim)
        _data_ticks(ax, strategy, dims[1], "y", ylim)
    else:
        (x,) = columns
        xlim = _limits(x, _extent(gate, 0))
        finite = np.clip(x[np.isfinite(x)], xlim[0], xlim[1])
        ax.hist(finite, bins=_BINS, range=xlim, color="#4c72b0", histtype="stepfilled")
        lo, hi = _bounds_1d(gate)
        for v in (lo, hi):
            if v is not None:
                ax.axvline(v, color=_GATE_COLOUR, linewidth=1.5)
        ax.axvspan(
            lo if lo is not None else xlim[0],
            hi if hi is not None else xlim[1],
            color=_GATE_COLOUR,
            alpha=0.08,
        )
        ax.set_xlim(xlim)
        ax.set_xlabel(labels[0])
        ax.set_ylabel("events")
        _data_ticks(ax, strategy, dims[0], "x", xlim)
    return fig


# --------------------------------------------------------------------------- helpers


def _parent_count(result: GatingResult, gate: Gate) -> int:
    return result.count(gate.parent) if gate.parent is not None else result.event_count


def _safe(gate_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", gate_id).strip("_") or "gate"


def _region(gate: Gate) -> Gate:
    if isinstance(gate, OutsideGate):
        assert gate.region is not None
        return gate.region
    return gate


def _bounds_1d(gate: Gate) -> tuple[float | None, float | None]:
    g = _region(gate)
    if isinstance(g, RectangleGate):
        return g.bounds[0]
    if isinstance(g, Quadrant):
        return g.intervals()[0]
    return (None, None)


def _extent(gate: Gate, axis: int) -> list[float]:
    """Finite gate coordinates along one axis (so the gate is inside the plotted range)."""
    g = _region(gate)
    vals: list[float | None] = []
    if isinstance(g, RectangleGate):
        vals = list(g.bounds[axis])
    elif isinstance(g, PolygonGate):
        vals = [v[axis] for v in g.vertices]
    elif isinstance(g, EllipsoidGate):
        half = math.sqrt(g.covariance[axis][axis] * g.distance_square)
        vals = [g.mean[axis] - half, g.mean[axis] + half]
    elif isinstance(g, Quadrant):
        vals = list(g.dividers[axis].values)
    return [v for v in vals if v is not None and math.isfinite(v)]


def _limits(values: FloatArray, gate_coords: Sequence[float]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    pts: list[float] = list(gate_coords)
    if finite.size:
        lo, hi = np.percentile(finite, [0.1, 99.9])
        pts += [float(lo), float(hi)]
    if not pts:
        return (0.0, 1.0)
    lo_v, hi_v = min(pts), max(pts)
    span = hi_v - lo_v
    if span <= 0:
        span = abs(hi_v) or 1.0
    pad = 0.05 * span
    return (lo_v - pad, hi_v + pad)


def _density(
    fig: Figure,
    ax: Axes,
    x: FloatArray,
    y: FloatArray,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
) -> None:
    from matplotlib.colors import LogNorm

    ok = np.isfinite(x) & np.isfinite(y)
    # Off-scale events pile up on the plot edge (as on a cytometer display) instead of vanishing.
    xs = np.clip(x[ok], xlim[0], xlim[1])
    ys = np.clip(y[ok], ylim[0], ylim[1])
    hist, _, _ = np.histogram2d(xs, ys, bins=_BINS, range=[xlim, ylim])
    if hist.max() > 0:
        # A raster image, not a mesh of 65k quads: an SVG stays small and fast to write.
        image = ax.imshow(
            np.ma.masked_equal(hist.T, 0),
            origin="lower",
            extent=(xlim[0], xlim[1], ylim[0], ylim[1]),
            aspect="auto",
            interpolation="nearest",
            norm=LogNorm(vmin=1, vmax=max(float(hist.max()), 2.0)),
            cmap="viridis",
        )
        cax = fig.add_axes((0.83, 0.11, 0.03, 0.76))
        fig.colorbar(image, cax=cax, label="events per bin (log)")
    else:
        ax.text(0.5, 0.5, "no events", transform=ax.transAxes, ha="center", va="center")


def _draw_gate(ax: Axes, gate: Gate, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
    from matplotlib.patches import Ellipse, Polygon, Rectangle

    g = _region(gate)
    style = "--" if isinstance(gate, OutsideGate) else "-"
    kw: dict[str, Any] = {
        "fill": False,
        "edgecolor": _GATE_COLOUR,
        "linewidth": 1.6,
        "linestyle": style,
    }
    if isinstance(g, RectangleGate) and _is_quadrant(g) and not isinstance(gate, OutsideGate):
        # FlowJo writes each quadrant as a rectangle open on one side per axis: draw it as a
        # quadrant (both dividers across the plot, this quarter shaded).
        (x0, x1), (y0, y1) = g.bounds
        cut_x = x0 if x0 is not None else x1
        cut_y = y0 if y0 is not None else y1
        assert cut_x is not None and cut_y is not None
        ax.axvline(cut_x, color=_GATE_COLOUR, linewidth=1.2)
        ax.axhline(cut_y, color=_GATE_COLOUR, linewidth=1.2)
        left, right = (cut_x, xlim[1]) if x0 is not None else (xlim[0], cut_x)
        bottom, top = (cut_y, ylim[1]) if y0 is not None else (ylim[0], cut_y)
        ax.add_patch(
            Rectangle(
                (left, bottom),
                right - left,
                top - bottom,
                facecolor=_GATE_COLOUR,
                alpha=0.08,
                edgecolor="none",
            )
        )
    elif isinstance(g, RectangleGate):
        (x0, x1), (y0, y1) = g.bounds
        # Open sides run to (a little beyond) the plot edge.
        left = x0 if x0 is not None else xlim[0] - 1.0 * (xlim[1] - xlim[0])
        right = x1 if x1 is not None else xlim[1] + 1.0 * (xlim[1] - xlim[0])
        bottom = y0 if y0 is not None else ylim[0] - 1.0 * (ylim[1] - ylim[0])
        top = y1 if y1 is not None else ylim[1] + 1.0 * (ylim[1] - ylim[0])
        ax.add_patch(Rectangle((left, bottom), right - left, top - bottom, **kw))
    elif isinstance(g, PolygonGate):
        ax.add_patch(Polygon(g.vertices, closed=True, **kw))
    elif isinstance(g, EllipsoidGate):
        cov = np.array(g.covariance, dtype=np.float64) * g.distance_square
        vals, vecs = np.linalg.eigh(cov)
        angle = math.degrees(math.atan2(vecs[1, 1], vecs[0, 1]))
        ax.add_patch(
            Ellipse(
                (g.mean[0], g.mean[1]),
                width=2 * math.sqrt(max(vals[1], 0.0)),
                height=2 * math.sqrt(max(vals[0], 0.0)),
                angle=angle,
                **kw,
            )
        )
    elif isinstance(g, Quadrant):
        (xv, yv) = (g.dividers[0].values, g.dividers[1].values)
        for v in xv:
            ax.axvline(v, color=_GATE_COLOUR, linewidth=1.2)
        for v in yv:
            ax.axhline(v, color=_GATE_COLOUR, linewidth=1.2)
        (qx0, qx1), (qy0, qy1) = g.intervals()
        ax.add_patch(
            Rectangle(
                (qx0 if qx0 is not None else xlim[0], qy0 if qy0 is not None else ylim[0]),
                (qx1 if qx1 is not None else xlim[1]) - (qx0 if qx0 is not None else xlim[0]),
                (qy1 if qy1 is not None else ylim[1]) - (qy0 if qy0 is not None else ylim[0]),
                facecolor=_GATE_COLOUR,
                alpha=0.08,
                edgecolor="none",
            )
        )


def _is_quadrant(g: RectangleGate) -> bool:
    """A 2-D rectangle open on exactly one side of each axis."""
    return len(g.bounds) == 2 and all((lo is None) != (hi is None) for lo, hi in g.bounds)


def _axis_label(
    strategy: Strategy, dim: Dimension, markers: Mapping[str, str | None] | None
) -> str:
    name = dim.label
    marker = markers.get(name) if markers and dim.channel is not None else None
    text = f"{name} ({marker})" if marker and marker != name else name
    notes: list[str] = []
    if dim.compensation == FCS_COMPENSATION:
        notes.append("comp.")
    elif dim.compensation != UNCOMPENSATED:
        notes.append(f"comp. {dim.compensation}")
    if dim.transform is not None:
        t = strategy.transforms.get(dim.transform)
        notes.append(_transform_name(t) if isinstance(t, Transform) else dim.transform)
    return f"{text} [{', '.join(notes)}]" if notes else text


_TRANSFORM_NAMES = {
    "LinearTransform": "linear",
    "LogTransform": "log",
    "AsinhTransform": "arcsinh",
    "LogicleTransform": "logicle",
    "HyperlogTransform": "hyperlog",
    "FlowJoBiex": "FlowJo biex",
    "FlowJoLinear": "linear",
    "FlowJoLog": "log",
}


def _transform_name(t: Transform) -> str:
    name = type(t).__name__
    return _TRANSFORM_NAMES.get(name, name)


def _data_ticks(
    ax: Axes, strategy: Strategy, dim: Dimension, axis: Literal["x", "y"], lim: tuple[float, float]
) -> None:
    """Put ticks at round data values when the axis is a transformed scale."""
    t = strategy.transforms.get(dim.transform) if dim.transform is not None else None
    if not isinstance(t, Transform):
        return
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    if isinstance(t, LinearTransform | FlowJoLinear):
        # Affine scale: round data values, evenly spaced.
        from matplotlib.ticker import MaxNLocator

        lo, hi = (float(v) for v in t.inverse(np.array(lim, dtype=np.float64)))
        values = [v for v in MaxNLocator(nbins=5).tick_values(lo, hi) if lo <= v <= hi]
        pos = t.apply(np.array(values, dtype=np.float64))
        setter([float(p) for p in pos], [_linear_label(v) for v in values])
        return
    decades = [0.0] + [sign * 10.0**e for e in range(10) for sign in (1.0, -1.0)]
    ticks = _place(t, decades, lim, [])
    if len(ticks) < 3:
        # A narrow window (a gate deep in the hierarchy): add 2x and 5x values between decades.
        between = [sign * k * 10.0**e for e in range(9) for k in (2, 5) for sign in (1.0, -1.0)]
        ticks = _place(t, between, lim, ticks)
    if len(ticks) < 2:
        return  # matplotlib's own ticks read better than a single label
    ticks.sort()
    setter([p for p, _ in ticks], [lab for _, lab in ticks])


def _place(
    t: Transform, values: list[float], lim: tuple[float, float], ticks: list[tuple[float, str]]
) -> list[tuple[float, str]]:
    """Add the ticks of ``values`` that fall in ``lim`` and keep clear of the ones placed."""
    try:
        pos = t.apply(np.array(values, dtype=np.float64))
    except (ValueError, FloatingPointError):
        return ticks
    out = list(ticks)
    gap = 0.07 * (lim[1] - lim[0])
    for value, p in sorted(zip(values, pos.tolist(), strict=True), key=lambda vp: abs(vp[0])):
        # Smallest magnitudes first, so the linear zone of a logicle keeps 0 and drops the
        # crowd of +-1, +-10 around it.
        if not math.isfinite(p) or not lim[0] <= p <= lim[1]:
            continue
        if any(abs(p - q) < gap for q, _ in out):
            continue
        out.append((p, _tick_label(value)))
    return out


def _linear_label(value: float) -> str:
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _tick_label(value: float) -> str:
    if value == 0:
        return "0"
    e = round(math.log10(abs(value)))
    if abs(abs(value) - 10.0**e) > 1e-9 * abs(value):
        return _linear_label(value)  # 2x / 5x values between decades
    if e == 0:
        return "1" if value > 0 else "-1"
    sign = "-" if value < 0 else ""
    return f"${sign}10^{{{e}}}$"
