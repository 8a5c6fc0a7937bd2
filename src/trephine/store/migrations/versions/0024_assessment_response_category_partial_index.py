"""The index of 0023 on assessment (call_kind, category) becomes a partial index of the response
calls' categories.

SQLite keeps no statistics, and offered ``call_kind IN (...)`` beside ``patient_id IN (...)``
(the research timelines) it read the (call_kind, category) index — most of the table — instead
of the patients' rows. A partial index ``WHERE call_kind = 'response'`` serves the patient
search's response-filter choices (``patient_search.response_categories``, which writes that
condition literally) and no query with a bound call kind, so no other plan changes.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | None = None
depends_on: str | None = None

_RESPONSE = sa.text("call_kind = 'response'")


def upgrade() -> None:
    op.drop_index("ix_assessment_call_kind_category", table_name="assessment")
    op.create_index(
        "ix_assessment_response_category",
        "assessment",
        ["category"],
        sqlite_where=_RESPONSE,
        postgresql_where=_RESPONSE,
    )


def downgrade() -> None:
    op.drop_index("ix_assessment_response_category", table_name="assessment")
    op.create_index("ix_assessment_call_kind_category", "assessment", ["call_kind", "category"])
