"""`trephine study ...`: studies, arms, visit schedules, enrolments and visit mappings.

Writes act as the configured account (``cli/common.acting``): ``studies:write`` to define a
study, its arms and visits; ``studies:enrol`` to enrol patients and map visits by hand. ``show``
is a read of the enrolled patients' records (``records:read``), audited; a role without
identity access sees it de-identified as a Safe Harbor export is (``present/studies.py``):
keyed-hash pseudonyms (the database's export key), days from diagnosis, no free text.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from trephine.access import Permission
from trephine.cli.common import DATABASE_HELP, acting, fail, open_database, working

if TYPE_CHECKING:
    from trephine.store.database import UnitOfWork

app = typer.Typer(help="Studies: arms, visit schedules, enrolment, visits.", no_args_is_help=True)
AS_HELP = "Who acts (audit trail): only before accounts exist, or repeating TREPHINE_USER."


@contextmanager
def _acting(
    given: str | None, database_url: str | None, permission: Permission
) -> Iterator[UnitOfWork]:
    """One database, the account checked on it, one unit of work whose events carry the
    account's role and client ``cli`` (``cli/common.working``); the engine disposed after."""
    database = open_database(database_url, migrate=False)
    with working(database, acting(database, permission.value, given)) as uow:
        yield uow


def _date(text: str | None, flag: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"{flag}: {text!r} is not allowed; allowed: a date YYYY-MM-DD") from None


@app.command("define")
def define(
    name: str = typer.Argument(..., help="Study name (letters, digits, _ . -)."),
    title: str = typer.Option(..., "--title", help="The study's title."),
    description: str | None = typer.Option(None, "--description"),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Define a study (or change its title and description; audited)."""
    from trephine.services import studies

    with _acting(actor, database_url, Permission.STUDIES_WRITE) as uow:
        _, outcome = studies.define(uow, name, title, description)
    typer.echo(f"study {name}: {outcome}")


@app.command("arm")
def arm(
    study: str = typer.Argument(...),
    name: str = typer.Argument(..., help="Arm name (letters, digits, _ . -)."),
    description: str | None = typer.Option(None, "--description"),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Add an arm to a study."""
    from trephine.services import studies

    with _acting(actor, database_url, Permission.STUDIES_WRITE) as uow:
        _, outcome = studies.add_arm(uow, study, name, description)
    typer.echo(f"arm {study}/{name}: {outcome}")


@app.command("visit")
def visit(
    study: str = typer.Argument(...),
    name: str = typer.Argument(..., help="Visit name: lower case, digits, _ (day_100)."),
    label: str = typer.Option(..., "--label", help="In words: 'Day +100 after transplant'."),
    anchor: str = typer.Option(
        "enrolment", "--anchor", help="enrolment, diagnosis, therapy, transplant or CAR-T"
    ),
    day: int = typer.Option(..., "--day", help="Days after the anchor (negative: before)."),
    window: int = typer.Option(..., "--window", help="± days a procedure may fall from the day."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Add a visit to the study's schedule, or change it (audited with the old one)."""
    from trephine.domain.study import Visit, anchor_of
    from trephine.errors import ValidationError
    from trephine.services import studies

    try:
        v = Visit(name, label, anchor_of(anchor), day, window)
    except ValidationError as exc:
        raise fail(ValidationError(f"--{exc.field}", exc.value, exc.allowed)) from None
    with _acting(actor, database_url, Permission.STUDIES_WRITE) as uow:
        _, outcome = studies.set_visit(uow, study, v)
    typer.echo(f"visit {study}/{name} ({v.describe()}): {outcome}")


@app.command("enrol")
def enrol(
    study: str = typer.Argument(...),
    patient: str = typer.Argument(..., help="The patient's record id."),
    arm: str = typer.Option(..., "--arm"),
    on: str = typer.Option(..., "--on", help="Enrolment date YYYY-MM-DD."),
    consent: bool = typer.Option(
        ..., "--consent/--no-consent", help="Consented to research use of their data?"
    ),
    consent_on: str | None = typer.Option(None, "--consent-on", help="Date of that consent."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Enrol a patient on an arm of a study (once per study)."""
    from trephine.domain.study import Enrolment
    from trephine.errors import ValidationError
    from trephine.services import studies

    try:
        e = Enrolment(
            patient,
            arm,
            _date(on, "--on") or dt.date.min,
            consent,
            _date(consent_on, "--consent-on"),
        )
    except ValidationError as exc:
        raise fail(
            ValidationError(f"--{exc.field.replace('_', '-')}", exc.value, exc.allowed)
        ) from None
    with _acting(actor, database_url, Permission.STUDIES_ENROL) as uow:
        _, outcome = studies.enrol(uow, study, e)
    typer.echo(f"{patient} on {study} arm {arm} from {on}: {outcome}")


@app.command("map")
def map_(
    study: str = typer.Argument(...),
    patient: str = typer.Argument(..., help="The patient's record id."),
    visit: str = typer.Argument(..., help="The visit's name."),
    procedure: int | None = typer.Option(
        None, "--procedure", help="The procedure that counts for the visit."
    ),
    none: bool = typer.Option(False, "--none", help="No procedure counts for this visit."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit trail)."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Map a visit to a procedure by hand; it overrides the window mapping (audited)."""
    from trephine.services import studies

    if (procedure is None) == (not none):
        raise fail("--procedure: give a procedure id or --none (one of the two)")
    with _acting(actor, database_url, Permission.STUDIES_ENROL) as uow:
        studies.map_visit(uow, study, patient, visit, procedure, reason)
    shown = "no procedure" if procedure is None else f"procedure {procedure}"
    typer.echo(f"{study} {patient} visit {visit}: {shown} (by hand: {reason})")


@app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json"),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """The studies and how many patients each has enrolled."""
    from trephine.services import studies

    with _acting(None, database_url, Permission.RECORDS_READ) as uow:
        found = studies.list_studies(uow)
    if as_json:
        typer.echo(
            json.dumps(
                [{"study": s.name, "title": s.title, "enrolled": n} for s, n in found], indent=2
            )
        )
        return
    if not found:
        typer.echo("no studies; define one with `trephine study define NAME --title ...`")
    for s, n in found:
        typer.echo(f"{s.name}  {s.title}  ({n} enrolled)")


@app.command("show")
def show(
    study: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json"),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Arms, visit schedule, and every enrolment's visits with the procedure that counts for
    each (by window, or by hand). Audited. Roles without identity access see what a Safe Harbor
    export holds: pseudonyms, days from diagnosis instead of dates, no hand-mapping reasons."""
    from trephine.access import Role, allows
    from trephine.errors import ValidationError
    from trephine.present.deidentify import Deidentifier, Level
    from trephine.services import audit, studies
    from trephine.services.site_secret import deidentifier

    database = open_database(database_url, migrate=False)
    who = acting(database, Permission.RECORDS_READ.value, None)
    identified = who.role is None or allows(Role(who.role), Permission.IDENTITY_READ)
    if identified:
        deid = Deidentifier(Level.NONE)
    else:
        try:
            deid = deidentifier(database, Level.SAFE_HARBOR)
        except ValidationError as exc:
            raise fail(exc) from None
    with working(database, who) as uow:
        v = studies.view(uow, study, deid.patient)
        audit.record_read(
            uow,
            f"study {study}",
            v.patients,
            role=who.role or "cli-user",
            client="cli",
            view="identified" if identified else "pseudonymised",
            query=True,
        )
    from trephine.present.studies import study_json, study_lines

    if as_json:
        typer.echo(json.dumps(study_json(v, deid), indent=2))
        return
    for line in study_lines(v, deid):
        typer.echo(line)
