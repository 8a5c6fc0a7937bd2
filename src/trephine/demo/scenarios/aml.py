"""AML scenarios: intensive and less-intensive induction, FLT3-ITD resistance, NPM1 MRD."""

from __future__ import annotations

import datetime as dt

from trephine.criteria.sets.eln2021_mrd import MRD as ELN2021_MRD
from trephine.demo.builder import Builder, follow_up, recovered_counts
from trephine.demo.model import Scenario
from trephine.demo.prognosis import AML_INTENSIVE, NPM1_PERSISTENCE, NPM1_QPCR
from trephine.demo.values import blood_count, days_after, log_jitter
from trephine.domain.patient import Disease, GeneticStatus, Sex
from trephine.domain.procedure import Indication
from trephine.domain.results import FibrosisGrade, Karyotype, ResultValue
from trephine.domain.therapy import Intensity, TherapyIntent

#: Flow MRD at or above this % is positive (ELN 2021 M5, the criteria's own parameter): the
#: MRD status the demo's relapse is conditioned on is the one the criteria will call.
MFC_POSITIVE_PCT = float(
    next(p.default for p in ELN2021_MRD.params if p.name == "mfc_threshold_pct")
)


def _aml_genetics(b: Builder) -> tuple[str, tuple[tuple[str, GeneticStatus, str | None], ...]]:
    r = b.rng
    karyo = r.choice(
        (
            "46,XX[20]" if b.sex is Sex.FEMALE else "46,XY[20]",
            "46,{sex},t(8;21)(q22;q22.1)[17]/46,{sex}[3]",
            "47,{sex},+8[12]/46,{sex}[8]",
            "46,{sex},inv(16)(p13.1q22)[20]",
        )
    ).format(sex="XX" if b.sex is Sex.FEMALE else "XY")
    return karyo, (
        ("NPM1", GeneticStatus.NOT_DETECTED, None),
        ("FLT3-ITD", GeneticStatus.NOT_DETECTED, None),
    )


#: WHO 5th (Khoury 2022, Table 3): a karyotype with one of these fusions makes the AML type
#: "with a defining genetic abnormality" whatever the differentiation or dysplasia (the
#: diagnostic criteria's WHO5-RUNX1_RUNX1T1 / WHO5-CBFB_MYH11 rows).
_DEFINING_FUSIONS = (
    ("t(8;21)", "AML with RUNX1::RUNX1T1 fusion"),
    ("inv(16)", "AML with CBFB::MYH11 fusion"),
)


def _who5_type(karyotype: str, otherwise: str) -> str:
    """The WHO 5th AML type of a demo karyotype: the fusion's when it has one."""
    return next((name for mark, name in _DEFINING_FUSIONS if mark in karyotype), otherwise)


def _aml_diagnostic_marrow(b: Builder, blasts: float, extra: tuple[ResultValue, ...]) -> None:
    r = b.rng
    b.marrow(
        b.diagnosed_on,
        Indication.DIAGNOSIS,
        blasts=blasts,
        cellularity=r.uniform(75, 95),
        counts=blood_count(r.uniform(0.2, 1.2), r.uniform(20, 90), r.uniform(7.0, 9.5), blasts=30),
        fibrosis=r.choice((FibrosisGrade.MF0, FibrosisGrade.MF1)),
        extra=extra,
    )


def _consolidation_and_follow_up(b: Builder, start: dt.date, cycles: int = 3) -> dt.date:
    r = b.rng
    end = b.line(
        "HiDAC",
        TherapyIntent.CONSOLIDATION,
        Intensity.INTENSIVE,
        start,
        cycles=cycles,
        cycle_days=35,
        dosing_days=5,
    )
    # End-of-treatment marrow, then a surveillance marrow at about 6 months.
    b.marrow(
        days_after(end, r.randint(7, 21)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(0.5, 3.5),
        cellularity=r.uniform(35, 60),
        counts=recovered_counts(b),
        extra=(b.flow(None if r.random() < 0.7 else r.uniform(0.01, 0.08)),),
    )
    return end


def aml_intensive(b: Builder, *, refractory: bool) -> None:
    r = b.rng
    karyo, genetics = _aml_genetics(b)
    b.diagnose(Disease.AML, _who5_type(karyo, "AML, defined by differentiation"), genetics, karyo)
    _aml_diagnostic_marrow(
        b, r.uniform(30, 80), (Karyotype(karyo, metaphases=20, abnormal_metaphases=None),)
    )
    start = days_after(b.diagnosed_on, r.randint(2, 6))
    induction_end = b.line(
        "7+3 (cytarabine + daunorubicin)",
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        start,
        cycles=1,
        cycle_days=28,
        dosing_days=7,
    )
    aplasia = blood_count(r.uniform(0.01, 0.1), r.uniform(6, 20), r.uniform(7.2, 8.4))
    if not refractory:
        # Day 14: hypoplastic, blasts cleared (< 5 %) — no second induction needed.
        b.marrow(
            days_after(start, 13),
            Indication.RESPONSE_ASSESSMENT,
            blasts=r.uniform(1, 4),
            cellularity=r.uniform(5, 12),
            counts=aplasia,
        )
        # Day 28: blasts < 5 % — complete remission with full count recovery in most, and in
        # some only partial recovery (CRh: ANC > 0.5, plt > 50; CRi: one line still below the CR
        # thresholds) as after 7+3 in practice.
        recovery = r.random()
        if recovery < 0.6:
            day28 = recovered_counts(b)
        elif recovery < 0.8:
            day28 = blood_count(r.uniform(0.6, 0.95), r.uniform(55, 95), r.uniform(8.5, 10.5))
        else:
            day28 = blood_count(r.uniform(1.2, 2.5), r.uniform(25, 45), r.uniform(8.5, 10.5))
        on = days_after(start, r.randint(27, 33))
        blasts, cellularity = r.uniform(0.5, 4.2), r.uniform(35, 60)
        mrd = None if r.random() < 0.5 else r.uniform(0.01, 0.3)
        b.marrow(
            on,
            Indication.RESPONSE_ASSESSMENT,
            blasts=blasts,
            cellularity=cellularity,
            counts=day28,
            extra=(b.flow(mrd),),
        )
        # The day-28 MRD status: the landmark the relapse below is conditioned on.
        b.mrd_positive = mrd is not None and mrd >= MFC_POSITIVE_PCT
        end = _consolidation_and_follow_up(b, days_after(induction_end, r.randint(5, 12)))
        if b.scenario is Scenario.AML_INTENSIVE_CR:  # (a transplant follows in the other)
            follow_up(b, days_after(end, 21), AML_INTENSIVE, b.mrd_positive, _aml_relapse)
        return
    # Refractory: residual blasts on day 14, re-induction, and still ≥ 5 % after it.
    b.marrow(
        days_after(start, 13),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(15, 40),
        cellularity=r.uniform(25, 50),
        counts=aplasia,
    )
    reinduction = days_after(start, r.randint(15, 18))
    salvage_start = b.line(
        "7+3 re-induction",
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        reinduction,
        cycles=1,
        dosing_days=7,
    )
    b.marrow(
        days_after(reinduction, r.randint(27, 33)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(12, 45),
        cellularity=r.uniform(40, 80),
        counts=blood_count(r.uniform(0.2, 0.8), r.uniform(15, 60), r.uniform(7.5, 9.0), blasts=12),
        extra=(b.flow(r.uniform(8, 30)),),
    )
    salvage_end = b.line(
        "FLAG-Ida",
        TherapyIntent.SALVAGE,
        Intensity.INTENSIVE,
        days_after(salvage_start, r.randint(5, 10)),
        cycles=1,
        dosing_days=5,
    )
    b.marrow(
        days_after(salvage_end, r.randint(0, 6)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(2, 30),
        cellularity=r.uniform(20, 70),
        counts=blood_count(r.uniform(0.3, 2.0), r.uniform(20, 120), r.uniform(8, 10.5)),
    )


def _aml_relapse(b: Builder, on: dt.date) -> None:
    """Haematologic relapse (marrow blasts >= 5 %, flow MRD high again), then FLAG-Ida."""
    r = b.rng
    b.marrow(
        on,
        Indication.SUSPECTED_RELAPSE,
        blasts=r.uniform(8, 55),
        cellularity=r.uniform(60, 90),
        counts=blood_count(r.uniform(0.3, 1.2), r.uniform(20, 90), r.uniform(8, 10.5), blasts=10),
        extra=(b.flow(r.uniform(5, 40)),),
    )
    b.line(
        "FLAG-Ida",
        TherapyIntent.SALVAGE,
        Intensity.INTENSIVE,
        days_after(on, r.randint(5, 12)),
        cycles=1,
        dosing_days=5,
    )


def aml_less_intensive(b: Builder) -> None:
    r = b.rng
    b.birth_year = min(b.birth_year, b.diagnosed_on.year - 72)  # unfit for intensive therapy
    karyo, genetics = _aml_genetics(b)
    b.diagnose(Disease.AML, _who5_type(karyo, "AML, myelodysplasia-related"), genetics, karyo)
    _aml_diagnostic_marrow(b, r.uniform(22, 60), (Karyotype(karyo, metaphases=20),))
    start = days_after(b.diagnosed_on, r.randint(3, 10))
    cycles = r.randint(4, 12)
    b.line(
        "azacitidine + venetoclax",
        TherapyIntent.PALLIATIVE,
        Intensity.LESS_INTENSIVE,
        start,
        cycles=cycles,
        cycle_days=28,
        dosing_days=7,
        ongoing=True,
    )
    responder = r.random() < 0.65
    # End of cycle 1 (day 21–28): the marrow decides whether venetoclax is interrupted.
    b.marrow(
        days_after(start, r.randint(21, 28)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(1, 4.5) if responder else r.uniform(10, 35),
        cellularity=r.uniform(10, 30),
        counts=blood_count(r.uniform(0.1, 0.6), r.uniform(15, 60), r.uniform(7.5, 9.0)),
    )
    if cycles >= 4:
        b.marrow(
            days_after(start, 28 * 4 - r.randint(0, 5)),
            Indication.RESPONSE_ASSESSMENT,
            blasts=r.uniform(0.5, 4) if responder else r.uniform(15, 50),
            cellularity=r.uniform(25, 50),
            counts=recovered_counts(b)
            if responder
            else blood_count(r.uniform(0.2, 0.9), r.uniform(10, 50), r.uniform(7, 9)),
        )


def aml_flt3_resistance(b: Builder) -> None:
    r = b.rng
    karyo = "46,XX[20]" if b.sex is Sex.FEMALE else "46,XY[20]"
    b.diagnose(
        Disease.AML,
        "AML with mutated NPM1" if r.random() < 0.5 else "AML, defined by differentiation",
        (("FLT3-ITD", GeneticStatus.DETECTED, "allelic ratio 0.6"),),
        karyo,
    )
    itd = ("FLT3", "c.1780_1809dup", "p.Phe594_Asp600dup")  # illustrative 30-bp JM-domain ITD
    _aml_diagnostic_marrow(
        b,
        r.uniform(45, 85),
        (Karyotype(karyo, metaphases=20), b.variant(*itd, r.uniform(28, 42))),
    )
    start = days_after(b.diagnosed_on, r.randint(3, 6))
    end = b.line(
        "7+3 + midostaurin",
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        start,
        cycles=1,
        dosing_days=7,
    )
    b.marrow(
        days_after(start, r.randint(27, 32)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(0.5, 4),
        cellularity=r.uniform(30, 55),
        counts=recovered_counts(b),
        extra=(b.variant(*itd, r.uniform(0.2, 1.5)),),
    )
    cons_end = b.line(
        "HiDAC + midostaurin",
        TherapyIntent.CONSOLIDATION,
        Intensity.INTENSIVE,
        days_after(end, r.randint(5, 10)),
        cycles=3,
        cycle_days=35,
        dosing_days=5,
    )
    # First relapse 3–9 months after consolidation.
    relapse = days_after(cons_end, r.randint(90, 270))
    b.marrow(
        relapse,
        Indication.SUSPECTED_RELAPSE,
        blasts=r.uniform(20, 60),
        cellularity=r.uniform(60, 90),
        counts=blood_count(r.uniform(0.3, 1.0), r.uniform(25, 80), r.uniform(8, 10), blasts=20),
        extra=(b.variant(*itd, r.uniform(25, 40)),),
    )
    gilt = days_after(relapse, r.randint(5, 12))
    b.line(
        "gilteritinib",
        TherapyIntent.SALVAGE,
        Intensity.LESS_INTENSIVE,
        gilt,
        cycles=8,
        cycle_days=28,
        dosing_days=28,
        ongoing=True,
    )
    resistance = r.choice(
        (
            ("NRAS", "c.35G>A", "p.Gly12Asp"),
            ("KRAS", "c.35G>A", "p.Gly12Asp"),
            ("FLT3", "c.2071T>C", "p.Phe691Leu"),  # gatekeeper mutation
        )
    )
    # Response, then the resistant clone expands while the ITD is suppressed, then both rise.
    itd_vafs = (r.uniform(2, 6), r.uniform(1, 4), r.uniform(8, 20), r.uniform(20, 35))
    res_vafs = (0.0, r.uniform(1, 3), r.uniform(8, 16), r.uniform(25, 40))
    blasts = (r.uniform(2, 4.5), r.uniform(3, 6), r.uniform(10, 20), r.uniform(30, 60))
    for k, day in enumerate((56, 112, 196, 252)):
        variants: tuple[ResultValue, ...] = (b.variant(*itd, itd_vafs[k]),)
        if res_vafs[k] > 0:
            variants += (b.variant(*resistance, res_vafs[k]),)
        b.marrow(
            days_after(gilt, day + r.randint(-3, 3)),
            Indication.RESPONSE_ASSESSMENT if k < 2 else Indication.SUSPECTED_RELAPSE,
            blasts=blasts[k],
            cellularity=r.uniform(30, 80),
            counts=recovered_counts(b)
            if k < 2
            else blood_count(r.uniform(0.3, 1.0), r.uniform(20, 70), r.uniform(8, 10), blasts=10),
            extra=variants,
        )


def aml_npm1_mrd(b: Builder) -> None:
    r = b.rng
    karyo = "46,XX[20]" if b.sex is Sex.FEMALE else "46,XY[20]"
    b.diagnose(
        Disease.AML,
        "AML with mutated NPM1",
        (
            ("NPM1", GeneticStatus.DETECTED, "type A, c.860_863dup"),
            ("FLT3-ITD", GeneticStatus.NOT_DETECTED, None),
        ),
        karyo,
    )
    npm1 = ("NPM1", "c.860_863dup", "p.Trp288CysfsTer12")
    baseline = r.uniform(150, 900)  # NPM1/ABL1 % at diagnosis (often > 100 %)
    _aml_diagnostic_marrow(
        b,
        r.uniform(35, 80),
        (Karyotype(karyo, metaphases=20), b.variant(*npm1, r.uniform(35, 48)), b.npm1(baseline)),
    )
    start = days_after(b.diagnosed_on, r.randint(2, 6))
    end = b.line(
        "7+3 (cytarabine + daunorubicin)",
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        start,
        cycles=1,
        dosing_days=7,
    )
    # After induction: ~2–3 log reduction.
    b.marrow(
        days_after(start, r.randint(27, 32)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(0.5, 4),
        cellularity=r.uniform(30, 55),
        counts=recovered_counts(b),
        extra=(b.npm1(log_jitter(r, baseline / 500)),),
    )
    cons_start = days_after(end, r.randint(5, 10))
    cons_end = b.line(
        "HiDAC",
        TherapyIntent.CONSOLIDATION,
        Intensity.INTENSIVE,
        cons_start,
        cycles=3,
        cycle_days=35,
        dosing_days=5,
    )
    # Blood MRD after each consolidation cycle (ELN 2021 MRD: every cycle). After course 2 (the
    # first HiDAC) NPM1 transcripts are gone from the blood in most patients and persist in
    # some (Ivey 2016), a status drawn first, on the outcome stream; persisting, they fall only
    # about half a log a cycle, and otherwise about a log.
    with b.outcome() as o:
        persistent = o.random() < NPM1_PERSISTENCE
    level = baseline / 500
    for k in range(3):
        fall = 4 if persistent else (3000 if k == 0 else 12)
        level = log_jitter(r, level / fall, 0.2)
        b.blood(days_after(cons_start, 35 * k + 30), b.npm1(level if level > 0.001 else None))
    # Relapse conditioned on that status (prognosis.NPM1_QPCR).
    relapsing = r.random() < NPM1_QPCR.chance(persistent)
    # Surveillance every 3 months for 2 years (ELN 2021: blood q4–6 weeks... marrow q3 months).
    day = cons_end
    rising = False
    for k in range(8):
        day = days_after(day, r.randint(84, 98))
        if relapsing and k >= 3:
            # Conversion from negativity, then a rise of ≥ 1 log between consecutive samples.
            level = 0.002 if not rising else level * r.uniform(12, 30)
            rising = True
            value: float | None = level
        else:
            value = None if r.random() < 0.8 else r.uniform(0.001, 0.004)
        if k % 2 == 1:
            blasts = 2.0 if value is None or value < 1 else min(5 + value / 4, 60)
            b.marrow(
                day,
                Indication.MRD,
                blasts=r.uniform(0.5, 3) if blasts < 5 else blasts,
                cellularity=r.uniform(35, 60),
                counts=recovered_counts(b),
                extra=(b.npm1(value),),
            )
        else:
            b.blood(day, b.npm1(value), recovered_counts(b))
        if value is not None and value > 5:
            if k % 2 == 0:
                # The blood rise sends the patient to the marrow, which shows the relapse.
                with b.outcome() as o:
                    b.marrow(
                        days_after(day, o.randint(5, 14)),
                        Indication.SUSPECTED_RELAPSE,
                        blasts=min(5 + value / 4, 60) + o.uniform(1, 10),
                        cellularity=o.uniform(60, 90),
                        counts=blood_count(
                            o.uniform(0.3, 1.2), o.uniform(20, 90), o.uniform(8, 10.5), blasts=10
                        ),
                        extra=(b.npm1(value * o.uniform(1.2, 3)),),
                    )
            break
