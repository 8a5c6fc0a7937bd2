"""Freeze a signed-out result's sign-out record in the database, not only in the services.

0001 froze a signed-out result's *content* (value, kind, analyte, …) but not who signed it out,
when, the amendment record (who, when, why, which version it supersedes) or the derived headline
columns; nor did it restrict where a signed-out row's state may go, so a raw
``UPDATE result SET state = 'draft'`` re-opened a signed-out result for in-place edits. The
services already refuse all of this (``services/results.py`` ``_transition``); these triggers make
it hold for every client of the database.

Allowed on a verified or amended row, exactly what ``workflow.TRANSITIONS`` lets the services do:
``state → superseded`` (an amendment supersedes it) with nothing else changed, or a no-op update.
Superseded and cancelled rows stay fully frozen by 0001's ``result_final_frozen`` guard; drafts
are untouched (verify sets ``verified_by``/``verified_at`` on a draft row).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

#: The sign-out record of a result version, and the headline columns derived from its value.
SIGN_OUT_COLUMNS = (
    "verified_by",
    "verified_at",
    "amended_by",
    "amended_at",
    "amendment_reason",
    "supersedes_id",
    "headline_value",
    "headline_unit",
    "headline_qualifier",
)
SIGNED_OUT = ("verified", "amended")
SIGN_OUT_MSG = (
    "result: the sign-out record (verified_by/at, amended_by/at, amendment_reason, supersedes_id)"
    " of a signed-out result is frozen"
)
STATE_MSG = "result: a signed-out result can only become superseded (by an amendment)"

_SIGNED_OUT_SQL = ", ".join(f"'{s}'" for s in SIGNED_OUT)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in SIGN_OUT_COLUMNS)
        op.execute(
            "CREATE TRIGGER result_sign_out_frozen BEFORE UPDATE ON result "
            f"WHEN OLD.state IN ({_SIGNED_OUT_SQL}) AND ({changed}) "
            f"BEGIN SELECT RAISE(ABORT, '{SIGN_OUT_MSG}'); END"
        )
        op.execute(
            "CREATE TRIGGER result_signed_out_state BEFORE UPDATE ON result "
            f"WHEN OLD.state IN ({_SIGNED_OUT_SQL}) "
            "AND NEW.state IS NOT OLD.state AND NEW.state IS NOT 'superseded' "
            f"BEGIN SELECT RAISE(ABORT, '{STATE_MSG}'); END"
        )
    elif dialect == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in SIGN_OUT_COLUMNS)
        op.execute(
            f"""
            CREATE FUNCTION trephine_guard_sign_out() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF OLD.state IN ({_SIGNED_OUT_SQL}) THEN
                IF {changed} THEN
                  RAISE EXCEPTION '{SIGN_OUT_MSG}' USING ERRCODE = 'restrict_violation';
                END IF;
                IF NEW.state IS DISTINCT FROM OLD.state AND NEW.state <> 'superseded' THEN
                  RAISE EXCEPTION '{STATE_MSG}' USING ERRCODE = 'restrict_violation';
                END IF;
              END IF;
              RETURN NEW;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER result_sign_out_guard BEFORE UPDATE ON result "
            "FOR EACH ROW EXECUTE FUNCTION trephine_guard_sign_out()"
        )
    else:  # pragma: no cover - other backends are not supported by the migrations
        raise NotImplementedError(f"no sign-out guard for the {dialect} dialect")


def downgrade() -> None:
    # Only this revision's guards go; 0001's content/final/delete guards were never touched, so
    # the database is back to exactly the 0004 behaviour.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS result_signed_out_state")
        op.execute("DROP TRIGGER IF EXISTS result_sign_out_frozen")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS result_sign_out_guard ON result")
        op.execute("DROP FUNCTION IF EXISTS trephine_guard_sign_out()")
