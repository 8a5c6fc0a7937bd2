"""The chart draws each disease's own marrow value, MRD with its limits and reference levels,
and response calls as badges on the time axis."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import plotly.graph_objects as go
import pytest

from trephine.api import readers
from trephine.api.schemas.patients import TimelinePublic
from trephine.services import open_database
from trephine.web.chart import (
    SERIES,
    build_figure,
    figure_data,
    figure_json,
    mrd_levels,
    points_of,
)


@pytest.fixture(scope="module")
def timelines(site: Any) -> Iterator[dict[str, TimelinePublic]]:
    db = open_database(site.url)
    with db.unit_of_work("test") as uow:
        yield {
            p.patient.external_id: readers.patient_timeline(uow, p.patient.external_id)
            for p in site.cohort
        }
    db.dispose()


def _names(tl: TimelinePublic, **kw: Any) -> list[str]:
    return [t.name for t in build_figure(tl, **kw).data]


def test_each_disease_gets_its_own_marrow_series(timelines: dict[str, TimelinePublic]) -> None:
    expected = {
        "AML": "Marrow blasts %",
        "myeloma": "Marrow plasma cells %",
        "CLL": "Marrow lymphocytes %",
        "aplastic anemia": "Cellularity %",
    }
    seen = set()
    for tl in timelines.values():
        disease = tl.diagnoses[-1].disease
        if disease in expected:
            assert expected[disease] in _names(tl), disease
            seen.add(disease)
    assert seen == set(expected)


def test_mrd_has_limit_markers_and_reference_levels_the_method_reaches(
    timelines: dict[str, TimelinePublic],
) -> None:
    flow = SERIES[4]
    tl = next(t for t in timelines.values() if any(p.value.lod for p in points_of(t.results, flow)))
    fig = build_figure(tl)
    names = [t.name for t in fig.data]
    assert "LOD" in names
    lod = next(t for t in fig.data if t.name == "LOD")
    assert lod.marker.symbol == "line-ew"
    levels = {a.text for a in fig.layout.annotations}
    reachable = {name for _, name in mrd_levels(points_of(tl.results, flow))}
    assert reachable and reachable <= levels
    # The axis is logarithmic.
    assert any(getattr(fig.layout, k).type == "log" for k in fig.layout if k.startswith("yaxis"))


def test_each_reference_level_is_labelled_at_its_line(
    timelines: dict[str, TimelinePublic],
) -> None:
    """On a log axis plotly places an annotation at 10^y but a shape at y: the label of the
    0.1 % line must say y = -1, or it is drawn at 10^0.1 = 1.26 % (the 10⁻³ and 10⁻⁴ labels
    stacked at the top of the MRD row, far from their dashed lines)."""
    flow = SERIES[4]
    tl = next(t for t in timelines.values() if points_of(t.results, flow))
    layout = figure_data(tl)["layout"]
    log_axes = {
        k.replace("axis", "")
        for k, v in layout.items()
        if k.startswith("yaxis") and v.get("type") == "log"
    }
    lines = {s["y0"]: s for s in layout["shapes"] if s["yref"] in log_axes and s["y0"] == s["y1"]}
    labels = [a for a in layout["annotations"] if a["yref"] in log_axes]
    assert labels and len(labels) == len(lines)
    levels = dict(mrd_levels(points_of(tl.results, flow)))
    for label in labels:
        level = next(v for v, name in levels.items() if name == label["text"])
        assert level in lines
        assert 10 ** label["y"] == pytest.approx(level), label


def test_reference_levels_stop_at_the_method_sensitivity() -> None:
    def point(lod: str) -> Any:
        return SimpleNamespace(value=SimpleNamespace(lod=lod, lloq=None))

    assert [n for _, n in mrd_levels([point("0.01")])] == ["10⁻³", "10⁻⁴"]
    assert [n for _, n in mrd_levels([point("0.0005")])] == ["10⁻³", "10⁻⁴", "10⁻⁵"]
    assert [n for _, n in mrd_levels([point("0.5")])] == []


def test_response_calls_are_badges_on_the_time_axis(timelines: dict[str, TimelinePublic]) -> None:
    tl = next(iter(timelines.values()))
    calls = [
        SimpleNamespace(call="response", category="CR", date="2024-01-02", ruleset="ELN2022"),
        SimpleNamespace(call="response", category="PR", date="2023-11-02", ruleset="ELN2022"),
        SimpleNamespace(call="mrd", category="NEGATIVE", date="2024-01-02", ruleset="ELN2021"),
    ]
    fig = build_figure(tl, assessments=calls)
    badges = next(t for t in fig.data if t.name == "Response")
    assert list(badges.x) == ["2023-11-02", "2024-01-02"]  # date order, response calls only
    assert list(badges.text) == ["PR", "CR"]
    # The latest call's words may run past the last date: drawn whole into the right margin,
    # not cut at the axis end ('CR MRD-' of DEMO-0001 read 'CR MRD').
    assert badges.cliponaxis is False
    assert "Response" not in _names(tl)


def test_the_plain_figure_is_plotlys_own_json_of_it(timelines: dict[str, TimelinePublic]) -> None:
    """The page embeds ``figure_data`` without building plotly objects; plotly must accept it
    unchanged (no unknown property, no value it would coerce) for every patient of the cohort,
    and two patients with different rows get different subplot grids."""
    calls = [
        SimpleNamespace(call="response", category="CR", date="2024-01-02", ruleset="ELN2022"),
    ]
    grids = set()
    for tl in timelines.values():
        for kw in ({}, {"assessments": calls}):
            data = figure_data(tl, today=dt.date(2025, 1, 1), **kw)
            plain = json.loads(json.dumps(data))
            assert figure_json(go.Figure(plain)) == plain, tl.patient.id
        grids.add(tuple(sorted(k for k in data["layout"] if k.startswith(("xaxis", "yaxis")))))
    assert len(grids) > 1


def test_a_relapse_is_a_badge_and_wins_over_that_marrows_response(
    timelines: dict[str, TimelinePublic],
) -> None:
    """DEMO-0001 relapses (2024-04-09): the track showed its CRi and CR and then nothing, and a
    relapse marrow's superseded NO_RESPONSE would have shown beside a relapse."""
    tl = next(iter(timelines.values()))
    calls = [
        SimpleNamespace(call="response", category="CR_MRD-", date="2023-03-10", ruleset="ELN2022"),
        SimpleNamespace(call="relapse", category="NOT_MET", date="2023-03-10", ruleset="R"),
        SimpleNamespace(call="response", category="NO_RESPONSE", date="2024-04-09", ruleset="E"),
        SimpleNamespace(
            call="relapse", category="HEMATOLOGIC_RELAPSE", date="2024-04-09", ruleset="R"
        ),
        SimpleNamespace(call="relapse", category="PD", date="2024-06-01", ruleset="IMWG"),
    ]
    badges = next(t for t in build_figure(tl, assessments=calls).data if t.name == "Response")
    assert list(badges.x) == ["2023-03-10", "2024-04-09", "2024-06-01"]
    # The relapse reads as its alert and the criteria calls name it (one wording per concept).
    assert list(badges.text) == ["CR MRD-", "Haematologic relapse", "Progressive disease"]
    assert badges.marker.color[1] == badges.marker.color[2] != badges.marker.color[0]
