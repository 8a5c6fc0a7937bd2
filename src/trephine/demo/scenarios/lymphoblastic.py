"""B-ALL with flow MRD, and relapsed B-ALL treated with CAR-T."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from trephine.demo.builder import Builder, follow_up, recovered_counts
from trephine.demo.model import Scenario
from trephine.demo.prognosis import B_ALL
from trephine.demo.values import blood_count, days_after, dec, pct_of
from trephine.domain.patient import Disease, GeneticStatus, Sex
from trephine.domain.procedure import Indication
from trephine.domain.results import (
    CD19_COUNT,
    CD19_PERCENT,
    AntigenStatus,
    BloodCount,
    Karyotype,
)
from trephine.domain.therapy import CarTInfusion, Intensity, TherapyIntent


def b_all(b: Builder) -> None:
    r = b.rng
    b.birth_year = max(b.birth_year, b.diagnosed_on.year - 45)
    ph = r.random() < 0.25
    sex = "XX" if b.sex is Sex.FEMALE else "XY"
    karyo = f"46,{sex},t(9;22)(q34.1;q11.2)[20]" if ph else f"46,{sex}[20]"
    b.diagnose(
        Disease.ALL,
        "B-lymphoblastic leukaemia, BCR::ABL1" if ph else "B-lymphoblastic leukaemia, NOS",
        (("BCR::ABL1", GeneticStatus.DETECTED if ph else GeneticStatus.NOT_DETECTED, None),),
        karyo,
    )
    b.marrow(
        b.diagnosed_on,
        Indication.DIAGNOSIS,
        blasts=r.uniform(60, 95),
        cellularity=r.uniform(85, 98),
        counts=blood_count(r.uniform(0.2, 1.0), r.uniform(15, 80), r.uniform(6.5, 9.0), blasts=40),
        extra=(Karyotype(karyo, metaphases=20),),
    )
    start = days_after(b.diagnosed_on, r.randint(1, 4))
    end = b.line(
        "GRAALL-like induction" + (" + imatinib" if ph else ""),
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        start,
        cycles=1,
        cycle_days=35,
        dosing_days=28,
    )
    # Day 15 and day 29 marrows with flow MRD (10^-4 is the usual decision level).
    d15 = r.uniform(0.05, 5)
    b.marrow(
        days_after(start, 14),
        Indication.RESPONSE_ASSESSMENT,
        blasts=min(d15, 4.5),
        cellularity=r.uniform(10, 30),
        counts=blood_count(r.uniform(0.05, 0.5), r.uniform(10, 50), r.uniform(7.5, 9.0)),
        extra=(b.flow(d15),),
    )
    mrd_neg = r.random() < 0.7
    b.marrow(
        days_after(start, r.randint(28, 33)),
        Indication.MRD,
        blasts=r.uniform(0.5, 3),
        cellularity=r.uniform(30, 55),
        counts=recovered_counts(b),
        extra=(b.flow(None if mrd_neg else r.uniform(0.01, 0.5)),),
    )
    # The end-of-induction MRD status: the landmark the relapse below is conditioned on.
    b.mrd_positive = not mrd_neg
    done = b.line(
        "blinatumomab" if not mrd_neg else "consolidation blocks",
        TherapyIntent.CONSOLIDATION,
        Intensity.INTENSIVE if mrd_neg else Intensity.LESS_INTENSIVE,
        days_after(end, r.randint(3, 10)),
        cycles=3,
        cycle_days=42,
        dosing_days=28,
    )
    if b.scenario is Scenario.ALL:  # (the CAR-T scenario writes its own relapse)
        follow_up(b, done, B_ALL, b.mrd_positive, _all_relapse)


def _all_relapse(b: Builder, on: dt.date) -> None:
    """Marrow relapse (blasts >= 5 % after CR, flow MRD high), then inotuzumab salvage."""
    r = b.rng
    b.marrow(
        on,
        Indication.SUSPECTED_RELAPSE,
        blasts=r.uniform(15, 70),
        cellularity=r.uniform(60, 90),
        counts=blood_count(r.uniform(0.4, 1.5), r.uniform(30, 100), r.uniform(8, 10.5), blasts=10),
        extra=(b.flow(r.uniform(10, 60)),),
    )
    b.line(
        "inotuzumab ozogamicin",
        TherapyIntent.SALVAGE,
        Intensity.LESS_INTENSIVE,
        days_after(on, r.randint(5, 12)),
        cycles=1,
        cycle_days=21,
        dosing_days=8,
    )


def car_t(b: Builder) -> None:
    r = b.rng
    b_all(b)
    # Relapse 6–18 months after diagnosis, then tisagenlecleucel (CD19 CAR-T).
    relapse = days_after(b.diagnosed_on, r.randint(180, 540))
    b.marrow(
        relapse,
        Indication.SUSPECTED_RELAPSE,
        blasts=r.uniform(20, 70),
        cellularity=r.uniform(60, 90),
        counts=blood_count(r.uniform(0.4, 1.5), r.uniform(30, 100), r.uniform(8, 10.5)),
        extra=(b.flow(r.uniform(20, 60)),),
    )
    bridge_end = b.line(
        "inotuzumab ozogamicin (bridging)",
        TherapyIntent.BRIDGING,
        Intensity.LESS_INTENSIVE,
        days_after(relapse, r.randint(5, 10)),
        cycles=1,
        cycle_days=21,
        dosing_days=8,
    )
    infusion = days_after(bridge_end, r.randint(10, 25))
    b.line(
        "fludarabine + cyclophosphamide (lymphodepletion)",
        TherapyIntent.BRIDGING,
        Intensity.INTENSIVE,
        days_after(infusion, -5),
        cycles=1,
        cycle_days=3,
        dosing_days=3,
    )
    b.cellular.append(CarTInfusion(infusion, "tisagenlecleucel", "CD19"))
    remission = r.random() < 0.8
    # Day 28 marrow: the primary response assessment after CD19 CAR-T.
    b.marrow(
        days_after(infusion, r.randint(27, 30)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(0.2, 2) if remission else r.uniform(10, 40),
        cellularity=r.uniform(15, 40),
        counts=blood_count(r.uniform(0.4, 1.5), r.uniform(40, 120), r.uniform(8.5, 10.5)),
        extra=(b.flow(None if remission else r.uniform(5, 30)),),
    )
    if not remission:
        return
    # Blood B cells after CD19 CAR-T (spec §5): aplasia kept (≤ 1 % and ≤ 100/µL) at day 60; by
    # day 90 about a third lose it (> 1 % or > 100/µL) and relapse later, half of them with
    # CD19-negative blasts (antigen escape).
    lost = r.random() < 0.35
    for day, aplasia in ((60, True), (90, not lost), (120, not lost)):
        pct, count = (
            (r.uniform(0, 0.8), r.uniform(0, 40))
            if aplasia
            else (
                r.uniform(3, 12),
                r.uniform(150, 450),
            )
        )
        b.blood(
            days_after(infusion, day + r.randint(-3, 3)),
            BloodCount(
                cd19_percent=pct_of(CD19_PERCENT, pct),
                cd19_count=CD19_COUNT.quantity(dec(count, 0)),
            ),
        )
    if lost:
        flow = b.flow(r.uniform(10, 50))
        escape = AntigenStatus.NEGATIVE if r.random() < 0.5 else AntigenStatus.POSITIVE
        b.marrow(
            days_after(infusion, r.randint(150, 200)),
            Indication.SUSPECTED_RELAPSE,
            blasts=r.uniform(15, 60),
            cellularity=r.uniform(50, 85),
            counts=blood_count(r.uniform(0.5, 1.5), r.uniform(40, 110), r.uniform(8, 11)),
            extra=(replace(flow, cd19_on_blasts=escape),),
        )
