"""SQLAlchemy 2 tables (typed ORM). The schema itself is created by Alembic migrations only.

Results live in ONE ``result`` table: the value of each kind is JSON (the domain dataclass,
serialised by :mod:`trephine.store.codec`), and what is queried — kind, analyte, state, version,
dates, the headline number — are typed columns. One table keeps versioning, supersession, the
lifecycle trigger and the natural key in one place for all nine kinds; per-kind tables would
repeat all of that nine times. See docs/data-model.md.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from trephine.store.types import ExactDecimal, UTCDateTime, json_type

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dt.datetime: UTCDateTime(),
        dt.date: Date(),
        Decimal: ExactDecimal(),
        dict[str, Any]: json_type(),
        list[Any]: json_type(),
    }


class PatientRow(Base):
    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    sex: Mapped[str] = mapped_column(String(16))
    birth_year: Mapped[int | None]
    created_at: Mapped[dt.datetime]
    # Facts of the patient list kept by the database's triggers (migration 0026), never
    # written by the application: the latest procedure time and the number of open alerts.
    # FetchedValue: an INSERT leaves them out (the database fills them), and with
    # eager_defaults off the ORM does not read them back after a write either, so registering
    # a patient works on a database migrated only to an older revision.
    last_biopsy_at: Mapped[dt.datetime | None] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    open_alert_count: Mapped[int] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    # Kept the same way by migration 0028: the disease of the latest diagnosis, and the
    # category of the latest response call or of a relapse called since (0029: or of a
    # progression called since, confirmed or to confirm).
    latest_diagnosis: Mapped[str | None] = mapped_column(
        String(32), server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    latest_response: Mapped[str | None] = mapped_column(
        String(64), server_default=FetchedValue(), server_onupdate=FetchedValue()
    )

    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012 - SQLAlchemy reads it

    identity: Mapped[PatientIdentityRow | None] = relationship(back_populates="patient")


class PatientIdentityRow(Base):
    """Identifying data, one row per patient, in its own table (research views never join it)."""

    __tablename__ = "patient_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mrn: Mapped[str] = mapped_column(String(64), unique=True)
    birth_date: Mapped[dt.date | None]

    patient: Mapped[PatientRow] = relationship(back_populates="identity")


class DiagnosisRow(Base):
    __tablename__ = "diagnosis"
    __table_args__ = (UniqueConstraint("patient_id", "disease", "diagnosed_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    disease: Mapped[str] = mapped_column(String(32))
    classification: Mapped[str] = mapped_column(String(32))
    subtype: Mapped[str | None] = mapped_column(String(200))
    diagnosed_on: Mapped[dt.date]
    genetics: Mapped[list[Any]]
    karyotype: Mapped[str | None] = mapped_column(Text)


class TherapyLineRow(Base):
    __tablename__ = "therapy_line"
    __table_args__ = (UniqueConstraint("patient_id", "line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    line: Mapped[int]
    regimen: Mapped[str] = mapped_column(String(200))
    intent: Mapped[str] = mapped_column(String(32))
    intensity: Mapped[str] = mapped_column(String(32))
    start: Mapped[dt.date]
    end: Mapped[dt.date | None]

    cycles: Mapped[list[TherapyCycleRow]] = relationship(
        order_by="TherapyCycleRow.number", cascade="all, delete-orphan"
    )


class TherapyCycleRow(Base):
    __tablename__ = "therapy_cycle"
    __table_args__ = (UniqueConstraint("therapy_line_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapy_line_id: Mapped[int] = mapped_column(ForeignKey("therapy_line.id"))
    number: Mapped[int]
    start: Mapped[dt.date]
    end: Mapped[dt.date | None]


class CellularTherapyRow(Base):
    """Stem-cell transplant or CAR-T infusion (kind), as dated events."""

    __tablename__ = "cellular_therapy"
    __table_args__ = (UniqueConstraint("patient_id", "kind", "given_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    given_on: Mapped[dt.date]
    donor_type: Mapped[str | None] = mapped_column(String(32))
    conditioning: Mapped[str | None] = mapped_column(String(32))
    product: Mapped[str | None] = mapped_column(String(200))
    target: Mapped[str | None] = mapped_column(String(32))


class ProcedureRow(Base):
    __tablename__ = "procedure"
    __table_args__ = (UniqueConstraint("patient_id", "performed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    performed_at: Mapped[dt.datetime]
    site: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(16))
    indication: Mapped[str] = mapped_column(String(32))
    operator: Mapped[str | None] = mapped_column(String(200))
    anesthesia: Mapped[str] = mapped_column(String(32))
    needle: Mapped[str | None] = mapped_column(String(100))
    duration_min: Mapped[int | None]

    complications: Mapped[list[ComplicationRow]] = relationship(
        order_by="ComplicationRow.id", cascade="all, delete-orphan"
    )


class ComplicationRow(Base):
    __tablename__ = "complication"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedure.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(32))
    follow_up: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    onset_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))


class SpecimenRow(Base):
    __tablename__ = "specimen"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    accession: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    #: Null for a blood draw not tied to a marrow procedure.
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedure.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    collected_at: Mapped[dt.datetime]
    first_pull: Mapped[bool | None] = mapped_column(Boolean)
    spicules: Mapped[bool | None] = mapped_column(Boolean)
    hemodilution: Mapped[str | None] = mapped_column(String(16))
    core_length_mm: Mapped[Decimal | None]
    fragmentation: Mapped[str | None] = mapped_column(String(16))
    #: The §8 adequacy call made when the specimen was recorded (criteria/procedure.py):
    #: category, and the whole explained call (flags, reasons, rule set, edition, software).
    adequacy: Mapped[str | None] = mapped_column(String(32))
    adequacy_call: Mapped[dict[str, Any] | None]


class ProcedurePlanRow(Base):
    """A planned procedure: planned → done (``procedure_id`` set) or cancelled (with reason)."""

    __tablename__ = "procedure_plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    planned_for: Mapped[dt.datetime]
    indication: Mapped[str] = mapped_column(String(32))
    site: Mapped[str] = mapped_column(String(32))
    operator: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    emergency_reason: Mapped[str | None] = mapped_column(Text)
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedure.id"), unique=True)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(200))


class ProcedureChecklistRow(Base):
    """One version of a plan's pre-procedure checklist with the §10 decision made on it.
    A change adds a version (re-evaluated); versions are never edited."""

    __tablename__ = "procedure_checklist"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("procedure_plan.id"), index=True)
    version: Mapped[int]
    checklist: Mapped[dict[str, Any]]
    decision: Mapped[str] = mapped_column(String(32))
    evaluation: Mapped[dict[str, Any]]
    recorded_at: Mapped[dt.datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))


class ProcedureConsentRow(Base):
    __tablename__ = "procedure_consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("procedure_plan.id"), unique=True)
    given_by: Mapped[str] = mapped_column(String(32))
    giver_name: Mapped[str | None] = mapped_column(String(200))
    taken_by: Mapped[str] = mapped_column(String(200))
    consented_at: Mapped[dt.datetime]
    leaflet_version: Mapped[str] = mapped_column(String(32))
    risks_discussed: Mapped[list[Any]]
    interpreter: Mapped[str | None] = mapped_column(String(200))
    signature: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[dt.datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))


class PatientAccountRow(Base):
    """A ``patient`` account and the one patient record it may read (docs/patients.md)."""

    __tablename__ = "patient_account"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    linked_at: Mapped[dt.datetime]
    linked_by: Mapped[str] = mapped_column(String(200))


class ResultReleaseRow(Base):
    """A procedure's results released to the patient by a clinician: once, never undone."""

    __tablename__ = "result_release"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedure.id"), unique=True)
    released_at: Mapped[dt.datetime]
    released_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)


class ResultRow(Base):
    """One version of one result. Versions of a result share the natural key columns."""

    __tablename__ = "result"
    __table_args__ = (
        UniqueConstraint(
            "patient_id",
            "specimen_id",
            "kind",
            "analyte",
            "collected_on",
            "version",
            name="uq_result_natural_key_version",
        ),
        Index("ix_result_patient_kind_date", "patient_id", "kind", "collected_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    specimen_id: Mapped[int] = mapped_column(ForeignKey("specimen.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: Tells results of one kind on one specimen apart (gene+HGVS, MRD marker, lineage…).
    analyte: Mapped[str] = mapped_column(String(200))
    collected_on: Mapped[dt.date]
    version: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), index=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("result.id"), unique=True)
    value: Mapped[dict[str, Any]]
    #: The result's headline number (blast %, MRD %, VAF …) as a float for sorting, filtering
    #: and charts; the exact reported Decimal stays in ``value``.
    headline_value: Mapped[float | None] = mapped_column(Float)
    headline_unit: Mapped[str | None] = mapped_column(String(16))
    headline_qualifier: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    verified_by: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[dt.datetime | None]
    amended_by: Mapped[str | None] = mapped_column(String(200))
    amended_at: Mapped[dt.datetime | None]
    amendment_reason: Mapped[str | None] = mapped_column(Text)


class ClinicalExamRow(Base):
    """One version of a patient's clinical examination on a date (migration 0022): lymph nodes,
    liver and spleen, constitutional symptoms (``value``: the domain ``ClinicalExam``). A
    patient-and-date fact recorded by a clinician, not a specimen's result. Append-only: an
    amendment adds the next version (``supersedes_id``, reason); database triggers refuse
    UPDATE and DELETE."""

    __tablename__ = "clinical_exam"
    __table_args__ = (UniqueConstraint("patient_id", "examined_on", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    examined_on: Mapped[dt.date]
    version: Mapped[int]
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("clinical_exam.id"), unique=True)
    value: Mapped[dict[str, Any]]
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime]
    amendment_reason: Mapped[str | None] = mapped_column(Text)


class AssessmentRow(Base):
    """A criteria assessment; append-only (a new edition or engine version adds a row)."""

    __tablename__ = "assessment"
    __table_args__ = (
        UniqueConstraint(
            "patient_id",
            "assessed_on",
            "ruleset",
            "call_kind",
            "criteria_edition",
            "revision",
            "software_version",
            "inputs_digest",
            name="uq_assessment_natural_key",
        ),
        # Migration 0024: the response calls' categories, one index probe each (the patient
        # search's response filter). Partial, so that no other query is planned on it.
        Index(
            "ix_assessment_response_category",
            "category",
            sqlite_where=text("call_kind = 'response'"),
            postgresql_where=text("call_kind = 'response'"),
        ),
        # Migration 0027: the relapse calls' categories, probed for the same filter's choices.
        Index(
            "ix_assessment_relapse_category",
            "category",
            sqlite_where=text("call_kind = 'relapse'"),
            postgresql_where=text("call_kind = 'relapse'"),
        ),
        # Migration 0029: the progression calls' categories, probed likewise (a myeloma
        # progression stands in for a later response too).
        Index(
            "ix_assessment_progression_category",
            "category",
            sqlite_where=text("call_kind = 'progression'"),
            postgresql_where=text("call_kind = 'progression'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    assessed_on: Mapped[dt.date]
    category: Mapped[str] = mapped_column(String(64))
    ruleset: Mapped[str] = mapped_column(String(64))
    criteria_edition: Mapped[str] = mapped_column(String(64))
    matched_rule: Mapped[str | None] = mapped_column(String(200))
    #: A JSON list of comparisons (stored in the column created as ``evidence`` in 0001).
    evidence: Mapped[list[Any]] = mapped_column(json_type())
    missing_inputs: Mapped[list[Any]]
    software_version: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[dt.datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))
    # Added in migration 0002.
    citation: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[Any]]
    params: Mapped[dict[str, Any]]
    # Added in migration 0003: which call of a timeline (baseline, response, relapse, landmark,
    # mrd, mrd_event, chimerism; '' for a single evaluation) and a hash of its evidence, so an
    # amended input makes a new row instead of a conflict.
    call_kind: Mapped[str] = mapped_column(String(32), default="")
    inputs_digest: Mapped[str] = mapped_column(String(64), default="")
    # Added in migration 0031: the restatement of the call (patient, date, call kind, rule set,
    # edition) this row belongs to, 1 for its first. A call computed differently from its
    # latest revision is stored again, whole, as the next one, so evidence stored before (A,
    # then B, then A again) can be current again.
    revision: Mapped[int] = mapped_column(default=1, server_default=text("1"))


class AlertRow(Base):
    """A clinical alert raised by an assessment run (relapse, MRD conversion, …); migration 0003.

    Not append-only: acknowledging sets the ``acknowledged_*`` columns (and is audited)."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint(
            "patient_id",
            "raised_on",
            "code",
            "ruleset",
            "software_version",
            name="uq_alert_natural_key",
        ),
        # Migration 0025: the open (or withdrawn, acknowledged) alerts newest first, so that the
        # alerts inbox stops at its page instead of sorting every open alert.
        Index("ix_alert_status_raised", "acknowledged_at", "withdrawn_at", "raised_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    raised_on: Mapped[dt.date]
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    ruleset: Mapped[str] = mapped_column(String(64))
    software_version: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[dt.datetime]
    raised_by: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)
    # Migration 0004: set when a later assessment no longer raises this alert.
    withdrawn_at: Mapped[dt.datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    #: Migration 0013: who withdrew it (the clinician, or whoever ran the re-assessment).
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))


class AuditEventRow(Base):
    """Append-only: database triggers refuse UPDATE and DELETE (see the initial migration).

    Tamper-evident since migration 0007: each event carries the hash of the one before it and
    its own (:mod:`trephine.store.audit_chain`). Written only by ``services.audit.append``."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]]
    # Migration 0007: the hash chain (hex SHA-256; see trephine.store.audit_chain).
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# --------------------------------------------------------------------------- accounts (0006)
# Secrets are never stored: passwords as argon2id hashes, session ids and API tokens as SHA-256
# digests of 256-bit random values (a leaked table cannot be replayed as a cookie or a token).


class UserRow(Base):
    """One person (H1: no shared accounts). ``password_hash`` is None for OIDC-only accounts."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: ``issuer|subject`` of an OpenID Connect identity signed in as this user.
    oidc_subject: Mapped[str | None] = mapped_column(String(512), unique=True)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    disabled_at: Mapped[dt.datetime | None]


class SessionRow(Base):
    """A signed-in browser: the cookie carries a random id, the table its SHA-256 digest."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    ended_reason: Mapped[str | None] = mapped_column(String(32))


class ApiTokenRow(Base):
    """A bearer token for scripts, acting as its user with that user's role."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]


class SignInFailureRow(Base):
    """A failed sign-in, for throttling per account and per client address.

    ``account`` is the SHA-256 digest of the name typed (a password typed into the name field
    must not be stored readable).
    """

    __tablename__ = "sign_in_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(index=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    client_address: Mapped[str] = mapped_column(String(64), index=True)


class AuditChainLockRow(Base):
    """One row (id 1) that every audit append updates first, so appends are serialized and the
    chain cannot fork (migration 0007). Holds no data; the application role may update it."""

    __tablename__ = "audit_chain_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holds: Mapped[int] = mapped_column(Integer, default=0)


class SiteSecretRow(Base):
    """A random secret this database made for itself, one per purpose (migration 0020): the
    ``export`` key of research pseudonyms and date shifts when ``TREPHINE_EXPORT_KEY`` is not
    set. Made once, never changed; read and written only by ``services/site_secret.py``."""

    __tablename__ = "site_secret"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]

    def __repr__(self) -> str:  # never the secret, whatever prints a row
        return f"<SiteSecretRow {self.name}>"


class PendingSignatureRow(Base):
    """An electronic signature waiting for its signer's fresh login at the identity provider
    (migration 0021; written and taken only by ``services/pending_signatures.py``). The key the
    browser holds and the flow's ``state`` and ``nonce`` are stored as SHA-256 digests only;
    ``detail`` is what to sign (a result id, an amendment's fields, a report's text)."""

    __tablename__ = "pending_signature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state_hash: Mapped[str] = mapped_column(String(64))
    nonce_hash: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(200))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("user_session.id"))
    subject: Mapped[str] = mapped_column(String(512))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]]
    started_at: Mapped[dt.datetime] = mapped_column(index=True)


# --------------------------------------------------------------------------- cohorts (0009)


class CohortRow(Base):
    """One version of a saved cohort definition; never edited (a change adds a version)."""

    __tablename__ = "cohort"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]]
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]


class CohortEvaluationRow(Base):
    """One evaluation of a cohort version: who, when, and the member list it found."""

    __tablename__ = "cohort_evaluation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id"), index=True)
    evaluated_by: Mapped[str] = mapped_column(String(200))
    evaluated_at: Mapped[dt.datetime]
    members: Mapped[list[Any]]
    size: Mapped[int]


# --------------------------------------------------------------------- marrow reports (0010)


class ReportVersionRow(Base):
    """One issued version of a procedure's integrated marrow report; append-only (triggers)."""

    __tablename__ = "report_version"
    __table_args__ = (UniqueConstraint("procedure_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedure.id"), index=True)
    version: Mapped[int]
    #: preliminary, final, amended, corrected or addended (domain/report.py).
    status: Mapped[str] = mapped_column(String(16))
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[dt.datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    interpretation: Mapped[str | None] = mapped_column(Text)
    diagnosis: Mapped[str | None] = mapped_column(Text)
    diagnosis_classification: Mapped[str | None] = mapped_column(String(32))
    comments: Mapped[str | None] = mapped_column(Text)
    #: Ids of the result *versions* (rows of ``result``) this version reported.
    result_ids: Mapped[list[Any]]
    content_sha256: Mapped[str] = mapped_column(String(64))


class ReportDiscussionRow(Base):
    """A record that a report version was discussed with the patient (who, with whom, when)."""

    __tablename__ = "report_discussion"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_version_id: Mapped[int] = mapped_column(ForeignKey("report_version.id"), index=True)
    discussed_by: Mapped[str] = mapped_column(String(200))
    discussed_with: Mapped[str] = mapped_column(String(200))
    discussed_at: Mapped[dt.datetime]
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime]


# ------------------------------------------------------------------- lab orders (0011, issue 10)


class LabOrderRow(Base):
    """The lab order of one biopsy procedure: who asked for which studies, and why."""

    __tablename__ = "lab_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedure.id"), unique=True)
    ordered_at: Mapped[dt.datetime]
    ordered_by: Mapped[str] = mapped_column(String(200))
    indication: Mapped[str | None] = mapped_column(Text)


class LabStudyRow(Base):
    """One requested study of an order and where it is in ``domain/orders.STUDY_TRANSITIONS``;
    who and when at every step (``<step>_by``/``<step>_at``)."""

    __tablename__ = "lab_study"
    __table_args__ = (UniqueConstraint("order_id", "study"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("lab_order.id"), index=True)
    study: Mapped[str] = mapped_column(String(32))
    section: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    #: The specimen the study is done on (set when it is collected).
    specimen_id: Mapped[int | None] = mapped_column(ForeignKey("specimen.id"), index=True)
    ordered_at: Mapped[dt.datetime]
    ordered_by: Mapped[str] = mapped_column(String(200))
    collected_at: Mapped[dt.datetime | None]
    collected_by: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[dt.datetime | None]
    received_by: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[dt.datetime | None]
    started_by: Mapped[str | None] = mapped_column(String(200))
    reported_at: Mapped[dt.datetime | None]
    reported_by: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[dt.datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancel_reason: Mapped[str | None] = mapped_column(Text)


class ElectronicSignatureRow(Base):
    """A 21 CFR Part 11 electronic signature (clinical-systems.md §6.3 P6-P8): the signer's
    name, the time, the meaning, how they re-authenticated, and a SHA-256 of the signed
    content, so a signature cannot be moved to another record. Append-only for the app role."""

    __tablename__ = "electronic_signature"
    __table_args__ = (Index("ix_electronic_signature_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    signer: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[dt.datetime]
    meaning: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))


class EntryDraftRow(Base):
    """A result entry form saved part-way (any text, unvalidated) to be resumed later; deleted
    when the result is recorded. Not a result: nothing reads it but the entry form."""

    __tablename__ = "entry_draft"
    __table_args__ = (UniqueConstraint("specimen_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    specimen_id: Mapped[int] = mapped_column(ForeignKey("specimen.id"))
    kind: Mapped[str] = mapped_column(String(32))
    fields: Mapped[dict[str, Any]]
    saved_by: Mapped[str] = mapped_column(String(200))
    saved_at: Mapped[dt.datetime]


class StudyRow(Base):
    """A research study (issue 12): arms, enrolments and a visit schedule hang from it."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]


class StudyArmRow(Base):
    __tablename__ = "study_arm"
    __table_args__ = (UniqueConstraint("study_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)


class StudyVisitRow(Base):
    """One visit of a study's schedule: ``day`` days after ``anchor``, ± ``window`` days."""

    __tablename__ = "study_visit"
    __table_args__ = (UniqueConstraint("study_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    anchor: Mapped[str] = mapped_column(String(16))
    day: Mapped[int]
    window: Mapped[int]


class StudyEnrolmentRow(Base):
    """A patient on one arm of a study (once per study), with their research consent."""

    __tablename__ = "study_enrolment"
    __table_args__ = (UniqueConstraint("study_id", "patient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    arm_id: Mapped[int] = mapped_column(ForeignKey("study_arm.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    enrolled_on: Mapped[dt.date]
    research_consent: Mapped[bool] = mapped_column(Boolean)
    consent_on: Mapped[dt.date | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]


class StudyVisitMappingRow(Base):
    """A hand mapping of a visit of one enrolment to a procedure (or to none): append-only, the
    newest per (enrolment, visit) stands and overrides the window mapping."""

    __tablename__ = "study_visit_mapping"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("study_enrolment.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("study_visit.id"))
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedure.id"))
    reason: Mapped[str] = mapped_column(Text)
    mapped_by: Mapped[str] = mapped_column(String(200))
    mapped_at: Mapped[dt.datetime]
