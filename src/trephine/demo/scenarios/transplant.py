"""Allogeneic transplant with chimerism follow-up."""

from __future__ import annotations

from trephine.demo.builder import Builder, recovered_counts
from trephine.demo.prognosis import TRANSPLANT_CHIMERISM
from trephine.demo.scenarios.aml import aml_intensive
from trephine.demo.scenarios.mds import mds_hma
from trephine.demo.values import days_after, dec, pct_of
from trephine.domain import quantity as q
from trephine.domain.procedure import Indication
from trephine.domain.results import DONOR_PERCENT, BloodCount, Chimerism, ChimerismLineage
from trephine.domain.therapy import DonorType, Intensity, Transplant


def post_transplant(b: Builder) -> None:
    r = b.rng
    is_mds = r.random() < 0.3
    if is_mds:
        mds_hma(b)
        conditioning = Intensity.LESS_INTENSIVE
    else:
        aml_intensive(b, refractory=False)
        conditioning = Intensity.INTENSIVE
    last = max(v.on for v in b.visits)
    transplant = days_after(last, r.randint(30, 75))
    donor = r.choice(
        (DonorType.MATCHED_SIBLING, DonorType.MATCHED_UNRELATED, DonorType.HAPLOIDENTICAL)
    )
    b.cellular.append(Transplant(transplant, donor, conditioning))
    # Donor chimerism falling below ~95 % and still falling is the warning sign (mixed chimerism):
    # more often after MRD positivity before the transplant (prognosis.TRANSPLANT_CHIMERISM).
    fall = 0.35 if b.mrd_positive is None else TRANSPLANT_CHIMERISM.chance(b.mrd_positive)
    falling = r.random() < fall
    series = (
        (100.0, 99.0, r.uniform(88, 94), r.uniform(60, 80))
        if falling
        else (100.0, r.uniform(98.5, 100), r.uniform(98.5, 100), r.uniform(98.5, 100))
    )
    for k, day in enumerate((30, 100, 180, 365)):
        when = days_after(transplant, day + r.randint(-3, 3))
        donor_pct = series[k] if series[k] < 99.5 else r.choice((99.5, 100.0))
        whole = Chimerism(pct_of(DONOR_PERCENT, donor_pct), ChimerismLineage.WHOLE_BLOOD)
        t_cells = Chimerism(
            pct_of(DONOR_PERCENT, min(donor_pct + r.uniform(-3, 1), 100)), ChimerismLineage.T_CELLS
        )
        if day in (30, 100):
            relapse = falling and day == 100 and r.random() < 0.5
            b.marrow(
                when,
                Indication.POST_TRANSPLANT,
                blasts=r.uniform(5, 12) if relapse else r.uniform(0.5, 3),
                cellularity=r.uniform(20, 50),
                counts=recovered_counts(b),
                extra=(Chimerism(pct_of(DONOR_PERCENT, donor_pct), ChimerismLineage.MARROW),),
                blood_extra=(whole, t_cells),
            )
        else:
            b.blood(when, whole, t_cells)
    # Daily counts to day +25 (engraftment, ASTCT / CIBMTR): ANC below 0.5 until day 11–20,
    # platelets transfused every third day until they recover a few days later.
    anc_day = r.randint(11, 20)
    plt_day = anc_day + r.randint(2, 8)
    for day in range(1, 26):
        anc = (
            r.uniform(0.01, 0.3)
            if day < anc_day
            else min(0.55 + 0.25 * (day - anc_day) + r.uniform(0, 0.3), 4.0)
        )
        plt = r.uniform(6, 18) if day < plt_day else 21 + 6 * (day - plt_day) + r.uniform(0, 5)
        b.blood(
            days_after(transplant, day),
            BloodCount(
                anc=q.ANC.quantity(dec(anc, 2)),
                platelets=q.PLATELETS.quantity(dec(plt, 0)),
                hemoglobin=q.HEMOGLOBIN.quantity(dec(r.uniform(7.5, 10), 1)),
                platelet_transfusion=True if day < plt_day and day % 3 == 0 else None,
            ),
        )
