"""Procedures and specimens. Idempotent on natural keys (patient + performed_at; accession)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from trephine.domain.procedure import Procedure
from trephine.domain.specimen import Specimen
from trephine.errors import Conflict, ValidationError
from trephine.services import _rows
from trephine.store.database import UnitOfWork
from trephine.store.tables import ComplicationRow, ProcedureRow, SpecimenRow


def record_procedure(uow: UnitOfWork, external_id: str, procedure: Procedure) -> tuple[int, bool]:
    patient = _rows.patient_row(uow, external_id)
    row = uow.session.scalar(
        select(ProcedureRow).where(
            ProcedureRow.patient_id == patient.id,
            ProcedureRow.performed_at == procedure.performed_at,
        )
    )
    key = f"{external_id} {procedure.performed_at.isoformat()}"
    if row is not None:
        existing = _rows.to_procedure(row)
        if existing != procedure:
            for name in vars(procedure):
                if getattr(existing, name) != getattr(procedure, name):
                    raise Conflict(
                        "procedure", key, name, getattr(existing, name), getattr(procedure, name)
                    )
        return row.id, False
    row = ProcedureRow(
        patient_id=patient.id,
        performed_at=procedure.performed_at,
        site=str(procedure.site),
        side=str(procedure.side),
        indication=str(procedure.indication),
        operator=procedure.operator,
        anesthesia=str(procedure.anesthesia),
        needle=procedure.needle,
        duration_min=procedure.duration_min,
        complications=[
            ComplicationRow(
                kind=str(c.kind),
                severity=str(c.severity),
                follow_up=c.follow_up,
                description=c.description,
            )
            for c in procedure.complications
        ],
    )
    uow.session.add(row)
    uow.session.flush()
    uow.audit("create", "procedure", row.id, {"patient": external_id, "key": key})
    return row.id, True


def procedure_id_at(uow: UnitOfWork, external_id: str, performed_at: dt.datetime) -> int | None:
    """The id of the patient's procedure performed at that instant, if recorded."""
    patient = _rows.patient_row(uow, external_id)
    return uow.session.scalar(
        select(ProcedureRow.id).where(
            ProcedureRow.patient_id == patient.id,
            ProcedureRow.performed_at == performed_at,
        )
    )


def add_specimen(
    uow: UnitOfWork, external_id: str, specimen: Specimen, procedure_id: int | None = None
) -> tuple[int, bool]:
    """Add a specimen (key: accession), optionally taken at ``procedure_id``.

    A specimen from a procedure must be collected on the procedure's day (a same-day blood draw
    counts): a date mismatch nearly always means the wrong procedure row was linked.
    """
    patient = _rows.patient_row(uow, external_id)
    if procedure_id is not None:
        proc = uow.session.get(ProcedureRow, procedure_id)
        if proc is None or proc.patient_id != patient.id:
            raise ValidationError(
                "procedure", procedure_id, f"a procedure of patient {external_id}"
            )
        if _rows.day(proc.performed_at) != specimen.collected_on:
            raise ValidationError(
                "collected_at",
                specimen.collected_at.isoformat(),
                f"the procedure day {_rows.day(proc.performed_at)}",
            )
    row = uow.session.scalar(select(SpecimenRow).where(SpecimenRow.accession == specimen.accession))
    if row is not None:
        if row.patient_id != patient.id:
            raise Conflict(
                "specimen", specimen.accession, "patient", "another patient", external_id
            )
        existing = _rows.to_specimen(row)
        for name in vars(specimen):
            if getattr(existing, name) != getattr(specimen, name):
                raise Conflict(
                    "specimen",
                    specimen.accession,
                    name,
                    getattr(existing, name),
                    getattr(specimen, name),
                )
        if row.procedure_id != procedure_id:
            raise Conflict(
                "specimen", specimen.accession, "procedure", row.procedure_id, procedure_id
            )
        return row.id, False
    row = SpecimenRow(
        accession=specimen.accession,
        patient_id=patient.id,
        procedure_id=procedure_id,
        type=str(specimen.type),
        collected_at=specimen.collected_at,
        first_pull=specimen.first_pull,
        spicules=specimen.spicules,
        hemodilution=None if specimen.hemodilution is None else str(specimen.hemodilution),
        core_length_mm=specimen.core_length_mm,
        fragmentation=None if specimen.fragmentation is None else str(specimen.fragmentation),
    )
    uow.session.add(row)
    uow.session.flush()
    uow.audit(
        "create",
        "specimen",
        specimen.accession,
        {"patient": external_id, "type": str(specimen.type)},
    )
    return row.id, True
