"""Record keeping: ``init``, ``import``, ``patients list`` and ``patients show``.

Bad input (an unreadable file, a rejected import, an unknown patient, a bad database URL) exits
with code 2 and a located message on stderr, never a traceback. SQLAlchemy, openpyxl and the
services are imported inside the commands so ``trephine --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from trephine.cli.common import (
    DATABASE_HELP,
    acting,
    audit_reads,
    fail,
    open_database,
    shown_url,
    working,
)
from trephine.errors import TrephineError

if TYPE_CHECKING:
    from trephine.store.database import Database

patients_app = typer.Typer(
    help="List patients and show one patient's timeline.", no_args_is_help=True
)


def init(
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Create or upgrade the database schema (Alembic migrations; safe to run again)."""
    from trephine.services.site_secret import site_secret

    database = open_database(database_url, migrate=True)
    try:
        site_secret(database)  # this database's export key, made once (never printed)
        revision = database.current_revision()
        typer.echo(f"database {shown_url(database.url)} is at revision {revision} (head)")
    finally:
        database.dispose()


def import_(
    paths: list[Path] = typer.Argument(
        ...,
        help="CSV files named after their sheet (patients.csv …), a folder of them, "
        "or an .xlsx workbook with one sheet per kind.",
        show_default=False,
    ),
    actor: str | None = typer.Option(None, "--actor", help="Who is importing (audit trail)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check everything, including against the database; write nothing."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Import the clinical template, all or nothing; re-importing the same data adds nothing."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from trephine.importers.clinical import import_paths

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise fail(f"{missing[0]}: file not found")
    against = ""
    if dry_run:
        database, against = _open_for_dry_run(database_url)
    else:
        database = open_database(database_url, migrate=True)
    who = acting(database, "results:write", actor, option="--actor")
    console = Console(stderr=True)
    source = ", ".join(str(p) for p in paths)
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("Importing", total=None)
            report = import_paths(
                database,
                paths,
                who.name,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                dry_run=dry_run,
            )
    except TrephineError as exc:
        raise fail(exc) from None
    finally:
        database.dispose()
    for warning in report.warnings:
        typer.echo(str(warning), err=True)
    created = ", ".join(f"{n} {sheet}" for sheet, n in report.created.items()) or "nothing new"
    updated = "".join(
        f"; {n} {sheet} added to (new cycles or end date)" for sheet, n in report.updated.items()
    )
    unchanged = sum(report.unchanged.values())
    verb = f"would import (dry run{against}, nothing written)" if dry_run else "imported"
    typer.echo(f"{verb} {source}: {created}{updated}; {unchanged} already present (unchanged)")


def _open_for_dry_run(url: str | None) -> tuple[Database, str]:
    """The database a dry run checks against, never created or migrated by it.

    A missing or empty database is checked as an empty one: an in-memory SQLite database
    migrated for the occasion and thrown away (every row would be new; unknown patients and the
    like are still found). A database at an older revision is refused: checking against it
    would need the migration the dry run must not run.
    """
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    from trephine.services import open_database as open_
    from trephine.settings import get_settings

    shown = shown_url(url or get_settings().database_url)
    parsed = make_url(url or get_settings().database_url)
    name = parsed.database
    exists = True
    if parsed.get_backend_name() == "sqlite" and name not in (None, "", ":memory:"):
        exists = Path(str(name)).exists()
    try:
        if exists:
            database = open_(url)
            current = database.current_revision()
            if current is not None:
                if current != database.head_revision():
                    database.dispose()
                    raise fail(
                        f"database {shown} is at revision {current}, not the latest; run "
                        "`trephine init` to migrate it (a dry run writes nothing, migrations "
                        "included)"
                    )
                return database, ""
            database.dispose()
    except sqlalchemy.exc.ArgumentError as exc:
        raise fail(f"database URL {url!r}: {exc}") from None
    except sqlalchemy.exc.OperationalError as exc:
        reason = "; ".join(line.strip() for line in str(exc.orig).strip().splitlines())
        raise fail(f"cannot open the database: {reason}", code=1) from None
    empty = open_("sqlite://")
    empty.upgrade()
    return empty, f" against an empty database: {shown} does not exist or is not initialised"


@patients_app.command("list")
def list_patients(
    diagnosis: str | None = typer.Option(None, "--diagnosis", help="Only this disease, e.g. AML."),
    search: str | None = typer.Option(None, "--search", "-q", help="Part of the patient id."),
    sort: str = typer.Option(
        "id", "--sort", help="id, diagnosis, last_biopsy, response or alerts."
    ),
    descending: bool = typer.Option(False, "--desc", help="Sort in descending order."),
    limit: int = typer.Option(50, "--limit", help="Patients per page (1-500)."),
    offset: int = typer.Option(0, "--offset", help="Skip this many (the next page)."),
    as_json: bool = typer.Option(
        False, "--json", help="JSON: the same page as GET /api/v1/patients."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Patients, a page at a time (research view: no names or MRNs)."""
    from rich.console import Console
    from rich.table import Table

    from trephine.api.readers import patient_page
    from trephine.errors import ValidationError
    from trephine.present.explain import category_label
    from trephine.services.patient_search import SORT_KEYS

    if sort not in SORT_KEYS:
        raise fail(ValidationError("sort", sort, SORT_KEYS))
    database = open_database(database_url, migrate=False)
    who = acting(database, "records:read")
    with working(database, who) as uow:
        # The one public shape of the list (trephine.present.results.patient_list).
        page = patient_page(
            uow,
            diagnosis=diagnosis,
            text=search,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
        )
        audit_reads(uow, who, "patients list", [r.id for r in page.items], query=True)
    if as_json:
        typer.echo(json.dumps(page.model_dump(mode="json"), indent=2))
        return
    table = Table("patient", "sex", "born", "diagnosis", "last biopsy", "marrow", "response")
    for r in page.items:
        marrow = ""
        if r.marrow is not None:
            marrow = f"{r.marrow.label} {r.marrow.value.display} ({r.marrow.collected_on})"
        table.add_row(
            r.id,
            r.sex,
            str(r.birth_year or ""),
            r.diagnosis or "",
            str(r.last_biopsy or ""),
            marrow,
            # The category in the words of the patient list page (the code stays in --json).
            category_label(r.latest_response) if r.latest_response else "",
        )
    Console().print(table)
    shown = f"{page.offset + 1}-{page.offset + len(page.items)} of " if page.items else ""
    typer.echo(f"{shown}{page.total} patient(s)")


@patients_app.command("show")
def show_patient(
    patient_id: str = typer.Argument(..., help="The patient's research id."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """One patient's timeline: diagnoses, therapy lines, biopsies with key results, by date."""
    from trephine.present.chronology import with_chronology
    from trephine.services import patients

    if as_json:
        # The one public shape of a patient's timeline: what GET /api/v1/patients/{id}/timeline
        # serves (tests/api/test_result_json_shape.py checks they are equal).
        from trephine.api.readers import patient_timeline

        database = open_database(database_url, migrate=False)
        who = acting(database, "records:read")
        with working(database, who) as uow:
            doc = patient_timeline(uow, patient_id).model_dump(mode="json")
            audit_reads(uow, who, "timeline", [patient_id])
        typer.echo(json.dumps(doc, indent=2))
        return
    database = open_database(database_url, migrate=False)
    who = acting(database, "records:read")
    with working(database, who) as uow:
        record = with_chronology(patients.patient_record(uow, patient_id))
        audit_reads(uow, who, "patient", [patient_id])
    p = record.patient
    typer.echo(f"patient {p.external_id} — {p.sex}, born {p.birth_year or 'unknown'}")
    for entry in record.chronology:
        span = f" → {entry.until}" if entry.until else ""
        typer.echo(f"{entry.on}{span}  {entry.kind:<10}  {entry.title}")
        if entry.detail:
            typer.echo(f"{'':12}{entry.detail}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("init")(init)
    app.command("import")(import_)
    app.add_typer(patients_app, name="patients")
