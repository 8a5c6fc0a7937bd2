"""The lab's entry forms: the specimen a form is for, a form saved part-way to be resumed, and
the current draft result a form edits (read models for ``web/lab.py``).

A saved form is not a result: any text, unchecked, one per specimen and result kind, kept until
the form is checked and recorded (then :func:`discard_form`). Nothing else reads it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from trephine.domain.results import ResultKind
from trephine.errors import NotFound, ValidationError
from trephine.services import _rows
from trephine.services.views import StoredResult
from trephine.store.database import UnitOfWork
from trephine.store.tables import EntryDraftRow, PatientRow, ResultRow, SpecimenRow
from trephine.workflow import ResultState


@dataclass(frozen=True)
class SpecimenRef:
    """A stored specimen as an entry form names it."""

    id: int
    accession: str
    type: str
    patient: str  #: the patient's research id


@dataclass(frozen=True)
class SavedForm:
    fields: dict[str, str]
    saved_by: str
    saved_at: dt.datetime


def specimen(uow: UnitOfWork, accession: str) -> SpecimenRef:
    """The specimen ``accession`` (NotFound naming it otherwise)."""
    found = uow.session.execute(
        select(SpecimenRow.id, SpecimenRow.accession, SpecimenRow.type, PatientRow.external_id)
        .join(PatientRow, PatientRow.id == SpecimenRow.patient_id)
        .where(SpecimenRow.accession == accession)
    ).first()
    if found is None:
        raise NotFound("specimen", accession)
    return SpecimenRef(found[0], found[1], found[2], found[3])


def _row(uow: UnitOfWork, specimen_id: int, kind: ResultKind) -> EntryDraftRow | None:
    return uow.session.scalar(
        select(EntryDraftRow).where(
            EntryDraftRow.specimen_id == specimen_id, EntryDraftRow.kind == str(kind)
        )
    )


def saved_form(uow: UnitOfWork, accession: str, kind: ResultKind) -> SavedForm | None:
    """The form of ``kind`` saved part-way on the specimen, if any."""
    row = _row(uow, specimen(uow, accession).id, kind)
    if row is None:
        return None
    return SavedForm({k: str(v) for k, v in row.fields.items()}, row.saved_by, row.saved_at)


def save_form(
    uow: UnitOfWork, accession: str, kind: ResultKind, fields: Mapping[str, str]
) -> SavedForm:
    """Keep the form as typed (replacing the one saved before), by the unit of work's actor.
    Unchecked, except that text with a control character is refused on its field (PostgreSQL
    cannot store a NUL; no edge accepts one)."""
    from trephine.io.tabular import control_character

    for name, text in fields.items():
        found_char = control_character(text)
        if found_char is not None:
            raise ValidationError(
                name, found_char, "text without control characters", reason="not saved"
            )
    found = specimen(uow, accession)
    row = _row(uow, found.id, kind)
    if row is None:
        row = EntryDraftRow(specimen_id=found.id, kind=str(kind), fields={})
        uow.session.add(row)
    row.fields = dict(fields)
    row.saved_by = uow.actor
    row.saved_at = uow.now()
    uow.session.flush()
    return SavedForm(dict(fields), row.saved_by, row.saved_at)


def discard_form(uow: UnitOfWork, accession: str, kind: ResultKind) -> None:
    """Forget the saved form (its result has been recorded)."""
    row = _row(uow, specimen(uow, accession).id, kind)
    if row is not None:
        uow.session.delete(row)


def current_draft(uow: UnitOfWork, accession: str, kind: ResultKind) -> StoredResult | None:
    """The specimen's one current draft result of ``kind`` (the form edits it); None for NGS
    variants, which are many per specimen."""
    if kind is ResultKind.NGS_VARIANT:
        return None
    found = specimen(uow, accession)
    row = uow.session.scalar(
        select(ResultRow).where(
            ResultRow.specimen_id == found.id,
            ResultRow.kind == str(kind),
            ResultRow.state == str(ResultState.DRAFT),
        )
    )
    return None if row is None else _rows.to_result(row, found.patient, found.accession)
