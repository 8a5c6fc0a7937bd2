"""A seeded, synthetic, clinically plausible demo cohort (pure: domain objects only, no I/O).

Every patient is generated from ``random.Random(f"{seed}:{index}")``, so patient *i* is the same
whatever the cohort size, and the same seed gives the same cohort on every machine. Dates are
anchored to fixed calendar dates (never "today") for the same reason.

Nothing here is real. Names come from a short list of obviously made-up words, MRNs start with
``SYN``, ids with ``DEMO-``; trajectories are drawn from textbook courses, not from patients:

* AML, intensive induction ("7+3"): day-14 and day-28 marrows; complete remission (blasts < 5 %,
  ANC ≥ 1.0, platelets ≥ 100 ×10^9/L) then HiDAC consolidation, or refractory disease and salvage.
* AML, less-intensive (azacitidine + venetoclax, 28-day cycles): marrows at the end of cycles 1
  and 4.
* FLT3-ITD AML: 7+3 + midostaurin, remission, relapse, gilteritinib, response and a second
  relapse with an emerging resistance mutation (NRAS G12D or FLT3 F691L) whose VAF rises.
* NPM1-mutated AML: NPM1/ABL1 % by qPCR after each cycle; in some a ≥ 1 log rise (molecular
  relapse) after a period of negativity.
* MDS on azacitidine: baseline and cycle 4 / 6 marrows.
* Myeloma: VRd induction, autologous transplant, flow MRD at 10^-5.
* CLL: venetoclax–obinutuzumab, marrow and MRD at the end of therapy (uMRD4 = < 10^-4).
* B-ALL: induction with day-15 and day-29 marrows and flow MRD; consolidation.
* Aplastic anemia: hATG + ciclosporin + eltrombopag; cellularity and counts (with automated
  reticulocytes) over time.
* Post-transplant: allogeneic HSCT with day +30 / +100 / +180 chimerism; donor % falls in some.
* CAR-T: relapsed B-ALL, tisagenlecleucel, day-28 marrow.

The loader that writes these through the services is :mod:`trephine.testing.demo`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from trephine.domain import quantity as q
from trephine.domain.patient import (
    Classification,
    Diagnosis,
    Disease,
    GeneticFinding,
    GeneticStatus,
    Patient,
    PatientIdentity,
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
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import (
    CELLULARITY,
    DONOR_PERCENT,
    FLOW_MRD,
    FREE_LIGHT_CHAIN,
    INFILTRATE,
    MOLECULAR_RATIO,
    RESIDUAL_HEMATOPOIETIC,
    RING_SIDEROBLASTS,
    SERUM_M_PROTEIN,
    URINE_M_PROTEIN,
    VAF,
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
    Immunofixation,
    IronScale,
    Karyotype,
    LightChain,
    Lineage,
    MolecularMethod,
    MolecularMRD,
    NGSVariant,
    Paraprotein,
    PlasmacytomaStatus,
    ResultValue,
    ReticulocyteMethod,
    TransfusionDependence,
)
from trephine.domain.specimen import Fragmentation, Hemodilution, Specimen, SpecimenType
from trephine.domain.therapy import (
    CarTInfusion,
    CellularTherapy,
    Cycle,
    DonorType,
    Intensity,
    TherapyIntent,
    TherapyLine,
    Transplant,
)
from trephine.errors import ValidationError

#: Diagnoses fall in this window; every date of the cohort is before :data:`COHORT_END`.
FIRST_DIAGNOSIS = dt.date(2019, 1, 7)
LAST_DIAGNOSIS = dt.date(2023, 6, 30)
COHORT_END = dt.date(2025, 6, 30)
DEFAULT_SEED = 20240917
DEFAULT_PATIENTS = 240
#: Every synthetic patient id starts with this (``DEMO-0001`` …).
ID_PREFIX = "DEMO-"
#: Share of verified results that receive an amendment (a corrected second version).
AMEND_FRACTION = 0.03


class Scenario(StrEnum):
    AML_INTENSIVE_CR = "AML, intensive induction, complete remission"
    AML_INTENSIVE_REFRACTORY = "AML, intensive induction, refractory"
    AML_LESS_INTENSIVE = "AML, azacitidine + venetoclax"
    AML_FLT3_RESISTANCE = "FLT3-ITD AML relapsing under gilteritinib"
    AML_NPM1_MRD = "NPM1-mutated AML, molecular MRD"
    MDS_HMA = "MDS on azacitidine"
    MYELOMA = "Myeloma, VRd + autologous transplant"
    CLL = "CLL, venetoclax-obinutuzumab"
    ALL = "B-ALL with flow MRD"
    APLASTIC_ANEMIA = "Aplastic anemia, immunosuppression"
    POST_TRANSPLANT = "Allogeneic transplant with chimerism"
    CAR_T = "Relapsed B-ALL, CAR-T"


#: One block of 20 patients; the cohort repeats it, so every scenario is present from 20 on and
#: the mix resembles a marrow service (AML-heavy) without being a real case mix.
_PATTERN: tuple[Scenario, ...] = (
    Scenario.AML_INTENSIVE_CR,
    Scenario.MDS_HMA,
    Scenario.AML_NPM1_MRD,
    Scenario.MYELOMA,
    Scenario.AML_LESS_INTENSIVE,
    Scenario.AML_FLT3_RESISTANCE,
    Scenario.POST_TRANSPLANT,
    Scenario.AML_INTENSIVE_REFRACTORY,
    Scenario.CLL,
    Scenario.ALL,
    Scenario.AML_INTENSIVE_CR,
    Scenario.APLASTIC_ANEMIA,
    Scenario.MYELOMA,
    Scenario.CAR_T,
    Scenario.AML_NPM1_MRD,
    Scenario.MDS_HMA,
    Scenario.AML_LESS_INTENSIVE,
    Scenario.POST_TRANSPLANT,
    Scenario.AML_FLT3_RESISTANCE,
    Scenario.AML_INTENSIVE_CR,
)

# Obviously synthetic names: no one is called "Testwood Placeholder".
_GIVEN = (
    "Alpha", "Bravo", "Cobalt", "Delta", "Echo", "Foxtrot", "Gamma", "Helix", "Indigo", "Juniper",
    "Kilo", "Lambda", "Mosaic", "Nova", "Omega", "Pixel", "Quartz", "Rho", "Sigma", "Tango",
)  # fmt: skip
_FAMILY = (
    "Testwood", "Placeholder", "Mockford", "Sampleton", "Dummington", "Fictus", "Synthby",
    "Examplar", "Demoshire", "Nullberg", "Stubbs-Fake", "Notreal",
)  # fmt: skip
_OPERATORS = ("Dr Demo Ash", "Dr Demo Birch", "Dr Demo Cedar", "NP Demo Rowan", "Dr Demo Yew")


@dataclass(frozen=True)
class Amendment:
    """A corrected second version of a result, with the reason a reviewer gave."""

    value: ResultValue
    reason: str


@dataclass(frozen=True)
class SyntheticResult:
    specimen: str
    value: ResultValue
    amendment: Amendment | None = None


@dataclass(frozen=True)
class Visit:
    """One day's sampling: a marrow procedure (or only a blood draw) with its specimens."""

    on: dt.date
    procedure: Procedure | None
    specimens: tuple[Specimen, ...]
    results: tuple[SyntheticResult, ...]


@dataclass(frozen=True)
class SyntheticPatient:
    index: int
    scenario: Scenario
    patient: Patient
    identity: PatientIdentity
    diagnoses: tuple[Diagnosis, ...]
    therapy_lines: tuple[TherapyLine, ...]
    cellular_therapies: tuple[CellularTherapy, ...]
    visits: tuple[Visit, ...]

    @property
    def results(self) -> Iterator[SyntheticResult]:
        for v in self.visits:
            yield from v.results


# ----------------------------------------------------------------------- number helpers


def _d(x: float, places: int = 1) -> Decimal:
    """A float rounded half-up to ``places`` decimals, as a Decimal with that precision."""
    return Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _pct(measure: q.Measure, x: float, places: int = 1) -> Quantity:
    return measure.quantity(_d(min(max(x, 0.0), 100.0), places))


def _counts(anc: float, plt: float, hb: float, *, blasts: float = 0.0) -> BloodCount:
    anc = max(anc, 0.01)
    # ANC is most of the WBC in a recovered count and a small part in lymphocytic aplasia.
    wbc = anc + max(0.3, anc * 0.35) + (blasts / 100.0) * anc * 2
    return BloodCount(
        wbc=q.WBC.quantity(_d(wbc, 2)),
        anc=q.ANC.quantity(_d(anc, 2)),
        platelets=q.PLATELETS.quantity(_d(max(plt, 1.0), 0)),
        hemoglobin=q.HEMOGLOBIN.quantity(_d(min(max(hb, 4.0), 17.5), 1)),
        # Always recorded, 0 when none are seen: a lab report states the blood film result,
        # and ELN 2022 CR needs "no circulating blasts" to be known, not assumed.
        circulating_blasts=q.percent("circulating_blasts").quantity(_d(blasts, 0)),
        transfusion_dependence=(
            TransfusionDependence.BOTH
            if plt < 20 and hb < 8
            else TransfusionDependence.PLATELETS
            if plt < 20
            else TransfusionDependence.RED_CELLS
            if hb < 8
            else TransfusionDependence.NONE
        ),
    )


#: Background composition of a nucleated marrow differential (approximate adult reference
#: proportions, criteria spec §"normal differential"): the fixed classes are placed first and
#: the remainder is shared out in these proportions.
_BACKGROUND: Mapping[CellClass, float] = {
    CellClass.PROMYELOCYTE: 3.0,
    CellClass.MYELOCYTE: 12.0,
    CellClass.METAMYELOCYTE: 12.0,
    CellClass.BAND: 12.0,
    CellClass.NEUTROPHIL: 14.0,
    CellClass.EOSINOPHIL: 2.5,
    CellClass.BASOPHIL: 0.2,
    CellClass.MONOCYTE: 1.5,
    CellClass.PROERYTHROBLAST: 1.0,
    CellClass.ERYTHROBLAST: 24.0,
    CellClass.LYMPHOCYTE: 14.0,
    CellClass.PLASMA_CELL: 1.3,
}


def differential(
    rng: random.Random, fixed_percent: Mapping[CellClass, float], cells: int = 500
) -> AspirateDifferential:
    """A differential of ``cells`` nucleated cells with the given classes at the given %.

    The other classes share the remainder in :data:`_BACKGROUND` proportions, jittered a little
    so no two counts are identical; the counts always add up to ``cells``.
    """
    counts: dict[CellClass, int] = {
        cls: round(cells * pct / 100.0) for cls, pct in fixed_percent.items()
    }
    remainder = cells - sum(counts.values())
    if remainder < 0:
        raise ValidationError("fixed_percent", dict(fixed_percent), "percentages summing ≤ 100")
    background = {c: w * rng.uniform(0.8, 1.2) for c, w in _BACKGROUND.items() if c not in counts}
    total_w = sum(background.values())
    shares = {c: int(remainder * w / total_w) for c, w in background.items()}
    # Hand the cells lost to rounding down to the largest classes, so the sum is exact.
    leftover = remainder - sum(shares.values())
    for c in sorted(background, key=background.__getitem__, reverse=True)[:leftover]:
        shares[c] += 1
    counts.update(shares)
    return AspirateDifferential(counts=counts, cells_counted=cells)


def _log_jitter(rng: random.Random, x: float, spread: float = 0.25) -> float:
    """Multiply by a log-normal factor: lab values scatter multiplicatively."""
    return x * (10 ** rng.gauss(0.0, spread))


# ------------------------------------------------------------------------ the builder


@dataclass
class _Builder:
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

    @property
    def pid(self) -> str:
        return f"{ID_PREFIX}{self.index + 1:04d}"

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
        n = len(self.visits) + 1
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
            operator=rng.choice(_OPERATORS),
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
                core_length_mm=_d(rng.uniform(12, 28), 0),
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
                    cellularity=_pct(CELLULARITY, cellularity, 0),
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
        self.visits.append(Visit(on, procedure, tuple(specimens), tuple(results)))

    def blood(self, on: dt.date, *values: ResultValue) -> None:
        """A peripheral blood draw without a procedure (chimerism, molecular MRD, counts)."""
        if on > COHORT_END:
            return
        n = len(self.visits) + 1
        at = self._collected(on, self.rng.randint(7, 11), self.rng.choice((0, 20, 40)))
        pb = f"{self.pid}-{n:02d}-PB"
        spec = Specimen(pb, SpecimenType.PERIPHERAL_BLOOD, at)
        self.visits.append(Visit(on, None, (spec,), tuple(SyntheticResult(pb, v) for v in values)))

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
            mrd = FLOW_MRD.quantity(_sig(value), lod=lod, lloq=lloq)
        method = FlowMethod.LAIP_DFN if self.scenario.name.startswith("AML") else FlowMethod.DFN
        return FlowMRD(mrd=mrd, method=method, events_acquired=events, abnormal_events=abnormal)

    def npm1(self, ratio_pct: float | None) -> MolecularMRD:
        """NPM1 mutant / ABL1 × 100 by qPCR, sensitivity 10^-5 (0.001 %)."""
        if ratio_pct is None:
            ratio = MOLECULAR_RATIO.quantity(
                None, qualifier=Qualifier.NOT_DETECTED, lod=Decimal("0.001")
            )
        else:
            ratio = MOLECULAR_RATIO.quantity(_sig(Decimal(repr(ratio_pct))), lod=Decimal("0.001"))
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
            vaf=_pct(VAF, vaf, 1),
            depth=self.rng.randint(800, 2500),
        )


def _sig(value: Decimal, digits: int = 2) -> Decimal:
    """Round to ``digits`` significant figures, as MRD values are reported."""
    if value == 0:
        return value
    exponent = value.adjusted() - digits + 1
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)


def _days(start: dt.date, n: int) -> dt.date:
    return start + dt.timedelta(days=n)


# --------------------------------------------------------------------- the scenarios


def _recovered(b: _Builder) -> BloodCount:
    r = b.rng
    return _counts(r.uniform(1.2, 4.0), r.uniform(110, 280), r.uniform(10.5, 13.8))


def _aplastic_nadir(b: _Builder) -> BloodCount:
    r = b.rng
    return _counts(r.uniform(0.02, 0.3), r.uniform(5, 25), r.uniform(7.2, 9.0))


def _with_reticulocytes(counts: BloodCount) -> BloodCount:
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


def _residual_cells(cells: Mapping[CellClass, float]) -> dict[str, object]:
    """The core's residual haematopoietic cells (% of the cells present): what is not
    lymphocytes or plasma cells, the cells that remain in an aplastic marrow. Derived from the
    differential's lymphoid share, not drawn, so the generator's random stream is unchanged."""
    lymphoid = cells.get(CellClass.LYMPHOCYTE, 0.0) + cells.get(CellClass.PLASMA_CELL, 0.0)
    return {"residual_hematopoietic_cells": _pct(RESIDUAL_HEMATOPOIETIC, 100.0 - lymphoid, 0)}


def _aml_genetics(b: _Builder) -> tuple[str, tuple[tuple[str, GeneticStatus, str | None], ...]]:
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


def _aml_diagnostic_marrow(b: _Builder, blasts: float, extra: tuple[ResultValue, ...]) -> None:
    r = b.rng
    b.marrow(
        b.diagnosed_on,
        Indication.DIAGNOSIS,
        blasts=blasts,
        cellularity=r.uniform(75, 95),
        counts=_counts(r.uniform(0.2, 1.2), r.uniform(20, 90), r.uniform(7.0, 9.5), blasts=30),
        fibrosis=r.choice((FibrosisGrade.MF0, FibrosisGrade.MF1)),
        extra=extra,
    )


def _consolidation_and_follow_up(b: _Builder, start: dt.date, cycles: int = 3) -> dt.date:
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
        _days(end, r.randint(7, 21)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(0.5, 3.5),
        cellularity=r.uniform(35, 60),
        counts=_recovered(b),
        extra=(b.flow(None if r.random() < 0.7 else r.uniform(0.01, 0.08)),),
    )
    return end


def aml_intensive(b: _Builder, *, refractory: bool) -> None:
    r = b.rng
    karyo, genetics = _aml_genetics(b)
    b.diagnose(Disease.AML, "AML, defined by differentiation", genetics, karyo)
    _aml_diagnostic_marrow(
        b, r.uniform(30, 80), (Karyotype(karyo, metaphases=20, abnormal_metaphases=None),)
    )
    start = _days(b.diagnosed_on, r.randint(2, 6))
    induction_end = b.line(
        "7+3 (cytarabine + daunorubicin)",
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        start,
        cycles=1,
        cycle_days=28,
        dosing_days=7,
    )
    aplasia = _counts(r.uniform(0.01, 0.1), r.uniform(6, 20), r.uniform(7.2, 8.4))
    if not refractory:
        # Day 14: hypoplastic, blasts cleared (< 5 %) — no second induction needed.
        b.marrow(
            _days(start, 13),
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
            day28 = _recovered(b)
        elif recovery < 0.8:
            day28 = _counts(r.uniform(0.6, 0.95), r.uniform(55, 95), r.uniform(8.5, 10.5))
        else:
            day28 = _counts(r.uniform(1.2, 2.5), r.uniform(25, 45), r.uniform(8.5, 10.5))
        b.marrow(
            _days(start, r.randint(27, 33)),
            Indication.RESPONSE_ASSESSMENT,
            blasts=r.uniform(0.5, 4.2),
            cellularity=r.uniform(35, 60),
            counts=day28,
            extra=(b.flow(None if r.random() < 0.5 else r.uniform(0.01, 0.3)),),
        )
        _consolidation_and_follow_up(b, _days(induction_end, r.randint(5, 12)))
        return
    # Refractory: residual blasts on day 14, re-induction, and still ≥ 5 % after it.
    b.marrow(
        _days(start, 13),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(15, 40),
        cellularity=r.uniform(25, 50),
        counts=aplasia,
    )
    reinduction = _days(start, r.randint(15, 18))
    salvage_start = b.line(
        "7+3 re-induction",
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        reinduction,
        cycles=1,
        dosing_days=7,
    )
    b.marrow(
        _days(reinduction, r.randint(27, 33)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(12, 45),
        cellularity=r.uniform(40, 80),
        counts=_counts(r.uniform(0.2, 0.8), r.uniform(15, 60), r.uniform(7.5, 9.0), blasts=12),
        extra=(b.flow(r.uniform(8, 30)),),
    )
    salvage_end = b.line(
        "FLAG-Ida",
        TherapyIntent.SALVAGE,
        Intensity.INTENSIVE,
        _days(salvage_start, r.randint(5, 10)),
        cycles=1,
        dosing_days=5,
    )
    b.marrow(
        _days(salvage_end, r.randint(0, 6)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(2, 30),
        cellularity=r.uniform(20, 70),
        counts=_counts(r.uniform(0.3, 2.0), r.uniform(20, 120), r.uniform(8, 10.5)),
    )


def aml_less_intensive(b: _Builder) -> None:
    r = b.rng
    b.birth_year = min(b.birth_year, b.diagnosed_on.year - 72)  # unfit for intensive therapy
    karyo, genetics = _aml_genetics(b)
    b.diagnose(Disease.AML, "AML with myelodysplasia-related changes", genetics, karyo)
    _aml_diagnostic_marrow(b, r.uniform(22, 60), (Karyotype(karyo, metaphases=20),))
    start = _days(b.diagnosed_on, r.randint(3, 10))
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
        _days(start, r.randint(21, 28)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(1, 4.5) if responder else r.uniform(10, 35),
        cellularity=r.uniform(10, 30),
        counts=_counts(r.uniform(0.1, 0.6), r.uniform(15, 60), r.uniform(7.5, 9.0)),
    )
    if cycles >= 4:
        b.marrow(
            _days(start, 28 * 4 - r.randint(0, 5)),
            Indication.RESPONSE_ASSESSMENT,
            blasts=r.uniform(0.5, 4) if responder else r.uniform(15, 50),
            cellularity=r.uniform(25, 50),
            counts=_recovered(b)
            if responder
            else _counts(r.uniform(0.2, 0.9), r.uniform(10, 50), r.uniform(7, 9)),
        )


def aml_flt3_resistance(b: _Builder) -> None:
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
    start = _days(b.diagnosed_on, r.randint(3, 6))
    end = b.line(
        "7+3 + midostaurin",
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        start,
        cycles=1,
        dosing_days=7,
    )
    b.marrow(
        _days(start, r.randint(27, 32)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(0.5, 4),
        cellularity=r.uniform(30, 55),
        counts=_recovered(b),
        extra=(b.variant(*itd, r.uniform(0.2, 1.5)),),
    )
    cons_end = b.line(
        "HiDAC + midostaurin",
        TherapyIntent.CONSOLIDATION,
        Intensity.INTENSIVE,
        _days(end, r.randint(5, 10)),
        cycles=3,
        cycle_days=35,
        dosing_days=5,
    )
    # First relapse 3–9 months after consolidation.
    relapse = _days(cons_end, r.randint(90, 270))
    b.marrow(
        relapse,
        Indication.SUSPECTED_RELAPSE,
        blasts=r.uniform(20, 60),
        cellularity=r.uniform(60, 90),
        counts=_counts(r.uniform(0.3, 1.0), r.uniform(25, 80), r.uniform(8, 10), blasts=20),
        extra=(b.variant(*itd, r.uniform(25, 40)),),
    )
    gilt = _days(relapse, r.randint(5, 12))
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
            _days(gilt, day + r.randint(-3, 3)),
            Indication.RESPONSE_ASSESSMENT if k < 2 else Indication.SUSPECTED_RELAPSE,
            blasts=blasts[k],
            cellularity=r.uniform(30, 80),
            counts=_recovered(b)
            if k < 2
            else _counts(r.uniform(0.3, 1.0), r.uniform(20, 70), r.uniform(8, 10), blasts=10),
            extra=variants,
        )


def aml_npm1_mrd(b: _Builder) -> None:
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
    start = _days(b.diagnosed_on, r.randint(2, 6))
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
        _days(start, r.randint(27, 32)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(0.5, 4),
        cellularity=r.uniform(30, 55),
        counts=_recovered(b),
        extra=(b.npm1(_log_jitter(r, baseline / 500)),),
    )
    cons_start = _days(end, r.randint(5, 10))
    cons_end = b.line(
        "HiDAC",
        TherapyIntent.CONSOLIDATION,
        Intensity.INTENSIVE,
        cons_start,
        cycles=3,
        cycle_days=35,
        dosing_days=5,
    )
    # After each consolidation cycle, blood MRD falls about a log (ELN 2021 MRD: every cycle).
    level = baseline / 500
    for k in range(3):
        level = _log_jitter(r, level / 12, 0.2)
        b.blood(_days(cons_start, 35 * k + 30), b.npm1(level if level > 0.001 else None))
    relapsing = r.random() < 0.45
    # Surveillance every 3 months for 2 years (ELN 2021: blood q4–6 weeks... marrow q3 months).
    day = cons_end
    rising = False
    for k in range(8):
        day = _days(day, r.randint(84, 98))
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
                counts=_recovered(b),
                extra=(b.npm1(value),),
            )
        else:
            b.blood(day, b.npm1(value), _recovered(b))
        if value is not None and value > 5:
            break


def mds_hma(b: _Builder) -> None:
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
        Lineage.ERYTHROID: _d(r.uniform(15, 60), 0),
        Lineage.GRANULOCYTIC: _d(r.uniform(10, 40), 0),
        Lineage.MEGAKARYOCYTIC: _d(r.uniform(10, 50), 0),
    }
    core_extra: dict[str, object] = {"dysplasia": dysplasia}
    if sf3b1:
        core_extra["ring_sideroblasts"] = _pct(RING_SIDEROBLASTS, r.uniform(15, 45), 0)
    variants: tuple[ResultValue, ...] = (
        (b.variant("SF3B1", "c.2098A>G", "p.Lys700Glu", r.uniform(20, 40)),) if sf3b1 else ()
    ) + (b.variant("TET2", "c.3781C>T", "p.Arg1261Cys", r.uniform(15, 40)),)
    b.marrow(
        b.diagnosed_on,
        Indication.DIAGNOSIS,
        blasts=blasts0,
        cellularity=r.uniform(60, 90),
        counts=_counts(r.uniform(0.6, 1.6), r.uniform(30, 110), r.uniform(7.5, 9.5)),
        fibrosis=r.choice((FibrosisGrade.MF0, FibrosisGrade.MF1, FibrosisGrade.MF1)),
        core_extra=core_extra,
        extra=(Karyotype(karyo, metaphases=20), *variants),
    )
    start = _days(b.diagnosed_on, r.randint(10, 28))
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
            _days(start, 28 * cycle - r.randint(0, 6)),
            Indication.RESPONSE_ASSESSMENT,
            blasts=max(blasts0 * (factor if better else 1.1), 0.5),
            cellularity=r.uniform(40, 75),
            counts=_counts(r.uniform(0.8, 2.5), r.uniform(60, 180), r.uniform(8.5, 11.5))
            if better
            else _counts(r.uniform(0.4, 1.2), r.uniform(20, 80), r.uniform(7.5, 9.0)),
            core_extra={"dysplasia": dysplasia},
        )


def myeloma(b: _Builder) -> None:
    r = b.rng
    b.diagnose(
        Disease.MYELOMA,
        "IgG kappa multiple myeloma",
        (
            ("t(4;14)", GeneticStatus.NOT_DETECTED, None),
            ("del(17p)", GeneticStatus.NOT_DETECTED, None),
        ),
        classification=Classification.IMWG_2014,
    )
    pc0 = r.uniform(25, 70)
    serum0 = r.uniform(2.5, 5.5)  # g/dL: measurable disease (IMWG: ≥ 1 g/dL)
    b.marrow(
        b.diagnosed_on,
        Indication.DIAGNOSIS,
        blasts=0.4,
        cells={CellClass.PLASMA_CELL: pc0},
        cellularity=r.uniform(50, 85),
        counts=_counts(r.uniform(1.8, 4.0), r.uniform(120, 260), r.uniform(8.5, 11.0)),
        core_extra={
            "infiltrate_type": "plasma cells, CD138+, kappa-restricted",
            "infiltrate": _pct(INFILTRATE, pc0 + r.uniform(-5, 10), 0),
        },
        blood_extra=(
            _paraprotein(serum0, r.uniform(200, 900), r.uniform(200, 1500), r.uniform(5, 15), True),
        ),
    )
    start = _days(b.diagnosed_on, r.randint(7, 21))
    end = b.line(
        "VRd (bortezomib, lenalidomide, dexamethasone)",
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        start,
        cycles=4,
        cycle_days=21,
        dosing_days=14,
    )
    transplant = _days(end, r.randint(35, 70))
    b.line(
        "melphalan 200 mg/m² + autologous transplant",
        TherapyIntent.CONSOLIDATION,
        Intensity.INTENSIVE,
        _days(transplant, -2),
        cycles=1,
        cycle_days=1,
        dosing_days=1,
    )
    # After 4 × VRd: ≥ 90 % fall in serum M, urine M < 100 mg/24 h — VGPR.
    b.blood(
        _days(end, r.randint(3, 10)),
        _paraprotein(
            serum0 * r.uniform(0.03, 0.08), r.uniform(20, 80), r.uniform(20, 40), 10, True
        ),
    )
    b.cellular.append(Transplant(transplant, DonorType.AUTOLOGOUS, Intensity.INTENSIVE))
    b.line(
        "lenalidomide maintenance",
        TherapyIntent.MAINTENANCE,
        Intensity.LESS_INTENSIVE,
        _days(transplant, r.randint(90, 110)),
        cycles=12,
        cycle_days=28,
        dosing_days=21,
        ongoing=True,
    )
    # Day +100 marrow with NGF MRD at 10^-5 (IMWG 2016: ≥ 2 × 10^6 cells, sensitivity 10^-5).
    # MRD-negative patients are in CR (IFE negative, normal FLC); the others stay in VGPR and
    # progress by the 1-year marrow (serum M ≥ 0.5 g/dL and ≥ 25 % above the nadir).
    mrd_neg = r.random() < 0.6
    nadir = r.uniform(0.1, 0.3)
    b.marrow(
        _days(transplant, r.randint(95, 110)),
        Indication.MRD,
        blasts=0.3,
        cells={CellClass.PLASMA_CELL: r.uniform(0.5, 2) if mrd_neg else r.uniform(2, 6)},
        cellularity=r.uniform(30, 55),
        counts=_recovered(b),
        extra=(b.flow(None if mrd_neg else r.uniform(0.002, 0.05), events=3_000_000),),
        blood_extra=(
            _paraprotein(0, 0, r.uniform(10, 18), r.uniform(9, 14), False)
            if mrd_neg
            else _paraprotein(nadir, r.uniform(0, 60), r.uniform(20, 35), 10, True),
        ),
    )
    b.marrow(
        _days(transplant, r.randint(350, 380)),
        Indication.MRD,
        blasts=0.3,
        cells={CellClass.PLASMA_CELL: r.uniform(0.3, 1.5) if mrd_neg else r.uniform(3, 12)},
        cellularity=r.uniform(30, 55),
        counts=_recovered(b),
        extra=(b.flow(None if mrd_neg else r.uniform(0.05, 1.0), events=3_000_000),),
        blood_extra=(
            _paraprotein(0, 0, r.uniform(10, 18), r.uniform(9, 14), False)
            if mrd_neg
            else _paraprotein(
                nadir + r.uniform(0.7, 1.5), r.uniform(50, 150), r.uniform(60, 200), 10, True
            ),
        ),
    )


def _paraprotein(
    serum_g_dl: float, urine_mg_24h: float, kappa_mg_l: float, lambda_mg_l: float, ife: bool
) -> Paraprotein:
    """IgG kappa paraprotein of one date; FLC given in mg/L as analysers report them (stored in
    mg/dL, the unit of the IMWG thresholds)."""
    positive = Immunofixation.POSITIVE if ife else Immunofixation.NEGATIVE
    return Paraprotein(
        "IgG kappa",
        serum_m_protein=SERUM_M_PROTEIN.quantity(_d(serum_g_dl, 2)),
        urine_m_protein=URINE_M_PROTEIN.quantity(_d(urine_mg_24h, 0)),
        involved_light_chain=LightChain.KAPPA,
        involved_flc=FREE_LIGHT_CHAIN.quantity(_d(kappa_mg_l, 1), "mg/L"),
        uninvolved_flc=FREE_LIGHT_CHAIN.quantity(_d(lambda_mg_l, 1), "mg/L"),
        serum_ife=positive,
        urine_ife=positive,
        plasmacytoma=PlasmacytomaStatus.ABSENT,
    )


def cll(b: _Builder) -> None:
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
        counts=_counts(r.uniform(2.0, 5.0), r.uniform(80, 160), r.uniform(10, 12.5)),
        core_extra={
            "infiltrate_type": "CLL, diffuse and nodular",
            "infiltrate": _pct(INFILTRATE, lymph0, 0),
        },
    )
    # Treatment starts when the disease becomes active (iwCLL 2018), often months later.
    start = _days(b.diagnosed_on, r.randint(60, 400))
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
        _days(end, r.randint(80, 100)),
        Indication.MRD,
        blasts=0.5,
        cells={CellClass.LYMPHOCYTE: r.uniform(8, 18) if umrd else r.uniform(20, 35)},
        cellularity=r.uniform(30, 50),
        counts=_recovered(b),
        extra=(b.flow(None if umrd else r.uniform(0.02, 0.5), events=500_000),),
    )


def b_all(b: _Builder) -> None:
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
        counts=_counts(r.uniform(0.2, 1.0), r.uniform(15, 80), r.uniform(6.5, 9.0), blasts=40),
        extra=(Karyotype(karyo, metaphases=20),),
    )
    start = _days(b.diagnosed_on, r.randint(1, 4))
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
        _days(start, 14),
        Indication.RESPONSE_ASSESSMENT,
        blasts=min(d15, 4.5),
        cellularity=r.uniform(10, 30),
        counts=_counts(r.uniform(0.05, 0.5), r.uniform(10, 50), r.uniform(7.5, 9.0)),
        extra=(b.flow(d15),),
    )
    mrd_neg = r.random() < 0.7
    b.marrow(
        _days(start, r.randint(28, 33)),
        Indication.MRD,
        blasts=r.uniform(0.5, 3),
        cellularity=r.uniform(30, 55),
        counts=_recovered(b),
        extra=(b.flow(None if mrd_neg else r.uniform(0.01, 0.5)),),
    )
    b.line(
        "blinatumomab" if not mrd_neg else "consolidation blocks",
        TherapyIntent.CONSOLIDATION,
        Intensity.INTENSIVE if mrd_neg else Intensity.LESS_INTENSIVE,
        _days(end, r.randint(3, 10)),
        cycles=3,
        cycle_days=42,
        dosing_days=28,
    )


def aplastic_anemia(b: _Builder) -> None:
    r = b.rng
    b.diagnose(Disease.APLASTIC_ANEMIA, "severe aplastic anaemia (Camitta)", (), None)
    # Drawn in the same order as before the residual-cell estimate existed (cells, then
    # cellularity, then counts), so the rest of the cohort is unchanged.
    cells = {CellClass.LYMPHOCYTE: r.uniform(40, 65), CellClass.PLASMA_CELL: r.uniform(3, 8)}
    b.marrow(
        b.diagnosed_on,
        Indication.DIAGNOSIS,
        blasts=0.2,
        cells=cells,
        cellularity=r.uniform(3, 15),
        counts=_with_reticulocytes(_aplastic_nadir(b)),
        core_extra=_residual_cells(cells),
    )
    start = _days(b.diagnosed_on, r.randint(5, 14))
    b.line(
        "hATG + ciclosporin + eltrombopag",
        TherapyIntent.CURATIVE,
        Intensity.NOT_APPLICABLE,
        start,
        cycles=1,
        cycle_days=180,
        dosing_days=180,
    )
    responder = r.random() < 0.7
    for months, cell in ((3, (15, 30)), (6, (20, 40)), (12, (25, 50))):
        cellularity = r.uniform(*cell) if responder else r.uniform(3, 12)
        counts = (
            _counts(0.4 * months / 3 + r.uniform(0, 0.6), 25 * months / 3 + r.uniform(0, 40), 9.5)
            if responder
            else _aplastic_nadir(b)
        )
        counts = _with_reticulocytes(counts)
        if months == 6:
            b.blood(_days(start, 30 * months), counts)
        else:
            on = _days(start, 30 * months + r.randint(-5, 5))
            cells = {CellClass.LYMPHOCYTE: r.uniform(15, 35) if responder else r.uniform(40, 60)}
            b.marrow(
                on,
                Indication.RESPONSE_ASSESSMENT,
                blasts=0.3,
                cells=cells,
                cellularity=cellularity,
                counts=counts,
                core_extra=_residual_cells(cells),
            )


def post_transplant(b: _Builder) -> None:
    r = b.rng
    is_mds = r.random() < 0.3
    if is_mds:
        mds_hma(b)
        conditioning = Intensity.LESS_INTENSIVE
    else:
        aml_intensive(b, refractory=False)
        conditioning = Intensity.INTENSIVE
    last = max(v.on for v in b.visits)
    transplant = _days(last, r.randint(30, 75))
    donor = r.choice(
        (DonorType.MATCHED_SIBLING, DonorType.MATCHED_UNRELATED, DonorType.HAPLOIDENTICAL)
    )
    b.cellular.append(Transplant(transplant, donor, conditioning))
    # Donor chimerism falling below ~95 % and still falling is the warning sign (mixed chimerism).
    falling = r.random() < 0.35
    series = (
        (100.0, 99.0, r.uniform(88, 94), r.uniform(60, 80))
        if falling
        else (100.0, r.uniform(98.5, 100), r.uniform(98.5, 100), r.uniform(98.5, 100))
    )
    for k, day in enumerate((30, 100, 180, 365)):
        when = _days(transplant, day + r.randint(-3, 3))
        donor_pct = series[k] if series[k] < 99.5 else r.choice((99.5, 100.0))
        whole = Chimerism(_pct(DONOR_PERCENT, donor_pct), ChimerismLineage.WHOLE_BLOOD)
        t_cells = Chimerism(
            _pct(DONOR_PERCENT, min(donor_pct + r.uniform(-3, 1), 100)), ChimerismLineage.T_CELLS
        )
        if day in (30, 100):
            relapse = falling and day == 100 and r.random() < 0.5
            b.marrow(
                when,
                Indication.POST_TRANSPLANT,
                blasts=r.uniform(5, 12) if relapse else r.uniform(0.5, 3),
                cellularity=r.uniform(20, 50),
                counts=_recovered(b),
                extra=(Chimerism(_pct(DONOR_PERCENT, donor_pct), ChimerismLineage.MARROW),),
                blood_extra=(whole, t_cells),
            )
        else:
            b.blood(when, whole, t_cells)


def car_t(b: _Builder) -> None:
    r = b.rng
    b_all(b)
    # Relapse 6–18 months after diagnosis, then tisagenlecleucel (CD19 CAR-T).
    relapse = _days(b.diagnosed_on, r.randint(180, 540))
    b.marrow(
        relapse,
        Indication.SUSPECTED_RELAPSE,
        blasts=r.uniform(20, 70),
        cellularity=r.uniform(60, 90),
        counts=_counts(r.uniform(0.4, 1.5), r.uniform(30, 100), r.uniform(8, 10.5)),
        extra=(b.flow(r.uniform(20, 60)),),
    )
    bridge_end = b.line(
        "inotuzumab ozogamicin (bridging)",
        TherapyIntent.BRIDGING,
        Intensity.LESS_INTENSIVE,
        _days(relapse, r.randint(5, 10)),
        cycles=1,
        cycle_days=21,
        dosing_days=8,
    )
    infusion = _days(bridge_end, r.randint(10, 25))
    b.line(
        "fludarabine + cyclophosphamide (lymphodepletion)",
        TherapyIntent.BRIDGING,
        Intensity.INTENSIVE,
        _days(infusion, -5),
        cycles=1,
        cycle_days=3,
        dosing_days=3,
    )
    b.cellular.append(CarTInfusion(infusion, "tisagenlecleucel", "CD19"))
    remission = r.random() < 0.8
    # Day 28 marrow: the primary response assessment after CD19 CAR-T.
    b.marrow(
        _days(infusion, r.randint(27, 30)),
        Indication.RESPONSE_ASSESSMENT,
        blasts=r.uniform(0.2, 2) if remission else r.uniform(10, 40),
        cellularity=r.uniform(15, 40),
        counts=_counts(r.uniform(0.4, 1.5), r.uniform(40, 120), r.uniform(8.5, 10.5)),
        extra=(b.flow(None if remission else r.uniform(5, 30)),),
    )


_SCENARIOS = {
    Scenario.AML_INTENSIVE_CR: lambda b: aml_intensive(b, refractory=False),
    Scenario.AML_INTENSIVE_REFRACTORY: lambda b: aml_intensive(b, refractory=True),
    Scenario.AML_LESS_INTENSIVE: aml_less_intensive,
    Scenario.AML_FLT3_RESISTANCE: aml_flt3_resistance,
    Scenario.AML_NPM1_MRD: aml_npm1_mrd,
    Scenario.MDS_HMA: mds_hma,
    Scenario.MYELOMA: myeloma,
    Scenario.CLL: cll,
    Scenario.ALL: b_all,
    Scenario.APLASTIC_ANEMIA: aplastic_anemia,
    Scenario.POST_TRANSPLANT: post_transplant,
    Scenario.CAR_T: car_t,
}


# ------------------------------------------------------------------------ amendments


def _amend(rng: random.Random, value: ResultValue) -> Amendment | None:
    """A plausible correction of a signed-out result, or None for kinds not amended here."""
    if isinstance(value, BloodCount) and value.platelets is not None:
        # A transposed-digit typo in the platelet count, corrected on review.
        assert value.platelets.value is not None
        digits = str(int(value.platelets.value))
        swapped = digits[::-1].lstrip("0") or "1"
        if swapped == digits:
            swapped = str(int(digits) + rng.randint(5, 15))
        return Amendment(
            replace(value, platelets=q.PLATELETS.quantity(Decimal(swapped))),
            "Platelet count transcribed with digits transposed; corrected from the analyser "
            "printout.",
        )
    if isinstance(value, AspirateDifferential):
        counts = dict(value.counts)
        moved = min(rng.randint(3, 8), counts.get(CellClass.PROMYELOCYTE, 0))
        if moved == 0:
            return None
        # Second reviewer recounted: some cells called promyelocytes were blasts.
        counts[CellClass.PROMYELOCYTE] -= moved
        counts[CellClass.BLAST] = counts.get(CellClass.BLAST, 0) + moved
        return Amendment(
            AspirateDifferential(counts=counts, cells_counted=value.cells_counted),
            f"Second-reviewer recount: {moved} cells reclassified from promyelocytes to blasts.",
        )
    return None


def _with_amendments(rng: random.Random, visits: list[Visit]) -> list[Visit]:
    out = []
    for v in visits:
        results = []
        for res in v.results:
            amendment = _amend(rng, res.value) if rng.random() < AMEND_FRACTION * 2.5 else None
            results.append(replace(res, amendment=amendment))
        out.append(replace(v, results=tuple(results)))
    return out


# -------------------------------------------------------------------------- public API


def synthetic_patient(index: int, seed: int = DEFAULT_SEED) -> SyntheticPatient:
    """Patient number ``index`` (0-based) of the cohort drawn with ``seed``."""
    if index < 0:
        raise ValidationError("index", index, "an integer ≥ 0")
    rng = random.Random(f"{seed}:{index}")
    scenario = _PATTERN[index % len(_PATTERN)]
    span = (LAST_DIAGNOSIS - FIRST_DIAGNOSIS).days
    diagnosed_on = _days(FIRST_DIAGNOSIS, rng.randrange(span))
    sex = Sex.FEMALE if rng.random() < 0.45 else Sex.MALE
    age = int(min(max(rng.gauss(64, 13), 19), 88))
    b = _Builder(rng, index, scenario, diagnosed_on, sex, diagnosed_on.year - age)
    _SCENARIOS[scenario](b)
    visits = _with_amendments(rng, sorted(b.visits, key=lambda v: v.on))
    birth_year = b.birth_year
    given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
    identity = PatientIdentity(
        name=f"{family}, {given}",
        mrn=f"SYN{index + 1:07d}",
        birth_date=dt.date(birth_year, rng.randint(1, 12), rng.randint(1, 28)),
    )
    return SyntheticPatient(
        index=index,
        scenario=scenario,
        patient=Patient(b.pid, sex, birth_year),
        identity=identity,
        diagnoses=tuple(b.diagnoses),
        therapy_lines=tuple(b.lines),
        cellular_therapies=tuple(sorted(b.cellular, key=lambda c: c.on)),
        visits=tuple(visits),
    )


def generate_cohort(
    n: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED
) -> Iterator[SyntheticPatient]:
    """``n`` synthetic patients, lazily (so a loader can write them one transaction each)."""
    if n < 1:
        raise ValidationError("patients", n, "an integer ≥ 1")
    for i in range(n):
        yield synthetic_patient(i, seed)
