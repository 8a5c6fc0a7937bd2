"""The timeline figure and table, built from hand-made timelines (no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import plotly.graph_objects as go
import pytest

from trephine.api.schemas.patients import (
    BiopsyPublic,
    ComplicationPublic,
    ComponentPublic,
    CyclePublic,
    EventPublic,
    PatientPublic,
    QuantityPublic,
    ResultPublic,
    ResultVersionPublic,
    TherapyLinePublic,
    TimelinePublic,
)
from trephine.web.chart import build_figure, figure_json, plotted_value
from trephine.web.timeline_table import timeline_rows

D = dt.date


def qty(
    value: str | None, unit: str = "%", qualifier: str = "=", lod: str | None = None
) -> QuantityPublic:
    return QuantityPublic(
        value=None if value is None else Decimal(value),
        unit=unit,
        qualifier=qualifier,  # type: ignore[arg-type]
        lod=None if lod is None else Decimal(lod),
        display=f"{qualifier} {value} {unit}",
    )


def result(
    kind: str,
    on: dt.date,
    value: QuantityPublic | None,
    components: dict[str, QuantityPublic] | None = None,
    analyte: str = "",
    **extra: object,
) -> ResultPublic:
    return ResultPublic(
        id=f"{kind}-{on}-{analyte}",
        kind=kind,
        analyte=analyte,
        label=kind,
        collected_on=on,
        value=value,
        components=[ComponentPublic(name=k, value=v) for k, v in (components or {}).items()],
        summary=f"{kind} summary",
        state=extra.pop("state", "verified"),  # type: ignore[arg-type]
        version=extra.pop("version", 1),  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


PATIENT = PatientPublic(
    id="T-1", sex="female", birth_year=1960, diagnosis="AML", last_biopsy=None,
    last_marrow_blasts=None,
)  # fmt: skip


def timeline(results: list[ResultPublic], **kw: object) -> TimelinePublic:
    return TimelinePublic(
        patient=PATIENT,
        diagnoses=[],
        therapy_lines=kw.get("therapy_lines", []),  # type: ignore[arg-type]
        events=kw.get("events", []),  # type: ignore[arg-type]
        biopsies=kw.get("biopsies", []),  # type: ignore[arg-type]
        results=results,
    )


def trace(fig: dict[str, object], name: str) -> dict[str, object]:
    data = fig["data"]
    assert isinstance(data, list)
    found = [t for t in data if t.get("name") == name]
    assert len(found) == 1, [t.get("name") for t in data]
    return found[0]  # type: ignore[no-any-return]


def test_plotted_value_uses_the_lod_for_not_detected_and_skips_without_one() -> None:
    assert plotted_value(qty("4.5")) == 4.5
    assert plotted_value(qty("0.01", qualifier="<")) == 0.01
    assert plotted_value(qty(None, qualifier="not detected", lod="0.002")) == 0.002
    assert plotted_value(qty(None, qualifier="not detected")) is None
    assert plotted_value(None) is None


def test_blasts_and_counts_go_to_their_rows_in_date_order() -> None:
    tl = timeline(
        [
            result("differential", D(2024, 2, 1), qty("3"), {"blasts": qty("3")}),
            result("differential", D(2024, 1, 1), qty("45"), {"blasts": qty("45")}),
            result(
                "blood_count",
                D(2024, 1, 1),
                qty("0.2", "10^9/L"),
                {"anc": qty("0.2", "10^9/L"), "platelets": qty("20", "10^9/L")},
            ),
        ]
    )
    fig = figure_json(build_figure(tl, today=D(2024, 3, 1)))
    blasts = trace(fig, "Marrow blasts %")
    assert blasts["x"] == ["2024-01-01", "2024-02-01"] and blasts["y"] == [45.0, 3.0]
    anc, plt = trace(fig, "ANC"), trace(fig, "Platelets")
    assert anc["y"] == [0.2] and plt["y"] == [20.0]
    # Same subplot row, platelets on the secondary (right) axis.
    assert anc["xaxis"] == plt["xaxis"] != blasts["xaxis"]
    assert anc["yaxis"] != plt["yaxis"]
    layout = fig["layout"]
    assert isinstance(layout, dict)
    right = layout[f"yaxis{plt['yaxis'][1:]}"]
    assert right["side"] == "right"  # type: ignore[index]
    # Round platelet ticks of its own: an overlaying axis's ticks default to 'sync' in plotly.js
    # (the left axis's grid), which labelled platelets 69.5, 138.9, 208.4.
    assert right["tickmode"] == "auto"  # type: ignore[index]
    # No MRD row without MRD results.
    assert not any(t.get("name", "").startswith("Flow") for t in fig["data"])  # type: ignore[union-attr]


def test_mrd_row_is_logarithmic_and_marks_non_detection_open() -> None:
    tl = timeline(
        [
            result("molecular_mrd", D(2024, 1, 1), qty("250"), analyte="NPM1"),
            result("molecular_mrd", D(2024, 3, 1), qty("0.05"), analyte="NPM1"),
            result(
                "molecular_mrd",
                D(2024, 6, 1),
                qty(None, qualifier="not detected", lod="0.001"),
                analyte="NPM1",
            ),
        ]
    )
    fig = figure_json(build_figure(tl, today=D(2024, 7, 1)))
    mrd = trace(fig, "Molecular MRD %")
    assert mrd["y"] == [250.0, 0.05, 0.001]
    assert mrd["marker"]["symbol"] == ["circle", "circle", "circle-open"]  # type: ignore[index]
    axis = fig["layout"][f"yaxis{mrd['yaxis'][1:]}"]  # type: ignore[index]
    assert axis["type"] == "log"
    assert "not detected" in mrd["text"][2]  # type: ignore[index]


def test_each_variant_gets_its_own_vaf_line() -> None:
    tl = timeline(
        [
            result("ngs_variant", D(2024, 1, 1), qty("30"), analyte="FLT3 c.1780_1809dup"),
            result("ngs_variant", D(2024, 5, 1), qty("5"), analyte="FLT3 c.1780_1809dup"),
            result("ngs_variant", D(2024, 5, 1), qty("2"), analyte="NRAS c.35G>A"),
            result("ngs_variant", D(2024, 8, 1), qty("25"), analyte="NRAS c.35G>A"),
        ]
    )
    fig = figure_json(build_figure(tl, today=D(2024, 9, 1)))
    assert trace(fig, "VAF NRAS c.35G>A")["y"] == [2.0, 25.0]
    assert trace(fig, "VAF FLT3 c.1780_1809dup")["y"] == [30.0, 5.0]


def test_therapy_cycles_are_bars_on_the_date_axis_and_ongoing_lines_run_to_today() -> None:
    lines = [
        TherapyLinePublic(
            line=1,
            regimen="7+3",
            intensity="intensive",
            start=D(2024, 1, 2),
            end=D(2024, 1, 29),
            cycles=[CyclePublic(number=1, start=D(2024, 1, 2), end=D(2024, 1, 8))],
        ),
        TherapyLinePublic(line=2, regimen="azacitidine", start=D(2024, 3, 1)),
    ]
    biopsies = [
        BiopsyPublic(
            id="1",
            performed_at=dt.datetime(2024, 1, 15, 9, tzinfo=dt.UTC),
            site="posterior iliac crest",
            complications=[ComplicationPublic(kind="hematoma", severity="mild")],
        )
    ]
    events = [EventPublic(kind="allogeneic transplant", date=D(2024, 6, 1))]
    tl = timeline([], therapy_lines=lines, biopsies=biopsies, events=events)
    fig = figure_json(build_figure(tl, today=D(2024, 4, 1)))
    first, second = trace(fig, "L1 7+3"), trace(fig, "L2 azacitidine")
    day_ms = 86_400_000
    assert first["base"] == ["2024-01-02"] and first["x"] == [6 * day_ms]
    assert second["base"] == ["2024-03-01"] and second["x"] == [31 * day_ms]
    assert "ongoing" in second["text"][0]  # type: ignore[index]
    assert trace(fig, "Biopsies")["x"] == ["2024-01-15"]
    assert "hematoma (mild)" in trace(fig, "Biopsies")["text"][0]  # type: ignore[index]
    assert trace(fig, "Events")["x"] == ["2024-06-01"]
    # A dotted guide line per biopsy through all rows.
    shapes = fig["layout"]["shapes"]  # type: ignore[index]
    assert [s["x0"] for s in shapes] == ["2024-01-15"]


def test_figure_round_trips_through_plotly_validation() -> None:
    tl = timeline(
        [result("chimerism", D(2024, 1, 1), qty("99.5"), analyte="whole blood")],
    )
    data = figure_json(build_figure(tl, today=D(2024, 2, 1)))
    # plotly refuses unknown properties, so a figure that passes is one plotly.js can draw.
    go.Figure(data)
    with pytest.raises(ValueError):
        go.Figure({"data": [{"type": "scatter", "bogus": 1}]})


def test_timeline_rows_are_in_date_order_with_amendment_history() -> None:
    amended = result(
        "blood_count",
        D(2024, 1, 10),
        qty("1.2", "10^9/L"),
        state="amended",
        version=2,
        amended_by="reviewer",
        amended_at=dt.datetime(2024, 1, 12, 10, tzinfo=dt.UTC),
        amendment_reason="digits transposed",
        history=[
            ResultVersionPublic(
                version=1,
                value=qty("2.1", "10^9/L"),
                summary="ANC 2.1",
                state="superseded",
                recorded_by="lab",
                reason="digits transposed",
            )
        ],
    )
    tl = timeline(
        [amended, result("differential", D(2024, 1, 1), qty("40"))],
        therapy_lines=[TherapyLinePublic(line=1, regimen="7+3", start=D(2024, 1, 1))],
    )
    rows = timeline_rows(tl)
    assert [(r.date, r.category) for r in rows] == [
        (D(2024, 1, 1), "therapy"),
        (D(2024, 1, 1), "result"),
        (D(2024, 1, 10), "result"),
    ]
    last = rows[-1]
    assert last.state == "amended"
    assert "version 2" in last.amendment and "reviewer" in last.amendment
    assert "digits transposed" in last.amendment
    assert [(h.version, h.value, h.reason) for h in last.history] == [
        (1, "ANC 2.1", "digits transposed")
    ]


def test_the_grid_is_plotlys_own_for_every_set_of_rows_and_therapy_height() -> None:
    """The grid's layout is laid out by plotly once per set of rows, and the row heights set
    by the same arithmetic as ``make_subplots(row_heights=...)``: identical JSON for every set of
    rows the chart can show and every therapy height (one ``make_subplots`` per height cost a
    worker 15-50 ms for each new height)."""
    import itertools
    import json

    from plotly.subplots import make_subplots

    from trephine.web import chart

    others = [r for r in chart.ROWS if r != "therapy"]
    shapes = [
        ("therapy", *c) for k in range(len(others) + 1) for c in itertools.combinations(others, k)
    ]
    assert chart.lay_out_every_grid() == len(shapes) == 2 ** len(others)
    for rows, therapy_px in itertools.product(shapes, (68, 124, 236, 600)):
        fig = make_subplots(
            rows=len(rows),
            cols=1,
            shared_xaxes=True,
            vertical_spacing=0.04 if len(rows) > 2 else 0.06,
            row_heights=[therapy_px] + [200] * (len(rows) - 1),
            specs=[[{"secondary_y": row == "counts"}] for row in rows],
        )
        expected = json.loads(fig.to_json())["layout"]
        expected.pop("template", None)
        assert json.loads(chart._grid(rows, therapy_px, 200).layout) == expected, (
            rows,
            therapy_px,
        )
    # plotly itself is asked once per set of rows, whatever the heights.
    chart._grid_of_rows.cache_clear()
    chart._grid.cache_clear()
    for therapy_px in (68, 96, 124, 152):
        chart._grid(("therapy", "blasts"), therapy_px, 200)
    assert chart._grid_of_rows.cache_info().misses == 1
