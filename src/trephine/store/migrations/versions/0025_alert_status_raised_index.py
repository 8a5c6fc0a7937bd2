"""An index on alert (acknowledged_at, withdrawn_at, raised_on, id): the alerts inbox (open
alerts newest first, 50 a page) reads the open alerts in date order and stops at its page,
instead of sorting every open alert on every page (8,262 at 10,000 demo patients, where nobody
acknowledges), and counts them from the index alone. Queries of one patient's alerts keep the
patient index (tests/web/test_page_queries.py checks both plans).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_alert_status_raised", "alert", ["acknowledged_at", "withdrawn_at", "raised_on", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_alert_status_raised", table_name="alert")
