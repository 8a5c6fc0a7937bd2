"""A seeded database for service tests: one patient, one biopsy, aspirate, core, blood."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

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
from trephine.domain.results import FLOW_MRD, FlowMethod, FlowMRD
from trephine.services import patients, procedures
from trephine.store.database import Database

BIOPSY_AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)


def differential(blasts: int, total: int = 500) -> AspirateDifferential:
    erythroid = 100
    return AspirateDifferential(
        {
            CellClass.BLAST: blasts,
            CellClass.NEUTROPHIL: total - blasts - erythroid - 50,
            CellClass.ERYTHROBLAST: erythroid,
            CellClass.LYMPHOCYTE: 50,
        },
        total,
    )


def flow_mrd(percent: str) -> FlowMRD:
    return FlowMRD(
        FLOW_MRD.parse(percent), FlowMethod.LAIP, events_acquired=500_000, abnormal_events=None
    )


@pytest.fixture
def seeded(database: Database) -> Database:
    with database.unit_of_work("seed") as uow:
        patients.register_patient(
            uow,
            Patient("P001", Sex.FEMALE, 1961),
            PatientIdentity("Synthetic Person", "MRN-0001", dt.date(1961, 5, 6)),
        )
        proc_id, _ = procedures.record_procedure(
            uow, "P001", Procedure(BIOPSY_AT, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, "P001", Specimen("A-1", SpecimenType.ASPIRATE, BIOPSY_AT, first_pull=True), proc_id
        )
        procedures.add_specimen(
            uow, "P001", Specimen("B-1", SpecimenType.PERIPHERAL_BLOOD, BIOPSY_AT), proc_id
        )
        procedures.add_specimen(
            uow,
            "P001",
            Specimen("C-1", SpecimenType.TREPHINE_CORE, BIOPSY_AT, core_length_mm=Decimal("18")),
            proc_id,
        )
    return database


@pytest.fixture
def make_differential() -> Callable[..., AspirateDifferential]:
    return differential


@pytest.fixture
def make_flow_mrd() -> Callable[[str], FlowMRD]:
    return flow_mrd


__all__ = ["q"]
