"""Reading the append-only audit trail."""

from __future__ import annotations

from sqlalchemy import select

from trephine.services.views import AuditEvent
from trephine.store.database import UnitOfWork
from trephine.store.tables import AuditEventRow


def events(
    uow: UnitOfWork, entity: str | None = None, entity_id: object | None = None
) -> list[AuditEvent]:
    query = select(AuditEventRow).order_by(AuditEventRow.id)
    if entity is not None:
        query = query.where(AuditEventRow.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEventRow.entity_id == str(entity_id))
    return [
        AuditEvent(r.id, r.occurred_at, r.actor, r.action, r.entity, r.entity_id, dict(r.detail))
        for r in uow.session.scalars(query)
    ]
