"""Hypothesis strategies for domain values (for Trephine's tests and plugin authors').

They draw only valid objects — inside each field's :class:`~trephine.domain.quantity.Measure`
range, in its canonical unit, with every qualifier — so a property test exercises what a lab can
really report, including "< LLOQ" and "not detected at a given LOD".

Needs Hypothesis (the ``dev`` extra); nothing outside tests imports this module.
"""

from __future__ import annotations

from decimal import Decimal

try:
    from hypothesis import strategies as st
except ImportError as exc:  # a plain install: say what to install instead of a bare failure
    raise ImportError(
        "trephine.testing.strategies needs Hypothesis: pip install 'trephine[dev]'"
    ) from exc

from trephine.domain import quantity as q
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import (
    DONOR_PERCENT,
    FLOW_MRD,
    MOLECULAR_RATIO,
    VAF,
    AspirateDifferential,
    BloodCount,
    CellClass,
    Chimerism,
    ChimerismLineage,
    FlowMethod,
    FlowMRD,
    MolecularMRD,
    NGSVariant,
    ResultValue,
)


def decimals_in(measure: q.Measure, places: int = 2) -> st.SearchStrategy[Decimal]:
    """Decimals within the measure's range with at most ``places`` decimal places."""
    return st.decimals(
        min_value=measure.minimum,
        max_value=measure.maximum,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


@st.composite
def quantities(draw: st.DrawFn, measure: q.Measure, *, detection: bool = True) -> Quantity:
    """A :class:`Quantity` of ``measure``: exact, ``<``, ``>`` or (with ``detection``) not seen."""
    qualifiers = list(Qualifier) if detection else [Qualifier.EXACT]
    qualifier = draw(st.sampled_from(qualifiers))
    lod = draw(st.none() | decimals_in(measure, 4)) if detection else None
    if qualifier is Qualifier.NOT_DETECTED:
        return measure.quantity(None, qualifier=qualifier, lod=lod)
    value = draw(decimals_in(measure))
    lloq = None
    if lod is not None:
        lloq = draw(st.none() | decimals_in(measure, 4).filter(lambda x: x >= lod))
    return measure.quantity(value, qualifier=qualifier, lod=lod, lloq=lloq)


@st.composite
def blood_counts(draw: st.DrawFn) -> BloodCount:
    wbc = draw(decimals_in(q.WBC, 2).filter(lambda x: x <= 200))
    anc = draw(st.decimals(min_value=0, max_value=wbc, places=2))
    return BloodCount(
        wbc=q.WBC.quantity(wbc),
        anc=q.ANC.quantity(anc),
        platelets=q.PLATELETS.quantity(Decimal(draw(st.integers(0, 1500)))),
        hemoglobin=q.HEMOGLOBIN.quantity(draw(decimals_in(q.HEMOGLOBIN, 1))),
    )


@st.composite
def differentials(draw: st.DrawFn) -> AspirateDifferential:
    counts = draw(
        st.dictionaries(st.sampled_from(list(CellClass)), st.integers(0, 400), min_size=1)
    )
    if sum(counts.values()) == 0:
        counts[CellClass.NEUTROPHIL] = 1
    return AspirateDifferential(counts=counts, cells_counted=sum(counts.values()))


def flow_mrds() -> st.SearchStrategy[FlowMRD]:
    return st.builds(FlowMRD, mrd=quantities(FLOW_MRD), method=st.sampled_from(list(FlowMethod)))


def molecular_mrds() -> st.SearchStrategy[MolecularMRD]:
    return st.builds(
        MolecularMRD,
        marker=st.sampled_from(["NPM1 type A", "CBFB::MYH11", "RUNX1::RUNX1T1"]),
        ratio=quantities(MOLECULAR_RATIO),
        sensitivity=st.sampled_from([None, Decimal("1e-4"), Decimal("1e-5")]),
    )


def variants() -> st.SearchStrategy[NGSVariant]:
    return st.builds(
        NGSVariant,
        gene=st.sampled_from(["FLT3", "NRAS", "KRAS", "NPM1", "TP53"]),
        hgvs=st.sampled_from(["c.35G>A", "c.2071T>C", "c.860_863dup", "c.2503G>T"]),
        vaf=quantities(VAF, detection=False),
        depth=st.none() | st.integers(0, 100_000),
    )


def chimerisms() -> st.SearchStrategy[Chimerism]:
    return st.builds(
        Chimerism,
        donor_percent=quantities(DONOR_PERCENT, detection=False),
        lineage=st.sampled_from(list(ChimerismLineage)),
    )


def result_values() -> st.SearchStrategy[ResultValue]:
    """Any of the numeric result kinds the timeline plots."""
    return st.one_of(
        blood_counts(), differentials(), flow_mrds(), molecular_mrds(), variants(), chimerisms()
    )
