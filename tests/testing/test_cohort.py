"""The synthetic demo cohort: deterministic, complete, and clinically plausible."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

import trephine.demo as c
from trephine.demo import Scenario, SyntheticPatient, differential
from trephine.demo.model import _FAMILY, _GIVEN
from trephine.domain.procedure import Indication
from trephine.domain.quantity import Qualifier
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    Chimerism,
    ChimerismLineage,
    FlowMRD,
    MolecularMRD,
    NGSVariant,
)
from trephine.domain.therapy import CarTInfusion, Transplant
from trephine.errors import ValidationError


@pytest.fixture(scope="module")
def default_cohort() -> list[SyntheticPatient]:
    return list(c.generate_cohort())


def by_scenario(patients: list[SyntheticPatient], s: Scenario) -> list[SyntheticPatient]:
    found = [p for p in patients if p.scenario is s]
    assert found, f"no {s} patient"
    return found


def marrows(p: SyntheticPatient) -> list[tuple[dt.date, AspirateDifferential, BloodCount]]:
    out = []
    for v in p.visits:
        if v.procedure is None:
            continue
        diff = next(r.value for r in v.results if isinstance(r.value, AspirateDifferential))
        count = next(r.value for r in v.results if isinstance(r.value, BloodCount))
        out.append((v.on, diff, count))
    return out


def num_or_zero(q: object) -> float:
    value = getattr(q, "value", None)
    return 0.0 if value is None else float(value)


def num(q: object) -> float:
    value = getattr(q, "value", None)
    assert value is not None
    return float(value)


def test_default_size_is_at_least_200_patients_and_a_few_thousand_results(
    default_cohort: list[SyntheticPatient],
) -> None:
    assert len(default_cohort) >= 200
    n_results = sum(1 for p in default_cohort for _ in p.results)
    assert 2000 <= n_results <= 10000
    assert len({p.patient.external_id for p in default_cohort}) == len(default_cohort)


def test_same_seed_same_cohort_other_seed_other_cohort() -> None:
    a = list(c.generate_cohort(12, seed=7))
    b = list(c.generate_cohort(12, seed=7))
    other = list(c.generate_cohort(12, seed=8))
    assert a == b
    assert a != other
    # Patient i does not depend on the cohort size, so a small demo is a prefix of a big one.
    assert c.synthetic_patient(11, seed=7) == a[11]


def test_every_scenario_is_present_in_the_first_twenty() -> None:
    seen = {p.scenario for p in c.generate_cohort(20)}
    assert seen == set(Scenario)


def test_identities_are_obviously_synthetic(default_cohort: list[SyntheticPatient]) -> None:
    for p in default_cohort:
        family, given = p.identity.name.split(", ")
        assert family in _FAMILY and given in _GIVEN
        assert p.identity.mrn.startswith("SYN")
        assert p.patient.external_id.startswith("DEMO-")
        assert p.identity.birth_date is not None
        assert p.identity.birth_date.year == p.patient.birth_year


def test_dates_are_ordered_and_inside_the_cohort_window(
    default_cohort: list[SyntheticPatient],
) -> None:
    for p in default_cohort:
        diagnosed = min(d.diagnosed_on for d in p.diagnoses)
        assert c.FIRST_DIAGNOSIS <= diagnosed <= c.LAST_DIAGNOSIS
        days = [v.on for v in p.visits]
        assert days == sorted(days)
        assert days[0] == diagnosed, p.patient.external_id
        assert days[-1] <= c.COHORT_END
        for line in p.therapy_lines:
            assert line.start >= diagnosed
        # Age at diagnosis is that of an adult marrow service.
        assert 18 <= diagnosed.year - (p.patient.birth_year or 0) <= 95


def test_intensive_induction_has_day_14_and_day_28_marrows_and_cr_counts(
    default_cohort: list[SyntheticPatient],
) -> None:
    recovery: list[bool] = []
    for p in by_scenario(default_cohort, Scenario.AML_INTENSIVE_CR):
        induction = p.therapy_lines[0]
        assert induction.regimen.startswith("7+3")
        after = {(day - induction.start).days: (d, bc) for day, d, bc in marrows(p)}
        assert 13 in after, "day-14 marrow (day 1 = start of induction)"
        d14, _ = after[13]
        assert d14.blast_percent < 5
        d28 = [(d, bc) for k, (d, bc) in after.items() if 27 <= k <= 33]
        assert d28, "a day-28 marrow"
        diff, counts = d28[0]
        # CR family (ELN 2022): blasts < 5 % with full (ANC ≥ 1.0, platelets ≥ 100 ×10^9/L),
        # partial (CRh: ANC > 0.5, platelets > 50) or incomplete (CRi) count recovery.
        assert diff.blast_percent < 5
        assert num(counts.anc) > 0.5
        recovery.append(num(counts.anc) >= 1.0 and num(counts.platelets) >= 100)
        # The film result is recorded even when it is 0 (an evaluable response needs it).
        assert counts.circulating_blasts is not None and num_or_zero(counts.circulating_blasts) == 0
    # Most recover fully; some do not (CRh/CRi), as after 7+3 in practice.
    assert any(recovery) and not all(recovery)


def test_refractory_aml_still_has_blasts_after_reinduction(
    default_cohort: list[SyntheticPatient],
) -> None:
    for p in by_scenario(default_cohort, Scenario.AML_INTENSIVE_REFRACTORY):
        reinduction = next(t for t in p.therapy_lines if "re-induction" in t.regimen)
        after = [d for day, d, _ in marrows(p) if 27 <= (day - reinduction.start).days <= 33]
        assert after and after[0].blast_percent >= 5


def test_flt3_relapse_under_gilteritinib_grows_a_resistance_clone(
    default_cohort: list[SyntheticPatient],
) -> None:
    for p in by_scenario(default_cohort, Scenario.AML_FLT3_RESISTANCE):
        gilt = next(t for t in p.therapy_lines if t.regimen == "gilteritinib")
        variants = [
            (v.on, r.value)
            for v in p.visits
            for r in p.results
            if r in v.results and isinstance(r.value, NGSVariant)
        ]
        resistant = [
            (on, num(x.vaf))
            for on, x in variants
            if (x.gene, x.hgvs_protein) != ("FLT3", "p.Phe594_Asp600dup")
        ]
        assert resistant, "a resistance mutation"
        assert resistant[0][0] > gilt.start, "it emerges only under the FLT3 inhibitor"
        vafs = [v for _, v in resistant]
        assert vafs == sorted(vafs) and vafs[-1] >= 20
        assert {x.gene for _, x in variants} >= {"FLT3"}


def _npm1_series(p: SyntheticPatient) -> list[tuple[dt.date, MolecularMRD]]:
    return [
        (v.on, r.value) for v in p.visits for r in v.results if isinstance(r.value, MolecularMRD)
    ]


def test_npm1_mrd_falls_after_therapy_and_some_patients_rise_a_log(
    default_cohort: list[SyntheticPatient],
) -> None:
    rises = 0
    for p in by_scenario(default_cohort, Scenario.AML_NPM1_MRD):
        series = _npm1_series(p)
        assert len(series) >= 5
        first = num(series[0][1].ratio)
        assert first > 100, "NPM1/ABL1 % at diagnosis is typically > 100 %"
        assert all(m.sensitivity == Decimal("1e-5") for _, m in series)
        negative_seen = False
        previous: float | None = None
        for _, m in series:
            if m.ratio.qualifier is Qualifier.NOT_DETECTED:
                negative_seen = True
                previous = None
                continue
            value = num(m.ratio)
            if negative_seen and previous is not None and value >= 10 * previous:
                rises += 1
                break
            previous = value
    assert rises >= 3, "molecular relapse (≥ 1 log rise after negativity) in several patients"


def test_transplant_chimerism_on_day_30_and_100_and_falling_in_some(
    default_cohort: list[SyntheticPatient],
) -> None:
    falling = 0
    for p in by_scenario(default_cohort, Scenario.POST_TRANSPLANT):
        (tx,) = [e for e in p.cellular_therapies if isinstance(e, Transplant)]
        assert tx.allogeneic
        blood = [
            ((v.on - tx.on).days, r.value)
            for v in p.visits
            for r in v.results
            if isinstance(r.value, Chimerism) and r.value.lineage is ChimerismLineage.WHOLE_BLOOD
        ]
        days = [d for d, _ in blood]
        assert any(27 <= d <= 33 for d in days) and any(97 <= d <= 103 for d in days)
        if min(num(x.donor_percent) for _, x in blood) < 95:
            falling += 1
    assert falling >= 2


def test_car_t_has_a_day_28_marrow(default_cohort: list[SyntheticPatient]) -> None:
    for p in by_scenario(default_cohort, Scenario.CAR_T):
        (infusion,) = [e for e in p.cellular_therapies if isinstance(e, CarTInfusion)]
        assert any(27 <= (day - infusion.on).days <= 30 for day, _, _ in marrows(p))


def test_myeloma_mrd_reaches_ten_to_the_minus_five(default_cohort: list[SyntheticPatient]) -> None:
    for p in by_scenario(default_cohort, Scenario.MYELOMA):
        flows = [r.value for r in p.results if isinstance(r.value, FlowMRD)]
        assert flows
        for f in flows:
            # 10^-5 = 0.001 % of leukocytes; the LOD must be at least that sensitive.
            assert f.mrd.lod is not None and f.mrd.lod <= Decimal("0.001")
        plasma = [d.percent(CellClass.PLASMA_CELL) for _, d, _ in marrows(p)]
        assert plasma[0] >= 20 and plasma[-1] < plasma[0]


def test_aplastic_anemia_is_hypocellular_at_diagnosis(
    default_cohort: list[SyntheticPatient],
) -> None:
    for p in by_scenario(default_cohort, Scenario.APLASTIC_ANEMIA):
        first = p.visits[0]
        assert first.procedure is not None and first.procedure.indication is Indication.DIAGNOSIS
        core = next(r.value for r in first.results if type(r.value).__name__ == "CoreFindings")
        assert num(core.cellularity) < 25  # type: ignore[attr-defined]


def test_some_results_are_amended_with_a_reason_and_a_real_change(
    default_cohort: list[SyntheticPatient],
) -> None:
    results = [r for p in default_cohort for r in p.results]
    amended = [r for r in results if r.amendment is not None]
    assert 0.01 <= len(amended) / len(results) <= 0.06
    kinds = Counter(type(r.value).__name__ for r in amended)
    assert set(kinds) == {"BloodCount", "AspirateDifferential"}
    for r in amended:
        assert r.amendment is not None and r.amendment.value != r.value
        assert len(r.amendment.reason) > 20


def test_differential_places_fixed_classes_and_sums_exactly() -> None:
    import random

    d = differential(random.Random(1), {CellClass.BLAST: 23.4, CellClass.PLASMA_CELL: 5}, 500)
    assert d.cells_counted == 500 == sum(d.counts.values())
    assert d.count(CellClass.BLAST) == 117  # round(500 × 23.4 %)
    assert d.count(CellClass.PLASMA_CELL) == 25
    assert d.me_ratio() is not None


def test_differential_refuses_fixed_percentages_over_100() -> None:
    import random

    with pytest.raises(ValidationError) as err:
        differential(random.Random(1), {CellClass.BLAST: 80, CellClass.LYMPHOCYTE: 30})
    assert err.value.field == "fixed_percent"


def test_bad_arguments_are_validation_errors() -> None:
    with pytest.raises(ValidationError):
        list(c.generate_cohort(0))
    with pytest.raises(ValidationError):
        c.synthetic_patient(-1)
