"""Synthetic marrow records for the report tests and the report benchmark: one home for the
patient, the biopsy with its specimens and the ordinary results of a biopsy.

``tests/reports`` seeds one procedure with :func:`seed` (signed-out results of several kinds and
one draft); ``benchmarks/bench_report.py`` builds a 40-biopsy patient from the same pieces
(:func:`register`, :func:`add_biopsy`, :func:`biopsy_results`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trephine.domain import (
    AspirateDifferential,
    CellClass,
    Patient,
    PatientIdentity,
    Procedure,
    Sex,
    Site,
    Specimen,
    SpecimenType,
)
from trephine.domain import quantity as q
from trephine.domain.patient import Classification, Diagnosis, Disease
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import (
    CELLULARITY,
    VAF,
    BloodCount,
    CoreFindings,
    FibrosisGrade,
    FlowMethod,
    FlowMRD,
    IronScale,
    Karyotype,
    Measurement,
    MeasurementMethod,
    NGSVariant,
    Population,
    PopulationMethod,
    ResultValue,
)
from trephine.services import patients, procedures, results
from trephine.store.database import Database, UnitOfWork

BIOPSY_AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)


def differential(blasts: int, total: int = 500) -> AspirateDifferential:
    """A ``total``-cell aspirate differential with ``blasts`` blasts (the rest neutrophils,
    100 erythroblasts and 50 lymphocytes)."""
    return AspirateDifferential(
        {
            CellClass.BLAST: blasts,
            CellClass.NEUTROPHIL: total - blasts - 150,
            CellClass.ERYTHROBLAST: 100,
            CellClass.LYMPHOCYTE: 50,
        },
        total,
    )


def regulatory_t_cells() -> Population:
    """A flow population: 310 regulatory T cells of 5,000 CD4 T cells, of 40,000 CD45+ cells
    (6.2 % of parent, 95 % Wilson interval 5.6-6.9 %; 0.78 % of CD45+)."""
    return Population(
        "regulatory T cells",
        310,
        "CD4 T cells",
        5000,
        PopulationMethod.FLOW,
        total="CD45+ cells",
        total_count=40000,
    )


def microvessel_density(**extra: Any) -> Measurement:
    """An image measurement: microvessel density 17.7 vessels/mm² (``extra``: stain, flags,
    region ... as :meth:`Measurement.of` takes them)."""
    return Measurement.of(
        "microvessel density",
        Quantity(Decimal("17.7"), "vessels/mm2"),
        MeasurementMethod.IMAGE,
        **extra,
    )


def biopsy_results(
    blasts: int = 30, cellularity: str = "70", vaf: str = "38.5", depth: int = 1200
) -> dict[str, tuple[SpecimenType, ResultValue]]:
    """The ordinary results of one biopsy by name, each with the kind of specimen it is on:
    a differential, flow MRD below the limit of detection, a blood count, core findings and an
    NPM1 variant."""
    return {
        "differential": (SpecimenType.ASPIRATE, differential(blasts)),
        "flow_mrd": (
            SpecimenType.ASPIRATE,
            FlowMRD(
                Quantity(Decimal("0.01"), "%", Qualifier.LESS_THAN, lod=Decimal("0.005")),
                FlowMethod.LAIP,
                events_acquired=500_000,
            ),
        ),
        "blood_count": (
            SpecimenType.PERIPHERAL_BLOOD,
            BloodCount(
                wbc=q.WBC.parse("3.4"),
                anc=q.ANC.parse("1.2"),
                platelets=q.PLATELETS.parse("88"),
                hemoglobin=q.HEMOGLOBIN.parse("9.1"),
            ),
        ),
        "core": (
            SpecimenType.TREPHINE_CORE,
            CoreFindings(
                cellularity=CELLULARITY.parse(cellularity),
                fibrosis=FibrosisGrade.MF1,
                iron_grade=2,
                iron_scale=IronScale.PLUS,
            ),
        ),
        "ngs_variant": (
            SpecimenType.ASPIRATE,
            NGSVariant("NPM1", "c.860_863dup", VAF.parse(vaf), depth=depth),
        ),
    }


def register(
    uow: UnitOfWork,
    patient: Patient,
    identity: PatientIdentity,
    diagnosed: dt.date,
    subtype: str | None = None,
) -> None:
    """A synthetic AML patient (WHO 5th) with their identity."""
    patients.register_patient(uow, patient, identity)
    diagnosis = Diagnosis(Disease.AML, diagnosed, Classification.WHO_5, subtype=subtype)
    patients.add_diagnosis(uow, patient.external_id, diagnosis)


def add_biopsy(
    uow: UnitOfWork,
    patient_id: str,
    at: dt.datetime,
    specimens: Mapping[SpecimenType, tuple[str, Mapping[str, Any]]],
) -> int:
    """A posterior iliac crest biopsy at ``at`` with one specimen per kind, as
    ``{kind: (accession, extra Specimen fields)}``; answers the procedure id."""
    proc_id, _ = procedures.record_procedure(
        uow, patient_id, Procedure(at, Site.POSTERIOR_ILIAC_CREST)
    )
    for kind, (accession, extra) in specimens.items():
        procedures.add_specimen(uow, patient_id, Specimen(accession, kind, at, **extra), proc_id)
    return proc_id


@dataclass
class Seeded:
    database: Database
    procedure: int
    #: result ids by kind name.
    ids: dict[str, int]


def seed(database: Database) -> Seeded:
    """Patient P001 with one biopsy: five signed-out results (:func:`biopsy_results`, verified
    by ``dr.verify``) and a draft karyotype."""
    ids: dict[str, int] = {}
    accessions: dict[SpecimenType, tuple[str, dict[str, Any]]] = {
        SpecimenType.ASPIRATE: ("A-1", {"first_pull": True, "spicules": True}),
        SpecimenType.PERIPHERAL_BLOOD: ("B-1", {}),
        SpecimenType.TREPHINE_CORE: ("C-1", {"core_length_mm": Decimal("18")}),
    }
    with database.unit_of_work("seed") as uow:
        identity = PatientIdentity("Synthetic Person", "MRN-0001", dt.date(1961, 5, 6))
        patient = Patient("P001", Sex.FEMALE, 1961)
        register(uow, patient, identity, BIOPSY_AT.date(), subtype="test AML")
        proc_id = add_biopsy(uow, "P001", BIOPSY_AT, accessions)
        for name, (kind, value) in biopsy_results().items():
            stored, _ = results.record_result(uow, accessions[kind][0], value)
            ids[name] = stored.id
        draft, _ = results.record_result(uow, "A-1", Karyotype("46,XX,t(9;11)(p21.3;q23.3)[20]"))
        ids["karyotype_draft"] = draft.id
    with database.unit_of_work("dr.verify") as uow:
        for name, rid in ids.items():
            if name != "karyotype_draft":
                results.verify_result(uow, rid)
    return Seeded(database, proc_id, ids)
