"""A database error never carries a statement's values into a log or a traceback.

The defect: PostgreSQL refused a NUL byte with a ``DataError`` whose message — printed whole in
the traceback on stderr — listed the SQL parameters: name, MRN and birth date.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback

import pytest
import sqlalchemy.exc

from trephine.domain import Patient, Sex
from trephine.services import patients
from trephine.store.database import Database
from trephine.store.tables import PatientIdentityRow

NAME, MRN, BORN = "Jane Q. Identifiable", "MRN-7712398", dt.date(1961, 4, 17)


def test_a_refused_identity_row_shows_no_identity(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with database.unit_of_work("lab") as uow:
        patients.register_patient(uow, Patient("NOID-1", Sex.FEMALE, 1961))
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    database.engine.echo = True  # statement logging on, as an operator debugging would
    # PostgreSQL refuses the NUL byte (DataError); SQLite stores it but refuses the missing
    # patient (IntegrityError). Either way the statement's values must not appear.
    bad_name = NAME + "\x00"
    with pytest.raises(sqlalchemy.exc.DBAPIError) as refused, database.unit_of_work("lab") as uow:
        uow.session.add(
            PatientIdentityRow(patient_id=987654, name=bad_name, mrn=MRN, birth_date=BORN)
        )
        uow.session.flush()
    database.engine.echo = False
    shown = "".join(traceback.format_exception(refused.value)) + caplog.text
    assert "INSERT INTO patient_identity" in shown  # the statement itself is still shown
    for secret in (NAME, MRN, "1961-04-17", "1961, 4, 17"):
        assert secret not in shown, secret
