"""Timeline assessments (call kind + input digest in the natural key) and an alert table.

``trephine assess`` stores several calls per patient and date (baseline, response, relapse,
landmark, MRD, chimerism), and an amended result must give a NEW assessment next to the old
one. So the natural key gains ``call_kind`` and ``inputs_digest`` (a hash of the evidence).
Existing rows get ``call_kind = ''`` and ``inputs_digest = ''`` and keep their identity.

SQLite cannot drop a table constraint in place, so the assessment table is rebuilt there (batch
mode) and its append-only triggers — which a rebuild drops — are installed again. PostgreSQL
changes the constraint in place; its triggers stay.

Alerts are NOT append-only: acknowledging one sets who/when/note on the row (and writes an
audit event). Their natural key (patient, date, code, ruleset edition, software version) makes
re-running the assessment idempotent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

OLD_KEY = ("patient_id", "assessed_on", "ruleset", "criteria_edition", "software_version")
NEW_KEY = (
    "patient_id",
    "assessed_on",
    "ruleset",
    "call_kind",
    "criteria_edition",
    "software_version",
    "inputs_digest",
)


def _sqlite_assessment_triggers() -> None:
    # The same guards as 0001 installs (names and messages kept, so tests match either).
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS assessment_no_{verb.lower()}")
        op.execute(
            f"CREATE TRIGGER assessment_no_{verb.lower()} BEFORE {verb} ON assessment "
            f"BEGIN SELECT RAISE(ABORT, 'assessment is append-only: {verb} refused'); END"
        )


def _swap_key(create: tuple[str, ...]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("assessment", recreate="always" if sqlite else "auto") as batch:
        batch.drop_constraint("uq_assessment_natural_key", type_="unique")
        batch.create_unique_constraint("uq_assessment_natural_key", list(create))
    if sqlite:
        _sqlite_assessment_triggers()


def upgrade() -> None:
    op.add_column(
        "assessment",
        sa.Column("call_kind", sa.String(32), nullable=False, server_default=sa.text("''")),
    )
    op.add_column(
        "assessment",
        sa.Column("inputs_digest", sa.String(64), nullable=False, server_default=sa.text("''")),
    )
    _swap_key(NEW_KEY)
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("ruleset", sa.String(64), nullable=False),
        sa.Column("software_version", sa.String(64), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_by", sa.String(200), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("acknowledgement_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name="fk_alert_patient_id_patient"),
        sa.PrimaryKeyConstraint("id", name="pk_alert"),
        sa.UniqueConstraint(
            "patient_id",
            "raised_on",
            "code",
            "ruleset",
            "software_version",
            name="uq_alert_natural_key",
        ),
    )
    op.create_index("ix_alert_patient_id", "alert", ["patient_id"])
    op.create_index("ix_alert_acknowledged_at", "alert", ["acknowledged_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_acknowledged_at", table_name="alert")
    op.drop_index("ix_alert_patient_id", table_name="alert")
    op.drop_table("alert")
    # Downgrading with several calls per (patient, date, edition, version) stored would violate
    # the old key; that is reported by the database rather than silently dropping assessments.
    _swap_key(OLD_KEY)
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("assessment", recreate="always" if sqlite else "auto") as batch:
        batch.drop_column("inputs_digest")
        batch.drop_column("call_kind")
    if sqlite:
        _sqlite_assessment_triggers()
