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
