"""``trephine procedures …``: plan a marrow procedure, fill its checklist (the §10 decision is
printed with every reason), record consent, mark it done or cancel it, record complications,
and the complication/adequacy rate report.

Who acts is ``cli/common.acting``: without accounts ``--as`` or ``TREPHINE_CLI_USER``; once the
database has accounts, the account of ``TREPHINE_USER``/``TREPHINE_TOKEN`` (``--as`` may only
repeat it), whose role must grant what the web's procedure routes need: ``procedures:write``
to write (clinicians), ``records:read`` to read (audited).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import typer

from trephine.cli.common import (
    DATABASE_HELP,
    Acting,
    acting,
    audit_reads,
    fail,
    identified,
    open_database,
    working,
)

if TYPE_CHECKING:
    from trephine.services.procedure_plans import StoredPlan
    from trephine.store.database import Database

app = typer.Typer(
    help="Planned procedures: checklist and safety decision, consent, done/cancelled, "
    "complications, and the complication/adequacy rate report.",
    no_args_is_help=True,
)

AS_HELP = "Who acts (audit trail); with accounts it may only repeat TREPHINE_USER."


def _acting(
    permission: str, given: str | None, database_url: str | None, *, migrate: bool = False
) -> tuple[Database, Acting]:
    """The opened database and who acts (``cli/common.acting``: once accounts exist, the account
    of TREPHINE_USER/TREPHINE_TOKEN, whose role must grant ``permission``)."""
    database = open_database(database_url, migrate=migrate)
    return database, acting(database, permission, given)


def _decimal(flag: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        from trephine.errors import ValidationError

        raise fail(ValidationError(flag, text, "a number"))
    return value


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _echo_decision(plan: StoredPlan) -> None:
    from trephine.present.procedures import DECISION_WORDS

    if plan.checklist is None:
        typer.echo("  checklist: not yet filled")
        return
    call = plan.checklist.call
    typer.echo(
        f"  safety ({call.ruleset}, checklist v{plan.checklist.version}): {call.decision}"
        f" — {DECISION_WORDS.get(call.decision, call.decision)}"
    )
    for reason in call.reasons:
        typer.echo(f"    - [{reason.level}] {reason.text}")
    if call.missing:
        typer.echo(
            f"    not reported: {', '.join(call.missing)} (not required for a low-risk procedure)"
        )
    typer.echo("    advisory: the decision never blocks the procedure")


def _echo(plan: StoredPlan) -> None:
    typer.echo(
        f"plan #{plan.id} {plan.patient_id}: {plan.status}, {plan.plan.indication}, "
        f"planned for {_when(plan.plan.planned_for)} ({plan.plan.site})"
    )
    _echo_decision(plan)
    if plan.consent is not None:
        c = plan.consent.consent
        typer.echo(
            f"  consent: {c.given_by}, taken by {c.taken_by} at {_when(c.consented_at)}, "
            f"leaflet {c.leaflet_version}, {c.signature}"
            + (f", interpreter {c.interpreter}" if c.interpreter else "")
        )
    else:
        typer.echo("  consent: not recorded")
    if plan.procedure_id is not None and plan.procedure is not None:
        typer.echo(f"  procedure #{plan.procedure_id} done at {_when(plan.procedure.performed_at)}")
    if plan.emergency_reason:
        typer.echo(f"  emergency (no consent): {plan.emergency_reason}")
    if plan.cancel_reason:
        typer.echo(f"  cancelled: {plan.cancel_reason}")


@app.command("plan")
def plan(
    patient: str = typer.Argument(..., help="The patient's id."),
    at: str = typer.Option(..., "--at", help="Planned date-time (ISO; UTC without an offset)."),
    indication: str = typer.Option(..., "--indication", help="Why (see docs/procedures.md)."),
    site: str = typer.Option("posterior iliac crest", "--site", help="Planned site."),
    operator: str | None = typer.Option(None, "--operator", help="Who will do it."),
    quiet: bool = typer.Option(False, "--quiet", help="Print only the plan number."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Plan a procedure for a patient."""
    from trephine.domain.planning import PlannedProcedure, parse_instant
    from trephine.domain.procedure import Indication, Site
    from trephine.errors import ValidationError
    from trephine.services import procedure_plans

    try:
        planned = PlannedProcedure(
            parse_instant("--at", at),
            _choice("--indication", indication, Indication),
            _choice("--site", site, Site),
            operator,
        )
    except ValidationError as exc:
        raise fail(exc) from None
    database, who = _acting("procedures:write", actor, database_url, migrate=True)
    with working(database, who) as uow:
        view = procedure_plans.plan_procedure(uow, patient, planned)
    if quiet:
        typer.echo(view.id)
    else:
        _echo(view)


def _choice(flag: str, value: str, enum: Any) -> Any:
    from trephine.errors import ValidationError

    for member in enum:
        if member.value.lower() == value.strip().lower():
            return member
    raise ValidationError(flag, value, ", ".join(m.value for m in enum))


@app.command("checklist")
def checklist(
    plan_id: int = typer.Argument(..., help="The plan number."),
    medication: list[str] = typer.Option(
        [],
        "--medication",
        help="NAME[:CLASS][@LAST_DOSE], repeatable; CLASS anticoagulant, antiplatelet or other "
        "(known antithrombotics need none), e.g. apixaban@2026-12-02T20:00.",
    ),
    platelets: str | None = typer.Option(None, "--platelets", help="Platelets, x10^9/L."),
    inr: str | None = typer.Option(None, "--inr", help="INR."),
    allergy: list[str] = typer.Option([], "--allergy", help="An allergy, repeatable."),
    sedation: str = typer.Option(
        "local", "--sedation", help="local, conscious sedation, general or none."
    ),
    escort: str | None = typer.Option(None, "--escort", help="Who takes the patient home."),
    fasting: str | None = typer.Option(
        None, "--fasting", help="Eating instruction given: eat as usual, light meal or fast."
    ),
    mpn: bool = typer.Option(False, "--mpn", help="Myeloproliferative neoplasm."),
    bleeding_disorder: bool = typer.Option(False, "--bleeding-disorder", help="Known disorder."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Fill or change the pre-procedure checklist; prints the §10 decision and its reasons."""
    from trephine.domain.planning import Checklist, Fasting, parse_medication
    from trephine.domain.procedure import Anesthesia
    from trephine.errors import ValidationError
    from trephine.services import procedure_plans

    try:
        filled = Checklist(
            medications=tuple(parse_medication(m, "--medication") for m in medication),
            platelets=_decimal("--platelets", platelets),
            inr=_decimal("--inr", inr),
            allergies=tuple(allergy),
            sedation=_choice("--sedation", sedation, Anesthesia),
            escort=escort,
            fasting=None if fasting is None else _choice("--fasting", fasting, Fasting),
            mpn=mpn,
            bleeding_disorder=bleeding_disorder,
        )
    except ValidationError as exc:
        raise fail(exc) from None
    database, who = _acting("procedures:write", actor, database_url, migrate=True)
    with working(database, who) as uow:
        view, changed = procedure_plans.record_checklist(uow, plan_id, filled)
    if as_json:
        from trephine.present.procedures import plan_json

        typer.echo(json.dumps(plan_json(view, identified(who)), indent=2))
        return
    if not changed:
        typer.echo(f"plan #{plan_id}: checklist unchanged (v{view.checklist_versions})")
    _echo(view)


@app.command("consent")
def consent(
    plan_id: int = typer.Argument(..., help="The plan number."),
    taken_by: str = typer.Option(..., "--taken-by", help="Who took consent."),
    at: str = typer.Option(..., "--at", help="When (ISO date-time)."),
    leaflet: str = typer.Option(..., "--leaflet", help="Version of the leaflet given."),
    risk: list[str] = typer.Option(
        ...,
        "--risk",
        help="A risk discussed, repeatable: pain, bruising or bleeding, infection, nerve "
        "injury, needle breakage, sedation effects, sample may need repeating.",
    ),
    signature: str = typer.Option(
        "written", "--signature", help="written, electronic or verbal, witnessed."
    ),
    given_by: str = typer.Option(
        "patient", "--given-by", help="patient, parent or guardian, legal representative."
    ),
    giver_name: str | None = typer.Option(None, "--giver-name", help="When not the patient."),
    interpreter: str | None = typer.Option(
        None, "--interpreter", help="Interpreter used (language, name or service)."
    ),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Record consent for a planned procedure."""
    from trephine.domain.planning import (
        Consent,
        ConsentGiver,
        Risk,
        SignatureMethod,
        parse_instant,
    )
    from trephine.errors import ValidationError
    from trephine.services import procedure_plans

    try:
        record = Consent(
            given_by=_choice("--given-by", given_by, ConsentGiver),
            taken_by=taken_by,
            consented_at=parse_instant("--at", at),
            leaflet_version=leaflet,
            risks_discussed=tuple(_choice("--risk", r, Risk) for r in risk),
            signature=_choice("--signature", signature, SignatureMethod),
            giver_name=giver_name,
            interpreter=interpreter,
        )
    except ValidationError as exc:
        raise fail(exc) from None
    database, who = _acting("procedures:write", actor, database_url, migrate=True)
    with working(database, who) as uow:
        view = procedure_plans.record_consent(uow, plan_id, record)
    _echo(view)


@app.command("done")
def done(
    plan_id: int = typer.Argument(..., help="The plan number."),
    at: str = typer.Option(..., "--at", help="When it was performed (ISO date-time)."),
    site: str | None = typer.Option(None, "--site", help="Site (default: the planned site)."),
    side: str = typer.Option("unknown", "--side", help="left, right, bilateral, midline."),
    operator: str | None = typer.Option(None, "--operator", help="Default: the planned one."),
    needle: str | None = typer.Option(None, "--needle", help='e.g. "Jamshidi 11G".'),
    duration: int | None = typer.Option(None, "--duration", help="Minutes."),
    anesthesia: str | None = typer.Option(
        None, "--anesthesia", help="Default: the checklist's sedation plan."
    ),
    emergency_reason: str | None = typer.Option(
        None, "--emergency-reason", help="Why it was done without a consent record."
    ),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Record the procedure and close the plan (needs consent or --emergency-reason)."""
    from trephine.domain.planning import parse_instant
    from trephine.domain.procedure import Anesthesia, Procedure, Side, Site
    from trephine.errors import ValidationError
    from trephine.services import procedure_plans

    database, who = _acting("procedures:write", actor, database_url, migrate=True)
    with working(database, who) as uow:
        current = procedure_plans.get_plan(uow, plan_id)
        try:
            planned_sedation = (
                current.checklist.checklist.sedation if current.checklist else Anesthesia.LOCAL
            )
            procedure = Procedure(
                performed_at=parse_instant("--at", at),
                site=current.plan.site if site is None else _choice("--site", site, Site),
                side=_choice("--side", side, Side),
                indication=current.plan.indication,
                operator=operator or current.plan.operator,
                anesthesia=planned_sedation
                if anesthesia is None
                else _choice("--anesthesia", anesthesia, Anesthesia),
                needle=needle,
                duration_min=duration,
            )
        except ValidationError as exc:
            raise fail(exc) from None
        view = procedure_plans.mark_done(uow, plan_id, procedure, emergency_reason)
    _echo(view)


@app.command("cancel")
def cancel(
    plan_id: int = typer.Argument(..., help="The plan number."),
    reason: str = typer.Option(..., "--reason", help="Why it was cancelled."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Cancel a planned procedure, with the reason."""
    from trephine.services import procedure_plans

    database, who = _acting("procedures:write", actor, database_url, migrate=True)
    with working(database, who) as uow:
        view = procedure_plans.cancel(uow, plan_id, reason)
    _echo(view)


@app.command("show")
def show(
    plan_id: int = typer.Argument(..., help="The plan number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Show a plan: checklist with its decision and reasons, consent, the procedure."""
    from trephine.services import procedure_plans

    database, who = _acting("records:read", None, database_url)
    with working(database, who) as uow:
        view = procedure_plans.get_plan(uow, plan_id)
        audit_reads(uow, who, "procedure plan", [view.patient_id])
    if as_json:
        from trephine.present.procedures import plan_json

        typer.echo(json.dumps(plan_json(view, identified(who)), indent=2))
    else:
        _echo(view)


@app.command("list")
def list_(
    patient: str | None = typer.Option(None, "--patient", help="Only this patient."),
    status: str | None = typer.Option(None, "--status", help="planned, done or cancelled."),
    ids: bool = typer.Option(False, "--ids", help="Print only plan numbers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """List planned procedures, soonest first."""
    from trephine.domain.planning import PlanStatus
    from trephine.errors import ValidationError
    from trephine.services import procedure_plans

    try:
        wanted = None if status is None else _choice("--status", status, PlanStatus)
    except ValidationError as exc:
        raise fail(exc) from None
    database, who = _acting("records:read", None, database_url)
    with working(database, who) as uow:
        plans = procedure_plans.list_plans(uow, patient, wanted)
        audit_reads(uow, who, "procedure list", [p.patient_id for p in plans], query=True)
    if ids:
        for p in plans:
            typer.echo(p.id)
    elif as_json:
        from trephine.present.procedures import plan_json

        typer.echo(json.dumps([plan_json(p, identified(who)) for p in plans], indent=2))
    else:
        for p in plans:
            decision = p.checklist.call.decision if p.checklist else "no checklist"
            typer.echo(
                f"#{p.id}  {p.patient_id}  {_when(p.plan.planned_for)}  {p.status}  "
                f"{p.plan.indication}  {decision}  consent: {'yes' if p.consent else 'no'}"
            )


@app.command("complication")
def complication(
    procedure_id: int = typer.Argument(..., help="The procedure number (see `show`)."),
    kind: str = typer.Option(..., "--kind", help="What happened (docs/procedures.md)."),
    severity: str = typer.Option(
        ..., "--severity", help="mild, moderate, severe, life-threatening."
    ),
    onset: str | None = typer.Option(None, "--onset", help="When it began (ISO date-time)."),
    outcome: str | None = typer.Option(
        None, "--outcome", help="resolved, resolved with sequelae, ongoing, fatal."
    ),
    follow_up: str | None = typer.Option(None, "--follow-up", help="What was done."),
    description: str | None = typer.Option(None, "--description", help="Free text."),
    actor: str | None = typer.Option(None, "--as", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Record a complication of a recorded procedure."""
    from trephine.domain.planning import parse_instant
    from trephine.domain.procedure import (
        Complication,
        ComplicationKind,
        ComplicationOutcome,
        ComplicationSeverity,
    )
    from trephine.errors import ValidationError
    from trephine.services import procedure_plans

    try:
        record = Complication(
            kind=_choice("--kind", kind, ComplicationKind),
            severity=_choice("--severity", severity, ComplicationSeverity),
            follow_up=follow_up,
            description=description,
            onset_at=None if onset is None else parse_instant("--onset", onset),
            outcome=None if outcome is None else _choice("--outcome", outcome, ComplicationOutcome),
        )
    except ValidationError as exc:
        raise fail(exc) from None
    database, who = _acting("procedures:write", actor, database_url, migrate=True)
    with working(database, who) as uow:
        row_id = procedure_plans.add_complication(uow, procedure_id, record)
    typer.echo(
        f"complication #{row_id} on procedure #{procedure_id}: {record.kind} "
        f"({record.category}), {record.severity}" + (" — serious" if record.serious else "")
    )


@app.command("report")
def report(
    by: str | None = typer.Option(
        None, "--by", help="One row per operator, site, needle or period (calendar year)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Complication, serious-complication and adequacy rates with exact 95 % intervals, and
    the published serious-complication rates (clinical-criteria.md §10) beside them."""
    from trephine.analysis.cohort.procedure_rates import GROUPINGS
    from trephine.errors import ValidationError
    from trephine.present.procedures import rate_table
    from trephine.services import procedure_report

    if by is not None and by not in GROUPINGS:
        raise fail(ValidationError("--by", by, ", ".join(GROUPINGS)))
    database, who = _acting("records:read", None, database_url)
    with working(database, who) as uow:  # counts only: no patient's record is shown
        result = procedure_report.procedure_report(uow, by)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        typer.echo(rate_table(result))


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="procedures")
