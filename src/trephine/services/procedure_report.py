"""The complication and adequacy rate report over the recorded procedures
(:mod:`trephine.analysis.cohort.procedure_rates` computes; this module only reads), and one
recorded procedure with its complications and its specimens' adequacy calls
(:func:`procedure_record`, the API's ``GET /api/v1/procedures/{id}``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from trephine.analysis.cohort.procedure_rates import ProcedureFacts, Report, report
from trephine.criteria.procedure import AdequacyCall, specimen_adequacy
from trephine.domain.procedure import (
    Complication,
    ComplicationKind,
    ComplicationOutcome,
    ComplicationSeverity,
    Procedure,
)
from trephine.domain.specimen import Specimen
from trephine.errors import NotFound
from trephine.services import _rows
from trephine.services._batch import chunks
from trephine.services.procedures import site_adequacy_params
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    ComplicationRow,
    PatientRow,
    ProcedurePlanRow,
    ProcedureRow,
    SpecimenRow,
)

_QUALITY_TYPES = ("aspirate", "trephine core")


def _adequacy(row: Any, params: dict[str, Any] | None) -> AdequacyCall | None:
    """The stored §8 call of a specimen row; one stored before calls were stored is called now
    under ``params`` (the site's current parameters)."""
    if row.adequacy_call is not None:
        return AdequacyCall.from_dict(row.adequacy_call)
    return specimen_adequacy(_rows.to_specimen(row), params or site_adequacy_params())


def procedure_facts(uow: UnitOfWork) -> list[ProcedureFacts]:
    """Every recorded procedure with its complication counts and its specimens' adequacy.

    A specimen stored before adequacy calls were stored (no ``adequacy`` column value) is
    called now, under the site's current parameters.
    """
    procedures = ProcedureRow.__table__
    complications = ComplicationRow.__table__
    specimens = SpecimenRow.__table__
    rows = list(uow.session.execute(select(procedures).order_by(procedures.c.id)))
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    adequacy: dict[int, list[bool | None]] = defaultdict(list)
    params: dict[str, Any] | None = None
    for ids in chunks([r.id for r in rows]):
        for c in uow.session.execute(
            select(complications).where(complications.c.procedure_id.in_(ids))
        ):
            complication = Complication(
                ComplicationKind(c.kind),
                ComplicationSeverity(c.severity),
                outcome=None if c.outcome is None else ComplicationOutcome(c.outcome),
            )
            counts[c.procedure_id][0] += 1
            counts[c.procedure_id][1] += complication.serious
        for s in uow.session.execute(
            select(specimens).where(
                specimens.c.procedure_id.in_(ids), specimens.c.type.in_(_QUALITY_TYPES)
            )
        ):
            if s.adequacy_call is None and params is None:
                params = site_adequacy_params()
            call = _adequacy(s, params)
            assert call is not None  # aspirates and cores always get a call
            adequacy[s.procedure_id].append(
                None if call.category == "NOT_EVALUABLE" else call.adequate
            )
    return [
        ProcedureFacts(
            performed_on=_rows.day(r.performed_at),
            site=r.site,
            operator=r.operator,
            needle=r.needle,
            complications=counts[r.id][0],
            serious=counts[r.id][1],
            adequacy=tuple(adequacy[r.id]),
        )
        for r in rows
    ]


def procedure_report(uow: UnitOfWork, by: str | None = None) -> Report:
    """Complication, serious-complication and adequacy rates, overall and per ``by`` group."""
    return report(procedure_facts(uow), by)


@dataclass(frozen=True)
class SpecimenAdequacy:
    specimen: Specimen
    #: The §8 call (None for blood and other specimens that get none).
    call: AdequacyCall | None


@dataclass(frozen=True)
class ProcedureRecord:
    """One recorded procedure as the record holds it: the procedure with its complications
    (``complication_ids`` in the same order), its specimens with their adequacy calls, and the
    plan it closed when it was planned in Trephine."""

    id: int
    patient_id: str
    procedure: Procedure
    complication_ids: tuple[int, ...]
    specimens: tuple[SpecimenAdequacy, ...]
    plan_id: int | None


def procedure_record(uow: UnitOfWork, procedure_id: int) -> ProcedureRecord:
    """The recorded procedure ``procedure_id`` (:class:`NotFound` when there is none)."""
    row = uow.session.get(ProcedureRow, procedure_id)
    if row is None:
        raise NotFound("procedure", procedure_id)
    patient = uow.session.get_one(PatientRow, row.patient_id).external_id
    specimens = uow.session.scalars(
        select(SpecimenRow).where(SpecimenRow.procedure_id == row.id).order_by(SpecimenRow.id)
    )
    plan_id = uow.session.scalar(
        select(ProcedurePlanRow.id).where(ProcedurePlanRow.procedure_id == row.id).limit(1)
    )
    return ProcedureRecord(
        id=row.id,
        patient_id=patient,
        procedure=_rows.to_procedure(row),
        complication_ids=tuple(c.id for c in row.complications),
        specimens=tuple(
            SpecimenAdequacy(_rows.to_specimen(s), _adequacy(s, None)) for s in specimens
        ),
        plan_id=plan_id,
    )
