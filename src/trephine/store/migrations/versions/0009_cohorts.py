"""Saved, versioned cohort definitions and every evaluation's member list (issue 12).

A definition is never edited: defining a cohort again with other criteria adds a version. Each
evaluation keeps the version it evaluated, who ran it, when, and the member list it found.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_WHEN = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cohort",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", _JSON, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cohort"),
        sa.UniqueConstraint("name", "version", name="uq_cohort_name"),
    )
    op.create_table(
        "cohort_evaluation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("evaluated_by", sa.String(200), nullable=False),
        sa.Column("evaluated_at", _WHEN, nullable=False),
        sa.Column("members", _JSON, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cohort_evaluation"),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohort.id"], name="fk_cohort_evaluation_cohort_id_cohort"
        ),
    )
    op.create_index("ix_cohort_evaluation_cohort_id", "cohort_evaluation", ["cohort_id"])


def downgrade() -> None:
    op.drop_index("ix_cohort_evaluation_cohort_id", table_name="cohort_evaluation")
    op.drop_table("cohort_evaluation")
    op.drop_table("cohort")
