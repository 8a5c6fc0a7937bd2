"""The Kaplan–Meier plot marks its number at risk on days a reader reports."""

from __future__ import annotations

from trephine.analysis.cohort.outcomes import TimeRow
from trephine.analysis.cohort.plots import km_figure


def _rows() -> list[TimeRow]:
    times = [30.0, 120.0, 400.0, 610.0, 798.0, 798.0]
    return [
        TimeRow(patient=f"P{i}", group="negative", time=t, event=int(i % 2 == 0))
        for i, t in enumerate(times)
    ]


def _ticks(fig) -> list[float]:  # type: ignore[no-untyped-def]
    return [float(x) for x in fig.axes[0].get_xticks()]


def test_the_axis_and_the_number_at_risk_are_on_round_days() -> None:
    """A follow-up of 798 days was marked 0, 160, 319, 479, 638, 798 (798 cut in fifths) on
    the cohort page and in ``cohort analyse --plots``."""
    fig = km_figure(_rows(), title="t")
    assert _ticks(fig) == [0, 180, 360, 540, 720]
    at_risk = [t.get_text() for t in fig.axes[1].texts if t.get_text().isdigit()]
    assert at_risk == ["6", "4", "4", "3", "2"]


def test_round_days_in_weeks_months_or_years() -> None:
    from trephine.analysis.cohort.plots import day_ticks

    assert day_ticks(798) == [0, 180, 360, 540, 720]
    assert day_ticks(40) == [0, 14, 28]
    assert day_ticks(3000) == [0, 730, 1460, 2190, 2920]


def test_the_page_marks_the_days_of_its_table() -> None:
    fig = km_figure(_rows(), title="t", at=[0, 90, 180, 365, 730, 1095])
    assert _ticks(fig) == [0, 90, 180, 365, 730]


def _mrd_markers(fig) -> list[tuple[float, float, str, str, str]]:  # type: ignore[no-untyped-def]
    """Each MRD marker drawn (a triangle: up negative, down positive): (x, y, shape, edge colour,
    face colour), as matplotlib holds it."""
    from matplotlib.colors import to_hex

    out = []
    for line in fig.axes[0].get_lines():
        if line.get_marker() in ("^", "v"):
            (x,), (y,) = line.get_xdata(), line.get_ydata()
            out.append(
                (
                    float(x),
                    float(y),
                    str(line.get_marker()),
                    to_hex(line.get_color()),
                    to_hex(line.get_markerfacecolor()),
                )
            )
    return sorted(out)


def test_a_days_marrow_and_blood_mrd_calls_are_two_markers_apart_and_in_the_legend() -> None:
    """A day with a positive marrow and a negative blood MRD call (or two of one status) showed
    one marker: the second drawn on top of the first. Each is now its own marker, the marrow's
    filled above the lane and the blood's open below it, and the legend names both."""
    import datetime as dt

    from trephine.analysis.cohort.outcomes import Course, Event
    from trephine.analysis.cohort.plots import swimmer_figure

    d0 = dt.date(2024, 1, 1)
    day = d0 + dt.timedelta(days=90)
    courses = [
        Course(
            patient=pid,
            start=d0,
            events=tuple(Event(day, "mrd", cat, sample) for cat, sample in calls),
            last_seen=d0 + dt.timedelta(days=400),
        )
        for pid, calls in (
            ("A", [("POSITIVE", "bone marrow"), ("NEGATIVE", "peripheral blood")]),
            ("B", [("NEGATIVE", "bone marrow"), ("NEGATIVE", "peripheral blood")]),
            ("C", [("NEGATIVE", None)]),
        )
    ]
    fig = swimmer_figure(courses)
    red, green, white = "#ff0000", "#008000", "#ffffff"
    assert _mrd_markers(fig) == [
        (90.0, 0 - 0.17, "v", red, red),  # A: marrow positive, filled, above its lane
        (90.0, 0 + 0.17, "^", green, white),  # A: blood negative, open, below
        (90.0, 1 - 0.17, "^", green, green),  # B: the same status, still two markers
        (90.0, 1 + 0.17, "^", green, white),
        (90.0, 2.0, "^", green, green),  # C: no sample named, on the lane
    ]
    # Two markers of one day do not overlap on the figure: their centres are further apart
    # than a marker is tall (5 points, in pixels at the figure's dpi).
    ax = fig.axes[0]
    (ya,), (yb,) = (ax.transData.transform([(90.0, y)])[:, 1:] for y in (-0.17, 0.17))
    assert abs(float(ya[0]) - float(yb[0])) > 5 * fig.dpi / 72
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "MRD, bone marrow (above)" in labels
    assert "MRD, peripheral blood (open, below)" in labels
