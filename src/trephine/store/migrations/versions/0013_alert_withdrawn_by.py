"""Who withdrew an alert is a column, ``alert.withdrawn_by``, not words inside the reason.

Until now a clinician's withdrawal stored ``"NOTE (withdrawn by USER)"`` in ``withdrawn_reason``
and an automatic one (a re-assessment no longer raising the alert) stored nobody. The upgrade
moves the name out of the reason for rows written that way (the note is kept as written before
the suffix) and leaves ``withdrawn_by`` empty for the others; the downgrade puts the suffix back.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

_SUFFIX = re.compile(r"^(?P<note>.*) \(withdrawn by (?P<user>[^()]+)\)$", re.DOTALL)
_alert = sa.table(
    "alert",
    sa.column("id", sa.Integer),
    sa.column("withdrawn_reason", sa.Text),
    sa.column("withdrawn_by", sa.String(200)),
)


def upgrade() -> None:
    op.add_column("alert", sa.Column("withdrawn_by", sa.String(200), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_alert.c.id, _alert.c.withdrawn_reason).where(
            _alert.c.withdrawn_reason.like("% (withdrawn by %)")
        )
    ).all()
    for alert_id, reason in rows:
        found = _SUFFIX.match(reason)
        if found is None:
            continue
        connection.execute(
            sa.update(_alert)
            .where(_alert.c.id == alert_id)
            .values(withdrawn_reason=found["note"], withdrawn_by=found["user"])
        )


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_alert.c.id, _alert.c.withdrawn_reason, _alert.c.withdrawn_by).where(
            _alert.c.withdrawn_by.is_not(None)
        )
    ).all()
    for alert_id, reason, user in rows:
        connection.execute(
            sa.update(_alert)
            .where(_alert.c.id == alert_id)
            .values(withdrawn_reason=f"{reason} (withdrawn by {user})")
        )
    # The alert table has no triggers, so batch mode (a rebuild on SQLite) loses nothing.
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("withdrawn_by")
