"""MDS on azacitidine."""

from __future__ import annotations

from trephine.demo.builder import Builder
from trephine.demo.values import blood_count, days_after, dec, pct_of
from trephine.domain.patient import Disease, GeneticStatus, Sex
from trephine.domain.procedure import Indication
from trephine.domain.results import (
    FERRITIN,
    RING_SIDEROBLASTS,
    TRANSFERRIN_SATURATION,
    FibrosisGrade,
    IronStudies,
    Karyotype,
    Lineage,
    ResultValue,
)
from trephine.domain.therapy import Intensity, TherapyIntent


def mds_hma(b: Builder) -> None:
    r = b.rng
    b.birth_year = min(b.birth_year, b.diagnosed_on.year - 62)
    del5q = r.random() < 0.3
    sex = "XX" if b.sex is Sex.FEMALE else "XY"
    karyo = f"46,{sex},del(5)(q13q33)[14]/46,{sex}[6]" if del5q else f"46,{sex}[20]"
    sf3b1 = r.random() < 0.35
    b.diagnose(
        Disease.MDS,
        "MDS with increased blasts (MDS-IB2)" if not sf3b1 else "MDS with SF3B1 mutation",
        (("SF3B1", GeneticStatus.DETECTED if sf3b1 else GeneticStatus.NOT_DETECTED, None),),
        karyo,
    )
    blasts0 = r.uniform(10, 19) if not sf3b1 else r.uniform(1, 4)
    dysplasia = {
        Lineage.ERYTHROID: dec(r.uniform(15, 60), 0),
        Lineage.GRANULOCYTIC: dec(r.uniform(10, 40), 0),
        Lineage.MEGAKARYOCYTIC: dec(r.uniform(10, 50), 0),
    }
    core_extra: dict[str, object] = {"dysplasia": dysplasia}
    if sf3b1:
        core_extra["ring_sideroblasts"] = pct_of(RING_SIDEROBLASTS, r.uniform(15, 45), 0)
    variants: tuple[ResultValue, ...] = (
        (b.variant("SF3B1", "c.2098A>G", "p.Lys700Glu", r.uniform(20, 40)),) if sf3b1 else ()
    ) + (b.variant("TET2", "c.3781C>T", "p.Arg1261Cys", r.uniform(15, 40)),)
    b.marrow(
        b.diagnosed_on,
        Indication.DIAGNOSIS,
        blasts=blasts0,
        cellularity=r.uniform(60, 90),
        counts=blood_count(r.uniform(0.6, 1.6), r.uniform(30, 110), r.uniform(7.5, 9.5)),
        fibrosis=r.choice((FibrosisGrade.MF0, FibrosisGrade.MF1, FibrosisGrade.MF1)),
        core_extra=core_extra,
        extra=(Karyotype(karyo, metaphases=20), *variants),
    )
    start = days_after(b.diagnosed_on, r.randint(10, 28))
    b.line(
        "azacitidine",
        TherapyIntent.PALLIATIVE,
        Intensity.LESS_INTENSIVE,
        start,
        cycles=r.randint(6, 12),
        cycle_days=28,
        dosing_days=7,
        ongoing=True,
    )
    # HMA responses take 4–6 cycles; marrows after cycles 4 and 6.
    better = r.random() < 0.5
    for cycle, factor in ((4, 0.6), (6, 0.35)):
        b.marrow(
            days_after(start, 28 * cycle - r.randint(0, 6)),
            Indication.RESPONSE_ASSESSMENT,
            blasts=max(blasts0 * (factor if better else 1.1), 0.5),
            cellularity=r.uniform(40, 75),
            counts=blood_count(r.uniform(0.8, 2.5), r.uniform(60, 180), r.uniform(8.5, 11.5))
            if better
            else blood_count(r.uniform(0.4, 1.2), r.uniform(20, 80), r.uniform(7.5, 9.0)),
            core_extra={"dysplasia": dysplasia},
            # Iron status (issue 13 §3): ferritin high once transfusion dependent.
            blood_extra=()
            if cycle == 4
            else (
                IronStudies(
                    ferritin=FERRITIN.quantity(dec(650 if better else 1850, 0)),
                    transferrin_saturation=TRANSFERRIN_SATURATION.quantity(
                        dec(38 if better else 71, 0)
                    ),
                ),
            ),
        )
