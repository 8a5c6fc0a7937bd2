"""``trephine exams …``: record a patient's clinical examination (lymph nodes, liver and spleen,
constitutional symptoms), amend it with a reason, list the versions.

The same rules as the web app's examination form (``importers/entry_form.parse_clinical_exam``,
the import template's ``clinical_exam`` fields) and the same permissions: ``exams:write``
(clinicians) to record or amend, ``records:read`` to list (audited). ``trephine assess`` reads
the current version of each examination (docs/assessments.md, "Clinical examinations").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from trephine.cli.common import DATABASE_HELP, acting, audit_reads, fail, open_database, working

if TYPE_CHECKING:
    from trephine.domain.results import ClinicalExam
    from trephine.services.exams import StoredExam

app = typer.Typer(
    help="Clinical examinations: lymph nodes, liver and spleen, constitutional symptoms "
    "(read by the iwCLL 2018 response of trephine assess).",
    no_args_is_help=True,
)

AS_HELP = "Who acts (audit trail); with accounts it may only repeat TREPHINE_USER."
NODE_HELP = (
    "Longest diameter of the largest lymph node, VALUE [UNIT] (cm or mm; 0 = no palpable "
    'node), e.g. "1.5 cm" or "15 mm".'
)
SPLEEN_HELP = 'Spleen length on imaging, VALUE [UNIT] (cm or mm), e.g. "12.5 cm".'
YES_NO = "yes or no; leave it out when not examined (then named as missing, never normal)."
#: The examination form's field → this command's option, for the refusals.
OPTIONS = {
    "largest_node": "--largest-node",
    "liver_spleen_normal": "--liver-spleen-normal",
    "spleen_length": "--spleen-length",
    "constitutional_symptoms": "--constitutional-symptoms",
    "method": "--method",
    "examined_on": "--date",
}


def _measured(form: dict[str, str], field: str, text: str | None) -> None:
    if text is None:
        return
    value, _, unit = text.strip().partition(" ")
    form[field] = value
    if unit.strip():
        form[f"{field}__unit"] = unit.strip()


def _exam(
    largest_node: str | None,
    liver_spleen_normal: str | None,
    spleen_length: str | None,
    constitutional_symptoms: str | None,
    method: str | None,
) -> ClinicalExam:
    """The examination the options describe, or the first problem as ``error:`` (exit 2)."""
    from trephine.importers.entry_form import parse_clinical_exam

    form: dict[str, str] = {}
    _measured(form, "largest_node", largest_node)
    _measured(form, "spleen_length", spleen_length)
    for field, text in (
        ("liver_spleen_normal", liver_spleen_normal),
        ("constitutional_symptoms", constitutional_symptoms),
        ("method", method),
    ):
        if text is not None:
            form[field] = text
    value, problems = parse_clinical_exam(form)
    errors = [p for p in problems if not p.warning]
    if value is None or errors:
        first = errors[0] if errors else problems[0]
        where = OPTIONS.get(first.field or "", "")
        raise fail(f"{where}: {first.message}" if where else first.message)
    return value


def _line(exam: StoredExam) -> str:
    from trephine.present.results import exam_text

    state = "current" if exam.current else "superseded"
    amended = f"; amended: {exam.amendment_reason}" if exam.amendment_reason else ""
    return (
        f"exam #{exam.id} {exam.patient_id} {exam.examined_on} v{exam.version} ({state}): "
        f"{exam_text(exam.value)}{amended}"
    )


@app.command("record")
def record(
    patient: str = typer.Argument(..., help="The patient's id."),
    date: str = typer.Option(..., "--date", help="Date of the examination, YYYY-MM-DD."),
    largest_node: str | None = typer.Option(None, "--largest-node", help=NODE_HELP),
    liver_spleen_normal: str | None = typer.Option(
        None, "--liver-spleen-normal", help=f"Liver and spleen of normal size: {YES_NO}"
    ),
    spleen_length: str | None = typer.Option(None, "--spleen-length", help=SPLEEN_HELP),
    constitutional_symptoms: str | None = typer.Option(
        None,
        "--constitutional-symptoms",
        help=f"Weight loss, fevers, night sweats or fatigue due to the disease: {YES_NO}",
    ),
    method: str | None = typer.Option(
        None, "--method", help="How it was examined, e.g. physical examination, CT."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="Print only the examination's id."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Record a patient's clinical examination (one per day; correct it with ``amend``)."""
    from trephine.errors import ValidationError
    from trephine.services import exams

    try:
        when = exams.examined_on_date(date, "--date")
    except ValidationError as exc:
        raise fail(exc) from None
    value = _exam(largest_node, liver_spleen_normal, spleen_length, constitutional_symptoms, method)
    database = open_database(database_url, migrate=True)
    who = acting(database, "exams:write", actor)
    with working(database, who) as uow:
        stored = exams.record_exam(uow, patient, when, value)
    typer.echo(stored.id if quiet else _line(stored))


@app.command("amend")
def amend(
    exam_id: int = typer.Argument(..., help="The examination's id (exams list --ids)."),
    reason: str = typer.Option(..., "--reason", help="Why it is amended (kept with it)."),
    largest_node: str | None = typer.Option(None, "--largest-node", help=NODE_HELP),
    liver_spleen_normal: str | None = typer.Option(
        None, "--liver-spleen-normal", help=f"Liver and spleen of normal size: {YES_NO}"
    ),
    spleen_length: str | None = typer.Option(None, "--spleen-length", help=SPLEEN_HELP),
    constitutional_symptoms: str | None = typer.Option(
        None,
        "--constitutional-symptoms",
        help=f"Weight loss, fevers, night sweats or fatigue due to the disease: {YES_NO}",
    ),
    method: str | None = typer.Option(None, "--method", help="How it was examined."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Amend an examination: the next version holds the findings given here (all of them, as
    on the form) and the reason; the earlier version stays readable."""
    from trephine.services import exams

    value = _exam(largest_node, liver_spleen_normal, spleen_length, constitutional_symptoms, method)
    database = open_database(database_url, migrate=True)
    who = acting(database, "exams:write", actor)
    with working(database, who) as uow:
        stored = exams.amend_exam(uow, exam_id, value, reason)
    typer.echo(_line(stored))


@app.command("list")
def list_exams(
    patient: str = typer.Argument(..., help="The patient's id."),
    ids: bool = typer.Option(False, "--ids", help="Print only the current versions' ids."),
    as_json: bool = typer.Option(False, "--json", help="Every version as JSON."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """A patient's examinations, newest first, every version (audited)."""
    from trephine.services import exams

    database = open_database(database_url, migrate=False)
    who = acting(database, "records:read", actor)
    with working(database, who) as uow:
        found = exams.patient_exams(uow, patient)
        audit_reads(uow, who, "clinical exams", [patient])
    if ids:
        for e in found:
            if e.current:
                typer.echo(e.id)
    elif as_json:
        from trephine.present.exams import exam_json

        typer.echo(json.dumps([exam_json(e) for e in found], indent=2))
    elif not found:
        typer.echo(f"{patient}: no examination recorded")
    else:
        for e in found:
            typer.echo(_line(e))


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="exams")
