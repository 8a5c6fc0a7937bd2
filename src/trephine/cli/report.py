"""``trephine report`` (one procedure's marrow report as HTML, PDF or FHIR), ``trephine
reports ...`` (issue versions, list them, record the discussion with the patient) and
``trephine fhir bundle`` (a patient's whole record as FHIR R4).

Who acts is ``cli/common.acting``: once the database has accounts, the account of
``TREPHINE_USER``/``TREPHINE_TOKEN``, whose role must grant what the web's report routes need
(records:read to read, results:write to issue, reports:discuss to record the talk); ``--as`` may
only repeat it. Identity (name, MRN, birth date) appears only when that role has identity:read;
otherwise the output is the pseudonymised view. Every output is an audited read of the
patient's record.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from trephine.cli.common import (
    DATABASE_HELP,
    PASSWORD_STDIN_HELP,
    Acting,
    acting,
    audit_reads,
    fail,
    identified,
    open_database,
    read_password,
    working,
)
from trephine.errors import ValidationError

if TYPE_CHECKING:
    from trephine.store.database import Database, UnitOfWork

reports_app = typer.Typer(
    help="Issue marrow report versions, list them, record the talk with the patient.",
    no_args_is_help=True,
)
fhir_app = typer.Typer(help="FHIR R4 exports.", no_args_is_help=True)

FORMATS = ("html", "pdf", "fhir")
AS_HELP = (
    "Who is acting (recorded as the signer). Without accounts: any name (default "
    "TREPHINE_CLI_USER); with accounts it may only repeat TREPHINE_USER."
)


def _acting(permission: str, user: str | None, database_url: str | None) -> tuple[Database, Acting]:
    """The opened database and who acts (``cli/common.acting``: once accounts exist, the account
    of TREPHINE_USER/TREPHINE_TOKEN, whose role must grant ``permission``)."""
    database = open_database(database_url, migrate=False)
    return database, acting(database, permission, user)


def _audit_view(uow: UnitOfWork, who: Acting, what: str, patient: str) -> None:
    view = "identified" if identified(who) else "pseudonymised"
    audit_reads(uow, who, what, [patient], view=view)


def _write(out: Path, data: bytes | str) -> None:
    try:
        if isinstance(data, str):
            out.write_text(data, encoding="utf-8")
        else:
            out.write_bytes(data)
    except OSError as exc:
        raise fail(exc) from None


def report(
    procedure_id: int = typer.Argument(
        ..., help="The procedure's id (`trephine patients show ID --json`: biopsies[].id)."
    ),
    fmt: str = typer.Option("html", "--format", help="html, pdf or fhir."),
    out: Path = typer.Option(..., "--out", help="The file to write."),
    version: int | None = typer.Option(
        None, "--version", help="An issued version (default: the current one)."
    ),
    working_copy: bool = typer.Option(
        False, "--working-copy", help="The signed-out results now, not an issued version."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Write one procedure's integrated marrow report as HTML, PDF or a FHIR R4 Bundle."""
    from trephine import __version__
    from trephine.present import fhir
    from trephine.present import report as present
    from trephine.services import reports
    from trephine.settings import get_settings

    if fmt not in FORMATS:
        raise fail(ValidationError("--format", fmt, ", ".join(FORMATS)))
    if working_copy and version is not None:
        raise fail(ValidationError("--working-copy", "with --version", "one of the two"))
    database, who = _acting("records:read", None, database_url)
    shows_identity = identified(who)
    with working(database, who) as uow:
        chosen: int | str | None = None if working_copy else (version or "current")
        doc = reports.marrow_report(uow, procedure_id, version=chosen, identified=shows_identity)
        _audit_view(uow, who, f"marrow report ({fmt})", doc.patient.external_id)
        if fmt == "fhir":
            if doc.shown is None:
                raise fail(
                    f"procedure {procedure_id} has no issued report version; issue one with "
                    "`trephine reports issue` (a working copy has no FHIR form)"
                )
            ref = (
                fhir.identified_patient(doc.patient, doc.identity)
                if shows_identity
                else fhir.pseudonymised_patient(doc.patient)
            )
            text = fhir.dumps(fhir.report_bundle(doc, patient=ref))
    if fmt == "fhir":
        _write(out, text)
    else:
        rendered = present.document(doc, lab=get_settings().lab_name, software=__version__)
        _write(out, present.html(rendered) if fmt == "html" else present.pdf(rendered))
    shown = "working copy" if doc.shown is None else f"version {doc.shown.version}"
    typer.echo(f"wrote {out} ({fmt}, {shown}, {len(doc.results)} signed-out result(s))")


@reports_app.command("issue")
def issue(
    procedure_id: int = typer.Argument(..., help="The procedure's id."),
    status: str = typer.Option(
        ..., "--status", help="preliminary, final, amended, corrected or addended."
    ),
    reason: str | None = typer.Option(
        None, "--reason", help="Why (required for amended, corrected, addended)."
    ),
    interpretation: str | None = typer.Option(None, "--interpretation"),
    diagnosis: str | None = typer.Option(None, "--diagnosis", help="Integrated diagnosis."),
    classification: str | None = typer.Option(
        None, "--classification", help="'WHO 5th' or 'ICC 2022'."
    ),
    comments: str | None = typer.Option(None, "--comments"),
    user: str | None = typer.Option(None, "--as", metavar="USER", help=AS_HELP),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Issue the next version of a procedure's report from its signed-out results, signed.

    Issuing is an electronic signature (21 CFR 11.200): the signer's account (TREPHINE_USER)
    re-enters its password, typed at the prompt or piped with --password-stdin.
    """
    from trephine.domain.report import parse_status
    from trephine.errors import NotAuthenticated
    from trephine.services import accounts, signatures
    from trephine.settings import get_settings

    try:
        chosen = parse_status(status)
    except ValidationError as exc:
        raise fail(ValidationError("--status", exc.value, exc.allowed)) from None
    database = open_database(database_url, migrate=False)
    who = acting(database, "results:write", user)
    if who.role is None:
        database.dispose()
        raise fail(
            "issuing a report is an electronic signature: it needs the signer's account and "
            "password (add accounts with `trephine users add`, then set TREPHINE_USER)"
        )
    password = read_password(password_stdin)
    try:
        accounts.reauthenticate(
            database, who.name, password, "cli", accounts.Throttle.from_settings(get_settings())
        )
    except NotAuthenticated as exc:
        database.dispose()
        raise fail(exc) from None
    with working(database, who) as uow:
        v, sig = signatures.sign_report(
            uow,
            procedure_id,
            chosen,
            reason=reason,
            interpretation=interpretation,
            diagnosis=diagnosis,
            diagnosis_classification=classification,
            comments=comments,
        )
    typer.echo(
        f"issued version {v.version} ({v.status}) of the report of procedure {procedure_id} "
        f"by {v.issued_by}: {len(v.result_ids)} signed-out result(s); sha256 {v.content_sha256}"
    )
    typer.echo(sig.manifestation())


def _version_dict(v: Any) -> dict[str, Any]:
    return {
        "version": v.version,
        "status": str(v.status),
        "issued_by": v.issued_by,
        "issued_at": v.issued_at.isoformat(),
        "reason": v.reason,
        "results": list(v.result_ids),
        "sha256": v.content_sha256,
        "discussions": [
            {
                "by": d.discussed_by,
                "with": d.discussed_with,
                "at": d.discussed_at.isoformat(),
                "note": d.note,
            }
            for d in v.discussions
        ],
    }


@reports_app.command("versions")
def versions(
    procedure_id: int = typer.Argument(..., help="The procedure's id."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Every issued version of a procedure's report (the last one is current)."""
    from trephine.services import reports
    from trephine.services.patient_portal import patient_of_procedure

    database, who = _acting("records:read", None, database_url)
    with working(database, who) as uow:
        found = reports.versions_of(uow, procedure_id)
        _audit_view(uow, who, "report versions", patient_of_procedure(uow, procedure_id))
    if as_json:
        typer.echo(json.dumps([_version_dict(v) for v in found], indent=2))
        return
    if not found:
        typer.echo(f"procedure {procedure_id}: no report version issued yet")
        return
    for v in found:
        mark = "  (current)" if v is found[-1] else ""
        why = f" — {v.reason}" if v.reason else ""
        typer.echo(
            f"v{v.version} {v.status:<11} {v.issued_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC "
            f"by {v.issued_by}{why}{mark}"
        )
        for d in v.discussions:
            typer.echo(
                f"    discussed by {d.discussed_by} with {d.discussed_with} on "
                f"{d.discussed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
            )


@reports_app.command("discussed")
def discussed(
    procedure_id: int = typer.Argument(..., help="The procedure's id."),
    with_whom: str = typer.Option("patient", "--with", help="Who it was discussed with."),
    at: str | None = typer.Option(None, "--at", help="When, ISO 8601 with offset (default: now)."),
    by: str | None = typer.Option(None, "--by", help="Who discussed it (default: --as)."),
    note: str | None = typer.Option(None, "--note"),
    user: str | None = typer.Option(None, "--as", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Record that the current report was discussed with the patient (who, when)."""
    from trephine.services import reports

    when: dt.datetime | None = None
    if at is not None:
        try:
            when = dt.datetime.fromisoformat(at)
        except ValueError:
            raise fail(
                ValidationError("--at", at, "an ISO 8601 time, e.g. 2026-12-03T10:30+00:00")
            ) from None
    database, who = _acting("reports:discuss", user, database_url)
    with working(database, who) as uow:
        d = reports.record_discussion(
            uow,
            procedure_id,
            discussed_with=with_whom,
            discussed_at=when or uow.now(),
            discussed_by=by,
            note=note,
        )
    typer.echo(
        f"recorded: discussed by {d.discussed_by} with {d.discussed_with} on "
        f"{d.discussed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


@fhir_app.command("bundle")
def bundle(
    patient: str = typer.Option(..., "--patient", help="The patient's research id."),
    out: Path = typer.Option(..., "--out", help="The JSON file to write."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """A patient's whole record as one FHIR R4 Bundle (validated with fhir.resources)."""
    from trephine.present import fhir
    from trephine.services import reports

    database, who = _acting("records:read", None, database_url)
    shows_identity = identified(who)
    with working(database, who) as uow:
        found = reports.patient_reports(uow, patient, identified=shows_identity)
        _audit_view(uow, who, "FHIR bundle", patient)
    ref = (
        fhir.identified_patient(found.record.patient, found.identity)
        if shows_identity
        else fhir.pseudonymised_patient(found.record.patient)
    )
    doc = fhir.patient_bundle(found, patient=ref)
    _write(out, fhir.dumps(doc))
    kinds: dict[str, int] = {}
    for e in doc["entry"]:
        kinds[e["resource"]["resourceType"]] = kinds.get(e["resource"]["resourceType"], 0) + 1
    typer.echo(f"wrote {out}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(reports_app, name="reports")
    app.add_typer(fhir_app, name="fhir")
