"""The patient timeline chart, built on the server as a Plotly figure.

The browser only draws it (with the plotly.js bundled in the ``plotly`` wheel, see
:mod:`trephine.web.assets`), so what is plotted is decided — and tested — in Python. Rows share
one date axis: therapy lines and events with biopsy markers on top, then marrow blast %, then
blood counts, then (when the patient has them) MRD on a log axis and VAF / donor chimerism.

Qualified values are drawn honestly: ``<`` values at their bound and "not detected" at the LOD,
both with open markers, and the hover text says which.

The page needs the figure as JSON only, so :func:`figure_data` writes the traces and the layout
as plain dicts in plotly's own JSON form: building them through plotly's validated objects
cost ~50 ms of CPU per patient page. Plotly still lays out the subplot grid (one
``make_subplots`` per distinct grid, cached: it depends only on which rows are drawn and the
height of the therapy row) and supplies the default template; :func:`build_figure` is the same
figure as a validated ``go.Figure`` (the tests prove plotly accepts it unchanged).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from trephine.api.schemas.patients import QuantityPublic, ResultPublic, TimelinePublic
from trephine.domain.result_kinds import result_kind_name
from trephine.domain.results import ResultKind
from trephine.present.quantities import number_text as format_value
from trephine.present.quantities import quantity_text

# Colours from the Okabe–Ito palette, distinguishable with the common colour-vision deficiencies.
ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILION, PURPLE, GREY = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#666666",
)
#: Plotly measures horizontal bar lengths on a date axis in milliseconds.
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class Series:
    """One plotted line: the result kind and component it takes, and where it goes."""

    row: str
    name: str
    kind: str
    #: Component name within the result (``None``: the result's headline value).
    component: str | None
    colour: str
    secondary_y: bool = False


@dataclass(frozen=True)
class Point:
    result: ResultPublic
    value: QuantityPublic


#: Rows in top-to-bottom order with their y-axis titles; "therapy" is always drawn.
ROWS: dict[str, str] = {
    "therapy": "",
    "blasts": "Marrow (%)",
    "counts": "ANC (×10⁹/L)",
    "mrd": "MRD (%, log)",
    "clonal": "VAF / donor (%)",
}

#: The marrow row's main series per disease (the number that tells that disease's story).
MARROW_SERIES: dict[str, Series] = {
    "myeloma": Series("blasts", "Marrow plasma cells %", "differential", "plasma_cells", VERMILION),
    "CLL": Series("blasts", "Marrow lymphocytes %", "differential", "lymphocytes", VERMILION),
    "aplastic anemia": Series("blasts", "Cellularity %", "core", "cellularity", VERMILION),
}


def _named(kind: ResultKind) -> str:
    """A series of one result kind's headline, named by the kind's one name."""
    return f"{result_kind_name(kind)} %"


BLAST_SERIES = Series("blasts", "Marrow blasts %", "differential", "blasts", VERMILION)
CELLULARITY_SERIES = Series("blasts", "Cellularity %", "core", "cellularity", GREY)

SERIES: tuple[Series, ...] = (
    BLAST_SERIES,
    CELLULARITY_SERIES,
    Series("counts", "ANC", "blood_count", "anc", BLUE),
    Series("counts", "Platelets", "blood_count", "platelets", GREEN, secondary_y=True),
    Series("mrd", _named(ResultKind.FLOW_MRD), "flow_mrd", None, PURPLE),
    Series("mrd", _named(ResultKind.MOLECULAR_MRD), "molecular_mrd", None, ORANGE),
    Series("clonal", _named(ResultKind.CHIMERISM), "chimerism", None, SKY),
)


def plotted_value(q: QuantityPublic | None) -> float | None:
    """The y position of a value: the number itself, or the LOD for 'not detected'."""
    if q is None:
        return None
    if q.qualifier == "not detected":
        return float(q.lod) if q.lod is not None else None
    return float(q.value) if q.value is not None else None


def points_of(results: Sequence[ResultPublic], series: Series) -> list[Point]:
    """The plottable values one series takes from the (current versions of the) results."""
    out: list[Point] = []
    for r in results:
        if r.kind != series.kind:
            continue
        if series.component is None:
            value = r.value
        else:
            value = next((c.value for c in r.components if c.name == series.component), None)
        if value is not None and plotted_value(value) is not None:
            out.append(Point(r, value))
    return out


def _hover(p: Point, name: str) -> str:
    r = p.result
    state = r.state if r.version == 1 else f"{r.state}, version {r.version}"
    return f"{name}: {quantity_text(p.value)}<br>{r.collected_on.isoformat()} ({state})"


def _symbol(q: QuantityPublic) -> str:
    # Open markers for values that are bounds ("<", ">") or detection limits, not measurements.
    return "circle" if q.qualifier == "=" else "circle-open"


Trace = dict[str, Any]


def _line_trace(name: str, points: Sequence[Point], colour: str) -> Trace:
    ordered = sorted(points, key=lambda p: p.result.collected_on)
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": [p.result.collected_on.isoformat() for p in ordered],
        "y": [plotted_value(p.value) for p in ordered],
        "text": [_hover(p, name) for p in ordered],
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {"color": colour, "size": 8, "symbol": [_symbol(p.value) for p in ordered]},
        "line": {"color": colour, "width": 2},
        "connectgaps": True,
    }


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _therapy_traces(tl: TimelinePublic, today: dt.date) -> list[Trace]:
    traces: list[Trace] = []
    for line in tl.therapy_lines:
        label = f"L{line.line} {line.regimen}"
        spans = [(c.start, c.end, f"cycle {c.number}") for c in line.cycles] or [
            (line.start, line.end, "")
        ]
        starts, widths, texts = [], [], []
        for start, end, what in spans:
            stop = end or line.end or today
            # A bar needs a visible width even for a single-day course.
            days = max((stop - start).days, 1)
            starts.append(start.isoformat())
            widths.append(days * _DAY_MS)
            until = stop.isoformat() if (end or line.end) else "ongoing"
            texts.append(" · ".join(b for b in (label, what, f"{start} → {until}") if b))
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": label,
                "y": [label] * len(starts),
                "base": starts,
                "x": widths,
                "text": texts,
                "textposition": "none",
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {
                    "color": BLUE if (line.intensity or "").startswith("intens") else SKY,
                    "line": {"color": "#ffffff", "width": 1},
                },
                "showlegend": False,
            }
        )
    if tl.events:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Events",
                "y": ["Events"] * len(tl.events),
                "x": [e.date.isoformat() for e in tl.events],
                "text": [f"{e.kind}: {e.detail or ''} ({e.date.isoformat()})" for e in tl.events],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {"symbol": "star", "size": 14, "color": ORANGE},
                "showlegend": False,
            }
        )
    if tl.biopsies:
        texts = []
        for b in tl.biopsies:
            comp = ", ".join(
                c.kind + (f" ({c.severity})" if c.severity else "") for c in b.complications
            )
            where = " ".join(x for x in (b.side, b.site) if x)
            texts.append(
                f"Biopsy {_as_date(b.performed_at).isoformat()}<br>{where}<br>"
                f"{b.indication or ''}" + (f"<br>complications: {comp}" if comp else "")
            )
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Biopsies",
                "y": ["Biopsies"] * len(tl.biopsies),
                "x": [_as_date(b.performed_at).isoformat() for b in tl.biopsies],
                "text": texts,
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {
                    "symbol": "triangle-down",
                    "size": 12,
                    "color": [VERMILION if b.complications else "#333333" for b in tl.biopsies],
                },
                "showlegend": False,
            }
        )
    return traces


def _variant_traces(tl: TimelinePublic) -> list[Trace]:
    """One VAF line per variant (gene + HGVS), so an emerging clone shows as its own line."""
    by_variant: dict[str, list[Point]] = {}
    for r in tl.results:
        if r.kind == "ngs_variant" and plotted_value(r.value) is not None and r.value is not None:
            by_variant.setdefault(r.analyte, []).append(Point(r, r.value))
    # Dotted lines in colours not used by the other rows, so a VAF is never read as a count.
    palette = [PURPLE, ORANGE, BLUE, GREY, YELLOW]
    traces = []
    for i, (name, points) in enumerate(sorted(by_variant.items())):
        trace = _line_trace(f"VAF {name}", points, palette[i % len(palette)])
        trace["line"]["dash"] = "dot"
        traces.append(trace)
    return traces


def series_for(tl: TimelinePublic) -> tuple[Series, ...]:
    """The series drawn for this patient: the marrow row leads with the disease's own value."""
    disease = tl.diagnoses[-1].disease if tl.diagnoses else None
    main = MARROW_SERIES.get(disease or "", BLAST_SERIES)
    marrow = (main,) if main.component == "cellularity" else (main, CELLULARITY_SERIES)
    return marrow + tuple(s for s in SERIES if s.row != "blasts")


#: MRD reference levels (as %): 10⁻³, 10⁻⁴, 10⁻⁵ of cells.
MRD_LEVELS: tuple[tuple[float, str], ...] = ((0.1, "10⁻³"), (0.01, "10⁻⁴"), (0.001, "10⁻⁵"))


def mrd_levels(points: Sequence[Point]) -> list[tuple[float, str]]:
    """The reference levels the patient's MRD methods can reach: those at or above the lowest
    LOD/LLOQ reported (all three when no limit was reported)."""
    limits = [
        float(x)
        for p in points
        for x in (p.value.lod, p.value.lloq)
        if x is not None and float(x) > 0
    ]
    if not limits:
        return list(MRD_LEVELS)
    floor = min(limits)
    return [(level, name) for level, name in MRD_LEVELS if level >= floor * 0.999]


def _limit_traces(points: Sequence[Point]) -> list[Trace]:
    """Short horizontal ticks at each MRD result's LOD and LLOQ."""
    traces = []
    for attr, name, colour in (("lod", "LOD", GREY), ("lloq", "LLOQ", "#333333")):
        marks = [p for p in points if getattr(p.value, attr) is not None]
        if not marks:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": name,
                "x": [p.result.collected_on.isoformat() for p in marks],
                "y": [float(getattr(p.value, attr)) for p in marks],
                "text": [
                    f"{name} {format_value(getattr(p.value, attr))} % "
                    f"({p.result.label}, {p.result.collected_on.isoformat()})"
                    for p in marks
                ],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {
                    "symbol": "line-ew",
                    "size": 14,
                    "line": {"color": colour, "width": 2 if attr == "lloq" else 1},
                },
            }
        )
    return traces


RESPONSE_COLOURS = {
    "complete": GREEN,
    "partial": BLUE,
    "failure": VERMILION,
    "other": GREY,
}


#: The response track's first row; further rows (:func:`badge_rows`) are named after it and
#: carry no label of their own, so the track reads as one, a few rows high.
RESPONSE_TRACK = "Response"

#: Plot widths (px) a badge row must fit at: the narrowest drawing (a 400 px phone, where the
#: badges are drawn without words: timeline.js) and a desktop one (1400 px, words drawn).
NARROW_PLOT_PX, WIDE_PLOT_PX = 180, 700
#: A badge's marker (11 px) and the gap kept on each side of it; its words start 9 px right of
#: its date and take at most this many px a character (10 px system-ui).
_BADGE_HALF_PX, _WORDS_GAP_PX, _CHAR_PX = 8, 9, 6.5
#: plotly pads the date axis beyond the first and last date: the span is taken this much longer.
_AXIS_PAD = 1.1


def badge_rows(dates: Sequence[dt.date], labels: Sequence[str], span_days: float) -> list[int]:
    """The row (0, 1, ...) of each badge of the response track, in date order: the first row
    whose last badge ends before this one starts, both on the narrowest drawing (markers only)
    and on a desktop one (markers and words), so no call is drawn under or over another.

    Calls on close dates are common (DEMO-0001's MLFS 16 days before its CRi MRD-, which hid
    it); every call keeps a place of its own instead of the later one covering the earlier."""
    days = max(span_days * _AXIS_PAD, 1.0)
    narrow, wide = NARROW_PLOT_PX / days, WIDE_PLOT_PX / days
    ends: list[tuple[float, float]] = []  # per row: where its last badge ends (narrow, wide)
    rows = []
    for day, label in zip(dates, labels, strict=True):
        x = (day - dates[0]).days
        start = (x * narrow - _BADGE_HALF_PX, x * wide - _BADGE_HALF_PX)
        end = (
            x * narrow + _BADGE_HALF_PX,
            x * wide + max(_BADGE_HALF_PX, _WORDS_GAP_PX + _CHAR_PX * len(label) + 4),
        )
        row = next(
            (i for i, (n, w) in enumerate(ends) if n <= start[0] and w <= start[1]), len(ends)
        )
        if row == len(ends):
            ends.append(end)
        else:
            ends[row] = end
        rows.append(row)
    return rows


def track_name(row: int) -> str:
    """The category (y value) of a response track row: ``Response``, ``Response, row 2``, ..."""
    return RESPONSE_TRACK if row == 0 else f"{RESPONSE_TRACK}, row {row + 1}"


def _response_trace(assessments: Sequence[Any], drawn: Sequence[dt.date]) -> Trace | None:
    """Response calls as labelled badges on the time axis (a track above the therapy bars, as
    many rows high as the calls need so that none hides another: :func:`badge_rows`), and the
    relapses and progressions (myeloma's, confirmed or to confirm): one wins over the response
    call of the same date (one marrow, one story: assess/story.py), so that date shows it, not
    both. Each badge reads as
    the criteria calls and alerts name its category (:func:`category_label`). ``drawn``: the
    other dates the chart draws (:func:`_drawn_dates`), which with the calls' set the width of
    the date axis."""
    from trephine.assess.story import supersedes_response
    from trephine.present.explain import category_label
    from trephine.web.render import response_class

    relapses = [a for a in assessments if supersedes_response(a.call, str(a.category))]
    relapsed_on = {str(a.date) for a in relapses}
    calls = [a for a in assessments if a.call == "response" and str(a.date) not in relapsed_on]
    calls += relapses
    if not calls:
        return None
    calls.sort(key=lambda a: str(a.date))
    labels = [category_label(str(a.category)) for a in calls]
    dates = [dt.date.fromisoformat(str(a.date)) for a in calls]
    span = (max([*drawn, *dates]) - min([*drawn, *dates])).days
    rows = badge_rows(dates, labels, span)
    return {
        "type": "scatter",
        "mode": "markers+text",
        "name": "Response",
        "y": [track_name(r) for r in rows],
        "x": [str(a.date) for a in calls],
        "text": labels,
        "textposition": "middle right",
        "textfont": {"size": 10},
        # The latest call's label may run past the last date into the right margin: drawn
        # whole there, not cut at the axis end ('CR MRD-' read 'CR MRD').
        "cliponaxis": False,
        "customdata": [
            f"{lab} ({a.ruleset}, {a.date})" for lab, a in zip(labels, calls, strict=True)
        ],
        "hovertemplate": "%{customdata}<extra></extra>",
        "marker": {
            "symbol": "square",
            "size": 11,
            "color": [RESPONSE_COLOURS[response_class(a.category)] for a in calls],
        },
        "showlegend": False,
    }


def _drawn_dates(tl: TimelinePublic, today: dt.date) -> list[dt.date]:
    """The dates the chart draws besides the badges: results, both ends of each therapy bar,
    events and biopsies (the first and last of them, and the badges', span the date axis)."""
    days = [r.collected_on for r in tl.results]
    for line in tl.therapy_lines:
        # Each bar as _therapy_traces draws it: a cycle (or the line) to its end, or to today.
        for start, end in [(c.start, c.end) for c in line.cycles] or [(line.start, line.end)]:
            days += [start, end or line.end or today]
    days += [e.date for e in tl.events]
    days += [_as_date(b.performed_at) for b in tl.biopsies]
    return [_as_date(d) for d in days]


@dataclass(frozen=True)
class _Grid:
    """A subplot grid laid out by plotly: the layout (as JSON) and each row's axis names."""

    layout: str
    #: Per row: (x axis, y axis, secondary y axis or None) layout keys, e.g. ("xaxis2", "yaxis3").
    axes: tuple[tuple[str, str, str | None], ...]


def _spacing(n_rows: int) -> float:
    return 0.04 if n_rows > 2 else 0.06


@functools.lru_cache(maxsize=32)
def _grid_of_rows(rows: tuple[str, ...]) -> _Grid:
    """The shared-x grid of ``rows`` laid out by plotly (``make_subplots``: ~15-50 ms, hence
    cached), at equal row heights; :func:`_grid` sets the heights."""
    fig = make_subplots(
        rows=len(rows),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=_spacing(len(rows)),
        specs=[[{"secondary_y": row == "counts"}] for row in rows],
    )
    layout = json.loads(fig.to_json())["layout"]
    layout.pop("template", None)
    axes = []
    for i, row in enumerate(rows, start=1):
        main = fig.get_subplot(i, 1)
        second = fig.get_subplot(i, 1, secondary_y=True) if row == "counts" else None
        axes.append(
            (
                main.xaxis.plotly_name,
                main.yaxis.plotly_name,
                None if second is None else second.yaxis.plotly_name,
            )
        )
    return _Grid(json.dumps(layout), tuple(axes))


def lay_out_every_grid() -> int:
    """Lay out (and cache) the grid of every set of rows a chart can show: a server worker
    does this once at start-up (~0.3 s), so no page waits for ``make_subplots``. Returns how
    many grids."""
    others = [r for r in ROWS if r != "therapy"]
    shapes = [
        ("therapy", *combo)
        for k in range(len(others) + 1)
        for combo in itertools.combinations(others, k)
    ]
    for rows in shapes:
        _grid_of_rows(rows)
    return len(shapes)


def _y_domains(n_rows: int, heights_px: list[int]) -> list[list[float]]:
    """Each row's y domain, top row first, as ``make_subplots(row_heights=...)`` computes it
    (the same float operations in the same order, so the figure's JSON is plotly's own; its
    ``+ 0.0`` margins of a plain cell change no float and are left out)."""
    spacing = _spacing(n_rows)
    total = float(sum(heights_px))
    heights = [(1.0 - spacing * (n_rows - 1)) * (h / total) for h in heights_px][::-1]
    domains = []
    for r in range(n_rows):  # r = 0: the top row
        from_bottom = n_rows - 1 - r
        start = sum(heights[:from_bottom]) + from_bottom * spacing
        domains.append([_clamped(start), _clamped(start + heights[-1 - r])])
    return domains


def _clamped(y: float) -> float:
    """plotly's clamp of a domain end that rounding put just outside [0, 1]."""
    if -0.01 < y < 0.0:
        return 0.0
    if 1.0 < y < 1.01:
        return 1.0
    return y


@functools.lru_cache(maxsize=256)
def _grid(rows: tuple[str, ...], therapy_px: int, data_px: int) -> _Grid:
    """The shared-x grid of ``rows``, the therapy row ``therapy_px`` high and each data row
    ``data_px``: plotly's layout of the rows (one ``make_subplots`` per set of rows, not per
    height: the therapy row's height varies with the patient's tracks, and a worker met each
    new height with another 15-50 ms) with the row heights set as plotly sets them."""
    shape = _grid_of_rows(rows)
    layout = json.loads(shape.layout)
    domains = _y_domains(len(rows), [therapy_px] + [data_px] * (len(rows) - 1))
    for (_, yaxis, _), domain in zip(shape.axes, domains, strict=True):
        layout[yaxis]["domain"] = domain
    return _Grid(json.dumps(layout), shape.axes)


@functools.lru_cache(maxsize=4)
def _template(name: str | None) -> dict[str, Any]:
    """The default plotly template as ``to_json`` writes it into every figure's layout."""
    template = json.loads(go.Figure().to_json())["layout"].get("template", {})
    return cast(dict[str, Any], template)


def _ref(axis: str) -> str:
    """A trace's or shape's reference to a layout axis: ``yaxis3`` → ``y3``."""
    return axis.replace("axis", "")


def _update(target: dict[str, Any], **values: Any) -> None:
    """Set properties the way plotly's ``update_*(title_text=...)`` does (``_`` → nesting)."""
    for key, value in values.items():
        node = target
        *path, last = key.split("_", 1) if key.startswith("title_") else [key]
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value


def figure_data(
    tl: TimelinePublic, *, today: dt.date | None = None, assessments: Sequence[Any] = ()
) -> dict[str, Any]:
    """The Plotly figure for one patient's timeline as plain JSON data (``data``, ``layout``),
    exactly what plotly writes for the same figure (see :func:`build_figure`).

    ``assessments`` are the stored criteria calls (``AssessmentPublic``); response calls,
    relapses and progressions become badges on the top track."""
    today = today or dt.date.today()
    per_row: dict[str, list[tuple[Series, list[Point]]]] = {}
    for s in series_for(tl):
        points = points_of(tl.results, s)
        if points:
            per_row.setdefault(s.row, []).append((s, points))
    variants = _variant_traces(tl)
    response = _response_trace(assessments, _drawn_dates(tl, today))
    response_rows = len(set(response["y"])) if response is not None else 0
    rows = ["therapy"] + [
        r for r in ROWS if r != "therapy" and (r in per_row or (r == "clonal" and variants))
    ]
    n_tracks = max(len(tl.therapy_lines) + bool(tl.events) + bool(tl.biopsies) + response_rows, 1)
    therapy_px = 40 + 28 * n_tracks
    data_px = 200
    grid = _grid(tuple(rows), therapy_px, data_px)
    layout: dict[str, Any] = json.loads(grid.layout)
    data: list[Trace] = []
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []

    def add(trace: Trace, x: str, y: str) -> None:
        trace["xaxis"], trace["yaxis"] = _ref(x), _ref(y)
        data.append(trace)

    for row, (x, y, y2) in zip(rows, grid.axes, strict=True):
        if row == "therapy":
            if response is not None:
                add(response, x, y)
            for t in _therapy_traces(tl, today):
                add(t, x, y)
            _update(layout[y], type="category", autorange="reversed", showgrid=False)
            if response_rows > 1:
                # The response track's further rows carry no label: one track, a few rows high.
                tracks = list(
                    dict.fromkeys(v for t in data if t["yaxis"] == _ref(y) for v in t["y"])
                )
                _update(
                    layout[y],
                    tickmode="array",
                    tickvals=tracks,
                    ticktext=["" if str(v).startswith(f"{RESPONSE_TRACK},") else v for v in tracks],
                )
            continue
        for s, points in per_row.get(row, []):
            add(_line_trace(s.name, points, s.colour), x, y2 if s.secondary_y and y2 else y)
        if row == "clonal":
            for t in variants:
                add(t, x, y)
        _update(layout[y], title_text=ROWS[row])
        if row == "mrd":
            mrd_points = [p for _, pts in per_row["mrd"] for p in pts]
            for t in _limit_traces(mrd_points):
                add(t, x, y)
            for level, name in mrd_levels(mrd_points):
                # The line as plotly's add_hline writes it (a shape takes data values); its
                # label at the line: an annotation on a log axis takes log10 of the value
                # (add_hline writes the value itself, which put 0.1 % at 10^0.1 = 1.26 %).
                shapes.append(
                    {
                        "line": {"color": "#999999", "dash": "dash", "width": 1},
                        "type": "line",
                        "x0": 0,
                        "x1": 1,
                        "xref": f"{_ref(x)} domain",
                        "y0": level,
                        "y1": level,
                        "yref": _ref(y),
                    }
                )
                annotations.append(
                    {
                        "font": {"color": "#555555", "size": 10},
                        "showarrow": False,
                        "text": name,
                        "x": 1,
                        "xanchor": "left",
                        "xref": f"{_ref(x)} domain",
                        "y": math.log10(level),
                        "yanchor": "middle",
                        "yref": _ref(y),
                    }
                )
            _update(layout[y], type="log", exponentformat="power")
        else:
            _update(layout[y], rangemode="tozero")
        if row == "counts" and y2 is not None:
            # Ticks of its own: plotly.js syncs an overlaying axis's ticks to the grid of the
            # axis below by default, which labelled platelets 69.5, 138.9, 208.4 beside ANC's
            # 1, 2, 3.
            _update(
                layout[y2],
                title_text="Platelets (×10⁹/L)",
                rangemode="tozero",
                showgrid=False,
                tickmode="auto",
            )
    for key, axis in layout.items():
        if key.startswith("xaxis"):
            _update(axis, type="date", showgrid=True, gridcolor="#eeeeee")
        elif key.startswith("yaxis"):
            # automargin: the left margin grows to fit the longest therapy label, no more.
            _update(axis, gridcolor="#eeeeee", zeroline=False, automargin=True)
    # Biopsy days as faint vertical guides through every row, so results line up with the marrow.
    for b in tl.biopsies:
        day = _as_date(b.performed_at).isoformat()
        shapes.append(
            {
                "layer": "below",
                "line": {"color": "#bbbbbb", "dash": "dot", "width": 1},
                "type": "line",
                "x0": day,
                "x1": day,
                "xref": "x",
                "y0": 0,
                "y1": 1,
                "yref": "paper",
            }
        )
    if shapes:
        layout["shapes"] = shapes
    if annotations:
        layout["annotations"] = annotations
    layout.update(
        {
            "template": _template(pio.templates.default),
            "height": therapy_px + data_px * (len(rows) - 1) + 90,
            "margin": {"l": 20, "r": 60, "t": 20, "b": 40},
            "barmode": "overlay",
            "hovermode": "closest",
            "legend": {"orientation": "h", "yanchor": "top", "y": -0.04},
            "plot_bgcolor": "#ffffff",
            "paper_bgcolor": "#ffffff",
            "font": {"family": "system-ui, sans-serif", "size": 12},
            "autosize": True,
        }
    )
    return {"data": data, "layout": layout}


def build_figure(
    tl: TimelinePublic, *, today: dt.date | None = None, assessments: Sequence[Any] = ()
) -> go.Figure:
    """:func:`figure_data` as a plotly figure (validated by plotly as it is built)."""
    return go.Figure(figure_data(tl, today=today, assessments=assessments))


def figure_json(fig: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON data (dates and numpy values already converted by plotly)."""
    return cast(dict[str, Any], json.loads(fig.to_json()))
