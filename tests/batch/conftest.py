"""Small generated MRD tubes for the batch tests (the shared benchmark generator, 12-30k events,
vendored in tests/data/bench)."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from testdata import DATA
from trephine.domain import Patient, PatientIdentity, Procedure, Sex, Site, Specimen, SpecimenType
from trephine.services import patients, procedures
from trephine.store.database import Database

AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)

#: (file name, events, seed): different sizes so tubes finish in a different order than sorted.
TUBES = (("tube_a.fcs", 30000, 11), ("tube_b.fcs", 12000, 12), ("tube_c.fcs", 20000, 13))


@pytest.fixture(scope="session")
def gating_ml(mrd_gating_ml: Path) -> Path:
    return mrd_gating_ml


@pytest.fixture(scope="session")
def tube_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of three synthetic AML MRD tubes (FCS 3.1, 14 channels, with spillover),
    made by the shared bench generator and vendored in ``tests/data/bench``."""
    out = tmp_path_factory.mktemp("tubes")
    for name, _events, _seed in TUBES:
        shutil.copyfile(DATA / "bench" / name, out / name)
    return out


@pytest.fixture
def seeded(database: Database) -> Database:
    """Patient P001 with aspirates A-1, A-2 and a trephine core C-1 (no flow MRD on cores)."""
    with database.unit_of_work("seed") as uow:
        patients.register_patient(
            uow,
            Patient("P001", Sex.FEMALE, 1961),
            PatientIdentity("Synthetic Person", "MRN-0001", dt.date(1961, 5, 6)),
        )
        proc_id, _ = procedures.record_procedure(
            uow, "P001", Procedure(AT, Site.POSTERIOR_ILIAC_CREST)
        )
        for acc, first in (("A-1", True), ("A-2", False)):
            procedures.add_specimen(
                uow, "P001", Specimen(acc, SpecimenType.ASPIRATE, AT, first_pull=first), proc_id
            )
        procedures.add_specimen(
            uow,
            "P001",
            Specimen("C-1", SpecimenType.TREPHINE_CORE, AT, core_length_mm=Decimal("18")),
            proc_id,
        )
    return database
