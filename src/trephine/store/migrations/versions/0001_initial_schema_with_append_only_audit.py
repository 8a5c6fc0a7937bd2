"""Initial schema, with database-level guards: append-only audit and assessments, and results
that cannot change in place once signed out.

The guards are triggers so that they hold for every client of the database, not only for
Trephine's services (21 CFR Part 11-style audit trails must not be editable by a stray UPDATE).

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:34:39.459479
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


APPEND_ONLY = ("audit_event", "assessment")
#: Columns that make up a result's content; frozen once the result leaves the draft state.
RESULT_CONTENT = (
    "value",
    "kind",
    "analyte",
    "specimen_id",
    "patient_id",
    "collected_on",
    "version",
    "created_by",
    "created_at",
)
SIGNED_OUT_MSG = "result: a signed-out result is never changed in place; amend it instead"
FINAL_MSG = "result: superseded and cancelled versions are frozen"
DELETE_MSG = "result: only drafts can be deleted"


def _install_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
                )
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in RESULT_CONTENT)
        op.execute(
            "CREATE TRIGGER result_signed_out_frozen BEFORE UPDATE ON result "
            f"WHEN OLD.state <> 'draft' AND ({changed}) "
            f"BEGIN SELECT RAISE(ABORT, '{SIGNED_OUT_MSG}'); END"
        )
        op.execute(
            "CREATE TRIGGER result_final_frozen BEFORE UPDATE ON result "
            "WHEN OLD.state IN ('superseded', 'cancelled') "
            f"BEGIN SELECT RAISE(ABORT, '{FINAL_MSG}'); END"
        )
        op.execute(
            "CREATE TRIGGER result_no_delete BEFORE DELETE ON result WHEN OLD.state <> 'draft' "
            f"BEGIN SELECT RAISE(ABORT, '{DELETE_MSG}'); END"
        )
    elif dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION trephine_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'restrict_violation';
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION trephine_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION trephine_refuse_change()"
            )
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in RESULT_CONTENT)
        op.execute(
            f"""
            CREATE FUNCTION trephine_guard_result() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'DELETE' THEN
                IF OLD.state <> 'draft' THEN
                  RAISE EXCEPTION '{DELETE_MSG}' USING ERRCODE = 'restrict_violation';
                END IF;
                RETURN OLD;
              END IF;
              IF OLD.state IN ('superseded', 'cancelled') THEN
                RAISE EXCEPTION '{FINAL_MSG}' USING ERRCODE = 'restrict_violation';
              END IF;
              IF OLD.state <> 'draft' AND ({changed}) THEN
                RAISE EXCEPTION '{SIGNED_OUT_MSG}' USING ERRCODE = 'restrict_violation';
              END IF;
              RETURN NEW;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER result_lifecycle_guard BEFORE UPDATE OR DELETE ON result "
            "FOR EACH ROW EXECUTE FUNCTION trephine_guard_result()"
        )
    else:  # pragma: no cover - other backends are not supported by the migrations
        raise NotImplementedError(f"no append-only guards for the {dialect} dialect")


def _drop_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        for name in ("result_signed_out_frozen", "result_final_frozen", "result_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS result_lifecycle_guard ON result")
        op.execute("DROP FUNCTION IF EXISTS trephine_guard_result()")
        op.execute("DROP FUNCTION IF EXISTS trephine_refuse_change()")


def upgrade() -> None:

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "patient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("sex", sa.String(length=16), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("external_id", name=op.f("uq_patient_external_id")),
    )
    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("ruleset", sa.String(length=64), nullable=False),
        sa.Column("criteria_edition", sa.String(length=64), nullable=False),
        sa.Column("matched_rule", sa.String(length=200), nullable=True),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "missing_inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_assessment_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
        sa.UniqueConstraint(
            "patient_id",
            "assessed_on",
            "ruleset",
            "criteria_edition",
            "software_version",
            name="uq_assessment_natural_key",
        ),
    )
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessment_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "cellular_therapy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("donor_type", sa.String(length=32), nullable=True),
        sa.Column("conditioning", sa.String(length=32), nullable=True),
        sa.Column("product", sa.String(length=200), nullable=True),
        sa.Column("target", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_cellular_therapy_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cellular_therapy")),
        sa.UniqueConstraint(
            "patient_id",
            "kind",
            "given_on",
            name=op.f("uq_cellular_therapy_patient_id_kind_given_on"),
        ),
    )
    with op.batch_alter_table("cellular_therapy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cellular_therapy_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "diagnosis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("disease", sa.String(length=32), nullable=False),
        sa.Column("classification", sa.String(length=32), nullable=False),
        sa.Column("subtype", sa.String(length=200), nullable=True),
        sa.Column("diagnosed_on", sa.Date(), nullable=False),
        sa.Column(
            "genetics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("karyotype", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_diagnosis_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnosis")),
        sa.UniqueConstraint(
            "patient_id",
            "disease",
            "diagnosed_on",
            name=op.f("uq_diagnosis_patient_id_disease_diagnosed_on"),
        ),
    )
    with op.batch_alter_table("diagnosis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_diagnosis_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "patient_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mrn", sa.String(length=64), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_identity_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_identity")),
        sa.UniqueConstraint("mrn", name=op.f("uq_patient_identity_mrn")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_patient_identity_patient_id")),
    )
    op.create_table(
        "procedure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("performed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("indication", sa.String(length=32), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=True),
        sa.Column("anesthesia", sa.String(length=32), nullable=False),
        sa.Column("needle", sa.String(length=100), nullable=True),
        sa.Column("duration_min", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_procedure_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure")),
        sa.UniqueConstraint(
            "patient_id", "performed_at", name=op.f("uq_procedure_patient_id_performed_at")
        ),
    )
    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedure_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "therapy_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("regimen", sa.String(length=200), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=False),
        sa.Column("intensity", sa.String(length=32), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_therapy_line_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_therapy_line")),
        sa.UniqueConstraint("patient_id", "line", name=op.f("uq_therapy_line_patient_id_line")),
    )
    with op.batch_alter_table("therapy_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_therapy_line_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "complication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("follow_up", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["procedure_id"], ["procedure.id"], name=op.f("fk_complication_procedure_id_procedure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complication")),
    )
    with op.batch_alter_table("complication", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_complication_procedure_id"), ["procedure_id"], unique=False
        )

    op.create_table(
        "specimen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("accession", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_pull", sa.Boolean(), nullable=True),
        sa.Column("spicules", sa.Boolean(), nullable=True),
        sa.Column("hemodilution", sa.String(length=16), nullable=True),
        sa.Column("core_length_mm", sa.String(length=64), nullable=True),
        sa.Column("fragmentation", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_specimen_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"], ["procedure.id"], name=op.f("fk_specimen_procedure_id_procedure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_specimen")),
        sa.UniqueConstraint("accession", name=op.f("uq_specimen_accession")),
    )
    with op.batch_alter_table("specimen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_specimen_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_specimen_procedure_id"), ["procedure_id"], unique=False
        )

    op.create_table(
        "therapy_cycle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapy_line_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["therapy_line_id"],
            ["therapy_line.id"],
            name=op.f("fk_therapy_cycle_therapy_line_id_therapy_line"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_therapy_cycle")),
        sa.UniqueConstraint(
            "therapy_line_id", "number", name=op.f("uq_therapy_cycle_therapy_line_id_number")
        ),
    )
    op.create_table(
        "result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("analyte", sa.String(length=200), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("headline_value", sa.Float(), nullable=True),
        sa.Column("headline_unit", sa.String(length=16), nullable=True),
        sa.Column("headline_qualifier", sa.String(length=16), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_by", sa.String(length=200), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("amended_by", sa.String(length=200), nullable=True),
        sa.Column("amended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("amendment_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_result_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["specimen_id"], ["specimen.id"], name=op.f("fk_result_specimen_id_specimen")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["result.id"], name=op.f("fk_result_supersedes_id_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result")),
        sa.UniqueConstraint(
            "patient_id",
            "specimen_id",
            "kind",
            "analyte",
            "collected_on",
            "version",
            name="uq_result_natural_key_version",
        ),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_result_supersedes_id")),
    )
    with op.batch_alter_table("result", schema=None) as batch_op:
        batch_op.create_index(
            "ix_result_patient_kind_date", ["patient_id", "kind", "collected_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_result_specimen_id"), ["specimen_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_result_state"), ["state"], unique=False)

    _install_guards()


def downgrade() -> None:
    _drop_guards()

    with op.batch_alter_table("result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_state"))
        batch_op.drop_index(batch_op.f("ix_result_specimen_id"))
        batch_op.drop_index("ix_result_patient_kind_date")

    op.drop_table("result")
    op.drop_table("therapy_cycle")
    with op.batch_alter_table("specimen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_specimen_procedure_id"))
        batch_op.drop_index(batch_op.f("ix_specimen_patient_id"))

    op.drop_table("specimen")
    with op.batch_alter_table("complication", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complication_procedure_id"))

    op.drop_table("complication")
    with op.batch_alter_table("therapy_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_therapy_line_patient_id"))

    op.drop_table("therapy_line")
    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_patient_id"))

    op.drop_table("procedure")
    op.drop_table("patient_identity")
    with op.batch_alter_table("diagnosis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diagnosis_patient_id"))

    op.drop_table("diagnosis")
    with op.batch_alter_table("cellular_therapy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cellular_therapy_patient_id"))

    op.drop_table("cellular_therapy")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_patient_id"))

    op.drop_table("assessment")
    op.drop_table("patient")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_entity")

    op.drop_table("audit_event")
