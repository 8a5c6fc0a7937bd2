"""CLL on venetoclax-obinutuzumab."""

from __future__ import annotations

from dataclasses import replace

from trephine.demo.builder import Builder, recovered_counts
from trephine.demo.values import blood_count, days_after, dec, pct_of
from trephine.domain import quantity as q
from trephine.domain.patient import Classification, Disease, GeneticStatus
from trephine.domain.procedure import Indication
from trephine.domain.results import (
    INFILTRATE,
    LARGEST_NODE,
    SPLEEN_LENGTH,
    BloodCount,
    CellClass,
    ClinicalExam,
)
from trephine.domain.therapy import Intensity, TherapyIntent


def cll(b: Builder) -> None:
    r = b.rng
    b.birth_year = min(b.birth_year, b.diagnosed_on.year - 55)
    b.diagnose(
        Disease.CLL,
        "CLL, IGHV unmutated" if r.random() < 0.5 else "CLL, IGHV mutated",
        (
            ("TP53", GeneticStatus.NOT_DETECTED, None),
            ("del(17p)", GeneticStatus.NOT_DETECTED, None),
        ),
        classification=Classification.IWCLL_2018,
    )
    lymph0 = r.uniform(55, 85)
    b.marrow(
        b.diagnosed_on,
        Indication.STAGING,
        blasts=0.5,
        cells={CellClass.LYMPHOCYTE: lymph0},
        cellularity=r.uniform(60, 90),
        counts=_with_lymphocytes(
            blood_count(r.uniform(2.0, 5.0), r.uniform(80, 160), r.uniform(10, 12.5)), lymph0 * 0.6
        ),
        core_extra={
            "lymphoid_nodules": True,
            "infiltrate_type": "CLL, diffuse and nodular",
            "infiltrate": pct_of(INFILTRATE, lymph0, 0),
        },
        blood_extra=(_exam(1.5 + (lymph0 - 55) / 10, normal_liver_spleen=False),),
    )
    # Treatment starts when the disease becomes active (iwCLL 2018), often months later.
    start = days_after(b.diagnosed_on, r.randint(60, 400))
    end = b.line(
        "venetoclax + obinutuzumab",
        TherapyIntent.CURATIVE,
        Intensity.LESS_INTENSIVE,
        start,
        cycles=12,
        cycle_days=28,
        dosing_days=28,
    )
    umrd = r.random() < 0.75
    # End of treatment + 3 months: marrow with flow MRD (uMRD4 = < 10^-4, 0.01 %).
    b.marrow(
        days_after(end, r.randint(80, 100)),
        Indication.MRD,
        blasts=0.5,
        cells={CellClass.LYMPHOCYTE: r.uniform(8, 18) if umrd else r.uniform(20, 35)},
        cellularity=r.uniform(30, 50),
        counts=_with_lymphocytes(recovered_counts(b), 1.4 if umrd else 6.5),
        core_extra={"lymphoid_nodules": not umrd},
        extra=(b.flow(None if umrd else r.uniform(0.02, 0.5), events=500_000),),
        # The examination and blood flow of the same visit (iwCLL 2018 response): derived from
        # values already drawn, so no other synthetic value changes.
        blood_extra=(
            _exam(1.0 if umrd else 1.5 + (lymph0 - 55) / 20, normal_liver_spleen=True),
            b.flow(None if umrd else round(lymph0 / 100, 2), events=500_000),
        ),
    )


def _with_lymphocytes(counts: BloodCount, alc: float) -> BloodCount:
    """The count with its absolute lymphocyte count (iwCLL follows it), WBC raised to hold it.
    Derived from values already drawn, so no other synthetic value changes."""
    wbc = counts.wbc.value if counts.wbc is not None and counts.wbc.value is not None else 0
    return replace(
        counts,
        alc=q.LYMPHOCYTES_ABS.quantity(dec(alc, 1)),
        wbc=q.WBC.quantity(wbc + dec(alc, 1)),
    )


def _exam(node_cm: float, *, normal_liver_spleen: bool) -> ClinicalExam:
    """Examination with imaging: the largest node and the spleen (13 cm or more when enlarged,
    iwCLL 2018), no constitutional symptoms."""
    return ClinicalExam(
        largest_node=LARGEST_NODE.quantity(dec(node_cm, 1)),
        liver_spleen_normal=normal_liver_spleen,
        spleen_length=SPLEEN_LENGTH.quantity(dec(11.5 if normal_liver_spleen else 15.0, 1)),
        constitutional_symptoms=False,
        method="physical examination and CT",
    )
