"""Assessment citation, flags and params (what the criteria engine explains beyond evidence).

Plain ADD/DROP COLUMN rather than Alembic's batch mode: batch mode may rebuild the SQLite table,
which would silently drop the append-only triggers installed by 0001. Existing rows get empty
flags and params.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _empty(literal: str) -> sa.TextClause:
    cast = "::jsonb" if op.get_bind().dialect.name == "postgresql" else ""
    return sa.text(f"'{literal}'{cast}")


def upgrade() -> None:
    op.add_column("assessment", sa.Column("citation", sa.Text(), nullable=True))
    op.add_column(
        "assessment", sa.Column("flags", _json(), nullable=False, server_default=_empty("[]"))
    )
    op.add_column(
        "assessment", sa.Column("params", _json(), nullable=False, server_default=_empty("{}"))
    )


def downgrade() -> None:
    for column in ("params", "flags", "citation"):
        op.drop_column("assessment", column)
