"""The builder a scenario walks through one patient's course with, and its shared values."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from trephine.demo.model import COHORT_END, ID_PREFIX, OPERATORS, Scenario, SyntheticResult, Visit
from trephine.demo.prognosis import RelapseRisk
from trephine.demo.values import blood_count, days_after, dec, differential, pct_of, sig_figs
from trephine.domain import quantity as q
from trephine.domain.patient import (
    Classification,
    Diagnosis,
    Disease,
    GeneticFinding,
    GeneticStatus,
    Sex,
)
from trephine.domain.procedure import (
    Anesthesia,
    Complication,
    ComplicationKind,
    ComplicationSeverity,
    Indication,
    Procedure,
    Side,
    Site,
)
from trephine.domain.quantity import Qualifier
from trephine.domain.results import (
    CELLULARITY,
    FLOW_MRD,
    MOLECULAR_RATIO,
    RESIDUAL_HEMATOPOIETIC,
    VAF,
    BloodCount,
    CellClass,
    CoreFindings,
    Extramedullary,
    FibrosisGrade,
    FlowMethod,
    FlowMRD,
    IronScale,
    MolecularMethod,
    MolecularMRD,
    NGSVariant,
    ResultValue,
    ReticulocyteMethod,
)
from trephine.domain.specimen import Fragmentation, Hemodilution, Specimen, SpecimenType
from trephine.domain.therapy import CellularTherapy, Cycle, Intensity, TherapyIntent, TherapyLine

# ------------------------------------------------------------------------ the builder


@dataclass
class Builder:
    """Accumulates one patient's record while a scenario function walks through the course."""

    rng: random.Random
    index: int
    scenario: Scenario
    diagnosed_on: dt.date
    sex: Sex
    birth_year: int
    diagnoses: list[Diagnosis] = field(default_factory=list)
    lines: list[TherapyLine] = field(default_factory=list)
    cellular: list[CellularTherapy] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    #: The outcome stream (``seed:index:outcome``): what follows from an MRD status the scenario
    #: drew — relapse or continued remission and the follow-up until then
    #: (:mod:`trephine.demo.prognosis`). Inside :meth:`outcome` every draw comes from it and
    #: every visit goes to :attr:`outcome_visits`, which the cohort amends from this stream too;
    #: so the scenario's own stream, and the amendments and name drawn from it afterwards, are
    #: what they were before outcomes were added.
    outcome_rng: random.Random = field(default_factory=lambda: random.Random(0))
    outcome_visits: list[Visit] = field(default_factory=list)
    #: The MRD status at the scenario's landmark, once drawn (True: positive), for a scenario
    #: built on another (the transplant after AML induction).
    mrd_positive: bool | None = None

    @property
    def pid(self) -> str:
        return f"{ID_PREFIX}{self.index + 1:04d}"

    @contextmanager
    def outcome(self) -> Iterator[random.Random]:
        """Draw from the outcome stream, and keep the visits made meanwhile apart."""
        main = self.rng
        self.rng = self.outcome_rng
        try:
            yield self.rng
        finally:
            self.rng = main

    def _add(self, visit: Visit) -> None:
        (self.outcome_visits if self.rng is self.outcome_rng else self.visits).append(visit)

    def _next_visit(self) -> int:
        return len(self.visits) + len(self.outcome_visits) + 1

    # -- therapy -------------------------------------------------------------------------

    def line(
        self,
        regimen: str,
        intent: TherapyIntent,
        intensity: Intensity,
        start: dt.date,
        *,
        cycles: int = 1,
        cycle_days: int = 28,
        dosing_days: int = 7,
        ongoing: bool = False,
    ) -> dt.date:
        """Add a therapy line of ``cycles`` cycles; returns the day after the last cycle."""
        cyc: list[Cycle] = []
        day = start
        for n in range(1, cycles + 1):
            cyc.append(Cycle(n, day, day + dt.timedelta(days=dosing_days - 1)))
            if n < cycles:
                # Count recovery delays the next cycle by up to a week now and then.
                day += dt.timedelta(days=cycle_days + self.rng.choice((0, 0, 0, 3, 7)))
        end = day + dt.timedelta(days=cycle_days - 1)
        last = None if ongoing or end > COHORT_END else end
        self.lines.append(
            TherapyLine(
                line=len(self.lines) + 1,
                regimen=regimen,
                intent=intent,
                intensity=intensity,
                start=start,
                end=last,
                cycles=tuple(c for c in cyc if c.start <= COHORT_END),
            )
        )
        return end + dt.timedelta(days=1)

    # -- sampling ------------------------------------------------------------------------

    def _collected(self, on: dt.date, hour: int, minute: int) -> dt.datetime:
        return dt.datetime(on.year, on.month, on.day, hour, minute, tzinfo=dt.UTC)

    def marrow(
        self,
        on: dt.date,
        indication: Indication,
        *,
        blasts: float,
        cellularity: float,
        counts: BloodCount,
        cells: Mapping[CellClass, float] | None = None,
        fibrosis: FibrosisGrade = FibrosisGrade.MF0,
        extra: tuple[ResultValue, ...] = (),
        core_extra: Mapping[str, object] | None = None,
        blood_extra: tuple[ResultValue, ...] = (),
        extramedullary: bool = False,
    ) -> None:
        """A marrow procedure with aspirate, core and same-day blood, and their results.

        Like a real response report, every marrow carries the same-day blood count (with the
        film's circulating blasts, 0 when none), the differential (cells counted), the core
        (cellularity) and a clinical statement on extramedullary disease — the inputs ELN 2022
        needs for an evaluable response.
        """
        if on > COHORT_END:
            return
        rng = self.rng
        n = self._next_visit()
        at = self._collected(on, rng.randint(8, 13), rng.choice((0, 15, 30, 45)))
        complications: tuple[Complication, ...] = ()
        roll = rng.random()
        if roll < 0.04:
            complications = (
                Complication(ComplicationKind.PAIN, ComplicationSeverity.MILD, "oral analgesia"),
            )
        elif roll < 0.06:
            complications = (
                Complication(
                    ComplicationKind.HEMATOMA,
                    ComplicationSeverity.MILD,
                    "pressure dressing, reviewed next day",
                ),
            )
        elif roll < 0.065:
            complications = (
                Complication(
                    ComplicationKind.BLEEDING,
                    ComplicationSeverity.MODERATE,
                    "platelet transfusion, site checked at 4 h",
                ),
            )
        procedure = Procedure(
            performed_at=at,
            site=Site.STERNUM if rng.random() < 0.02 else Site.POSTERIOR_ILIAC_CREST,
            side=rng.choice((Side.LEFT, Side.RIGHT)),
            indication=indication,
            operator=rng.choice(OPERATORS),
            anesthesia=Anesthesia.CONSCIOUS_SEDATION if rng.random() < 0.1 else Anesthesia.LOCAL,
            needle=rng.choice(("Jamshidi 11G", "Jamshidi 8G")),
            duration_min=rng.randint(10, 30),
            complications=complications,
        )
        asp, core, pb = f"{self.pid}-{n:02d}-A", f"{self.pid}-{n:02d}-C", f"{self.pid}-{n:02d}-PB"
        # A dry tap on a packed or fibrotic marrow: the core is all there is.
        dry = cellularity > 90 or fibrosis in (FibrosisGrade.MF2, FibrosisGrade.MF3)
        specimens = [
            Specimen(
                asp,
                SpecimenType.ASPIRATE,
                at,
                first_pull=True,
                spicules=not dry,
                hemodilution=Hemodilution.MODERATE if dry else Hemodilution.NONE,
            ),
            Specimen(
                core,
                SpecimenType.TREPHINE_CORE,
                at,
                core_length_mm=dec(rng.uniform(12, 28), 0),
                fragmentation=rng.choice(
                    (Fragmentation.INTACT, Fragmentation.INTACT, Fragmentation.MILD)
                ),
            ),
            Specimen(pb, SpecimenType.PERIPHERAL_BLOOD, at),
        ]
        fixed = {CellClass.BLAST: blasts, **(cells or {})}
        results = [
            SyntheticResult(pb, counts),
            SyntheticResult(asp, differential(rng, fixed)),
            SyntheticResult(
                core,
                CoreFindings(
                    cellularity=pct_of(CELLULARITY, cellularity, 0),
                    fibrosis=fibrosis,
                    iron_grade=rng.randint(1, 3),
                    iron_scale=IronScale.GALE,
                    **(core_extra or {}),  # type: ignore[arg-type]
                ),
            ),
        ]
        results.append(
            SyntheticResult(
                pb,
                Extramedullary(
                    "clinical examination", present=extramedullary, method="physical examination"
                ),
            )
        )
        results += [SyntheticResult(asp, v) for v in extra]
        results += [SyntheticResult(pb, v) for v in blood_extra]
        self._add(Visit(on, procedure, tuple(specimens), tuple(results)))

    def blood(self, on: dt.date, *values: ResultValue) -> None:
        """A peripheral blood draw without a procedure (chimerism, molecular MRD, counts)."""
        if on > COHORT_END:
            return
        n = self._next_visit()
        at = self._collected(on, self.rng.randint(7, 11), self.rng.choice((0, 20, 40)))
        pb = f"{self.pid}-{n:02d}-PB"
        spec = Specimen(pb, SpecimenType.PERIPHERAL_BLOOD, at)
        self._add(Visit(on, None, (spec,), tuple(SyntheticResult(pb, v) for v in values)))

    def diagnose(
        self,
        disease: Disease,
        subtype: str,
        genetics: tuple[tuple[str, GeneticStatus, str | None], ...] = (),
        karyotype: str | None = None,
        classification: Classification = Classification.WHO_5,
    ) -> None:
        self.diagnoses.append(
            Diagnosis(
                disease=disease,
                diagnosed_on=self.diagnosed_on,
                classification=classification,
                subtype=subtype,
                genetics=tuple(GeneticFinding(m, s, d) for m, s, d in genetics),
                karyotype=karyotype,
            )
        )

    # -- result shortcuts ----------------------------------------------------------------

    def flow(self, pct: float | None, *, events: int = 1_000_000) -> FlowMRD:
        """Flow MRD from an abnormal-event count; ``None`` = none seen (not detected).

        LOD = 20 events and LLOQ = 50 events among those acquired (ELN 2021 flow MRD practice),
        so 10^6 events give LOD 0.002 % and LLOQ 0.005 %.
        """
        lod = Decimal(20) * 100 / Decimal(events)
        lloq = Decimal(50) * 100 / Decimal(events)
        if pct is None:
            mrd = FLOW_MRD.quantity(None, qualifier=Qualifier.NOT_DETECTED, lod=lod, lloq=lloq)
            abnormal = 0
        else:
            abnormal = max(1, round(events * pct / 100.0))
            value = Decimal(abnormal) * 100 / Decimal(events)
            mrd = FLOW_MRD.quantity(sig_figs(value), lod=lod, lloq=lloq)
        method = FlowMethod.LAIP_DFN if self.scenario.name.startswith("AML") else FlowMethod.DFN
        return FlowMRD(mrd=mrd, method=method, events_acquired=events, abnormal_events=abnormal)

    def npm1(self, ratio_pct: float | None) -> MolecularMRD:
        """NPM1 mutant / ABL1 × 100 by qPCR, sensitivity 10^-5 (0.001 %)."""
        if ratio_pct is None:
            ratio = MOLECULAR_RATIO.quantity(
                None, qualifier=Qualifier.NOT_DETECTED, lod=Decimal("0.001")
            )
        else:
            ratio = MOLECULAR_RATIO.quantity(
                sig_figs(Decimal(repr(ratio_pct))), lod=Decimal("0.001")
            )
        return MolecularMRD(
            marker="NPM1 type A",
            ratio=ratio,
            control_gene="ABL1",
            sensitivity=Decimal("1e-5"),
            method=MolecularMethod.QPCR,
        )

    def variant(self, gene: str, hgvs: str, protein: str, vaf: float) -> NGSVariant:
        return NGSVariant(
            gene=gene,
            hgvs=hgvs,
            hgvs_protein=protein,
            vaf=pct_of(VAF, vaf, 1),
            depth=self.rng.randint(800, 2500),
        )


# ------------------------------------------------------------------------ outcomes


def follow_up(
    b: Builder,
    after: dt.date,
    risk: RelapseRisk,
    positive: bool,
    relapse: Callable[[Builder, dt.date], None],
) -> bool:
    """What follows the end of treatment, drawn on the outcome stream: relapse with the chance
    ``risk`` gives for the MRD status (``positive``), at a day its window gives, or continued
    remission followed for 1.5 to 4 years [I]; until then a clinic blood count about every six
    months [I]. ``relapse`` writes the relapse itself (its marrow, salvage). Returns whether the
    patient relapses."""
    with b.outcome() as r:
        relapses = r.random() < risk.chance(positive)
        lo, hi = risk.days(positive) if relapses else (540, 1460)
        end = days_after(after, r.randint(lo, hi))
        day = days_after(after, r.randint(168, 196))
        while day < end:
            b.blood(day, recovered_counts(b))
            day = days_after(day, r.randint(168, 196))
        if relapses:
            relapse(b, end)
    return relapses


# --------------------------------------------------------------------- the scenarios


def recovered_counts(b: Builder) -> BloodCount:
    r = b.rng
    return blood_count(r.uniform(1.2, 4.0), r.uniform(110, 280), r.uniform(10.5, 13.8))


def aplastic_nadir(b: Builder) -> BloodCount:
    r = b.rng
    return blood_count(r.uniform(0.02, 0.3), r.uniform(5, 25), r.uniform(7.2, 9.0))


def with_reticulocytes(counts: BloodCount) -> BloodCount:
    """The count with an automated absolute reticulocyte count, as an aplastic anaemia work-up
    reports it (severity needs it). Derived from the ANC — after immunosuppression red-cell and
    neutrophil recovery go together — rather than drawn from the generator, so adding it left
    every other synthetic patient's values exactly as they were."""
    anc = counts.anc.value if counts.anc is not None and counts.anc.value is not None else 0
    retic = Decimal(10) + Decimal(45) * anc
    return replace(
        counts,
        reticulocytes=q.RETICULOCYTES_ABS.quantity(retic.quantize(Decimal(1), ROUND_HALF_UP)),
        reticulocyte_method=ReticulocyteMethod.AUTOMATED,
    )


def residual_cells(cells: Mapping[CellClass, float]) -> dict[str, object]:
    """The core's residual haematopoietic cells (% of the cells present): what is not
    lymphocytes or plasma cells, the cells that remain in an aplastic marrow. Derived from the
    differential's lymphoid share, not drawn, so the generator's random stream is unchanged."""
    lymphoid = cells.get(CellClass.LYMPHOCYTE, 0.0) + cells.get(CellClass.PLASMA_CELL, 0.0)
    return {"residual_hematopoietic_cells": pct_of(RESIDUAL_HEMATOPOIETIC, 100.0 - lymphoid, 0)}
