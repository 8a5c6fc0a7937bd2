"""The patient list's latest response takes myeloma progression into account; the list sorted
by last biopsy, oldest first, reads an index.

1. ``patient.latest_response`` (0028) was the latest response call or a ``relapse`` call of a
   relapse category made since. A myeloma progression is a ``progression`` call (IMWG 2016), so
   a myeloma patient who progressed was still listed with the response before it (e.g. VGPR).
   It now counts as a relapse does: a ``relapse`` or ``progression`` call of a category of
   :data:`SUPERSEDING_CATEGORIES` wins over the response call of the same day and stands for
   the latest response until a later one — a relapse, a confirmed progression
   (``PD_CONFIRMED``) and a progression met on one assessment, still to confirm
   (``PD_UNCONFIRMED``). The triggers are re-created with it and the column recomputed for
   every patient.

   Which categories those are is code data (``criteria/categories.SUPERSEDING_CATEGORIES``,
   the call kinds ``assess/story.RELAPSE_KINDS``). A migration is frozen in time, so both are
   written here, literally; tests/store/test_patient_list_facts.py fails when the code's lists
   and the triggers' differ, so a change to them needs a migration that re-creates the
   triggers and recomputes the column. 0028 is left as it was (and comes back on downgrade).

2. ``ix_patient_last_biopsy_asc``: 0026's index of the last biopsy is newest first only, so the
   list sorted oldest first read every patient and sorted them before its LIMIT (SQLite: "USE
   TEMP B-TREE FOR RIGHT PART OF ORDER BY"). An ascending index, NULLs last on PostgreSQL
   (SQLite reads an ascending index in order for NULLS LAST: the non-NULL keys, then the
   NULLs), ending in the id's tie-break as the search orders, as 0028 did for its sorts.

3. ``ix_assessment_progression_category``: a partial index of the progression calls'
   categories, beside 0027's of the relapse calls: the latest-response filter offers the
   progression categories called so far, one probe each.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | None = None
depends_on: str | None = None

#: The categories of criteria/categories.py's SUPERSEDING_CATEGORIES at this revision (frozen).
SUPERSEDING_CATEGORIES: tuple[str, ...] = (
    "EXTRAMEDULLARY_RELAPSE",
    "HEMATOLOGIC_RELAPSE",
    "PD",
    "PD_CONFIRMED",
    "PD_UNCONFIRMED",
    "RELAPSE",
)
#: The call kinds of assess/story.py's RELAPSE_KINDS at this revision (frozen).
RELAPSE_KINDS: tuple[str, ...] = ("relapse", "progression")
#: What 0028 wrote (frozen there; repeated here to put its triggers back on downgrade).
RELAPSE_CATEGORIES_0028: tuple[str, ...] = (
    "EXTRAMEDULLARY_RELAPSE",
    "HEMATOLOGIC_RELAPSE",
    "PD",
    "RELAPSE",
)
RELAPSE_KINDS_0028: tuple[str, ...] = ("relapse",)

#: The columns whose change moves the latest response (as in 0028).
MOVING = ("id", "patient_id", "call_kind", "category", "assessed_on")
_PROGRESSION = sa.text("call_kind = 'progression'")


def _listed(items: tuple[str, ...]) -> str:
    return ", ".join(f"'{i}'" for i in items)


def _counts(kinds: tuple[str, ...], categories: tuple[str, ...]) -> str:
    """A call that counts for the latest response ("{r}" the row): a response call, or a call
    of ``kinds`` of one of ``categories`` (so, among the calls that count, any other kind than
    ``response`` is a relapse or a progression)."""
    return (
        f"({{r}}.call_kind = 'response' OR ({{r}}.call_kind IN ({_listed(kinds)})"
        f" AND {{r}}.category IN ({_listed(categories)})))"
    )


def _latest_response(kinds: tuple[str, ...], categories: tuple[str, ...]) -> str:
    """The recomputation for patient "{p}": the latest day's relapse or progression, else its
    response call; the latest row among equals."""
    return (
        "SELECT assessment.category FROM assessment WHERE assessment.patient_id = {p}"
        f" AND {_counts(kinds, categories).format(r='assessment')}"
        " ORDER BY assessment.assessed_on DESC,"
        " CASE WHEN assessment.call_kind = 'response' THEN 1 ELSE 0 END, assessment.id DESC"
        " LIMIT 1"
    )


def _refresh(fact: str, counts: str, row: str) -> str:
    """Recompute ``patient.latest_response`` for the patient of trigger row ``row``, when that
    row counts for it."""
    return (
        f"UPDATE patient SET latest_response = ({fact.format(p=f'{row}.patient_id')}) "
        f"WHERE id = {row}.patient_id AND {counts.format(r=row)};"
    )


def _triggers(dialect: str, kinds: tuple[str, ...], categories: tuple[str, ...]) -> None:
    """(Re-)create the triggers that keep ``patient.latest_response``, named as 0028 named
    them, counting the calls of ``kinds`` of ``categories`` as relapses."""
    fact, counts = _latest_response(kinds, categories), _counts(kinds, categories)
    if dialect == "sqlite":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS assessment_keeps_latest_response_{event}")
        op.execute(
            "CREATE TRIGGER assessment_keeps_latest_response_insert AFTER INSERT ON assessment "
            f"BEGIN {_refresh(fact, counts, 'NEW')} END"
        )
        op.execute(
            "CREATE TRIGGER assessment_keeps_latest_response_update "
            f"AFTER UPDATE OF {', '.join(MOVING)} ON assessment "
            f"BEGIN {_refresh(fact, counts, 'OLD')} {_refresh(fact, counts, 'NEW')} END"
        )
        op.execute(
            "CREATE TRIGGER assessment_keeps_latest_response_delete AFTER DELETE ON assessment "
            f"BEGIN {_refresh(fact, counts, 'OLD')} END"
        )
    elif dialect == "postgresql":
        # The trigger of 0028 calls this function by name: replacing its body is enough.
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION trephine_assessment_keeps_latest_response()
            RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP IN ('UPDATE', 'DELETE') THEN
                {_refresh(fact, counts, "OLD")}
              END IF;
              IF TG_OP IN ('INSERT', 'UPDATE') THEN
                {_refresh(fact, counts, "NEW")}
              END IF;
              RETURN NULL;
            END $$
            """
        )
    else:  # pragma: no cover - other backends are not supported by the migrations
        raise NotImplementedError(f"no patient list facts for the {dialect} dialect")
    # Every patient's fact, as the triggers now compute it.
    op.execute(f"UPDATE patient SET latest_response = ({fact.format(p='patient.id')})")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _triggers(dialect, RELAPSE_KINDS, SUPERSEDING_CATEGORIES)
    nulls_last = " NULLS LAST" if dialect == "postgresql" else ""
    op.execute(
        "CREATE INDEX ix_patient_last_biopsy_asc"
        f" ON patient (last_biopsy_at{nulls_last}, external_id)"
    )
    op.create_index(
        "ix_assessment_progression_category",
        "assessment",
        ["category"],
        sqlite_where=_PROGRESSION,
        postgresql_where=_PROGRESSION,
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_assessment_progression_category", table_name="assessment")
    op.drop_index("ix_patient_last_biopsy_asc", table_name="patient")
    _triggers(dialect, RELAPSE_KINDS_0028, RELAPSE_CATEGORIES_0028)
