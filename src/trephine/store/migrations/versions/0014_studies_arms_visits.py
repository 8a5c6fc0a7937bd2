"""Studies (issue 12 §1): study, arm, enrolment (patient, arm, date, research consent), a visit
schedule with day offsets from an anchor and ± windows, and hand mappings of visits to
procedures (append-only; the newest per enrolment and visit overrides the window mapping).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "study",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_study"),
        sa.UniqueConstraint("name", name="uq_study_name"),
    )
    op.create_table(
        "study_arm",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_study_arm"),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], name="fk_study_arm_study_id_study"),
        sa.UniqueConstraint("study_id", "name", name="uq_study_arm_study_id_name"),
    )
    op.create_index("ix_study_arm_study_id", "study_arm", ["study_id"])
    op.create_table(
        "study_visit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("anchor", sa.String(16), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_study_visit"),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], name="fk_study_visit_study_id_study"),
        sa.UniqueConstraint("study_id", "name", name="uq_study_visit_study_id_name"),
    )
    op.create_index("ix_study_visit_study_id", "study_visit", ["study_id"])
    op.create_table(
        "study_enrolment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("arm_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("research_consent", sa.Boolean(), nullable=False),
        sa.Column("consent_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_study_enrolment"),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name="fk_study_enrolment_study_id_study"
        ),
        sa.ForeignKeyConstraint(
            ["arm_id"], ["study_arm.id"], name="fk_study_enrolment_arm_id_study_arm"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name="fk_study_enrolment_patient_id_patient"
        ),
        sa.UniqueConstraint(
            "study_id", "patient_id", name="uq_study_enrolment_study_id_patient_id"
        ),
    )
    for column in ("study_id", "arm_id", "patient_id"):
        op.create_index(f"ix_study_enrolment_{column}", "study_enrolment", [column])
    op.create_table(
        "study_visit_mapping",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("mapped_by", sa.String(200), nullable=False),
        sa.Column("mapped_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_study_visit_mapping"),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["study_enrolment.id"],
            name="fk_study_visit_mapping_enrolment_id_study_enrolment",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["study_visit.id"], name="fk_study_visit_mapping_visit_id_study_visit"
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedure.id"],
            name="fk_study_visit_mapping_procedure_id_procedure",
        ),
    )
    op.create_index("ix_study_visit_mapping_enrolment_id", "study_visit_mapping", ["enrolment_id"])


def downgrade() -> None:
    op.drop_index("ix_study_visit_mapping_enrolment_id", table_name="study_visit_mapping")
    op.drop_table("study_visit_mapping")
    for column in ("patient_id", "arm_id", "study_id"):
        op.drop_index(f"ix_study_enrolment_{column}", table_name="study_enrolment")
    op.drop_table("study_enrolment")
    op.drop_index("ix_study_visit_study_id", table_name="study_visit")
    op.drop_table("study_visit")
    op.drop_index("ix_study_arm_study_id", table_name="study_arm")
    op.drop_table("study_arm")
    op.drop_table("study")
