"""Site secrets: random keys a database makes for itself, e.g. the export key that keys research
pseudonyms and date shifts when ``TREPHINE_EXPORT_KEY`` is not set (services/site_secret.py).
One row per purpose, made once (insert-if-absent) and never changed; the PostgreSQL application
role may read and insert rows, never update or delete them (store/roles.py).

Revision ID: 0020
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "site_secret",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_site_secret"),
    )


def downgrade() -> None:
    op.drop_table("site_secret")
