"""Seeding for the report tests: a procedure with signed-out results of several kinds and one
draft."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

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
    NGSVariant,
)
from trephine.services import patients, procedures, results
from trephine.store.database import Database

BIOPSY_AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)


def differential(blasts: int, total: int = 500) -> AspirateDifferential:
    return AspirateDifferential(
        {
            CellClass.BLAST: blasts,
            CellClass.NEUTROPHIL: total - blasts - 150,
            CellClass.ERYTHROBLAST: 100,
            CellClass.LYMPHOCYTE: 50,
        },
        total,
    )


@dataclass
class Seeded:
    database: Database
    procedure: int
    #: result ids by kind name.
    ids: dict[str, int]


def seed(database: Database) -> Seeded:
    ids: dict[str, int] = {}
    with database.unit_of_work("seed") as uow:
        patients.register_patient(
            uow,
            Patient("P001", Sex.FEMALE, 1961),
            PatientIdentity("Synthetic Person", "MRN-0001", dt.date(1961, 5, 6)),
        )
        patients.add_diagnosis(
            uow,
            "P001",
            Diagnosis(Disease.AML, dt.date(2024, 3, 4), Classification.WHO_5, subtype="test AML"),
        )
        proc_id, _ = procedures.record_procedure(
            uow, "P001", Procedure(BIOPSY_AT, Site.POSTERIOR_ILIAC_CREST)
        )
        for accession, kind, extra in (
            ("A-1", SpecimenType.ASPIRATE, {"first_pull": True, "spicules": True}),
            ("B-1", SpecimenType.PERIPHERAL_BLOOD, {}),
            ("C-1", SpecimenType.TREPHINE_CORE, {"core_length_mm": Decimal("18")}),
        ):
            procedures.add_specimen(
                uow, "P001", Specimen(accession, kind, BIOPSY_AT, **extra), proc_id
            )
        values = {
            "differential": ("A-1", differential(30)),
            "flow_mrd": (
                "A-1",
                FlowMRD(
                    Quantity(Decimal("0.01"), "%", Qualifier.LESS_THAN, lod=Decimal("0.005")),
                    FlowMethod.LAIP,
                    events_acquired=500_000,
                ),
            ),
            "blood_count": (
                "B-1",
                BloodCount(
                    wbc=q.WBC.parse("3.4"),
                    anc=q.ANC.parse("1.2"),
                    platelets=q.PLATELETS.parse("88"),
                    hemoglobin=q.HEMOGLOBIN.parse("9.1"),
                ),
            ),
            "core": (
                "C-1",
                CoreFindings(
                    cellularity=CELLULARITY.parse("70"),
                    fibrosis=FibrosisGrade.MF1,
                    iron_grade=2,
                    iron_scale=IronScale.PLUS,
                ),
            ),
            "ngs_variant": (
                "A-1",
                NGSVariant("NPM1", "c.860_863dup", VAF.parse("38.5"), depth=1200),
            ),
        }
        for name, (accession, value) in values.items():
            stored, _ = results.record_result(uow, accession, value)
            ids[name] = stored.id
        draft, _ = results.record_result(uow, "A-1", Karyotype("46,XX,t(9;11)(p21.3;q23.3)[20]"))
        ids["karyotype_draft"] = draft.id
    with database.unit_of_work("dr.verify") as uow:
        for name, rid in ids.items():
            if name != "karyotype_draft":
                results.verify_result(uow, rid)
    return Seeded(database, proc_id, ids)
