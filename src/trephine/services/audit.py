"""Reading the append-only audit trail."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from trephine.services.views import AuditEvent
from trephine.store.database import UnitOfWork
from trephine.store.tables import AuditEventRow


def events(
    uow: UnitOfWork,
    entity: str | None = None,
    entity_id: object | None = None,
    *,
    actor: str | None = None,
    since: dt.datetime | None = None,
) -> list[AuditEvent]:
    """Audit events, oldest first, narrowed by the database (the trail grows without bound, so
    reading all of it to keep a few events is not an option).

    ``since`` is an aware instant; events at or after it are kept.
    """
    query = select(AuditEventRow).order_by(AuditEventRow.id)
    if entity is not None:
        query = query.where(AuditEventRow.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEventRow.entity_id == str(entity_id))
    if actor is not None:
        query = query.where(AuditEventRow.actor == actor)
    if since is not None:
        query = query.where(AuditEventRow.occurred_at >= since)
    return [
        AuditEvent(r.id, r.occurred_at, r.actor, r.action, r.entity, r.entity_id, dict(r.detail))
        for r in uow.session.scalars(query)
    ]
