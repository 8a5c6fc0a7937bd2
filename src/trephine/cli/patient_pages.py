"""``trephine users link``, ``trephine release`` and ``trephine leaflet``: the patient pages
from the command line (docs/patients.md).

- ``users link NAME --patient ID`` gives the ``patient`` account NAME its one record (admin).
- ``release PROCEDURE_ID`` releases a procedure's signed-out results to the patient's pages
  (clinician; recorded once and audited).
- ``leaflet PROCEDURE_ID --stage before|after|results --format html|pdf --out FILE`` writes the
  same words as the pages as a printable leaflet (PDF through WeasyPrint); ``--plan`` takes a
  planned procedure's id instead (before/after only). The results stage of an unreleased
  procedure says the results are not ready, exactly as the page does.
"""

from __future__ import annotations

from pathlib import Path

import typer

from trephine.access import Permission
from trephine.cli.common import DATABASE_HELP, acting, audit_reads, fail, open_database, working

AS_HELP = "Who acts (audit trail): only before accounts exist, or repeating TREPHINE_USER."


def _actor(given: str | None, database_url: str | None, permission: Permission) -> str:
    """Who acts: the configured account once accounts exist (cli/common.acting)."""
    return acting(open_database(database_url, migrate=False), permission.value, given).name


def users_link(
    name: str = typer.Argument(..., help="A patient account (role patient)."),
    patient: str = typer.Option(..., "--patient", help="The patient id it may read."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Link a patient account to the one patient record it may read."""
    from trephine.services import patient_portal

    actor = _actor(None, database_url, Permission.USERS_MANAGE)
    with working(open_database(database_url, migrate=False), actor) as uow:
        patient_portal.link_account(uow, name, patient)
    typer.echo(f"user {name} linked to patient {patient}")


def release(
    procedure_id: int = typer.Argument(..., help="The procedure's id (patients show ID --json)."),
    note: str | None = typer.Option(None, "--note", help="Optional note kept with the release."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Release a procedure's signed-out results to the patient's pages (once; audited)."""
    from trephine.services import patient_portal

    who = _actor(actor, database_url, Permission.RESULTS_RELEASE)
    with working(open_database(database_url, migrate=False), who) as uow:
        done = patient_portal.release(uow, procedure_id, note)
    typer.echo(
        f"procedure {procedure_id}: results released by {done.released_by} at "
        f"{done.released_at.isoformat(timespec='seconds')}"
    )


def leaflet(
    procedure_id: int = typer.Argument(..., help="The procedure's id, or with --plan a plan's."),
    stage: str = typer.Option("before", "--stage", help="before, after or results."),
    fmt: str = typer.Option("html", "--format", help="html or pdf."),
    out: Path = typer.Option(..., "--out", help="The file to write."),
    plan: bool = typer.Option(False, "--plan", help="PROCEDURE_ID is a planned procedure's id."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Write the patient leaflet of one biopsy (the words of the patient pages)."""
    from trephine.errors import ValidationError
    from trephine.web.leaflets import leaflet_html, write_pdf

    if stage not in ("before", "after", "results"):
        raise fail(ValidationError("stage", stage, "before, after, results"))
    if fmt not in ("html", "pdf"):
        raise fail(ValidationError("format", fmt, "html, pdf"))
    database = open_database(database_url, migrate=False)
    who = acting(database, Permission.IDENTITY_READ.value)
    with working(database, who) as uow:
        html, patient_id = leaflet_html(uow, procedure_id, stage, plan=plan)  # type: ignore[arg-type]
        audit_reads(uow, who, f"leaflet: {stage}", [patient_id], view="identified")
    if fmt == "html":
        out.write_text(html, encoding="utf-8")
    else:
        write_pdf(html, out)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer, users_app: typer.Typer) -> None:
    users_app.command("link")(users_link)
    app.command("release")(release)
    app.command("leaflet")(leaflet)
