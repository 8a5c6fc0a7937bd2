"""The complication and adequacy rate report over the recorded procedures
(:mod:`trephine.analysis.cohort.procedure_rates` computes; this module only reads)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from trephine.analysis.cohort.procedure_rates import ProcedureFacts, Report, report
from trephine.criteria.procedure import AdequacyCall, specimen_adequacy
from trephine.domain.procedure import (
    Complication,
    ComplicationKind,
    ComplicationOutcome,
    ComplicationSeverity,
)
from trephine.services import _rows
from trephine.services._batch import chunks
from trephine.services.procedures import site_adequacy_params
from trephine.store.database import UnitOfWork
from trephine.store.tables import ComplicationRow, ProcedureRow, SpecimenRow

_QUALITY_TYPES = ("aspirate", "trephine core")


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
            if s.adequacy_call is not None:
                call = AdequacyCall.from_dict(s.adequacy_call)
            else:
                params = site_adequacy_params() if params is None else params
                made = specimen_adequacy(_rows.to_specimen(s), params)  # type: ignore[arg-type]
                assert made is not None  # aspirates and cores always get a call
                call = made
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
