"""A database with one patient for the procedure tests."""

from __future__ import annotations

import datetime as dt

import pytest

from trephine.domain import Patient, PatientIdentity, Sex
from trephine.services import patients
from trephine.store.database import Database


@pytest.fixture
def clinic(database: Database) -> Database:
    with database.unit_of_work("seed") as uow:
        for n in (1, 2):
            patients.register_patient(
                uow,
                Patient(f"P00{n}", Sex.FEMALE, 1961),
                PatientIdentity(f"Synthetic Person {n}", f"MRN-000{n}", dt.date(1961, 5, 6)),
            )
    return database
