"""Migrations from empty, up and down, on SQLite and PostgreSQL; the database-level guards."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from trephine.domain import Assessment, Patient, Sex
from trephine.errors import Conflict
from trephine.services import assessments, patients
from trephine.store.database import Database

TABLES = {
    "alert",
    "api_token",
    "app_user",
    "assessment",
    "audit_chain_lock",
    "audit_event",
    "cellular_therapy",
    "clinical_exam",
    "cohort",
    "cohort_evaluation",
    "complication",
    "diagnosis",
    "patient",
    "patient_account",
    "patient_identity",
    "pending_signature",
    "procedure",
    "procedure_checklist",
    "procedure_consent",
    "procedure_plan",
    "report_discussion",
    "report_version",
    "result",
    "result_release",
    "sign_in_failure",
    "site_secret",
    "study",
    "study_arm",
    "study_enrolment",
    "study_visit",
    "study_visit_mapping",
    "lab_order",
    "lab_study",
    "electronic_signature",
    "entry_draft",
    "specimen",
    "therapy_cycle",
    "therapy_line",
    "user_session",
}


def test_migrations_up_from_empty_and_down(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.table_names() == []
        db.upgrade()
        assert db.current_revision() == db.head_revision()
        assert set(db.table_names()) == TABLES | {"alembic_version"}
        db.upgrade()  # idempotent: already at head
        assert db.current_revision() == db.head_revision()
        db.downgrade("base")
        assert db.table_names() == ["alembic_version"]
        assert db.current_revision() is None
        db.upgrade()
        assert set(db.table_names()) == TABLES | {"alembic_version"}
    finally:
        db.dispose()


def test_upgrade_keeps_existing_rows_and_guards(database_url: str) -> None:
    """0001 → head on a database that already holds an assessment (append-only!)."""
    db = Database(database_url)
    try:
        db.upgrade("0001")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO patient (external_id, sex, created_at)"
                    " VALUES ('P1', 'male', '2024-01-01 00:00:00+00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO assessment (patient_id, assessed_on, category, ruleset,"
                    " criteria_edition, evidence, missing_inputs, software_version, computed_at,"
                    " recorded_by) SELECT id, '2024-01-01', 'CR', 'ELN', '2022', '[]', '[]',"
                    " '0.1', '2024-01-01 00:00:00+00:00', 'x' FROM patient"
                )
            )
        db.upgrade()
        with db.unit_of_work("r") as uow:
            (old,) = assessments.patient_assessments(uow, "P1")
        assert old.assessment.category == "CR"
        assert old.assessment.flags == () and old.assessment.params == {}
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
            db.engine.begin() as c,
        ):
            c.execute(text("DELETE FROM assessment"))
        db.downgrade("0001")
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
            db.engine.begin() as c,
        ):
            c.execute(text("UPDATE assessment SET category = 'PR'"))
    finally:
        db.dispose()


def test_upgrade_to_the_site_secret_keeps_an_existing_database(database_url: str) -> None:
    """An existing database (0014, with a patient) upgrades to the site secret table (0020):
    its export key is made when first needed, kept, and the table goes on downgrade."""
    from trephine.services.site_secret import site_secret

    db = Database(database_url)
    try:
        db.upgrade("0014")
        with db.unit_of_work("someone") as uow:
            patients.register_patient(uow, Patient("P9", Sex.MALE, 1970))
        db.upgrade()
        assert "site_secret" in db.table_names()
        key = site_secret(db)
        assert len(key) == 32 and site_secret(db) == key
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT external_id FROM patient")).scalars().all() == ["P9"]
        db.downgrade("0014")
        assert "site_secret" not in db.table_names()
    finally:
        db.dispose()


def test_audit_table_is_append_only(database: Database) -> None:
    with database.unit_of_work("someone") as uow:
        patients.register_patient(uow, Patient("P9", Sex.MALE, 1970))
    with database.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    assert count == 1
    for statement in (
        "UPDATE audit_event SET actor = 'mallory'",
        "DELETE FROM audit_event",
    ):
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
            database.engine.begin() as conn,
        ):
            conn.execute(text(statement))
    with database.engine.connect() as conn:
        row = conn.execute(text("SELECT actor, action, entity_id FROM audit_event")).one()
    assert tuple(row) == ("someone", "create", "P9")


def test_assessments_are_append_only(database: Database) -> None:
    computed = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    first = Assessment(
        "CR",
        "ELN",
        "2022",
        dt.date(2024, 5, 1),
        "0.1.0",
        computed,
        "rule 3",
        evidence=({"input": "blasts", "value": "3.1", "comparator": "LT", "threshold": "5"},),
        missing_inputs=("anc",),
        citation="Döhner 2022, Table 7",
        flags=("needs confirmation",),
        params={"aa_retic_threshold": 60},
    )
    with database.unit_of_work("engine") as uow:
        patients.register_patient(uow, Patient("P9", Sex.MALE, 1970))
        stored, created = assessments.record_assessment(uow, "P9", first)
        again, created_again = assessments.record_assessment(uow, "P9", first)
        # A new edition adds a row instead of replacing the old one.
        newer = Assessment("CR", "ELN", "2022", first.assessed_on, "0.2.0", computed)
        assessments.record_assessment(uow, "P9", newer)
    assert created and not created_again and again.id == stored.id
    with database.unit_of_work("r") as uow:
        listed = assessments.patient_assessments(uow, "P9")
    assert [a.assessment.software_version for a in listed] == ["0.1.0", "0.2.0"]
    assert listed[0].assessment == first
    different = Assessment("PR", "ELN", "2022", first.assessed_on, "0.1.0", computed)
    with database.unit_of_work("engine") as uow, pytest.raises(Conflict, match="category"):
        assessments.record_assessment(uow, "P9", different)
    with (
        pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
        database.engine.begin() as conn,
    ):
        conn.execute(text("UPDATE assessment SET category = 'PR'"))


def test_timestamps_come_back_utc_aware(database: Database) -> None:
    with database.unit_of_work("someone") as uow:
        patients.register_patient(uow, Patient("P9", Sex.MALE, 1970))
    with database.unit_of_work("r") as uow:
        from trephine.services import audit

        (event,) = audit.events(uow)
    assert event.occurred_at.utcoffset() == dt.timedelta(0)


def test_sqlite_foreign_keys_are_enforced(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/fk.db")
    try:
        db.upgrade()
        with pytest.raises(sqlalchemy.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO diagnosis (patient_id, disease, classification, diagnosed_on,"
                    " genetics) VALUES (12345, 'AML', 'other', '2024-01-01', '[]')"
                )
            )
    finally:
        db.dispose()
