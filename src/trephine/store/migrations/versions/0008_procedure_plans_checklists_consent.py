"""Planned procedures with their pre-procedure checklists (each version with its §10 decision)
and consent; complications gain onset and outcome (and room for the §10 kinds); specimens
store their §8 adequacy call.

The complication ``kind`` column widens from 16 to 32 characters for the longer §10 kinds
("retroperitoneal haemorrhage"); SQLite does not enforce VARCHAR lengths, so only PostgreSQL
needs the change.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("complication", "kind", type_=sa.String(32), existing_nullable=False)
    op.add_column("complication", sa.Column("onset_at", sa.DateTime(timezone=True)))
    op.add_column("complication", sa.Column("outcome", sa.String(32)))
    op.add_column("specimen", sa.Column("adequacy", sa.String(32)))
    op.add_column("specimen", sa.Column("adequacy_call", _json()))
    op.create_table(
        "procedure_plan",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patient.id"), nullable=False),
        sa.Column("planned_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("indication", sa.String(32), nullable=False),
        sa.Column("site", sa.String(32), nullable=False),
        sa.Column("operator", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cancel_reason", sa.Text()),
        sa.Column("emergency_reason", sa.Text()),
        sa.Column("procedure_id", sa.Integer(), sa.ForeignKey("procedure.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("closed_by", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_procedure_plan"),
        sa.UniqueConstraint("procedure_id", name="uq_procedure_plan_procedure_id"),
    )
    op.create_index("ix_procedure_plan_patient_id", "procedure_plan", ["patient_id"])
    op.create_table(
        "procedure_checklist",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("procedure_plan.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("checklist", _json(), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("evaluation", _json(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_procedure_checklist"),
        sa.UniqueConstraint("plan_id", "version", name="uq_procedure_checklist_plan_id_version"),
    )
    op.create_index("ix_procedure_checklist_plan_id", "procedure_checklist", ["plan_id"])
    op.create_table(
        "procedure_consent",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("procedure_plan.id"), nullable=False),
        sa.Column("given_by", sa.String(32), nullable=False),
        sa.Column("giver_name", sa.String(200)),
        sa.Column("taken_by", sa.String(200), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaflet_version", sa.String(32), nullable=False),
        sa.Column("risks_discussed", _json(), nullable=False),
        sa.Column("interpreter", sa.String(200)),
        sa.Column("signature", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_procedure_consent"),
        sa.UniqueConstraint("plan_id", name="uq_procedure_consent_plan_id"),
    )


def downgrade() -> None:
    op.drop_table("procedure_consent")
    op.drop_index("ix_procedure_checklist_plan_id", "procedure_checklist")
    op.drop_table("procedure_checklist")
    op.drop_index("ix_procedure_plan_patient_id", "procedure_plan")
    op.drop_table("procedure_plan")
    with op.batch_alter_table("specimen") as batch:
        batch.drop_column("adequacy_call")
        batch.drop_column("adequacy")
    with op.batch_alter_table("complication") as batch:
        batch.drop_column("outcome")
        batch.drop_column("onset_at")
