"""A partial index of the relapse calls' categories, beside 0024's of the response calls.

The patient list's "latest response" is the latest response call or a relapse called since
(a relapse wins over the response call of the same marrow), so its filter offers the relapse
categories stored so far too. Each is probed here (``call_kind = 'relapse'`` written literally,
as SQLite uses a partial index only then) instead of reading the relapse calls of the cohort on
every search page. Partial, so that no other query is planned on it.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | None = None
depends_on: str | None = None

_RELAPSE = sa.text("call_kind = 'relapse'")


def upgrade() -> None:
    op.create_index(
        "ix_assessment_relapse_category",
        "assessment",
        ["category"],
        sqlite_where=_RELAPSE,
        postgresql_where=_RELAPSE,
    )


def downgrade() -> None:
    op.drop_index("ix_assessment_relapse_category", table_name="assessment")
