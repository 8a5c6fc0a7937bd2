"""Typed results. Each kind is a frozen dataclass with canonical units and validated ranges.

Every result kind has a ``kind`` (its :class:`ResultKind`) and an ``analyte`` — the part of the
natural key that tells two results of the same kind on the same specimen apart (the gene and HGVS
of a variant, the marker of a molecular MRD, the lineage of a chimerism). Codes come from
``shared/spec/clinical-systems.md`` §5 where it lists one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar

from trephine.domain import quantity as q
from trephine.domain._checks import require_range, require_text
from trephine.domain.codes import (
    LOINC_BM_ASPIRATION_REPORT,
    LOINC_BM_BIOPSY_REPORT,
    LOINC_CHIMERISM,
    LOINC_FLOW_MRD,
    LOINC_GENETIC_VARIANT,
    LOINC_KARYOTYPE_BM,
    Code,
)
from trephine.domain.populations import CELL_TYPES, MEASUREMENT_INDICES, TOTALS
from trephine.domain.quantity import Qualifier, Quantity
from trephine.errors import ValidationError


class ResultKind(StrEnum):
    BLOOD_COUNT = "blood_count"
    DIFFERENTIAL = "differential"
    CORE = "core"
    FLOW_MRD = "flow_mrd"
    MOLECULAR_MRD = "molecular_mrd"
    NGS_VARIANT = "ngs_variant"
    KARYOTYPE = "karyotype"
    CHIMERISM = "chimerism"
    EXTRAMEDULLARY = "extramedullary"
    PARAPROTEIN = "paraprotein"
    IRON_STUDIES = "iron_studies"
    INFECTION_TEST = "infection_test"
    POPULATION = "population"
    MEASUREMENT = "measurement"
    CLINICAL_EXAM = "clinical_exam"


def _check(measure: q.Measure, value: Quantity | None) -> None:
    """A Quantity built elsewhere must still be in the field's canonical unit and range."""
    if value is None:
        return
    if value.unit != measure.unit:
        raise ValidationError(
            f"{measure.name} unit",
            value.unit,
            [measure.unit],
            reason="convert at ingestion with the field's Measure",
        )
    for number in (value.value, value.lod, value.lloq):
        if number is not None:
            measure.check(number)


# --------------------------------------------------------------------------- blood count


class TransfusionDependence(StrEnum):
    NONE = "none"
    RED_CELLS = "red cells"
    PLATELETS = "platelets"
    BOTH = "red cells and platelets"


class ReticulocyteMethod(StrEnum):
    """How reticulocytes were counted: the aplastic anaemia severity threshold depends on it
    (20 x10^9/L manual, 60 x10^9/L automated — BSH 2016)."""

    MANUAL = "manual"
    AUTOMATED = "automated"


CIRCULATING_BLASTS = q.percent("circulating_blasts")
#: Mean cell volume (fL) and red-cell distribution width (%): the red-cell indices of an
#: anaemia work-up.
MCV = q.Measure("mcv", "fL", Decimal(0), Decimal(200))
RDW = q.percent("rdw")
#: Blood B cells after CD19 CAR-T (B-cell aplasia, criteria spec §5): CD19+ cells as % of
#: lymphocytes and as an absolute count in cells/µL.
CD19_PERCENT = q.percent("cd19_percent")
CD19_COUNT = q.Measure(
    "cd19_count",
    "cells/uL",
    Decimal(0),
    Decimal(100000),
    {"cells/µL": Decimal(1), "/uL": Decimal(1), "/µL": Decimal(1), "10^9/L": Decimal(1000)},
)
#: PNH clone size (granulocytes, % by flow cytometry): clonal evolution in aplastic anaemia.
PNH_CLONE = q.percent("pnh_clone")


@dataclass(frozen=True)
class BloodCount:
    """Peripheral blood count. Counts in ×10^9/L, haemoglobin in g/dL (criteria spec G1)."""

    kind: ClassVar[ResultKind] = ResultKind.BLOOD_COUNT
    code: ClassVar[Code | None] = None

    wbc: Quantity | None = None
    anc: Quantity | None = None
    alc: Quantity | None = None
    platelets: Quantity | None = None
    hemoglobin: Quantity | None = None
    #: Blasts as % of leukocytes on the blood film.
    circulating_blasts: Quantity | None = None
    transfusion_dependence: TransfusionDependence | None = None
    #: Absolute reticulocyte count, ×10^9/L.
    reticulocytes: Quantity | None = None
    reticulocyte_method: ReticulocyteMethod | None = None
    mcv: Quantity | None = None
    rdw: Quantity | None = None
    cd19_percent: Quantity | None = None
    cd19_count: Quantity | None = None
    #: A platelet transfusion was given on this date (engraftment needs 7 untransfused days).
    platelet_transfusion: bool | None = None
    pnh_clone: Quantity | None = None

    def __post_init__(self) -> None:
        _check(MCV, self.mcv)
        _check(RDW, self.rdw)
        _check(CD19_PERCENT, self.cd19_percent)
        _check(CD19_COUNT, self.cd19_count)
        _check(PNH_CLONE, self.pnh_clone)
        _check(q.WBC, self.wbc)
        _check(q.RETICULOCYTES_ABS, self.reticulocytes)
        _check(q.ANC, self.anc)
        _check(q.LYMPHOCYTES_ABS, self.alc)
        _check(q.PLATELETS, self.platelets)
        _check(q.HEMOGLOBIN, self.hemoglobin)
        _check(CIRCULATING_BLASTS, self.circulating_blasts)
        values = (
            self.wbc,
            self.anc,
            self.alc,
            self.platelets,
            self.hemoglobin,
            self.reticulocytes,
            self.circulating_blasts,
            self.mcv,
            self.rdw,
            self.cd19_percent,
            self.cd19_count,
            self.pnh_clone,
        )
        if all(v is None for v in values):
            raise ValidationError(
                "blood_count",
                None,
                "at least one of wbc, anc, alc, platelets, hemoglobin, reticulocytes, "
                "circulating_blasts, mcv, rdw, cd19_percent, cd19_count, pnh_clone",
            )
        if self.reticulocyte_method is not None and self.reticulocytes is None:
            raise ValidationError(
                "reticulocyte_method",
                str(self.reticulocyte_method),
                "empty unless reticulocytes is given",
            )
        if (
            self.wbc is not None
            and self.anc is not None
            and self.wbc.qualifier is Qualifier.EXACT
            and self.anc.qualifier is Qualifier.EXACT
            and self.anc.value is not None
            and self.wbc.value is not None
            and self.anc.value > self.wbc.value
        ):
            raise ValidationError("anc", self.anc.value, f"≤ wbc ({self.wbc.value} 10^9/L)")

    @property
    def analyte(self) -> str:
        return ""


# ------------------------------------------------------------------ aspirate differential


class CellClass(StrEnum):
    """Cell classes of a marrow aspirate differential (nucleated cells; megakaryocytes excluded).

    Megakaryocytes are assessed separately and not counted in the nucleated differential
    (ICSH 2008, Lee et al., Int J Lab Hematol 30:349).
    """

    BLAST = "blasts"
    PROMYELOCYTE = "promyelocytes"
    MYELOCYTE = "myelocytes"
    METAMYELOCYTE = "metamyelocytes"
    BAND = "bands"
    NEUTROPHIL = "neutrophils"
    EOSINOPHIL = "eosinophils"
    BASOPHIL = "basophils"
    MONOCYTE = "monocytes"
    PROERYTHROBLAST = "proerythroblasts"
    ERYTHROBLAST = "erythroblasts"
    LYMPHOCYTE = "lymphocytes"
    PLASMA_CELL = "plasma cells"
    MAST_CELL = "mast cells"
    MACROPHAGE = "macrophages"
    OTHER = "other"


#: Granulocytic series for the M:E ratio — "granulocytes and their precursors" (Wintrobe's
#: Clinical Hematology; normal 2:1–4:1, criteria spec §7.3 [S27]). Blasts are included as the
#: earliest myeloid precursor, which is standard practice when no lineage is assigned on
#: morphology. Monocytes are left out by default; some labs count them (``include_monocytes``).
MYELOID_CLASSES: frozenset[CellClass] = frozenset(
    {
        CellClass.BLAST,
        CellClass.PROMYELOCYTE,
        CellClass.MYELOCYTE,
        CellClass.METAMYELOCYTE,
        CellClass.BAND,
        CellClass.NEUTROPHIL,
        CellClass.EOSINOPHIL,
        CellClass.BASOPHIL,
    }
)
#: All nucleated erythroid precursors (pro-, basophilic, polychromatic, orthochromatic).
ERYTHROID_CLASSES: frozenset[CellClass] = frozenset(
    {CellClass.PROERYTHROBLAST, CellClass.ERYTHROBLAST}
)
#: ICSH 2008 recommends a differential of at least 500 nucleated cells (criteria spec Q1).
MIN_ADEQUATE_CELLS = 500


@dataclass(frozen=True)
class LabelledCell:
    """One cell a person labelled on an aspirate image: pixel ``x`` (column), ``y`` (row),
    origin top-left, and its class."""

    x: int
    y: int
    cell_class: CellClass


@dataclass(frozen=True)
class ImageLabelling:
    """Where a differential counted on an image came from (issue 14 §3): the image's name and
    SHA-256 and size, who labelled it, every labelled cell, and the classifier that proposed
    labels (name, version, file SHA-256) with how many of its proposals the person kept."""

    source_file: str
    source_sha256: str
    width: int
    height: int
    labelled_by: str
    cells: tuple[LabelledCell, ...]
    software: str
    model: str | None = None
    model_sha256: str | None = None
    proposals: int = 0
    proposals_accepted: int = 0
    #: True on an amended version whose counts were corrected after the labelling: the image,
    #: cells, labeller and model stay the record of how the count was first made, and the
    #: counts are the amendment's (they need not equal the labelled cells any more).
    amended: bool = False


@dataclass(frozen=True)
class AspirateDifferential:
    """Counts per cell class; ``cells_counted`` must equal their sum."""

    kind: ClassVar[ResultKind] = ResultKind.DIFFERENTIAL
    code: ClassVar[Code | None] = LOINC_BM_ASPIRATION_REPORT

    counts: Mapping[CellClass, int]
    cells_counted: int
    #: Set when the count was made by labelling cells on an image (``web/aspirate.py``).
    labelling: ImageLabelling | None = None

    def __post_init__(self) -> None:
        # A plain dict (not a MappingProxy) so that it serialises; treat it as read-only.
        frozen = {CellClass(k): v for k, v in self.counts.items()}
        object.__setattr__(self, "counts", frozen)
        for cls, n in frozen.items():
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValidationError(f"count of {cls}", n, "a whole number ≥ 0")
        if not isinstance(self.cells_counted, int) or self.cells_counted <= 0:
            raise ValidationError("cells_counted", self.cells_counted, "a whole number > 0")
        total = sum(frozen.values())
        if total != self.cells_counted:
            raise ValidationError(
                "cells_counted",
                self.cells_counted,
                f"the sum of the class counts ({total})",
            )
        if self.labelling is not None and not self.labelling.amended:
            tally: dict[CellClass, int] = {}
            for cell in self.labelling.cells:
                tally[cell.cell_class] = tally.get(cell.cell_class, 0) + 1
            if tally != {k: v for k, v in frozen.items() if v}:
                raise ValidationError(
                    "counts", dict(frozen), "the counts of the labelled cells", reason=str(tally)
                )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AspirateDifferential):
            return NotImplemented
        return (
            self.cells_counted == other.cells_counted
            and self._nonzero() == other._nonzero()
            and self.labelling == other.labelling
        )

    def __hash__(self) -> int:
        return hash((self.cells_counted, frozenset(self._nonzero().items()), self.labelling))

    def _nonzero(self) -> dict[CellClass, int]:
        return {k: v for k, v in self.counts.items() if v}

    @property
    def analyte(self) -> str:
        return ""

    def count(self, cls: CellClass) -> int:
        return self.counts.get(cls, 0)

    def percent(self, cls: CellClass) -> Decimal:
        """Share of all nucleated cells counted, exact (no rounding)."""
        return Decimal(self.count(cls)) * 100 / Decimal(self.cells_counted)

    @property
    def blast_percent(self) -> Decimal:
        """Blasts as % of all nucleated marrow cells (criteria spec G1; WHO 5th / ICC 2022)."""
        return self.percent(CellClass.BLAST)

    def me_ratio(self, *, include_monocytes: bool = False) -> Decimal | None:
        """Myeloid:erythroid ratio, or None when no erythroid precursor was counted."""
        myeloid = sum(self.count(c) for c in MYELOID_CLASSES)
        if include_monocytes:
            myeloid += self.count(CellClass.MONOCYTE)
        erythroid = sum(self.count(c) for c in ERYTHROID_CLASSES)
        if erythroid == 0:
            return None
        return Decimal(myeloid) / Decimal(erythroid)

    @property
    def adequate(self) -> bool:
        return self.cells_counted >= MIN_ADEQUATE_CELLS


# -------------------------------------------------------------------------- core biopsy


class FibrosisGrade(StrEnum):
    """European consensus (Thiele 2005) / WHO grading, criteria spec §7.5."""

    MF0 = "MF-0"
    MF1 = "MF-1"
    MF2 = "MF-2"
    MF3 = "MF-3"


class IronScale(StrEnum):
    #: Gale et al. 1963, grades 0–6 (criteria spec §7.4).
    GALE = "Gale 0-6"
    #: "none, 1+ … 4+" scale; no published one-to-one mapping to Gale, so the scale is stored.
    PLUS = "0-4+"


class Lineage(StrEnum):
    ERYTHROID = "erythroid"
    GRANULOCYTIC = "granulocytic"
    MEGAKARYOCYTIC = "megakaryocytic"


CELLULARITY = q.percent("cellularity")
RING_SIDEROBLASTS = q.percent("ring_sideroblasts")
INFILTRATE = q.percent("infiltrate")
#: Haematopoietic cells as % of the cells in the core (Camitta: < 30 % makes a 25–50 % cellular
#: marrow count as severely hypocellular in aplastic anaemia).
RESIDUAL_HEMATOPOIETIC = q.percent("residual_hematopoietic_cells")


@dataclass(frozen=True)
class CoreFindings:
    kind: ClassVar[ResultKind] = ResultKind.CORE
    code: ClassVar[Code | None] = LOINC_BM_BIOPSY_REPORT

    cellularity: Quantity | None = None
    fibrosis: FibrosisGrade | None = None
    iron_grade: int | None = None
    iron_scale: IronScale | None = None
    #: Ring sideroblasts as % of erythroid precursors.
    ring_sideroblasts: Quantity | None = None
    #: Dysplastic cells as % of each lineage.
    dysplasia: Mapping[Lineage, Decimal] = field(default_factory=dict)
    granulomas: bool | None = None
    #: Infiltrate, e.g. "plasma cells", "CLL", with its share of cellularity.
    infiltrate_type: str | None = None
    infiltrate: Quantity | None = None
    residual_hematopoietic_cells: Quantity | None = None
    #: B-lymphoid nodules (iwCLL marrow response).
    lymphoid_nodules: bool | None = None
    #: Megaloblastic erythropoiesis (anaemia work-up).
    megaloblastic_change: bool | None = None
    #: Marrow plasma-cell light-chain ratio (kappa:lambda) by IHC/immunofluorescence or flow,
    #: and the plasma cells it was counted on (IMWG sCR: clonal if > 4:1 or < 1:2 on >= 100).
    plasma_cell_kappa_lambda: Decimal | None = None
    plasma_cells_assessed: int | None = None

    def __post_init__(self) -> None:
        if self.plasma_cell_kappa_lambda is not None:
            require_range(
                "plasma_cell_kappa_lambda",
                self.plasma_cell_kappa_lambda,
                Decimal(0),
                Decimal(10000),
            )
        if self.plasma_cells_assessed is not None:
            require_range("plasma_cells_assessed", self.plasma_cells_assessed, 1, 10**7)
        if (self.plasma_cell_kappa_lambda is None) != (self.plasma_cells_assessed is None):
            raise ValidationError(
                "plasma_cells_assessed",
                self.plasma_cells_assessed,
                "given together with plasma_cell_kappa_lambda (and only then)",
            )
        _check(CELLULARITY, self.cellularity)
        _check(RESIDUAL_HEMATOPOIETIC, self.residual_hematopoietic_cells)
        _check(RING_SIDEROBLASTS, self.ring_sideroblasts)
        _check(INFILTRATE, self.infiltrate)
        object.__setattr__(self, "dysplasia", {Lineage(k): v for k, v in self.dysplasia.items()})
        for lineage, pct in self.dysplasia.items():
            require_range(f"dysplasia {lineage}", pct, Decimal(0), Decimal(100))
        if (self.iron_grade is None) != (self.iron_scale is None):
            raise ValidationError(
                "iron_scale", self.iron_scale, "given together with iron_grade (and only then)"
            )
        if self.iron_grade is not None:
            top = 6 if self.iron_scale is IronScale.GALE else 4
            require_range(f"iron_grade ({self.iron_scale})", self.iron_grade, 0, top)
        if self.infiltrate is not None and not self.infiltrate_type:
            raise ValidationError("infiltrate_type", self.infiltrate_type, "the infiltrate named")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CoreFindings):
            return NotImplemented
        return _fields(self) == _fields(other)

    def __hash__(self) -> int:
        return hash(tuple(sorted(map(str, _fields(self).items()))))

    @property
    def analyte(self) -> str:
        return ""


def _fields(obj: object) -> dict[str, object]:
    data = dict(vars(obj))
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}


# ------------------------------------------------------------------------------- MRD


class AntigenStatus(StrEnum):
    """Antigen expression on the abnormal (blast) population, e.g. CD19 after CD19 CAR-T."""

    POSITIVE = "positive"
    DIM = "dim"
    NEGATIVE = "negative"


class FlowMethod(StrEnum):
    LAIP = "LAIP"
    DFN = "DfN"
    LAIP_DFN = "LAIP+DfN"


FLOW_MRD = q.percent("mrd")


@dataclass(frozen=True)
class FlowMRD:
    """Flow MRD as % of leukocytes (CD45+ events), with events and LOD/LLOQ in %."""

    kind: ClassVar[ResultKind] = ResultKind.FLOW_MRD
    code: ClassVar[Code | None] = LOINC_FLOW_MRD

    mrd: Quantity
    method: FlowMethod
    events_acquired: int | None = None
    abnormal_events: int | None = None
    panel: str | None = None
    #: CD19 on the abnormal population (relapse after CD19 CAR-T: CD19-negative escape).
    cd19_on_blasts: AntigenStatus | None = None
    # Provenance of a computed result (``trephine flow mrd --specimen``): quantification flags
    # (too few events, haemodilution …), the FCS file's name and SHA-256, and the SHA-256 of the
    # gating document, so a stored MRD value can be traced to exactly what produced it.
    flags: tuple[str, ...] = ()
    source_file: str | None = None
    source_sha256: str | None = None
    gating_sha256: str | None = None

    def __post_init__(self) -> None:
        _check(FLOW_MRD, self.mrd)
        object.__setattr__(self, "flags", tuple(self.flags))
        for name in ("source_sha256", "gating_sha256"):
            digest = getattr(self, name)
            if digest is not None and (
                len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)
            ):
                raise ValidationError(name, digest, "a SHA-256 hex digest (64 lower-case hex)")
        require_range("events_acquired", self.events_acquired, 0, 10**10)
        require_range("abnormal_events", self.abnormal_events, 0, 10**10)
        if (
            self.events_acquired is not None
            and self.abnormal_events is not None
            and self.abnormal_events > self.events_acquired
        ):
            raise ValidationError(
                "abnormal_events",
                self.abnormal_events,
                f"≤ events_acquired ({self.events_acquired})",
            )

    @property
    def analyte(self) -> str:
        return str(self.method)


class MolecularMethod(StrEnum):
    QPCR = "qPCR"
    DDPCR = "ddPCR"
    NGS = "NGS"


MOLECULAR_RATIO = q.Measure(
    "ratio", "%", Decimal(0), Decimal(100000), {"percent": Decimal(1), "1": Decimal(100)}
)


@dataclass(frozen=True)
class MolecularMRD:
    """Marker transcripts as % of a control gene (e.g. NPM1 mutant / ABL1 × 100)."""

    kind: ClassVar[ResultKind] = ResultKind.MOLECULAR_MRD
    code: ClassVar[Code | None] = None

    marker: str
    ratio: Quantity
    control_gene: str = "ABL1"
    #: Assay sensitivity as a fraction (1e-5 = one in 100,000).
    sensitivity: Decimal | None = None
    method: MolecularMethod = MolecularMethod.QPCR

    def __post_init__(self) -> None:
        require_text("marker", self.marker, 64)
        require_text("control_gene", self.control_gene, 32)
        _check(MOLECULAR_RATIO, self.ratio)
        if self.sensitivity is not None:
            require_range("sensitivity", self.sensitivity, Decimal("1e-9"), Decimal(1))

    @property
    def analyte(self) -> str:
        return self.marker


# ------------------------------------------------------------------------- genetics


VAF = q.percent("vaf")


@dataclass(frozen=True)
class NGSVariant:
    """A somatic variant; VAF in % (a fraction in unit ``1`` is converted at ingestion)."""

    kind: ClassVar[ResultKind] = ResultKind.NGS_VARIANT
    code: ClassVar[Code | None] = LOINC_GENETIC_VARIANT

    gene: str
    hgvs: str
    vaf: Quantity
    depth: int | None = None
    hgvs_protein: str | None = None
    transcript: str | None = None
    #: Reads supporting the variant (with ``depth``, what a depth-aware presence call needs).
    alt_count: int | None = None

    def __post_init__(self) -> None:
        require_text("gene", self.gene, 32)
        require_text("hgvs", self.hgvs)
        if not self.hgvs.startswith(("c.", "g.", "n.", "m.")) and ":" not in self.hgvs:
            raise ValidationError(
                "hgvs", self.hgvs, "an HGVS description such as 'c.1792G>T' or 'NM_…:c.…'"
            )
        _check(VAF, self.vaf)
        require_range("depth", self.depth, 0, 10**9)
        require_range("alt_count", self.alt_count, 0, 10**9)
        if self.alt_count is not None and self.depth is not None and self.alt_count > self.depth:
            raise ValidationError("alt_count", self.alt_count, f"≤ depth ({self.depth})")

    @property
    def analyte(self) -> str:
        return f"{self.gene} {self.hgvs}"


@dataclass(frozen=True)
class Karyotype:
    kind: ClassVar[ResultKind] = ResultKind.KARYOTYPE
    code: ClassVar[Code | None] = LOINC_KARYOTYPE_BM

    iscn: str
    metaphases: int | None = None
    abnormal_metaphases: int | None = None

    def __post_init__(self) -> None:
        require_text("iscn", self.iscn, 2000)
        require_range("metaphases", self.metaphases, 0, 1000)
        if (
            self.metaphases is not None
            and self.abnormal_metaphases is not None
            and not 0 <= self.abnormal_metaphases <= self.metaphases
        ):
            raise ValidationError(
                "abnormal_metaphases", self.abnormal_metaphases, f"0–{self.metaphases}"
            )

    @property
    def analyte(self) -> str:
        return ""


class ChimerismLineage(StrEnum):
    WHOLE_BLOOD = "whole blood"
    MARROW = "bone marrow"
    T_CELLS = "CD3"
    MYELOID = "CD33"
    B_CELLS = "CD19"
    NK_CELLS = "CD56"
    CD34 = "CD34"


DONOR_PERCENT = q.percent("donor_percent")


@dataclass(frozen=True)
class Chimerism:
    kind: ClassVar[ResultKind] = ResultKind.CHIMERISM
    code: ClassVar[Code | None] = LOINC_CHIMERISM

    donor_percent: Quantity
    lineage: ChimerismLineage = ChimerismLineage.WHOLE_BLOOD
    method: str = "STR"

    def __post_init__(self) -> None:
        _check(DONOR_PERCENT, self.donor_percent)

    @property
    def analyte(self) -> str:
        return str(self.lineage)


@dataclass(frozen=True)
class Extramedullary:
    kind: ClassVar[ResultKind] = ResultKind.EXTRAMEDULLARY
    code: ClassVar[Code | None] = None

    site: str
    present: bool
    method: str | None = None
    size_mm: Decimal | None = None

    def __post_init__(self) -> None:
        require_text("site", self.site)
        require_range("size_mm", self.size_mm, Decimal(0), Decimal(1000))

    @property
    def analyte(self) -> str:
        return self.site


class Immunofixation(StrEnum):
    NEGATIVE = "negative"
    POSITIVE = "positive"


class LightChain(StrEnum):
    KAPPA = "kappa"
    LAMBDA = "lambda"


class PlasmacytomaStatus(StrEnum):
    ABSENT = "absent"
    PRESENT = "present"


#: Serum M-protein (SPEP densitometry). g/L and mg/dL are converted at ingestion.
SERUM_M_PROTEIN = q.Measure(
    "serum_m_protein",
    "g/dL",
    Decimal(0),
    Decimal(20),
    {"g/L": Decimal("0.1"), "mg/dL": Decimal("0.001")},
)
#: Urine M-protein in a 24-hour collection (UPEP).
URINE_M_PROTEIN = q.Measure(
    "urine_m_protein",
    "mg/24h",
    Decimal(0),
    Decimal(100000),
    {"mg/24 h": Decimal(1), "g/24h": Decimal(1000), "g/24 h": Decimal(1000)},
)
#: Serum free light chain. Analysers (Freelite, N Latex) report mg/L; IMWG 2016 thresholds
#: (dFLC > 10 mg/dL) are in mg/dL, so mg/L is converted at ingestion (÷ 10).
FREE_LIGHT_CHAIN = q.Measure(
    "free_light_chain", "mg/dL", Decimal(0), Decimal(10000), {"mg/L": Decimal("0.1")}
)


@dataclass(frozen=True)
class Paraprotein:
    """Serum/urine M-protein, serum free light chains, immunofixation and plasmacytoma status
    of one date — the myeloma response markers (IMWG 2016). Every field is optional because
    labs report them separately; what is absent stays "not recorded", never 0.

    No LOINC code: ``shared/spec/clinical-systems.md`` lists none for these tests, and
    inventing one would be worse than leaving the code empty.
    """

    kind: ClassVar[ResultKind] = ResultKind.PARAPROTEIN
    code: ClassVar[Code | None] = None

    isotype: str  # heavy/light chain of the M-protein, e.g. "IgG kappa"; the analyte
    serum_m_protein: Quantity | None = None
    urine_m_protein: Quantity | None = None
    involved_light_chain: LightChain | None = None
    involved_flc: Quantity | None = None
    uninvolved_flc: Quantity | None = None
    serum_ife: Immunofixation | None = None
    urine_ife: Immunofixation | None = None
    plasmacytoma: PlasmacytomaStatus | None = None

    def __post_init__(self) -> None:
        require_text("isotype", self.isotype)
        _check(SERUM_M_PROTEIN, self.serum_m_protein)
        _check(URINE_M_PROTEIN, self.urine_m_protein)
        _check(FREE_LIGHT_CHAIN, self.involved_flc)
        _check(FREE_LIGHT_CHAIN, self.uninvolved_flc)
        if (self.involved_flc or self.uninvolved_flc) and self.involved_light_chain is None:
            # Without it the κ/λ ratio cannot be formed the right way up.
            raise ValidationError(
                "involved_light_chain", None, [c.value for c in LightChain], reason="missing"
            )

    @property
    def analyte(self) -> str:
        return self.isotype

    @property
    def flc_ratio(self) -> Decimal | None:
        """κ/λ ratio (normal 0.26–1.65), formed from involved/uninvolved and the chain."""
        inv, uninv = self.involved_flc, self.uninvolved_flc
        if inv is None or uninv is None or inv.value is None or uninv.value is None:
            return None
        kappa, lam = (
            (inv.value, uninv.value)
            if self.involved_light_chain is LightChain.KAPPA
            else (uninv.value, inv.value)
        )
        return None if lam == 0 else kappa / lam


# ----------------------------------------------------------------------- iron studies

#: Serum ferritin in µg/L (= ng/mL), transferrin saturation in %, liver iron concentration by
#: MRI in mg Fe/g dry weight (µmol/g converted at ingestion: 1 µmol = 0.055845 mg).
FERRITIN = q.Measure(
    "ferritin", "ug/L", Decimal(0), Decimal(100000), {"µg/L": Decimal(1), "ng/mL": Decimal(1)}
)
TRANSFERRIN_SATURATION = q.percent("transferrin_saturation")
LIVER_IRON = q.Measure(
    "liver_iron",
    "mg/g",
    Decimal(0),
    Decimal(100),
    {"umol/g": Decimal("0.055845"), "µmol/g": Decimal("0.055845")},
)


@dataclass(frozen=True)
class IronStudies:
    """Iron status shown beside the marrow iron grade: serum ferritin, transferrin saturation,
    liver iron concentration (MRI)."""

    kind: ClassVar[ResultKind] = ResultKind.IRON_STUDIES
    code: ClassVar[Code | None] = None

    ferritin: Quantity | None = None
    transferrin_saturation: Quantity | None = None
    liver_iron: Quantity | None = None

    def __post_init__(self) -> None:
        _check(FERRITIN, self.ferritin)
        _check(TRANSFERRIN_SATURATION, self.transferrin_saturation)
        _check(LIVER_IRON, self.liver_iron)
        if (
            self.ferritin is None
            and self.transferrin_saturation is None
            and self.liver_iron is None
        ):
            raise ValidationError(
                "iron_studies", None, "at least one of ferritin, transferrin_saturation, liver_iron"
            )

    @property
    def analyte(self) -> str:
        return ""


# ------------------------------------------------------------------- clinical examination

#: Longest diameter of the largest palpable or imaged lymph node, and spleen length on imaging,
#: in cm (mm converted at ingestion).
LARGEST_NODE = q.Measure("largest_node", "cm", Decimal(0), Decimal(100), {"mm": Decimal("0.1")})
SPLEEN_LENGTH = q.Measure("spleen_length", "cm", Decimal(0), Decimal(50), {"mm": Decimal("0.1")})


@dataclass(frozen=True)
class ClinicalExam:
    """The clinical examination a lymphoid response needs besides blood and marrow (iwCLL 2018,
    Hallek et al., Blood 2018;131:2745): lymph nodes, liver and spleen, constitutional
    symptoms. What was not examined stays ``None`` (never read as normal)."""

    kind: ClassVar[ResultKind] = ResultKind.CLINICAL_EXAM
    code: ClassVar[Code | None] = None

    #: Longest diameter of the largest lymph node (cm); 0 = no palpable node.
    largest_node: Quantity | None = None
    #: Liver and spleen of normal size on examination (or imaging).
    liver_spleen_normal: bool | None = None
    #: Spleen length on imaging (cm).
    spleen_length: Quantity | None = None
    #: Constitutional ("B") symptoms: weight loss, fevers, night sweats, fatigue due to the
    #: disease.
    constitutional_symptoms: bool | None = None
    #: How it was examined: physical examination, CT, ultrasound.
    method: str | None = None

    def __post_init__(self) -> None:
        _check(LARGEST_NODE, self.largest_node)
        _check(SPLEEN_LENGTH, self.spleen_length)
        if self.method is not None:
            require_text("method", self.method)
        if (
            self.largest_node is None
            and self.liver_spleen_normal is None
            and self.spleen_length is None
            and self.constitutional_symptoms is None
        ):
            raise ValidationError(
                "clinical_exam",
                None,
                "at least one of largest_node, liver_spleen_normal, spleen_length, "
                "constitutional_symptoms",
            )

    @property
    def analyte(self) -> str:
        return ""


# ---------------------------------------------------------------------- infection tests


class InfectionTestType(StrEnum):
    MARROW_CULTURE = "marrow culture"
    ACID_FAST_STAIN = "acid-fast stain"
    MYCOBACTERIAL_PCR = "mycobacterial PCR"
    MYCOBACTERIAL_CULTURE = "mycobacterial culture"
    FUNGAL_STAIN = "fungal stain"


class InfectionOutcome(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


@dataclass(frozen=True)
class InfectionTest:
    """One microbiology test on the marrow (with granulomas: possible marrow infection)."""

    kind: ClassVar[ResultKind] = ResultKind.INFECTION_TEST
    code: ClassVar[Code | None] = None

    test: InfectionTestType
    outcome: InfectionOutcome
    organism: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", InfectionTestType(self.test))
        object.__setattr__(self, "outcome", InfectionOutcome(self.outcome))
        if self.organism is not None:
            require_text("organism", self.organism)
            if self.outcome is InfectionOutcome.NEGATIVE:
                raise ValidationError("organism", self.organism, "empty when the test is negative")

    @property
    def analyte(self) -> str:
        return str(self.test)


# ------------------------------------------------------- microenvironment: populations


class PopulationMethod(StrEnum):
    """How a population was counted."""

    FLOW = "flow panel"
    SINGLE_CELL = "single-cell"
    IHC = "IHC"
    IMAGE = "image"


def _require_sha256(name: str, digest: str | None) -> None:
    if digest is not None and (
        len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise ValidationError(name, digest, "a SHA-256 hex digest (64 lower-case hex)")


def _count(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, value, "a whole number ≥ 0")
    require_range(name, value, 0, 10**11)


@dataclass(frozen=True)
class Population:
    """A counted cell population (issue 14 §1): ``count`` cells of ``population`` among
    ``parent_count`` cells of ``parent`` and, when known, ``total_count`` CD45+ / nucleated /
    profiled cells. Percentages are exact fractions of the counts (:meth:`percent_of_parent`,
    :meth:`percent_of_total`); their 95 % Wilson intervals are computed where they are shown.

    ``population`` and ``parent`` are names of the controlled vocabulary
    (:data:`trephine.domain.populations.CELL_TYPES`, which carries the Cell Ontology ids); a
    parent may also be one of the totals (``"CD45+ cells"``, ``"nucleated cells"``, ``"cells
    profiled"``), which then is the total too. Provenance — the source file's name and SHA-256,
    the gate or label it came from and the software version — travels with a computed result.
    """

    kind: ClassVar[ResultKind] = ResultKind.POPULATION
    code: ClassVar[Code | None] = None

    population: str
    count: int
    parent: str
    parent_count: int
    method: PopulationMethod
    total: str | None = None
    total_count: int | None = None
    panel: str | None = None
    #: The gate (flow) or cell-type label (single-cell) the count came from, as the source wrote it.
    source_label: str | None = None
    source_file: str | None = None
    source_sha256: str | None = None
    software: str | None = None
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", PopulationMethod(self.method))
        object.__setattr__(self, "flags", tuple(self.flags))
        if self.population not in CELL_TYPES:
            raise ValidationError("population", self.population, sorted(CELL_TYPES))
        if self.parent not in CELL_TYPES and self.parent not in TOTALS:
            raise ValidationError("parent", self.parent, [*TOTALS, *sorted(CELL_TYPES)])
        if self.parent == self.population:
            raise ValidationError("parent", self.parent, f"a population other than {self.parent}")
        if self.parent in TOTALS and self.total is None and self.total_count is None:
            object.__setattr__(self, "total", self.parent)
            object.__setattr__(self, "total_count", self.parent_count)
        if self.total is not None and self.total not in TOTALS:
            raise ValidationError("total", self.total, list(TOTALS))
        if (self.total is None) != (self.total_count is None):
            raise ValidationError(
                "total_count", self.total_count, "given together with total (and only then)"
            )
        for name in ("count", "parent_count", "total_count"):
            _count(name, getattr(self, name))
        if self.parent_count <= 0:
            raise ValidationError("parent_count", self.parent_count, "a whole number > 0")
        if self.count > self.parent_count:
            raise ValidationError("count", self.count, f"≤ parent_count ({self.parent_count})")
        if self.total_count is not None and self.parent_count > self.total_count:
            raise ValidationError(
                "parent_count", self.parent_count, f"≤ total_count ({self.total_count})"
            )
        for name in ("panel", "source_label", "source_file", "software"):
            value = getattr(self, name)
            if value is not None:
                require_text(name, value, 200)
        _require_sha256("source_sha256", self.source_sha256)

    @property
    def analyte(self) -> str:
        return f"{self.population} ({self.method})"

    @property
    def percent_of_parent(self) -> Decimal:
        return Decimal(self.count) * 100 / Decimal(self.parent_count)

    @property
    def percent_of_total(self) -> Decimal | None:
        if self.total_count is None or self.total_count == 0:
            return None
        return Decimal(self.count) * 100 / Decimal(self.total_count)


# ------------------------------------------------------ microenvironment: measurements


class MeasurementMethod(StrEnum):
    IMAGE = "image analysis"
    MANUAL = "manual count"
    POINT_COUNTING = "point counting"
    VISUAL = "visual estimate"


@dataclass(frozen=True)
class Measurement:
    """One continuous microenvironment index of a core or image region (issue 14 §1):
    microvessel density, CD271+ stromal cells/mm², adipocyte area fraction, reticulin or collagen
    index, image cellularity, nucleus density, iron area fraction
    (:data:`trephine.domain.populations.MEASUREMENT_INDICES` declares each with its unit).

    ``measured`` holds exactly one ``{index: Quantity}`` (that shape lets the import template
    declare every index as its own field with its own unit); :attr:`index` and :attr:`value`
    read it. These are research indices, never a WHO grade. Build one with :meth:`of`.
    """

    kind: ClassVar[ResultKind] = ResultKind.MEASUREMENT
    code: ClassVar[Code | None] = None

    measured: Mapping[str, Quantity]
    method: MeasurementMethod
    region: str = "whole core"
    stain: str | None = None
    #: Area measured (mm²) and the objects counted on it, for densities.
    area_mm2: Decimal | None = None
    objects_counted: int | None = None
    source_file: str | None = None
    source_sha256: str | None = None
    software: str | None = None
    #: Quality notes that travel with the number (e.g. the detector's validation F1).
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", MeasurementMethod(self.method))
        object.__setattr__(self, "flags", tuple(self.flags))
        measured = dict(self.measured)
        object.__setattr__(self, "measured", measured)
        if len(measured) != 1:
            raise ValidationError(
                "measured",
                sorted(measured),
                "exactly one index per measurement result (give others as their own item)",
            )
        ((index, value),) = measured.items()
        spec = MEASUREMENT_INDICES.get(index)
        if spec is None:
            raise ValidationError("index", index, sorted(MEASUREMENT_INDICES))
        _check(spec.measure, value)
        require_text("region", self.region, 120)
        for name in ("stain", "source_file", "software"):
            text = getattr(self, name)
            if text is not None:
                require_text(name, text, 200)
        require_range("area_mm2", self.area_mm2, Decimal(0), Decimal(10000))
        if self.area_mm2 is not None and self.area_mm2 == 0:
            raise ValidationError("area_mm2", self.area_mm2, "> 0")
        _count("objects_counted", self.objects_counted)
        _require_sha256("source_sha256", self.source_sha256)

    @classmethod
    def of(
        cls, index: str, value: Quantity, method: MeasurementMethod, **kw: object
    ) -> Measurement:
        return cls({index: value}, method, **kw)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Measurement):
            return NotImplemented
        return _fields(self) == _fields(other)

    def __hash__(self) -> int:
        return hash(tuple(sorted(map(str, _fields(self).items()))))

    @property
    def index(self) -> str:
        return next(iter(self.measured))

    @property
    def value(self) -> Quantity:
        return next(iter(self.measured.values()))

    @property
    def analyte(self) -> str:
        return f"{self.index} ({self.region})"


ResultValue = (
    BloodCount
    | AspirateDifferential
    | CoreFindings
    | FlowMRD
    | MolecularMRD
    | NGSVariant
    | Karyotype
    | Chimerism
    | Extramedullary
    | Paraprotein
    | IronStudies
    | InfectionTest
    | Population
    | Measurement
    | ClinicalExam
)

RESULT_TYPES: Mapping[ResultKind, type[ResultValue]] = MappingProxyType(
    {
        cls.kind: cls
        for cls in (
            BloodCount,
            AspirateDifferential,
            CoreFindings,
            FlowMRD,
            MolecularMRD,
            NGSVariant,
            Karyotype,
            Chimerism,
            Extramedullary,
            Paraprotein,
            IronStudies,
            InfectionTest,
            Population,
            Measurement,
            ClinicalExam,
        )
    }
)


def with_provenance(old: ResultValue, new: ResultValue) -> ResultValue:
    """``new`` as the amendment of ``old`` keeps where ``old`` came from: a differential counted
    on an image keeps its labelling (image, SHA-256, who labelled, cells, model and version),
    marked ``amended`` when the corrected counts differ from the labelled cells. A signed-out
    result is never edited in place, and its amendment must not lose how it was made."""
    if (
        isinstance(old, AspirateDifferential)
        and isinstance(new, AspirateDifferential)
        and old.labelling is not None
        and new.labelling is None
    ):
        tally: dict[CellClass, int] = {}
        for cell in old.labelling.cells:
            tally[cell.cell_class] = tally.get(cell.cell_class, 0) + 1
        same = tally == new._nonzero()
        return replace(new, labelling=replace(old.labelling, amended=not same))
    return new


def headline(value: ResultValue) -> Quantity | None:
    """The one number of a result that lists and charts show (and the store indexes)."""
    match value:
        case AspirateDifferential():
            return Quantity(value.blast_percent, "%")
        case FlowMRD():
            return value.mrd
        case MolecularMRD():
            return value.ratio
        case NGSVariant():
            return value.vaf
        case Chimerism():
            return value.donor_percent
        case CoreFindings():
            return value.cellularity
        case BloodCount():
            return value.anc
        case Population():
            return Quantity(value.percent_of_parent, "%")
        case Measurement():
            return value.value
        case _:
            return None
