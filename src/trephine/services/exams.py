"""Clinical examinations recorded by clinicians (lymph nodes, liver and spleen, constitutional
symptoms): the findings an iwCLL 2018 response needs besides blood and marrow.

An examination is a fact about a patient on a date, not a result of a specimen, so it lives in
its own table (``clinical_exam``), one row per version. It is never edited in place: a
correction is an amendment, the next version naming the one it supersedes and why, and both
stay readable (the table is append-only in the database). ``trephine assess`` reads the current
version of every examination together with the ``clinical_exam`` results imported on a specimen
(:meth:`trephine.assess.inputs.PatientInputs.clinical_exams`). Each write is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from trephine.domain.results import ClinicalExam, ResultKind
from trephine.errors import Conflict, NotFound, ValidationError
from trephine.services import _rows, audit
from trephine.store.codec import decode_result, encode_result
from trephine.store.database import UnitOfWork
from trephine.store.tables import ClinicalExamRow, PatientRow

#: The audit trail's name for an examination.
ENTITY = "clinical exam"


@dataclass(frozen=True)
class StoredExam:
    """One version of a patient's clinical examination."""

    id: int
    patient_id: str
    examined_on: dt.date
    version: int
    value: ClinicalExam
    recorded_by: str
    recorded_at: dt.datetime
    supersedes_id: int | None = None
    amendment_reason: str | None = None
    #: False once a later version supersedes this one.
    current: bool = True


def _decode(row: ClinicalExamRow) -> ClinicalExam:
    value = decode_result(str(ResultKind.CLINICAL_EXAM), row.value)
    assert isinstance(value, ClinicalExam)
    return value


def _view(row: ClinicalExamRow, patient_id: str, *, current: bool = True) -> StoredExam:
    return StoredExam(
        row.id,
        patient_id,
        row.examined_on,
        row.version,
        _decode(row),
        row.recorded_by,
        row.recorded_at,
        row.supersedes_id,
        row.amendment_reason,
        current,
    )


def examined_on_date(text: str | None, field: str = "examined_on") -> dt.date:
    """The examination date typed in a form or an option (YYYY-MM-DD)."""
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError(field, text, "a date as YYYY-MM-DD") from None


def _check_date(uow: UnitOfWork, examined_on: dt.date) -> None:
    today = uow.now().date()
    if examined_on > today:
        raise ValidationError(
            "examined_on", examined_on.isoformat(), f"a date on or before {today}"
        )


def _latest(uow: UnitOfWork, patient_id: int, examined_on: dt.date) -> ClinicalExamRow | None:
    return uow.session.scalar(
        select(ClinicalExamRow)
        .where(ClinicalExamRow.patient_id == patient_id, ClinicalExamRow.examined_on == examined_on)
        .order_by(ClinicalExamRow.version.desc())
        .limit(1)
    )


def _add_version(
    uow: UnitOfWork,
    patient: PatientRow,
    examined_on: dt.date,
    value: dict[str, object],
    action: str,
    detail: dict[str, object],
    supersedes: ClinicalExamRow | None = None,
    reason: str | None = None,
) -> ClinicalExamRow:
    """Write one version of an examination (the first, or the one after ``supersedes``) and its
    audit event: the patient, the date and the version, then ``detail``."""
    version = 1 if supersedes is None else supersedes.version + 1
    row = ClinicalExamRow(
        patient_id=patient.id,
        examined_on=examined_on,
        version=version,
        supersedes_id=None if supersedes is None else supersedes.id,
        value=value,
        recorded_by=uow.actor,
        recorded_at=uow.now(),
        amendment_reason=reason,
    )
    uow.session.add(row)
    uow.session.flush()
    where = {"patient": patient.external_id, "date": examined_on.isoformat()}
    audit.append(uow, audit.Entry(action, ENTITY, row.id, {**where, **detail, "version": version}))
    return row


def record_exam(
    uow: UnitOfWork, external_id: str, examined_on: dt.date, exam: ClinicalExam
) -> StoredExam:
    """Record the patient's examination of ``examined_on`` (version 1). One examination per
    patient and day: a second, different one is a :class:`Conflict` that says to amend it (the
    same one again is a no-op)."""
    patient = _rows.patient_row(uow, external_id)
    _check_date(uow, examined_on)
    existing = _latest(uow, patient.id, examined_on)
    if existing is not None:
        if _decode(existing) == exam:
            return _view(existing, external_id)
        raise Conflict(
            "clinical exam",
            f"{external_id} {examined_on}",
            "findings",
            f"version {existing.version} (id {existing.id}): amend it with a reason",
            "a second examination of the same day",
        )
    row = _add_version(uow, patient, examined_on, encode_result(exam), "record", {})
    return _view(row, external_id)


def amend_exam(uow: UnitOfWork, exam_id: int, exam: ClinicalExam, reason: str) -> StoredExam:
    """Add the next version of examination ``exam_id`` (the current one) with ``reason``; the
    amended version stays readable."""
    if not reason or not reason.strip():
        raise ValidationError("reason", reason, "a non-empty reason for the amendment")
    old = uow.session.get(ClinicalExamRow, exam_id)
    if old is None:
        raise NotFound("clinical exam", exam_id)
    latest = _latest(uow, old.patient_id, old.examined_on)
    assert latest is not None
    if latest.id != old.id:
        raise ValidationError(
            "exam", exam_id, f"the current version (id {latest.id})", reason="superseded"
        )
    old_json, new_json = old.value, encode_result(exam)
    changed = _rows.changed_fields(old_json, new_json)
    if not changed:
        raise ValidationError(
            "findings", "unchanged", "findings that differ from the current version"
        )
    patient = uow.session.get(PatientRow, old.patient_id)
    assert patient is not None
    row = _add_version(
        uow,
        patient,
        old.examined_on,
        new_json,
        "amend",
        {"supersedes": old.id, "reason": reason.strip(), "changed": changed},
        supersedes=old,
        reason=reason.strip(),
    )
    return _view(row, patient.external_id)


def patient_exams(uow: UnitOfWork, external_id: str) -> list[StoredExam]:
    """Every version of the patient's examinations, newest date first, then newest version."""
    patient = _rows.patient_row(uow, external_id)
    rows = list(
        uow.session.scalars(
            select(ClinicalExamRow)
            .where(ClinicalExamRow.patient_id == patient.id)
            .order_by(ClinicalExamRow.examined_on.desc(), ClinicalExamRow.version.desc())
        )
    )
    superseded = {r.supersedes_id for r in rows if r.supersedes_id is not None}
    return [_view(r, external_id, current=r.id not in superseded) for r in rows]


def get_exam(uow: UnitOfWork, exam_id: int) -> StoredExam:
    row = uow.session.get(ClinicalExamRow, exam_id)
    if row is None:
        raise NotFound("clinical exam", exam_id)
    patient = uow.session.get(PatientRow, row.patient_id)
    assert patient is not None
    later = uow.session.scalar(
        select(ClinicalExamRow.id).where(ClinicalExamRow.supersedes_id == row.id)
    )
    return _view(row, patient.external_id, current=later is None)
