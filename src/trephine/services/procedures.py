"""Procedures and specimens. Idempotent on natural keys (patient + performed_at; accession).

Each writer has a batch form (``record_procedures``, ``add_specimens``) that reads the keys of
many facts in a few queries and inserts the new ones with one executemany; the one-fact writers
are that batch of one (see :mod:`trephine.services._batch`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from trephine.criteria.procedure import specimen_adequacy
from trephine.domain.procedure import Complication, Procedure
from trephine.domain.specimen import Specimen
from trephine.errors import Conflict, NotFound, TrephineError, ValidationError
from trephine.services import _rows
from trephine.services._batch import (
    Answer,
    Events,
    Outcome,
    Written,
    chunks,
    in_runs,
    insert_rows,
    patient_ids,
    resolved,
)
from trephine.store.database import UnitOfWork
from trephine.store.tables import ComplicationRow, ProcedureRow, SpecimenRow


def complication_columns(c: Complication) -> dict[str, Any]:
    """The complication table's columns for ``c`` (one place for every writer)."""
    return {
        "kind": str(c.kind),
        "severity": str(c.severity),
        "follow_up": c.follow_up,
        "description": c.description,
        "onset_at": c.onset_at,
        "outcome": None if c.outcome is None else str(c.outcome),
    }


def site_adequacy_params() -> dict[str, Any]:
    """The site's §8 adequacy parameters (``TREPHINE_SPECIMEN_ADEQUACY_PARAMS``)."""
    from trephine.settings import get_settings

    return dict(get_settings().specimen_adequacy_params)


def adequacy_columns(specimen: Specimen, params: dict[str, Any]) -> dict[str, Any]:
    """The stored §8 adequacy call of ``specimen`` (None for blood and clot sections)."""
    call = specimen_adequacy(specimen, params)
    if call is None:
        return {"adequacy": None, "adequacy_call": None}
    return {"adequacy": call.category, "adequacy_call": call.as_dict()}


def _one(answer: Answer) -> Written:
    if isinstance(answer, TrephineError):
        raise answer
    return answer


def record_procedure(uow: UnitOfWork, external_id: str, procedure: Procedure) -> tuple[int, bool]:
    row_id, outcome = _one(record_procedures(uow, [(external_id, procedure)])[0])
    return row_id, outcome is Outcome.CREATED


def _procedures_of(
    uow: UnitOfWork, patient_row_ids: set[int]
) -> dict[tuple[int, dt.datetime], Any]:
    """Recorded procedures of these patients by (patient row id, performed_at), each with its
    complications, read in two queries per chunk of patients."""
    procedures = ProcedureRow.__table__
    complications = ComplicationRow.__table__
    found: dict[tuple[int, dt.datetime], Any] = {}
    for batch in chunks(sorted(patient_row_ids)):
        rows = {
            row.id: SimpleNamespace(**row._mapping, complications=[])
            for row in uow.session.execute(
                select(procedures).where(procedures.c.patient_id.in_(batch))
            )
        }
        for ids in chunks(sorted(rows)):
            for c in uow.session.execute(
                select(complications)
                .where(complications.c.procedure_id.in_(ids))
                .order_by(complications.c.id)
            ):
                rows[c.procedure_id].complications.append(c)
        for row in rows.values():
            found[(row.patient_id, row.performed_at)] = row
    return found


def record_procedures(uow: UnitOfWork, items: Sequence[tuple[str, Procedure]]) -> list[Answer]:
    """Batch :func:`record_procedure`: per item ``(row id, outcome)`` or the error refusing it."""
    return in_runs(uow, items, lambda i: (i[0], i[1].performed_at), _procedures_run)


def _procedures_run(uow: UnitOfWork, items: Sequence[tuple[str, Procedure]]) -> list[Answer]:
    uow.session.flush()
    ids = patient_ids(uow, (pid for pid, _ in items))
    existing = _procedures_of(uow, set(ids.values()))
    new: list[dict[str, Any]] = []
    events = Events()
    answers: list[Answer | int] = []
    for external_id, procedure in items:
        if external_id not in ids:
            answers.append(NotFound("patient", external_id))
            continue
        key = f"{external_id} {procedure.performed_at.isoformat()}"
        row = existing.get((ids[external_id], procedure.performed_at))
        if row is not None:
            recorded = _rows.to_procedure(row)
            changed = next(
                (n for n in vars(procedure) if getattr(recorded, n) != getattr(procedure, n)),
                None,
            )
            if changed is not None:
                answers.append(
                    Conflict(
                        "procedure",
                        key,
                        changed,
                        getattr(recorded, changed),
                        getattr(procedure, changed),
                    )
                )
            else:
                answers.append((row.id, Outcome.UNCHANGED))
            continue
        events.add_new("create", "procedure", len(new), {"patient": external_id, "key": key})
        answers.append(len(new))
        new.append(
            {
                "patient_id": ids[external_id],
                "performed_at": procedure.performed_at,
                "site": str(procedure.site),
                "side": str(procedure.side),
                "indication": str(procedure.indication),
                "operator": procedure.operator,
                "anesthesia": str(procedure.anesthesia),
                "needle": procedure.needle,
                "duration_min": procedure.duration_min,
            }
        )
    new_ids = insert_rows(uow, ProcedureRow, new)
    complications = []
    for (_, procedure), answer in zip(items, answers, strict=True):
        if isinstance(answer, int):
            complications += [
                {"procedure_id": new_ids[answer], **complication_columns(c)}
                for c in procedure.complications
            ]
    insert_rows(uow, ComplicationRow, complications)
    events.append(uow, new_ids)
    return resolved(answers, new_ids)


def procedure_id_at(uow: UnitOfWork, external_id: str, performed_at: dt.datetime) -> int | None:
    """The id of the patient's procedure performed at that instant, if recorded."""
    _rows.patient_row(uow, external_id)  # an unknown patient is NotFound, not "no procedure"
    return procedure_ids_at(uow, [(external_id, performed_at)]).get((external_id, performed_at))


def procedure_ids_at(
    uow: UnitOfWork, keys: Sequence[tuple[str, dt.datetime]]
) -> dict[tuple[str, dt.datetime], int]:
    """Ids of the recorded procedures among (patient, performed_at) ``keys``, in a few queries;
    keys of unknown patients or procedures are left out."""
    uow.session.flush()
    ids = patient_ids(uow, {pid for pid, _ in keys})
    external = {row_id: pid for pid, row_id in ids.items()}
    procedures = ProcedureRow.__table__
    found: dict[tuple[str, dt.datetime], int] = {}
    for batch in chunks(sorted(ids.values())):
        for row in uow.session.execute(
            select(procedures.c.id, procedures.c.patient_id, procedures.c.performed_at).where(
                procedures.c.patient_id.in_(batch)
            )
        ):
            found[(external[row.patient_id], row.performed_at)] = row.id
    return {key: found[key] for key in keys if key in found}


def add_specimen(
    uow: UnitOfWork, external_id: str, specimen: Specimen, procedure_id: int | None = None
) -> tuple[int, bool]:
    """Add a specimen (key: accession), optionally taken at ``procedure_id``.

    A specimen from a procedure must be collected on the procedure's day (a same-day blood draw
    counts): a date mismatch nearly always means the wrong procedure row was linked.
    """
    row_id, outcome = _one(add_specimens(uow, [(external_id, specimen, procedure_id)])[0])
    return row_id, outcome is Outcome.CREATED


def add_specimens(
    uow: UnitOfWork, items: Sequence[tuple[str, Specimen, int | None]]
) -> list[Answer]:
    """Batch :func:`add_specimen`: per item ``(row id, outcome)`` or the error refusing it."""
    return in_runs(uow, items, lambda i: i[1].accession, _specimens_run)


def _specimens_run(
    uow: UnitOfWork, items: Sequence[tuple[str, Specimen, int | None]]
) -> list[Answer]:
    session = uow.session
    session.flush()
    adequacy_params = site_adequacy_params()
    calls: dict[tuple[Any, ...], dict[str, Any]] = {}

    def adequacy(specimen: Specimen) -> dict[str, Any]:
        """:func:`adequacy_columns`, worked out once per distinct set of the facts it reads
        (most specimens of an import share them); the length by its text, since ``15`` and
        ``15.0`` mm are equal numbers but are quoted as written in the call's reasons."""
        length = specimen.core_length_mm
        key = (
            specimen.type,
            specimen.spicules,
            specimen.first_pull,
            specimen.hemodilution,
            None if length is None else str(length),
        )
        found = calls.get(key)
        if found is None:
            found = calls[key] = adequacy_columns(specimen, adequacy_params)
        return found

    ids = patient_ids(uow, (pid for pid, _, _ in items))
    procedures = ProcedureRow.__table__
    linked: dict[int, Any] = {}
    for batch in chunks(sorted({p for _, _, p in items if p is not None})):
        for row in session.execute(
            select(procedures.c.id, procedures.c.patient_id, procedures.c.performed_at).where(
                procedures.c.id.in_(batch)
            )
        ):
            linked[row.id] = row
    specimens = SpecimenRow.__table__
    existing: dict[str, Any] = {}
    for accessions in chunks(s.accession for _, s, _ in items):
        for row in session.execute(select(specimens).where(specimens.c.accession.in_(accessions))):
            existing[row.accession] = row
    new: list[dict[str, Any]] = []
    events = Events()
    answers: list[Answer | int] = []
    for external_id, specimen, procedure_id in items:
        try:
            answer = _specimen(external_id, specimen, procedure_id, ids, linked, existing)
        except TrephineError as exc:
            answers.append(exc)
            continue
        if answer is not None:
            answers.append(answer)
            continue
        events.add(
            "create",
            "specimen",
            specimen.accession,
            {"patient": external_id, "type": str(specimen.type)},
        )
        answers.append(len(new))
        new.append(
            {
                "accession": specimen.accession,
                "patient_id": ids[external_id],
                "procedure_id": procedure_id,
                "type": str(specimen.type),
                "collected_at": specimen.collected_at,
                "first_pull": specimen.first_pull,
                "spicules": specimen.spicules,
                "hemodilution": None
                if specimen.hemodilution is None
                else str(specimen.hemodilution),
                "core_length_mm": specimen.core_length_mm,
                "fragmentation": None
                if specimen.fragmentation is None
                else str(specimen.fragmentation),
                **adequacy(specimen),
            }
        )
    new_ids = insert_rows(uow, SpecimenRow, new)
    events.append(uow, new_ids)
    return resolved(answers, new_ids)


def _specimen(
    external_id: str,
    specimen: Specimen,
    procedure_id: int | None,
    ids: dict[str, int],
    linked: dict[int, Any],
    existing: dict[str, Any],
) -> Written | None:
    """The answer for a recorded specimen, None for a new one; raises what refuses it."""
    if external_id not in ids:
        raise NotFound("patient", external_id)
    patient_id = ids[external_id]
    if procedure_id is not None:
        proc = linked.get(procedure_id)
        if proc is None or proc.patient_id != patient_id:
            raise ValidationError(
                "procedure", procedure_id, f"a procedure of patient {external_id}"
            )
        if _rows.day(proc.performed_at) != specimen.collected_on:
            raise ValidationError(
                "collected_at",
                specimen.collected_at.isoformat(),
                f"the procedure day {_rows.day(proc.performed_at)}",
            )
    row = existing.get(specimen.accession)
    if row is None:
        return None
    if row.patient_id != patient_id:
        raise Conflict("specimen", specimen.accession, "patient", "another patient", external_id)
    recorded = _rows.to_specimen(row)
    for name in vars(specimen):
        if getattr(recorded, name) != getattr(specimen, name):
            raise Conflict(
                "specimen",
                specimen.accession,
                name,
                getattr(recorded, name),
                getattr(specimen, name),
            )
    if row.procedure_id != procedure_id:
        raise Conflict("specimen", specimen.accession, "procedure", row.procedure_id, procedure_id)
    return row.id, Outcome.UNCHANGED
