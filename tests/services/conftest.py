"""A seeded database for service tests: one patient, one biopsy, aspirate, core, blood."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from trephine.domain import (
    AspirateDifferential,
    Patient,
    PatientIdentity,
    Sex,
    SpecimenType,
)
from trephine.domain import quantity as q
from trephine.domain.results import FLOW_MRD, FlowMethod, FlowMRD
from trephine.services import patients
from trephine.store.database import Database
from trephine.testing.report_seed import BIOPSY_AT, add_biopsy, differential


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
        specimens = {
            SpecimenType.ASPIRATE: ("A-1", {"first_pull": True}),
            SpecimenType.PERIPHERAL_BLOOD: ("B-1", {}),
            SpecimenType.TREPHINE_CORE: ("C-1", {"core_length_mm": Decimal("18")}),
        }
        add_biopsy(uow, "P001", BIOPSY_AT, specimens)
    return database


@pytest.fixture
def make_differential() -> Callable[..., AspirateDifferential]:
    return differential


@pytest.fixture
def make_flow_mrd() -> Callable[[str], FlowMRD]:
    return flow_mrd


__all__ = ["q"]
