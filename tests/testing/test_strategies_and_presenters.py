"""Properties of the public presentation of any valid result (Hypothesis)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from trephine.api.schemas.patients import PatientPublic, TimelinePublic
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import FLOW_MRD, AspirateDifferential, ResultValue
from trephine.present import results as presenters
from trephine.services.views import StoredResult
from trephine.testing import strategies as s
from trephine.web.chart import build_figure, figure_json, plotted_value
from trephine.workflow import ResultState

FAST = settings(max_examples=60, deadline=None)


@FAST
@given(s.quantities(FLOW_MRD))
def test_quantity_keeps_number_qualifier_and_limits(q: Quantity) -> None:
    public = presenters.quantity(q)
    assert public is not None
    assert public.value == q.value and public.lod == q.lod and public.lloq == q.lloq
    assert public.qualifier == q.qualifier.value
    # The qualifier is never folded into the number; the display string says it in words/symbol.
    if q.qualifier is Qualifier.NOT_DETECTED:
        assert public.value is None and public.display.startswith("not detected")
    else:
        assert public.value is not None
        assert public.display.startswith("" if q.qualifier is Qualifier.EXACT else q.qualifier)
    y = plotted_value(public)
    assert y is None or y >= 0


@FAST
@given(s.differentials())
def test_displayed_blast_percent_is_the_exact_value_rounded(d: AspirateDifferential) -> None:
    shown = presenters.blast_percent(d).value
    assert shown is not None
    assert abs(shown - d.blast_percent) <= 0.05
    assert 0 <= shown <= 100


def _stored(value: ResultValue, i: int) -> StoredResult:
    return StoredResult(
        id=i,
        patient_id="P",
        accession=f"A{i}",
        kind=value.kind,
        analyte=value.analyte,
        collected_on=dt.date(2024, 1, 1) + dt.timedelta(days=7 * i),
        version=1,
        state=ResultState.VERIFIED,
        value=value,
        created_by="t",
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )


@settings(max_examples=20, deadline=None)
@given(st.lists(s.result_values(), min_size=1, max_size=6))
def test_any_results_present_and_plot(values: list[ResultValue]) -> None:
    results = [presenters.result(_stored(v, i)) for i, v in enumerate(values)]
    for r, v in zip(results, values, strict=True):
        assert r.summary and r.label and r.kind == str(v.kind)
        assert all(c.value.unit for c in r.components)
    tl = TimelinePublic(
        patient=PatientPublic(
            id="P",
            sex="unknown",
            birth_year=None,
            diagnosis=None,
            last_biopsy=None,
            last_marrow_blasts=None,
        ),
        diagnoses=[],
        therapy_lines=[],
        events=[],
        biopsies=[],
        results=results,
    )
    fig = figure_json(build_figure(tl, today=dt.date(2025, 1, 1)))
    plotted = [y for t in fig["data"] for y in t.get("y", []) if isinstance(y, float)]
    for y in plotted:
        assert y >= 0
