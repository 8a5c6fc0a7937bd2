"""Alerts can be withdrawn: when a re-assessment (e.g. after an amended result) no longer
raises an open alert, it is marked withdrawn (when and why) instead of staying open or being
deleted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("alert", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alert", sa.Column("withdrawn_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    # The alert table has no triggers, so batch mode (a rebuild on SQLite) loses nothing.
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("withdrawn_reason")
        batch.drop_column("withdrawn_at")
