"""Who may do what: roles, permissions and the one table that grants them.

Every route of the web app and API declares exactly one :class:`Permission` (see
``trephine.api.deps.require``); a role may use a route when :data:`GRANTS` gives it that
permission. The same table is printed in ``docs/security.md`` and a test parses the document and
compares, so the two cannot drift. Pure: no database, no web framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from trephine.errors import ValidationError


class Role(StrEnum):
    #: Users, sessions and the audit trail; also sees records with identity (to investigate).
    ADMIN = "admin"
    #: Imports, enters, verifies (signs out) and amends results; sees identity.
    LAB = "lab"
    #: The identified view (name, MRN, birth date, search by them); acknowledges alerts.
    CLINICIAN = "clinician"
    #: The pseudonymised view only: never a name, an MRN or a birth date.
    RESEARCHER = "researcher"
    #: Their own record only, in plain words (the patient pages, docs/patients.md).
    PATIENT = "patient"


class Permission(StrEnum):
    #: Open to everybody, signed in or not: ``/healthz``, the sign-in page, static files.
    PUBLIC = "public"
    #: Any signed-in user: sign out, see who they are.
    SIGNED_IN = "signed-in"
    #: Read patient records in the pseudonymised view (no name, MRN or birth date).
    RECORDS_READ = "records:read"
    #: See name, MRN and birth date, and search by them.
    IDENTITY_READ = "identity:read"
    #: Import, enter, verify (sign out) and amend results.
    RESULTS_WRITE = "results:write"
    #: Acknowledge or withdraw a clinical alert.
    ALERTS_ACKNOWLEDGE = "alerts:acknowledge"
    #: Record biopsy procedures.
    PROCEDURES_WRITE = "procedures:write"
    #: Record and amend a patient's clinical examination (lymph nodes, liver and spleen,
    #: constitutional symptoms): a clinician's finding, not a laboratory result.
    EXAMS_WRITE = "exams:write"
    #: Order lab studies for a procedure, mark their specimen collected, cancel them (issue 10).
    ORDERS_WRITE = "orders:write"
    #: Record that a marrow report was discussed with the patient.
    REPORTS_DISCUSS = "reports:discuss"
    #: The OpenAPI explorer and schema.
    API_DOCS = "api:docs"
    #: Add, disable, re-role users; reset passwords; issue API tokens.
    USERS_MANAGE = "users:manage"
    #: List and revoke other users' sessions.
    SESSIONS_MANAGE = "sessions:manage"
    #: Read the audit trail (including audited reads).
    AUDIT_READ = "audit:read"
    #: The patient pages: one's own record only (a patient account linked to it).
    OWN_RECORD_READ = "own-record:read"
    #: Release a procedure's results to the patient's pages.
    RESULTS_RELEASE = "results:release"
    #: Define a study, its arms and its visit schedule (issue 12).
    STUDIES_WRITE = "studies:write"
    #: Enrol a patient on a study arm; map a visit to a procedure by hand (names the patient).
    STUDIES_ENROL = "studies:enrol"


_STAFF = {Permission.SIGNED_IN, Permission.RECORDS_READ, Permission.API_DOCS}

#: The grant table. ``PUBLIC`` is implicit for everybody and not listed.
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        _STAFF
        | {
            Permission.IDENTITY_READ,
            Permission.USERS_MANAGE,
            Permission.SESSIONS_MANAGE,
            Permission.AUDIT_READ,
        }
    ),
    Role.LAB: frozenset(
        _STAFF | {Permission.IDENTITY_READ, Permission.RESULTS_WRITE, Permission.ORDERS_WRITE}
    ),
    Role.CLINICIAN: frozenset(
        _STAFF
        | {
            Permission.IDENTITY_READ,
            Permission.ALERTS_ACKNOWLEDGE,
            Permission.PROCEDURES_WRITE,
            Permission.EXAMS_WRITE,
            Permission.ORDERS_WRITE,
            Permission.RESULTS_RELEASE,
            Permission.REPORTS_DISCUSS,
            Permission.STUDIES_WRITE,
            Permission.STUDIES_ENROL,
        }
    ),
    Role.RESEARCHER: frozenset(_STAFF | {Permission.STUDIES_WRITE}),
    Role.PATIENT: frozenset({Permission.SIGNED_IN, Permission.OWN_RECORD_READ}),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting: an account's name and role, and how they proved it."""

    name: str
    role: Role
    #: "session" (browser), "token" (Authorization: Bearer), "cli" (TREPHINE_USER).
    via: str
    session_id: int | None = None

    def may(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def allows(role: Role, permission: Permission) -> bool:
    """May ``role`` use a route that declares ``permission``?"""
    return permission is Permission.PUBLIC or permission in GRANTS[role]


def parse_role(value: str) -> Role:
    """The role named ``value``, or a :class:`ValidationError` listing the roles."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise ValidationError(
            "role", value, ", ".join(r.value for r in Role), reason="unknown role"
        ) from None
