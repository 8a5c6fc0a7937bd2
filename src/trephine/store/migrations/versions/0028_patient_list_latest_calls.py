"""Two more facts of the patient list kept on the patient row by the database, as 0026 keeps
the last biopsy and the open alerts: the latest diagnosis (``patient.latest_diagnosis``: the
disease of the diagnosis of latest ``diagnosed_on``, the latest row of a day) and the latest
response (``patient.latest_response``: the category of the latest response call, or of a
relapse called since; a relapse wins over the response call of the same day, the latest row
wins among equals).

The patient search sorted and filtered on them as correlated sub-queries computed for every
matching patient before its LIMIT (10,000 demo patients: ``/?sort=response`` 200 ms, 29 ms at
1,000; ``/?response=CR`` 159 ms; ``/?sort=diagnosis`` 37 ms). Kept on the row with an index
per sort direction (NULLs last, then the patient id), the page is read in index order and
stops at its LIMIT, and the response filter is an index search.

Which relapse categories stand in for a later response is code data
(``criteria/categories.RELAPSE_CATEGORIES``). A migration is frozen in time, so the list is
written here, literally (:data:`RELAPSE_CATEGORIES`); tests/store/test_patient_list_facts.py
fails when the code's list and the triggers' list differ, so a change to the code's list
needs a migration that re-creates the triggers and recomputes the column.

Assessments are append-only (0001's guards refuse UPDATE and DELETE); the triggers still
follow an update or a delete, for a writer that lifts the guard (a migration). Only the calls
that count recompute the fact.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | None = None
depends_on: str | None = None

#: The relapse categories of criteria/categories.py at this revision (frozen: see above).
RELAPSE_CATEGORIES: tuple[str, ...] = (
    "EXTRAMEDULLARY_RELAPSE",
    "HEMATOLOGIC_RELAPSE",
    "PD",
    "RELAPSE",
)
_RELAPSES = ", ".join(f"'{c}'" for c in RELAPSE_CATEGORIES)

LATEST_DIAGNOSIS = (
    "SELECT diagnosis.disease FROM diagnosis WHERE diagnosis.patient_id = {p}"
    " ORDER BY diagnosis.diagnosed_on DESC, diagnosis.id DESC LIMIT 1"
)
#: A call that counts for the latest response: a response call, or a relapse call of a
#: relapse category (so, among the calls that count, ``call_kind = 'relapse'`` is a relapse).
_COUNTS = (
    "({r}.call_kind = 'response'"
    f" OR ({{r}}.call_kind = 'relapse' AND {{r}}.category IN ({_RELAPSES})))"
)
LATEST_RESPONSE = (
    "SELECT assessment.category FROM assessment WHERE assessment.patient_id = {p}"
    f" AND {_COUNTS.format(r='assessment')}"
    " ORDER BY assessment.assessed_on DESC,"
    " CASE WHEN assessment.call_kind = 'relapse' THEN 0 ELSE 1 END, assessment.id DESC LIMIT 1"
)
#: (table, patient column kept, the recomputation, the columns whose change moves the fact,
#: which rows count for it ("{r}" the trigger row))
FACTS = (
    (
        "diagnosis",
        "latest_diagnosis",
        LATEST_DIAGNOSIS,
        ("id", "patient_id", "disease", "diagnosed_on"),
        "TRUE",
    ),
    (
        "assessment",
        "latest_response",
        LATEST_RESPONSE,
        ("id", "patient_id", "call_kind", "category", "assessed_on"),
        _COUNTS,
    ),
)
#: (kept column, its type): names of the indexes are ix_patient_<column> and ..._desc.
COLUMNS = (("latest_diagnosis", sa.String(32)), ("latest_response", sa.String(64)))


def _refresh(column: str, fact: str, counts: str, row: str) -> str:
    """The statement that recomputes ``column`` for the patient of trigger row ``row``, when
    that row counts for the fact."""
    return (
        f"UPDATE patient SET {column} = ({fact.format(p=f'{row}.patient_id')}) "
        f"WHERE id = {row}.patient_id AND {counts.format(r=row)};"
    )


def _sqlite_triggers() -> None:
    for table, column, fact, moving, counts in FACTS:
        op.execute(
            f"CREATE TRIGGER {table}_keeps_{column}_insert AFTER INSERT ON {table} "
            f"BEGIN {_refresh(column, fact, counts, 'NEW')} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_keeps_{column}_update "
            f"AFTER UPDATE OF {', '.join(moving)} ON {table} "
            f"BEGIN {_refresh(column, fact, counts, 'OLD')} "
            f"{_refresh(column, fact, counts, 'NEW')} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_keeps_{column}_delete AFTER DELETE ON {table} "
            f"BEGIN {_refresh(column, fact, counts, 'OLD')} END"
        )


def _postgresql_triggers() -> None:
    for table, column, fact, moving, counts in FACTS:
        op.execute(
            f"""
            CREATE FUNCTION trephine_{table}_keeps_{column}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP IN ('UPDATE', 'DELETE') THEN
                {_refresh(column, fact, counts, "OLD")}
              END IF;
              IF TG_OP IN ('INSERT', 'UPDATE') THEN
                {_refresh(column, fact, counts, "NEW")}
              END IF;
              RETURN NULL;
            END $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_keeps_{column} "
            f"AFTER INSERT OR DELETE OR UPDATE OF {', '.join(moving)} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION trephine_{table}_keeps_{column}()"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for column, type_ in COLUMNS:
        op.add_column("patient", sa.Column(column, type_))
    # The facts of the patients already stored.
    op.execute(
        "UPDATE patient SET"
        f" latest_diagnosis = ({LATEST_DIAGNOSIS.format(p='patient.id')}),"
        f" latest_response = ({LATEST_RESPONSE.format(p='patient.id')})"
    )
    # One index per sort direction, each ending in the id's tie-break (ascending both ways).
    # SQLite reads one in order for NULLS LAST in either direction (the non-NULL keys, then
    # the NULLs); PostgreSQL needs NULLS LAST in the index. An equality filter on the fact
    # (the latest-response filter) searches either one, in id order.
    nulls_last = " NULLS LAST" if dialect == "postgresql" else ""
    for column, _type in COLUMNS:
        op.execute(
            f"CREATE INDEX ix_patient_{column} ON patient ({column}{nulls_last}, external_id)"
        )
        op.execute(
            f"CREATE INDEX ix_patient_{column}_desc"
            f" ON patient ({column} DESC{nulls_last}, external_id)"
        )
    if dialect == "sqlite":
        _sqlite_triggers()
    elif dialect == "postgresql":
        _postgresql_triggers()
    else:  # pragma: no cover - other backends are not supported by the migrations
        raise NotImplementedError(f"no patient list facts for the {dialect} dialect")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, column, _fact, _moving, _counts in FACTS:
        if dialect == "sqlite":
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_keeps_{column}_{event}")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_keeps_{column} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS trephine_{table}_keeps_{column}()")
    for column, _type in COLUMNS:
        op.drop_index(f"ix_patient_{column}_desc", table_name="patient")
        op.drop_index(f"ix_patient_{column}", table_name="patient")
        op.drop_column("patient", column)
