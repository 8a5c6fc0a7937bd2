"""Fixtures for the image tests: phantoms are generated; the Kainz 2015 tiles are read from
``../shared/data/imaging/bm_graz_he`` only (their licence forbids shipping them) and the tests
that need them skip with the reason when that folder is absent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from testdata import SHARED
from trephine.domain import Patient, Procedure, Sex, Site, Specimen, SpecimenType
from trephine.services import patients, procedures
from trephine.store.database import Database

KAINZ = SHARED / "data" / "imaging" / "bm_graz_he"
KAINZ_TEST = ("0007_01", "0008_01", "0020_01")


@pytest.fixture
def kainz() -> Path:
    if not (KAINZ / "images").is_dir():
        pytest.skip(
            f"the Kainz 2015 tiles are not here ({KAINZ}); their licence forbids shipping them "
            "with the repository, so these tests run only beside ../shared"
        )
    return KAINZ


BIOPSY_AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def seeded(database: Database) -> Database:
    """One patient (P001) with a trephine core C-1 to store measurements on."""
    with database.unit_of_work("seed") as uow:
        patients.register_patient(uow, Patient("P001", Sex.FEMALE, 1961))
        proc_id, _ = procedures.record_procedure(
            uow, "P001", Procedure(BIOPSY_AT, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow,
            "P001",
            Specimen("C-1", SpecimenType.TREPHINE_CORE, BIOPSY_AT, core_length_mm=Decimal("18")),
            proc_id,
        )
    return database
