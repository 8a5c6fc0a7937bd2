"""Clinical examinations entered by clinicians: ``clinical_exam``, one row per version of a
patient's examination on a date (largest lymph node, liver and spleen, spleen length on
imaging, constitutional symptoms — the domain ``ClinicalExam`` as JSON). An examination is a
patient-and-date fact, not a specimen's result, so it has no specimen. Append-only: an amendment
adds the next version that names the one it supersedes and why; database triggers refuse UPDATE
and DELETE, and the PostgreSQL application role gets neither privilege (``store/roles.py``).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "clinical_exam"
MESSAGE = "clinical_exam is append-only: amend an examination, never change or delete it"
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "patient_id",
            sa.Integer,
            sa.ForeignKey("patient.id", name="fk_clinical_exam_patient_id_patient"),
            nullable=False,
        ),
        sa.Column("examined_on", sa.Date, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "supersedes_id",
            sa.Integer,
            sa.ForeignKey("clinical_exam.id", name="fk_clinical_exam_supersedes_id_clinical_exam"),
            nullable=True,
        ),
        sa.Column("value", _JSON, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amendment_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_clinical_exam"),
        sa.UniqueConstraint(
            "patient_id",
            "examined_on",
            "version",
            name="uq_clinical_exam_patient_id_examined_on_version",
        ),
        sa.UniqueConstraint("supersedes_id", name="uq_clinical_exam_supersedes_id"),
    )
    op.create_index("ix_clinical_exam_patient_id", TABLE, ["patient_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{event.lower()} BEFORE {event} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION trephine_{TABLE}_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION trephine_{TABLE}_append_only()"
        )
    else:  # pragma: no cover - other backends are not supported by the migrations
        raise NotImplementedError(f"no append-only guard for the {dialect} dialect")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete")
    elif dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP FUNCTION IF EXISTS trephine_{TABLE}_append_only()")
    op.drop_index("ix_clinical_exam_patient_id", table_name=TABLE)
    op.drop_table(TABLE)
