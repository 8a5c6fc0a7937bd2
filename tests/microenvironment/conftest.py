"""Fixtures for the microenvironment tests: a writable copy of the shipped example import set."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from trephine.domain import Patient, Procedure, Sex, Site, Specimen, SpecimenType
from trephine.services import patients, procedures
from trephine.store.database import Database

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "templates" / "example"


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE, target)
    return target


BIOPSY_AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def seeded(database: Database) -> Database:
    """One patient (P001) with an aspirate A-1 and a trephine core C-1."""
    with database.unit_of_work("seed") as uow:
        patients.register_patient(uow, Patient("P001", Sex.FEMALE, 1961))
        proc_id, _ = procedures.record_procedure(
            uow, "P001", Procedure(BIOPSY_AT, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, "P001", Specimen("A-1", SpecimenType.ASPIRATE, BIOPSY_AT, first_pull=True), proc_id
        )
        procedures.add_specimen(
            uow,
            "P001",
            Specimen("C-1", SpecimenType.TREPHINE_CORE, BIOPSY_AT, core_length_mm=Decimal("18")),
            proc_id,
        )
    return database
