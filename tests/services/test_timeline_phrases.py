"""Timeline phrases a clinician reads in ``trephine patients show`` (acceptance audit).

Found from the shell: every demo biopsy line ended in "; extramedullary" although the
examination found none, and a stored computed flow MRD read "1.466694259705337196358747207 %".
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import Extramedullary, FlowMethod, FlowMRD, ResultKind
from trephine.present.chronology import result_phrase as _result_phrase
from trephine.workflow import ResultState


def _stored(value: Any, kind: ResultKind, analyte: str = "") -> Any:
    return SimpleNamespace(
        value=value,
        kind=kind,
        analyte=analyte,
        state=ResultState.VERIFIED,
        version=1,
        amendment_reason=None,
    )


def test_extramedullary_says_present_or_absent() -> None:
    absent = Extramedullary("clinical examination", present=False)
    present = Extramedullary("skin", present=True)
    kind = ResultKind.EXTRAMEDULLARY
    assert _result_phrase(_stored(absent, kind)) == (
        "extramedullary disease absent (clinical examination)"
    )
    assert _result_phrase(_stored(present, kind)) == "extramedullary disease present (skin)"


def test_a_computed_mrd_is_rounded_for_reading_and_a_reported_one_is_kept() -> None:
    exact = Decimal(22821) * 100 / Decimal(1555948)  # 28 significant digits
    computed = FlowMRD(Quantity(exact, "%", lod=Decimal(20) * 100 / 1555948), FlowMethod.LAIP)
    assert _result_phrase(_stored(computed, ResultKind.FLOW_MRD)) == "flow cytometry MRD 1.467 %"
    reported = FlowMRD(Quantity(Decimal("0.08"), "%"), FlowMethod.LAIP)
    assert _result_phrase(_stored(reported, ResultKind.FLOW_MRD)) == "flow cytometry MRD 0.08 %"
    none = FlowMRD(
        Quantity(None, "%", Qualifier.NOT_DETECTED, lod=exact),
        FlowMethod.LAIP,
    )
    assert _result_phrase(_stored(none, ResultKind.FLOW_MRD)) == (
        "flow cytometry MRD not detected (LOD 1.467 %)"
    )


def test_iron_grade_and_iron_studies_are_read_together() -> None:
    from trephine.domain.results import (
        CELLULARITY,
        FERRITIN,
        CoreFindings,
        IronScale,
        IronStudies,
    )

    core = CoreFindings(
        cellularity=CELLULARITY.quantity(Decimal(40)), iron_grade=5, iron_scale=IronScale.GALE
    )
    iron = IronStudies(ferritin=FERRITIN.quantity(Decimal(2400)))
    assert _result_phrase(_stored(core, ResultKind.CORE)) == (
        "cellularity 40 %, iron grade 5 (Gale 0-6)"
    )
    assert _result_phrase(_stored(iron, ResultKind.IRON_STUDIES)) == (
        "iron studies: ferritin 2400 ug/L"
    )


def test_a_population_and_a_measurement_say_what_they_count() -> None:
    """The demo's immune panels read 'population 2.478 %; population 72.74 %; ...' on every
    AML biopsy line of ``patients show``: neither the cells nor what they are a share of."""
    from trephine.domain.results import (
        Measurement,
        MeasurementMethod,
        Population,
        PopulationMethod,
    )

    cd8 = Population("CD8 T cells", 1711, "T cells", 5000, PopulationMethod.FLOW)
    assert _result_phrase(_stored(cd8, ResultKind.POPULATION)) == "CD8 T cells 34.22 % of T cells"
    vessels = Measurement(
        {"microvessel density": Quantity(Decimal("14.5"), "vessels/mm2")}, MeasurementMethod.MANUAL
    )
    assert _result_phrase(_stored(vessels, ResultKind.MEASUREMENT)) == (
        "microvessel density 14.5 vessels/mm2"
    )


def test_flow_mrd_event_counts_both_have_thousands_separators() -> None:
    """DEMO-0001's relapse read '38 %, 377202/1,000,000 events': one count grouped, one not."""
    from trephine.present.results import summary

    flow = FlowMRD(
        Quantity(Decimal("38"), "%"), FlowMethod.LAIP, events_acquired=1_000_000,
        abnormal_events=377_202,
    )  # fmt: skip
    assert "377,202/1,000,000 events" in summary(flow)
    few = FlowMRD(Quantity(Decimal("0.014"), "%"), FlowMethod.LAIP, events_acquired=10**6)
    assert "0/1,000,000 events" in summary(few)
