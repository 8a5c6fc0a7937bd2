"""A stored call can come back: the assessment's natural key names the revision of its call.

Until now the natural key of ``assessment`` (0003) was (patient, date, rule set, call kind,
edition, software version, evidence digest), and ``trephine assess`` stored a call only when
no row of that key had ever been stored. A call re-computed back to an earlier value — A, then
B after an amendment, then A again after the amendment was itself amended — had the stored A
row's key, so nothing was stored and B stayed current (the latest row of its patient, date,
call kind, rule set and edition: ``services/assessments.current_assessments`` and 0030's
triggers).

``assessment.revision`` numbers the restatements of one call (patient, date, call kind, rule
set, edition): 1 for its first row(s), and each time an assessment computes something else for
it than its latest revision holds, the call is stored again, whole, as the next revision. The
natural key becomes (patient, date, rule set, call kind, edition, **revision**, software
version, evidence digest): the same evidence may come back in a later revision, never twice in
one. The current call is still the latest row (its latest revision), so 0030's triggers and
their probe (a later row of the same call, ``later.id > id``) stay as they are.

Back-fill: the rows a call holds are numbered by the runs that stored them — one ``trephine
assess`` run stores its rows with one ``computed_at`` — so a row's revision is the number of
distinct ``computed_at`` among the rows of its call up to it (id order). A call with several
rows of one day (two MRD results of one date) keeps its rows of one run together.

SQLite cannot change a table constraint in place: the table is rebuilt (batch mode). A rebuild
drops the table's triggers and indexes — 0001's append-only guards, 0030's
``assessment_keeps_latest_response_*`` triggers, the indexes of 0001, 0024, 0027 and 0029 — so
they are read from ``sqlite_master`` before the rebuild and created again, as they were, after
it (nothing of them is copied here, nothing can drift). PostgreSQL changes the constraint in
place; its triggers and indexes stay. On both, the append-only guard is lifted for the
back-fill only (which touches no column 0030's triggers follow).

Downgrade: back to 0003's key. A database that stored a call again in a later revision (A→B→A)
holds two rows of one old key; the database refuses that downgrade rather than silently
dropping assessments (as 0003's own downgrade does).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | None = None
depends_on: str | None = None

KEY_0003 = (
    "patient_id",
    "assessed_on",
    "ruleset",
    "call_kind",
    "criteria_edition",
    "software_version",
    "inputs_digest",
)
KEY = (
    "patient_id",
    "assessed_on",
    "ruleset",
    "call_kind",
    "criteria_edition",
    "revision",
    "software_version",
    "inputs_digest",
)

#: A row's revision: the runs (distinct ``computed_at``) that stored rows of its call, up to it.
_BACK_FILL = (
    "UPDATE assessment SET revision = (SELECT count(DISTINCT earlier.computed_at)"
    " FROM assessment AS earlier"
    " WHERE earlier.patient_id = assessment.patient_id"
    " AND earlier.assessed_on = assessment.assessed_on"
    " AND earlier.ruleset = assessment.ruleset"
    " AND earlier.call_kind = assessment.call_kind"
    " AND earlier.criteria_edition = assessment.criteria_edition"
    " AND earlier.id <= assessment.id)"
)


def _schema_of_assessment() -> list[tuple[str, str, str]]:
    """SQLite: the triggers and indexes of ``assessment`` as created (type, name, SQL); the
    constraint's own index has no SQL and comes back with the table."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'assessment'"
            " AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
        )
    )
    return [(str(t), str(n), str(s)) for t, n, s in rows]


def _sqlite_rebuild(key: tuple[str, ...], *, drop_revision: bool) -> None:
    """Rebuild ``assessment`` with the natural key ``key`` (and without ``revision`` when
    ``drop_revision``), putting its triggers and indexes back as they were."""
    kept = _schema_of_assessment()
    for kind, name, _ in kept:
        op.execute(f"DROP {kind.upper()} IF EXISTS {name}")
    with op.batch_alter_table("assessment", recreate="always") as batch:
        batch.drop_constraint("uq_assessment_natural_key", type_="unique")
        batch.create_unique_constraint("uq_assessment_natural_key", list(key))
        if drop_revision:
            batch.drop_column("revision")
    for kind, name, sql in kept:
        op.execute(f"DROP {kind.upper()} IF EXISTS {name}")  # in case the rebuild made one
        op.execute(sql)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):  # pragma: no cover - not supported
        raise NotImplementedError(f"no assessment revision for the {dialect} dialect")
    op.add_column(
        "assessment",
        sa.Column("revision", sa.Integer(), nullable=False, server_default=sa.text("1")),
    )
    if dialect == "sqlite":
        (guard,) = (
            sql for _, name, sql in _schema_of_assessment() if name == "assessment_no_update"
        )
        op.execute("DROP TRIGGER assessment_no_update")
        op.execute(_BACK_FILL)
        op.execute(guard)
        _sqlite_rebuild(KEY, drop_revision=False)
    else:
        op.execute("ALTER TABLE assessment DISABLE TRIGGER assessment_append_only")
        op.execute(_BACK_FILL)
        op.execute("ALTER TABLE assessment ENABLE TRIGGER assessment_append_only")
        op.drop_constraint("uq_assessment_natural_key", "assessment", type_="unique")
        op.create_unique_constraint("uq_assessment_natural_key", "assessment", list(KEY))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(KEY_0003, drop_revision=True)
    else:
        op.drop_constraint("uq_assessment_natural_key", "assessment", type_="unique")
        op.create_unique_constraint("uq_assessment_natural_key", "assessment", list(KEY_0003))
        op.drop_column("assessment", "revision")
