"""``trephine assess`` (criteria calls over a patient's stored timeline) and ``trephine alerts``.

Services and Rich are imported inside the commands so ``trephine --help`` stays fast.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from trephine.cli.common import DATABASE_HELP, acting, audit_reads, fail, open_database, working
from trephine.errors import TrephineError

if TYPE_CHECKING:
    from trephine.services.assessments import AssessRun, CohortOutcome
    from trephine.store.database import Database, UnitOfWork

alerts_app = typer.Typer(help="List and acknowledge clinical alerts.", no_args_is_help=True)


def _open_current(url: str | None) -> Database:
    """Open the database and refuse one whose schema predates the assessment tables (a clear
    message instead of a missing-column error from deep inside a query)."""
    database = open_database(url, migrate=False)
    current, head = database.current_revision(), database.head_revision()
    if current != head:
        database.dispose()
        raise fail(
            f"the database schema is at revision {current}, this version needs {head}; "
            "run `trephine init` to upgrade it"
        )
    return database


def _run_json(uow: UnitOfWork, run: AssessRun) -> dict[str, Any]:
    """The run, its calls and alerts in their public shapes: each assessment as ``GET
    /api/v1/patients/{id}/assessments`` lists it, each alert as ``GET /api/v1/alerts``."""
    from trephine.api.readers import alert_public, assessment_items

    public = {a.id: a for a in assessment_items(uow, run.patient_id)}
    baseline = run.computed.baseline_bm_blasts_pct
    return {
        "patient": run.patient_id,
        "ruleset": run.ruleset,
        "baseline_bm_blasts_pct": None if baseline is None else str(baseline),
        "best_response": run.computed.best_response,
        "results_used": list(run.results_used),
        "new_assessments": run.new_assessments,
        "new_alerts": run.new_alerts,
        "assessments": [public[a.id].model_dump(mode="json") for a in run.assessments],
        "alerts": [alert_public(a).model_dump(mode="json") for a in run.alerts],
        "withdrawn_alerts": [alert_public(a).model_dump(mode="json") for a in run.withdrawn_alerts],
    }


def _alert_words(code: str, message: str) -> str:
    """An alert as the pages word it: its headline, and the stored message when it adds
    something (the code stays in ``--json``, for scripts)."""
    from trephine.present.explain import alert_detail, alert_headline

    detail = alert_detail(code, message)
    return alert_headline(code) + (f": {detail}" if detail else "")


def _print_run(run: AssessRun) -> None:
    """The run as a table for a reader: each call's category and each alert in the words the
    pages use (:func:`trephine.present.explain.category_label`, the one wording of
    :func:`trephine.criteria.categories.category_words`), a call resting on one sample naming
    it; ``--json`` keeps the codes."""
    from rich.console import Console
    from rich.table import Table

    from trephine.assess.call import SAMPLE
    from trephine.assess.call_kinds import call_kind_words
    from trephine.present.explain import category_label
    from trephine.present.numbers import format_evidence

    table = Table(title=run.patient_id)
    # The date, the call and its category are what a reader scans for: keep them whole and let
    # the evidence wrap. Five columns (edition under the rule, missing inputs under the
    # evidence) so an 80-column terminal does not cut dates to "2022-12-…".
    for name in ("date", "call", "category"):
        table.add_column(name, no_wrap=True)
    table.add_column("rule / edition", overflow="fold")
    table.add_column("evidence / missing", overflow="fold", ratio=1)
    for item in run.assessments:
        a = item.assessment
        # Rounded for reading; --json keeps the exact stored values. An item the evaluator
        # worded (a response superseded by the same marrow's relapse, a later line's baseline)
        # reads as the page words it, not as its codes; the sample is said under the call.
        evidence = [
            str(e["sentence"]) if e.get("sentence") else format_evidence(e)
            for e in a.evidence
            if e.get("input") != SAMPLE
        ]
        if a.missing_inputs:
            evidence.append("missing: " + ", ".join(a.missing_inputs))
        call = call_kind_words(item.call_kind)
        if item.call.sample is not None:  # a day's marrow and blood MRD calls: which is which
            call += f"\n{item.call.sample}"
        table.add_row(
            a.assessed_on.isoformat(),
            call,
            category_label(a.category),
            f"{a.matched_rule or '—'}\n{a.criteria_edition}",
            "\n".join(evidence),
        )
    console = Console()
    console.print(table)
    for alert in (*run.alerts, *run.withdrawn_alerts):
        words = _alert_words(alert.code, alert.message)
        console.print(f"ALERT {alert.raised_on} {words} ({alert.state})", markup=False)
    typer.echo(
        f"{run.patient_id}: {len(run.assessments)} assessment(s) under {run.ruleset} "
        f"({run.new_assessments} new), {len(run.alerts)} alert(s) ({run.new_alerts} new)"
    )


def assess(
    patient_id: str | None = typer.Argument(None, help="The patient's research id."),
    all_patients: bool = typer.Option(False, "--all", help="Assess every patient."),
    ruleset: str | None = typer.Option(
        None, "--ruleset", help="Override the rule set chosen by diagnosis (e.g. ELN2022+ELN2021)."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
    actor: str | None = typer.Option(None, "--actor", help="Who runs it (audit trail)."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Criteria calls over a patient's stored timeline; raises alerts.

    Evaluates the signed-out results in date order; stores each assessment with its edition.

    Raises alerts (relapse, MRD conversion, loss of donor chimerism). Re-running adds nothing.
    """
    if (patient_id is None) == (not all_patients):
        raise fail("give a PATIENT id or --all (not both)")
    database = _open_current(database_url)
    # Calls are derived from signed-out results alone (re-running adds nothing): any role that
    # reads records may run them; they are stored under that user.
    acting_as = acting(database, "records:read", actor, option="--actor")
    who = acting_as.name
    try:
        if patient_id is not None:
            from trephine.services.assessments import assess_patient

            try:
                with database.unit_of_work(who) as uow:
                    run = assess_patient(uow, patient_id, ruleset=ruleset)
                    shown = _run_json(uow, run) if as_json else None
                    audit_reads(uow, acting_as, "assessments", [patient_id])
            except TrephineError as exc:
                raise fail(exc) from None
            if shown is not None:
                typer.echo(json.dumps(shown, indent=2, default=str))
            else:
                _print_run(run)
            return
        _assess_all(database, who, ruleset, as_json)
    finally:
        database.dispose()


def _assess_all(database: Database, who: str, ruleset: str | None, as_json: bool) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from trephine.services.assessments import assess_all

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("Assessing", total=None)

        def advance(_outcome: CohortOutcome, total: int) -> None:
            progress.update(task, total=total)
            progress.advance(task)

        outcomes = assess_all(database, who, ruleset=ruleset, on_patient=advance)
    summary = [_outcome_json(o) for o in outcomes]
    failed = sum(o.status == "error" for o in outcomes)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        for e in summary:
            if e["status"] == "assessed":
                typer.echo(
                    f"{e['patient']}: {e['assessments']} assessment(s) ({e['new_assessments']} "
                    f"new), {e['alerts']} alert(s) ({e['new_alerts']} new)"
                )
            else:
                typer.echo(f"{e['patient']}: {e['status']} — {e['reason']}")
        done = sum(o.status == "assessed" for o in outcomes)
        typer.echo(f"{done} of {len(outcomes)} patient(s) assessed, {failed} error(s)")
    if failed:
        raise typer.Exit(code=1)


def _outcome_json(outcome: CohortOutcome) -> dict[str, Any]:
    entry: dict[str, Any] = {"patient": outcome.patient_id, "status": outcome.status}
    if outcome.run is None:
        entry["reason"] = outcome.reason
        return entry
    run = outcome.run
    entry.update(
        ruleset=run.ruleset,
        assessments=len(run.assessments),
        new_assessments=run.new_assessments,
        alerts=len(run.alerts),
        new_alerts=run.new_alerts,
    )
    return entry


@alerts_app.command("list")
def list_alerts(
    patient_id: str | None = typer.Option(None, "--patient", help="Only this patient's."),
    status: str = typer.Option("open", "--status", help="open, acknowledged, withdrawn or all."),
    include_acknowledged: bool = typer.Option(
        False, "--all", help="All alerts, acknowledged and withdrawn too (--status all)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="JSON: the same list as GET /api/v1/alerts."
    ),
    ids_only: bool = typer.Option(
        False, "--ids", help="Only the alert numbers, one per line (for scripts)."
    ),
    limit: int = typer.Option(
        100, "--limit", min=1, max=500, help="With --json: one page, as GET /api/v1/alerts."
    ),
    offset: int = typer.Option(0, "--offset", min=0, help="With --json: where the page starts."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Alerts, newest first (open ones unless --status or --all says otherwise)."""
    from typing import get_args

    from trephine.api.readers import AlertStatus, alert_items, alert_total
    from trephine.api.schemas.assessments import AlertList
    from trephine.errors import ValidationError

    chosen = "all" if include_acknowledged else status
    if chosen not in get_args(AlertStatus):
        raise fail(ValidationError("status", status, get_args(AlertStatus)))
    database = _open_current(database_url)
    who = acting(database, "records:read")
    with working(database, who) as uow:
        if as_json:  # the API's page: same items, total, limit and offset
            items = alert_items(uow, chosen, patient_id, limit=limit, offset=offset)  # type: ignore[arg-type]
            total = alert_total(uow, chosen, patient_id)  # type: ignore[arg-type]
        else:
            items = alert_items(uow, chosen, patient_id)  # type: ignore[arg-type]
        audit_reads(uow, who, "alerts", [a.patient for a in items], query=True)
    if ids_only:
        for a in items:
            typer.echo(a.id)
        return
    if as_json:
        page = AlertList(status=chosen, items=items, total=total, limit=limit, offset=offset)
        typer.echo(json.dumps(page.model_dump(mode="json"), indent=2))
        return
    for a in items:
        state = "open"
        if a.acknowledged_at is not None:
            state = f"acknowledged by {a.acknowledged_by}"
        elif a.withdrawn_at is not None:
            state = f"withdrawn: {a.withdrawn_reason}"
        typer.echo(f"#{a.id} {a.date} {a.patient} {_alert_words(a.code, a.message)} ({state})")
    typer.echo(f"{len(items)} alert(s)")


@alerts_app.command("ack")
def acknowledge(
    alert_id: int = typer.Argument(..., help="The alert number (see `trephine alerts list`)."),
    note: str | None = typer.Option(None, "--note", help="What was done about it."),
    actor: str | None = typer.Option(None, "--actor", help="Who acknowledges (audit trail)."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Acknowledge an alert (once; who and when are kept)."""
    from trephine.services import alerts

    database = _open_current(database_url)
    who = acting(database, "alerts:acknowledge", actor, option="--actor")
    with working(database, who) as uow:
        alert = alerts.acknowledge_alert(uow, alert_id, note)
    typer.echo(f"alert #{alert.id} ({alert.code}) acknowledged by {alert.acknowledged_by}")


def register(app: typer.Typer) -> None:
    app.command("assess")(assess)
    app.add_typer(alerts_app, name="alerts")
