"""JSON round trip of every result kind: Decimals keep their digits, qualifiers survive."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trephine.domain import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    Chimerism,
    ChimerismLineage,
    CoreFindings,
    Extramedullary,
    FibrosisGrade,
    FlowMethod,
    FlowMRD,
    Karyotype,
    Lineage,
    MolecularMRD,
    NGSVariant,
    Qualifier,
    Quantity,
)
from trephine.domain import quantity as q
from trephine.domain.results import (
    CELLULARITY,
    DONOR_PERCENT,
    FLOW_MRD,
    MOLECULAR_RATIO,
    VAF,
    ResultValue,
)
from trephine.store.codec import decode_result, encode_result


def quantities(measure: q.Measure) -> st.SearchStrategy[Quantity]:
    places = st.integers(0, 4)
    number = places.flatmap(
        lambda p: st.decimals(
            min_value=measure.minimum,
            max_value=min(measure.maximum, Decimal(10**6)),
            places=p,
            allow_nan=False,
            allow_infinity=False,
        )
    )
    exact = st.builds(
        lambda v, qual: measure.quantity(v, qualifier=qual),
        number,
        st.sampled_from([Qualifier.EXACT, Qualifier.LESS_THAN, Qualifier.GREATER_THAN]),
    )
    not_detected = st.builds(
        lambda lod: measure.quantity(None, qualifier=Qualifier.NOT_DETECTED, lod=lod),
        st.one_of(st.none(), number),
    )
    return st.one_of(exact, not_detected)


def exact(measure: q.Measure) -> st.SearchStrategy[Quantity]:
    return quantities(measure).filter(lambda x: x.qualifier is Qualifier.EXACT)


differentials = (
    st.dictionaries(st.sampled_from(list(CellClass)), st.integers(0, 500))
    .filter(lambda d: sum(d.values()) > 0)
    .map(lambda d: AspirateDifferential(d, sum(d.values())))
)

values: st.SearchStrategy[ResultValue] = st.one_of(
    st.builds(BloodCount, wbc=exact(q.WBC), hemoglobin=st.one_of(st.none(), exact(q.HEMOGLOBIN))),
    differentials,
    st.builds(
        CoreFindings,
        cellularity=st.one_of(st.none(), exact(CELLULARITY)),
        fibrosis=st.one_of(st.none(), st.sampled_from(list(FibrosisGrade))),
        dysplasia=st.dictionaries(st.sampled_from(list(Lineage)), st.decimals(0, 100, places=1)),
    ),
    st.builds(FlowMRD, quantities(FLOW_MRD), st.sampled_from(list(FlowMethod))),
    st.builds(MolecularMRD, st.just("NPM1 type A"), quantities(MOLECULAR_RATIO)),
    st.builds(NGSVariant, st.just("FLT3"), st.just("c.2503G>T"), exact(VAF)),
    st.builds(Karyotype, st.text(min_size=1, max_size=40).filter(str.strip)),
    st.builds(Chimerism, exact(DONOR_PERCENT), st.sampled_from(list(ChimerismLineage))),
    st.builds(Extramedullary, st.just("skin"), st.booleans()),
)


# No deadline: the machine is shared, and timing is not what these tests check.
@settings(deadline=None)
@given(values)
def test_every_result_kind_round_trips(value: ResultValue) -> None:
    encoded = encode_result(value)
    decoded = decode_result(str(value.kind), encoded)
    assert decoded == value
    assert encode_result(decoded) == encoded


# No deadline: the machine is shared, and timing is not what these tests check.
@settings(deadline=None)
@given(quantities(FLOW_MRD))
def test_decimal_digits_survive_json(quantity: Quantity) -> None:
    decoded = decode_result("flow_mrd", encode_result(FlowMRD(quantity, FlowMethod.LAIP)))
    assert isinstance(decoded, FlowMRD)
    assert str(decoded.mrd.value) == str(quantity.value)
    assert decoded.mrd.precision == quantity.precision
