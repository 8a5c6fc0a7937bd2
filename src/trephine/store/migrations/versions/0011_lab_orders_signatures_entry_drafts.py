"""Lab orders and specimen tracking, electronic signatures, saved entry forms (issue 10).

``lab_order`` (one per procedure) and ``lab_study`` (each requested study and who/when at every
step of ``domain/orders.STUDY_TRANSITIONS``); ``electronic_signature`` (21 CFR Part 11: signer,
time, meaning, method and a hash of the signed content), append-only like the audit trail;
``entry_draft`` (a result entry form saved part-way).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trephine.store.types import json_type

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_WHEN = sa.DateTime(timezone=True)
_STEPS = ("collected", "received", "started", "reported", "cancelled")


def upgrade() -> None:
    op.create_table(
        "lab_order",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("ordered_at", _WHEN, nullable=False),
        sa.Column("ordered_by", sa.String(200), nullable=False),
        sa.Column("indication", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_lab_order"),
        sa.UniqueConstraint("procedure_id", name="uq_lab_order_procedure_id"),
        sa.ForeignKeyConstraint(
            ["procedure_id"], ["procedure.id"], name="fk_lab_order_procedure_id_procedure"
        ),
    )
    step_columns: list[sa.Column[object]] = []
    for step in _STEPS:
        step_columns.append(sa.Column(f"{step}_at", _WHEN, nullable=True))
        step_columns.append(sa.Column(f"{step}_by", sa.String(200), nullable=True))
    op.create_table(
        "lab_study",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("study", sa.String(32), nullable=False),
        sa.Column("section", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=True),
        sa.Column("ordered_at", _WHEN, nullable=False),
        sa.Column("ordered_by", sa.String(200), nullable=False),
        *step_columns,
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_lab_study"),
        sa.UniqueConstraint("order_id", "study", name="uq_lab_study_order_id_study"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["lab_order.id"], name="fk_lab_study_order_id_lab_order"
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"], ["specimen.id"], name="fk_lab_study_specimen_id_specimen"
        ),
    )
    for column in ("order_id", "section", "state", "specimen_id"):
        op.create_index(f"ix_lab_study_{column}", "lab_study", [column])
    op.create_table(
        "electronic_signature",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("signer", sa.String(200), nullable=False),
        sa.Column("signed_at", _WHEN, nullable=False),
        sa.Column("meaning", sa.String(32), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_electronic_signature"),
    )
    op.create_index(
        "ix_electronic_signature_entity", "electronic_signature", ["entity", "entity_id"]
    )
    op.create_table(
        "entry_draft",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fields", json_type(), nullable=False),
        sa.Column("saved_by", sa.String(200), nullable=False),
        sa.Column("saved_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entry_draft"),
        sa.UniqueConstraint("specimen_id", "kind", name="uq_entry_draft_specimen_id_kind"),
        sa.ForeignKeyConstraint(
            ["specimen_id"], ["specimen.id"], name="fk_entry_draft_specimen_id_specimen"
        ),
    )
    _guard_signatures()


def _guard_signatures() -> None:
    """A signature, once written, is never changed or removed (as 0001 guards the trail)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER electronic_signature_no_{verb.lower()} BEFORE {verb} "
                "ON electronic_signature BEGIN SELECT RAISE(ABORT, "
                f"'electronic_signature is append-only: {verb} refused'); END"
            )
    elif dialect == "postgresql":
        # trephine_refuse_change() is 0001's function (names the table and the operation).
        op.execute(
            "CREATE TRIGGER electronic_signature_append_only BEFORE UPDATE OR DELETE ON "
            "electronic_signature FOR EACH ROW EXECUTE FUNCTION trephine_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER electronic_signature_no_truncate BEFORE TRUNCATE ON "
            "electronic_signature FOR EACH STATEMENT EXECUTE FUNCTION trephine_refuse_change()"
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"no append-only guard for the {dialect} dialect")


def downgrade() -> None:
    op.drop_table("entry_draft")
    op.drop_table("electronic_signature")
    op.drop_table("lab_study")
    op.drop_table("lab_order")
