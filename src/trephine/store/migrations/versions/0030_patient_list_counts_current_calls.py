"""The patient list's latest response counts current calls only.

``patient.latest_response`` (0028, 0029) counted every stored call. A call is stored append-only:
when an amended result changes a day's call (a relapse or progression re-assessed "not met"),
the new call is a new row and the old one stays as history. The old relapse row still counted,
so it still won that day in the list while the patient page (``current_assessments``: the
latest row per date, call kind, rule set and edition) showed the new call.

The triggers now count a call only while it is current: no later row (a higher id) of the same
patient, date, call kind, rule set and edition. That probe reads the patient's later rows
through an index on the patient (SQLite plans it on ``ix_assessment_patient_id`` with
``rowid > id``; a patient has tens of calls). And since a call that does not count itself (a
relapse "not met") can now end another one's turn, every ``response`` call and every call of
:data:`RELAPSE_KINDS` recomputes the fact, whatever its category. The triggers are re-created
with it and the column recomputed for every patient.

The lists are frozen here as in 0029 (the same as 0029's: ``criteria/categories`` did not
change); tests/store/test_patient_list_facts.py fails when the code's lists and the triggers'
differ. 0028 and 0029 are left as they were; the downgrade puts 0029's triggers back.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
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

#: The columns whose change moves the latest response (as in 0028 and 0029; the rule set and
#: edition now too: they decide which row is current).
MOVING = ("id", "patient_id", "call_kind", "category", "assessed_on", "ruleset", "criteria_edition")
MOVING_0029 = ("id", "patient_id", "call_kind", "category", "assessed_on")


def _listed(items: tuple[str, ...]) -> str:
    return ", ".join(f"'{i}'" for i in items)


def _counts(kinds: tuple[str, ...], categories: tuple[str, ...]) -> str:
    """A call of the right kind and category ("{r}" the row): a response call, or a call of
    ``kinds`` of one of ``categories`` (as 0029)."""
    return (
        f"({{r}}.call_kind = 'response' OR ({{r}}.call_kind IN ({_listed(kinds)})"
        f" AND {{r}}.category IN ({_listed(categories)})))"
    )


#: Row "{r}" is current: no later row of its patient, date, call kind, rule set and edition
#: (services/assessments.current_assessments).
_CURRENT = (
    "NOT EXISTS (SELECT 1 FROM assessment AS later"
    " WHERE later.patient_id = {r}.patient_id AND later.assessed_on = {r}.assessed_on"
    " AND later.ruleset = {r}.ruleset AND later.call_kind = {r}.call_kind"
    " AND later.criteria_edition = {r}.criteria_edition AND later.id > {r}.id)"
)


def _latest_response(kinds: tuple[str, ...], categories: tuple[str, ...], current: bool) -> str:
    """The recomputation for patient "{p}": the latest day's relapse or progression, else its
    response call; the latest row among equals; with ``current``, among current calls only."""
    where = _counts(kinds, categories).format(r="a")
    if current:
        where += " AND " + _CURRENT.format(r="a")
    return (
        "SELECT a.category FROM assessment AS a WHERE a.patient_id = {p}"
        f" AND {where}"
        " ORDER BY a.assessed_on DESC,"
        " CASE WHEN a.call_kind = 'response' THEN 1 ELSE 0 END, a.id DESC"
        " LIMIT 1"
    )


def _moves(kinds: tuple[str, ...]) -> str:
    """A row that may move the fact ("{r}"): any response call or call of ``kinds``, of any
    category (a relapse "not met" ends an earlier relapse row's turn on that day)."""
    return f"({{r}}.call_kind IN ('response', {_listed(kinds)}))"


def _refresh(fact: str, when: str, row: str) -> str:
    return (
        f"UPDATE patient SET latest_response = ({fact.format(p=f'{row}.patient_id')}) "
        f"WHERE id = {row}.patient_id AND {when.format(r=row)};"
    )


def _triggers(dialect: str, fact: str, when: str, moving: tuple[str, ...]) -> None:
    """(Re-)create the triggers that keep ``patient.latest_response``, named as 0028 named
    them: ``fact`` recomputed for the patient of a row that ``when`` holds for."""
    if dialect == "sqlite":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS assessment_keeps_latest_response_{event}")
        op.execute(
            "CREATE TRIGGER assessment_keeps_latest_response_insert AFTER INSERT ON assessment "
            f"BEGIN {_refresh(fact, when, 'NEW')} END"
        )
        op.execute(
            "CREATE TRIGGER assessment_keeps_latest_response_update "
            f"AFTER UPDATE OF {', '.join(moving)} ON assessment "
            f"BEGIN {_refresh(fact, when, 'OLD')} {_refresh(fact, when, 'NEW')} END"
        )
        op.execute(
            "CREATE TRIGGER assessment_keeps_latest_response_delete AFTER DELETE ON assessment "
            f"BEGIN {_refresh(fact, when, 'OLD')} END"
        )
    elif dialect == "postgresql":
        # The trigger of 0028 calls this function by name; the trigger itself is re-created
        # for the columns that move the fact.
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION trephine_assessment_keeps_latest_response()
            RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP IN ('UPDATE', 'DELETE') THEN
                {_refresh(fact, when, "OLD")}
              END IF;
              IF TG_OP IN ('INSERT', 'UPDATE') THEN
                {_refresh(fact, when, "NEW")}
              END IF;
              RETURN NULL;
            END $$
            """
        )
        op.execute("DROP TRIGGER assessment_keeps_latest_response ON assessment")
        op.execute(
            "CREATE TRIGGER assessment_keeps_latest_response "
            f"AFTER INSERT OR DELETE OR UPDATE OF {', '.join(moving)} ON assessment "
            "FOR EACH ROW EXECUTE FUNCTION trephine_assessment_keeps_latest_response()"
        )
    else:  # pragma: no cover - other backends are not supported by the migrations
        raise NotImplementedError(f"no patient list facts for the {dialect} dialect")
    # Every patient's fact, as the triggers now compute it.
    op.execute(f"UPDATE patient SET latest_response = ({fact.format(p='patient.id')})")


def upgrade() -> None:
    fact = _latest_response(RELAPSE_KINDS, SUPERSEDING_CATEGORIES, current=True)
    _triggers(op.get_bind().dialect.name, fact, _moves(RELAPSE_KINDS), MOVING)


def downgrade() -> None:
    # 0029's triggers: every stored call counts, and only a call that counts recomputes.
    fact = _latest_response(RELAPSE_KINDS, SUPERSEDING_CATEGORIES, current=False)
    _triggers(
        op.get_bind().dialect.name,
        fact,
        _counts(RELAPSE_KINDS, SUPERSEDING_CATEGORIES),
        MOVING_0029,
    )
