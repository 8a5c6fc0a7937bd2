"""Chain the audit trail: every event carries the hash of the one before it.

0001 made ``audit_event`` append-only with triggers, but append-only is not tamper-evident: a
forged INSERT was accepted, and on SQLite dropping a trigger, editing a row and recreating the
trigger left nothing to see. This revision adds ``prev_hash`` and ``hash`` (hex SHA-256 over the
frozen serialization in :mod:`trephine.store.audit_chain`), back-fills them for the existing
events in id order (0001's update guard is lifted for that one statement and put back), makes
them required for every new event, and adds ``audit_chain_lock``: the one row every append
updates first, so concurrent writers cannot link two events to the same predecessor.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trephine.store.audit_chain import GENESIS, chain
from trephine.store.types import UTCDateTime, json_type

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

#: 0001's SQLite update guard on audit_event, recreated exactly after the back-fill.
SQLITE_NO_UPDATE = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END"
)
UNCHAINED_MSG = "audit_event: an event must carry prev_hash and hash (the audit chain)"
#: How many events are read and re-written per round trip during the back-fill.
BATCH = 5000


def _backfill() -> None:
    bind = op.get_bind()
    audit = sa.table(
        "audit_event",
        sa.column("id", sa.Integer),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("entity", sa.String),
        sa.column("entity_id", sa.String),
        sa.column("detail", json_type()),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    prev, after = GENESIS, 0
    while True:
        rows = [
            dict(r._mapping)
            for r in bind.execute(
                sa.select(audit).where(audit.c.id > after).order_by(audit.c.id).limit(BATCH)
            )
        ]
        if not rows:
            return
        linked = chain(prev, rows)
        bind.execute(
            sa.update(audit)
            .where(audit.c.id == sa.bindparam("row_id"))
            .values(prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")),
            [
                {"row_id": r["id"], "p": link["prev_hash"], "h": link["hash"]}
                for r, link in zip(rows, linked, strict=True)
            ],
        )
        prev, after = linked[-1]["hash"], rows[-1]["id"]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("audit_event", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_event", sa.Column("hash", sa.String(64), nullable=True))
    if dialect == "sqlite":
        op.execute("DROP TRIGGER audit_event_no_update")
        _backfill()
        op.execute(SQLITE_NO_UPDATE)
        # SQLite cannot add NOT NULL to an existing column without rebuilding the table (which
        # would drop 0001's triggers); a trigger refuses unchained rows instead.
        op.execute(
            "CREATE TRIGGER audit_event_chained BEFORE INSERT ON audit_event "
            "WHEN NEW.prev_hash IS NULL OR NEW.hash IS NULL "
            f"BEGIN SELECT RAISE(ABORT, '{UNCHAINED_MSG}'); END"
        )
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        _backfill()
        op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
        op.alter_column("audit_event", "prev_hash", nullable=False)
        op.alter_column("audit_event", "hash", nullable=False)
    else:  # pragma: no cover - other backends are not supported by the migrations
        raise NotImplementedError(f"no audit chain for the {dialect} dialect")
    lock = op.create_table(
        "audit_chain_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_lock")),
    )
    op.bulk_insert(lock, [{"id": 1, "holds": 0}])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("audit_chain_lock")
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_chained")
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): a batch rebuild would drop 0001's triggers.
    op.execute("ALTER TABLE audit_event DROP COLUMN hash")
    op.execute("ALTER TABLE audit_event DROP COLUMN prev_hash")
