"""Marrow report versions and the record that results were discussed with the patient.

``report_version``: one row per issued version of a procedure's integrated marrow report
(preliminary → final → amended / corrected / addended, clinical-systems.md §2.3), with who, when
and why, the signer's interpretation, integrated diagnosis and comments, the exact result rows
(ids of result *versions*) it reported and the SHA-256 of its content. ``report_discussion``:
who discussed which version with the patient, when. Both are append-only: database triggers
refuse UPDATE and DELETE (CLIA 42 CFR 493.1291(k): keep the original and the corrected report),
and the PostgreSQL application role gets neither privilege (``store/roles.py``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = ("report_version", "report_discussion")
_WHEN = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "report_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "procedure_id",
            sa.Integer,
            sa.ForeignKey("procedure.id", name="fk_report_version_procedure_id_procedure"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("issued_at", _WHEN, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("interpretation", sa.Text, nullable=True),
        sa.Column("diagnosis", sa.Text, nullable=True),
        sa.Column("diagnosis_classification", sa.String(32), nullable=True),
        sa.Column("comments", sa.Text, nullable=True),
        sa.Column("result_ids", _JSON, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_version"),
        sa.UniqueConstraint(
            "procedure_id", "version", name="uq_report_version_procedure_id_version"
        ),
    )
    op.create_index("ix_report_version_procedure_id", "report_version", ["procedure_id"])
    op.create_table(
        "report_discussion",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "report_version_id",
            sa.Integer,
            sa.ForeignKey(
                "report_version.id",
                name="fk_report_discussion_report_version_id_report_version",
            ),
            nullable=False,
        ),
        sa.Column("discussed_by", sa.String(200), nullable=False),
        sa.Column("discussed_with", sa.String(200), nullable=False),
        sa.Column("discussed_at", _WHEN, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_discussion"),
    )
    op.create_index(
        "ix_report_discussion_report_version_id", "report_discussion", ["report_version_id"]
    )
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        message = f"{table} is append-only: an issued report is never changed or deleted"
        if dialect == "sqlite":
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )
        elif dialect == "postgresql":
            op.execute(
                f"""
                CREATE FUNCTION trephine_{table}_append_only() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
                  RAISE EXCEPTION '{message}' USING ERRCODE = 'restrict_violation';
                END $$
                """
            )
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION trephine_{table}_append_only()"
            )
        else:  # pragma: no cover - other backends are not supported by the migrations
            raise NotImplementedError(f"no append-only guard for the {dialect} dialect")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in reversed(TABLES):
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS trephine_{table}_append_only()")
    op.drop_index("ix_report_discussion_report_version_id", table_name="report_discussion")
    op.drop_table("report_discussion")
    op.drop_index("ix_report_version_procedure_id", table_name="report_version")
    op.drop_table("report_version")
