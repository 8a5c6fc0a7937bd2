"""Pending electronic signatures: a signature an account of the identity provider asked for,
waiting for the signer's fresh login there (web/oidc.py, services/pending_signatures.py).

In the database rather than one server process's memory, so the signer's return may reach any
process (``uvicorn --workers``, a restart). Nothing secret is stored readable: the random key the
browser's flow cookie holds, and that flow's ``state`` and ``nonce``, only as SHA-256 digests.
A row is deleted when taken (single use) and is useless after the 5-minute signing window.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "pending_signature",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("nonce_hash", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pending_signature"),
        sa.UniqueConstraint("key_hash", name="uq_pending_signature_key_hash"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["user_session.id"],
            name="fk_pending_signature_session_id_user_session",
        ),
    )
    op.create_index("ix_pending_signature_started_at", "pending_signature", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_pending_signature_started_at", table_name="pending_signature")
    op.drop_table("pending_signature")
