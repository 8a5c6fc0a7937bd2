"""PostgreSQL privileges for running Trephine as a role that cannot rewrite the audit trail.

The database triggers keep ``audit_event`` and ``assessment`` append-only, but a table's OWNER
can disable or drop its triggers. So in production the tables belong to a separate owner role
that only runs migrations (``trephine init``), and the application connects as a role that is
granted exactly what the services need: it may read and insert audit events, never update,
delete or truncate them, and since it owns nothing it cannot alter, disable or drop a trigger.
See docs/postgresql.md; tests/store/test_postgres_roles.py proves it on a live server.
"""

from __future__ import annotations

import re

#: Tables the application may only read and append to.
APPEND_ONLY_TABLES = (
    "audit_event",
    "assessment",
    "report_version",
    "report_discussion",
    "electronic_signature",
    "clinical_exam",  # an examination is amended by a new version, never edited
    "site_secret",  # the export key: made once, never changed (pseudonyms must stay stable)
)
#: Read-only for the application: the owner's migrations write it.
MIGRATION_TABLES = ("alembic_version",)
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def app_role_grants(app_role: str, schema: str = "public") -> list[str]:
    """SQL the OWNER runs after ``trephine init`` (and after each later migration) to let
    ``app_role`` use the schema without being able to change the trail."""
    if not _ROLE.fullmatch(app_role) or not _ROLE.fullmatch(schema):
        raise ValueError(f"role and schema must match {_ROLE.pattern}: {app_role!r}, {schema!r}")
    role, where = app_role, schema
    return [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {role}",
        f"GRANT USAGE ON SCHEMA {where} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {where} TO {role}",
        f"REVOKE UPDATE, DELETE ON {', '.join(APPEND_ONLY_TABLES)} FROM {role}",
        f"REVOKE INSERT, UPDATE, DELETE ON {', '.join(MIGRATION_TABLES)} FROM {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {role}",
    ]
