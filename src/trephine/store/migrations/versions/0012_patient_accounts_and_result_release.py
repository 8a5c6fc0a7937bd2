"""The patient pages: a patient account linked to exactly one patient record, and the release
of a procedure's results to the patient (who released, when).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "patient_account",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_patient_account_patient_id", "patient_account", ["patient_id"])
    op.create_table(
        "result_release",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "procedure_id", sa.Integer, sa.ForeignKey("procedure.id"), nullable=False, unique=True
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.String(200), nullable=False),
        sa.Column("note", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("result_release")
    op.drop_index("ix_patient_account_patient_id", table_name="patient_account")
    op.drop_table("patient_account")
