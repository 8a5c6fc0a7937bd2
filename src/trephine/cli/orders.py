"""``trephine orders ...`` (lab orders and specimen tracking) and ``trephine lab ...`` (work lists
and turnaround times).

Thin: every change goes through :mod:`trephine.services.orders`, which consults the study
lifecycle table in :mod:`trephine.domain.orders` and writes who, when and the audit event. A
refused step exits 2 naming the actions the lifecycle allows. Every listing that shows patients
is an audited read (``view``/``query`` with client ``cli``), as the lab pages' are. Who acts is
``cli/common.acting`` with the permission the same route of the API needs.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import typer

from trephine.cli.common import (
    DATABASE_HELP,
    Acting,
    acting,
    audit_reads,
    fail,
    open_database,
    working,
)
from trephine.errors import ValidationError

if TYPE_CHECKING:
    from trephine.services.orders import OrderView, StudyView
    from trephine.store.database import Database

orders_app = typer.Typer(
    help="Lab orders: order studies for a procedure and track each specimen from collection "
    "to report.",
    no_args_is_help=True,
)
lab_app = typer.Typer(help="The lab's work lists and turnaround times.", no_args_is_help=True)

AS_HELP = (
    "Who is acting (recorded on the study and in the audit trail). Without accounts: any name "
    "(default TREPHINE_CLI_USER); with accounts it may only repeat TREPHINE_USER."
)


def _acting(permission: str, user: str | None, database_url: str | None) -> tuple[Database, Acting]:
    """The opened database and who acts (``cli/common.acting``: once accounts exist, the account
    of TREPHINE_USER/TREPHINE_TOKEN, whose role must grant ``permission``, as the web's order
    and lab routes require)."""
    database = open_database(database_url, migrate=False)
    return database, acting(database, permission, user)


#: The permission of each step, as the API's and the lab pages' routes declare it: the ward
#: (orders:write) orders, collects and cancels; the lab (results:write) receives, starts, reports.
STEP_PERMISSION = {
    "collect": "orders:write",
    "cancel": "orders:write",
    "receive": "results:write",
    "start": "results:write",
    "report": "results:write",
}


def _instant(text: str | None, flag: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise fail(ValidationError(flag, text, "a date-time as YYYY-MM-DDTHH:MM[+HH:MM]")) from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(dt.UTC).isoformat(timespec="minutes")


def _study_json(s: StudyView) -> dict[str, Any]:
    doc = asdict(s)
    doc["steps"] = [{"state": x.state, "at": _when(x.at), "by": x.by} for x in s.steps]
    return doc


def _order_json(o: OrderView) -> dict[str, Any]:
    return {
        "id": o.id,
        "procedure_id": o.procedure_id,
        "patient": o.patient,
        "performed_at": _when(o.performed_at),
        "ordered_at": _when(o.ordered_at),
        "ordered_by": o.ordered_by,
        "indication": o.indication,
        "studies": [_study_json(s) for s in o.studies],
    }


def _study_line(s: StudyView) -> str:
    last = s.steps[-1]
    specimen = f" on {s.specimen}" if s.specimen else ""
    why = f" ({s.cancel_reason})" if s.cancel_reason else ""
    allowed = ", ".join(s.allowed) or "none"
    return (
        f"  study {s.id}: {s.study}{specimen} — {s.state}{why} by {last.by} at {_when(last.at)}"
        f"; next: {allowed}"
    )


@orders_app.command("create")
def create(
    procedure_id: int = typer.Argument(
        ..., help="The procedure's id (the `id` in `trephine patients show ID --json`)."
    ),
    studies: list[str] = typer.Option(
        [], "--study", help="A study to order (repeat); see `trephine orders studies`."
    ),
    indication: str | None = typer.Option(None, "--indication", help="Why (clinical question)."),
    at: str | None = typer.Option(None, "--at", help="When it was ordered (default: now)."),
    user: str | None = typer.Option(None, "--as", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Order studies for a procedure (its one order is created on first use; ordering a study
    again changes nothing). Prints the order's studies and their ids."""
    from trephine.services import orders

    database, who = _acting("orders:write", user, database_url)
    with working(database, who) as uow:
        order = orders.order_studies(
            uow, procedure_id, studies, indication=indication, at=_instant(at, "--at")
        )
    typer.echo(f"order {order.id} for procedure {order.procedure_id} ({order.patient})")
    for s in order.studies:
        typer.echo(_study_line(s))


@orders_app.command("procedures")
def procedures(
    patient: str = typer.Argument(..., help="The patient's id."),
    ids_only: bool = typer.Option(False, "--ids", help="Only the procedure ids, one per line."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """A patient's procedures (id, date, specimens, order): the ids `orders create` takes."""
    from trephine.services import orders

    database, who = _acting("records:read", None, database_url)
    with working(database, who) as uow:
        lines = orders.procedures_of(uow, patient)
        audit_reads(uow, who, "procedures", [patient])
    if ids_only:
        for line in lines:
            typer.echo(str(line.id))
        return
    if as_json:
        docs = [
            {
                "id": p.id,
                "patient": p.patient,
                "performed_at": _when(p.performed_at),
                "specimens": [{"accession": a, "type": t} for a, t in p.specimens],
                "order": p.order_id,
            }
            for p in lines
        ]
        typer.echo(json.dumps(docs, indent=2))
        return
    for p in lines:
        specimens = ", ".join(f"{a} ({t})" for a, t in p.specimens) or "no specimens"
        order = f"order {p.order_id}" if p.order_id else "no order"
        typer.echo(f"procedure {p.id}: {_when(p.performed_at)} — {specimens}; {order}")


@orders_app.command("studies")
def studies_menu(
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
) -> None:
    """The orderable studies: code, name, lab section, usual specimen, result kinds."""
    from trephine.domain.orders import STUDIES

    rows = [
        {
            "code": s.code,
            "name": s.name,
            "section": str(s.section),
            "specimen": str(s.specimen),
            "kinds": sorted(k.value for k in s.kinds),
        }
        for s in STUDIES.values()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(
            f"{r['code']:<14} {r['name']} — {r['section']}, {r['specimen']} "
            f"({', '.join(r['kinds'])})"
        )


@orders_app.command("list")
def list_orders(
    patient: str | None = typer.Option(None, "--patient", help="Only this patient's orders."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    ids_only: bool = typer.Option(False, "--ids", help="Only the study ids, one per line."),
    state: str | None = typer.Option(None, "--state", help="Only studies in this state."),
    study: str | None = typer.Option(None, "--study", help="Only this study (code)."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Orders with their studies, oldest first (``--ids`` prints study ids for scripts)."""
    from trephine.domain.orders import StudyState, study_type
    from trephine.services import orders

    if state is not None:
        try:
            StudyState(state)
        except ValueError:
            raise fail(ValidationError("--state", state, [s.value for s in StudyState])) from None
    if study is not None:
        try:
            study = study_type(study).code
        except ValidationError as exc:
            raise fail(exc) from None
    database, who = _acting("records:read", None, database_url)
    with working(database, who) as uow:
        found = orders.list_orders(uow, patient=patient)
        audit_reads(uow, who, "lab orders", [o.patient for o in found], query=True)

    def keep(s: StudyView) -> bool:
        return (state is None or s.state == state) and (study is None or s.study == study)

    if ids_only:
        for o in found:
            for s in o.studies:
                if keep(s):
                    typer.echo(str(s.id))
        return
    if as_json:
        docs = []
        for o in found:
            doc = _order_json(o)
            doc["studies"] = [d for d, s in zip(doc["studies"], o.studies, strict=True) if keep(s)]
            docs.append(doc)
        typer.echo(json.dumps(docs, indent=2))
        return
    for o in found:
        typer.echo(
            f"order {o.id}: procedure {o.procedure_id} ({o.patient}, {_when(o.performed_at)}), "
            f"ordered by {o.ordered_by} at {_when(o.ordered_at)}"
        )
        for s in o.studies:
            if keep(s):
                typer.echo(_study_line(s))
    typer.echo(f"{len(found)} order(s)")


@orders_app.command("show")
def show(
    study_id: int = typer.Argument(..., help="The study's id (`orders list --ids`)."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """One study: every step with who and when, and what may happen next."""
    from trephine.services import orders

    database, who = _acting("records:read", None, database_url)
    with working(database, who) as uow:
        s = orders.get_study(uow, study_id)
        audit_reads(uow, who, "lab study", [s.patient])
    if as_json:
        typer.echo(json.dumps(_study_json(s), indent=2))
        return
    typer.echo(
        f"study {s.id}: {s.name} ({s.study}, {s.section}) for {s.patient}, "
        f"procedure {s.procedure_id}, order {s.order_id}"
    )
    typer.echo(f"specimen: {s.specimen or 'not collected yet'}; reported by: {', '.join(s.kinds)}")
    for step in s.steps:
        typer.echo(f"  {step.state:<12} {_when(step.at)}  {step.by}")
    if s.cancel_reason:
        typer.echo(f"cancelled because: {s.cancel_reason}")
    typer.echo(f"next: {', '.join(s.allowed) or 'none (final state)'}")


def _step(
    action: str, study_id: int, user: str | None, database_url: str | None, **kw: Any
) -> None:
    from trephine.domain.orders import parse_action
    from trephine.services import orders

    database, who = _acting(STEP_PERMISSION[action], user, database_url)
    with working(database, who) as uow:
        s = orders.advance(uow, study_id, parse_action(action), **kw)
    typer.echo(_study_line(s).strip())


_AT_HELP = "When it happened, if not now (YYYY-MM-DDTHH:MM[+HH:MM]; UTC without an offset)."


@orders_app.command("collect")
def collect(
    study_id: int = typer.Argument(..., help="The study's id."),
    specimen: str | None = typer.Option(
        None,
        "--specimen",
        help="The specimen's accession (default: the procedure's one specimen "
        "of the study's usual type).",
    ),
    at: str | None = typer.Option(None, "--at", help="Default: the specimen's collection time."),
    user: str | None = typer.Option(None, "--as", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """ordered → collected: the specimen the study is done on was taken."""
    _step("collect", study_id, user, database_url, specimen=specimen, at=_instant(at, "--at"))


@orders_app.command("receive")
def receive(
    study_id: int = typer.Argument(..., help="The study's id."),
    at: str | None = typer.Option(None, "--at", help=_AT_HELP),
    user: str | None = typer.Option(None, "--as", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """collected → received: the specimen arrived in the lab."""
    _step("receive", study_id, user, database_url, at=_instant(at, "--at"))


@orders_app.command("start")
def start(
    study_id: int = typer.Argument(..., help="The study's id."),
    at: str | None = typer.Option(None, "--at", help=_AT_HELP),
    user: str | None = typer.Option(None, "--as", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """received → in progress: work on the specimen started."""
    _step("start", study_id, user, database_url, at=_instant(at, "--at"))


@orders_app.command("report")
def report(
    study_id: int = typer.Argument(..., help="The study's id."),
    at: str | None = typer.Option(
        None, "--at", help="Default: when its last result was signed out."
    ),
    user: str | None = typer.Option(None, "--as", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """→ reported, by hand (signing out a result of the study's kind on its specimen does this
    by itself); needs a signed-out result."""
    _step("report", study_id, user, database_url, at=_instant(at, "--at"))


@orders_app.command("cancel")
def cancel(
    study_id: int = typer.Argument(..., help="The study's id."),
    reason: str | None = typer.Option(None, "--reason", help="Why (required; audited)."),
    user: str | None = typer.Option(None, "--as", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Cancel a study that is not yet reported, with a reason."""
    _step("cancel", study_id, user, database_url, reason=reason or "")


@lab_app.command("worklist")
def worklist(
    section: str | None = typer.Option(
        None,
        "--section",
        help="Only this section (morphology, flow cytometry, molecular, "
        "cytogenetics, transplant immunology).",
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Pending studies (not reported, not cancelled), the longest waiting first."""
    from trephine.domain.orders import parse_section
    from trephine.services import orders

    try:
        chosen = None if section is None else parse_section(section)
    except ValidationError as exc:
        raise fail(exc) from None
    database, who = _acting("records:read", None, database_url)
    with working(database, who) as uow:
        items = orders.worklist(uow, chosen)
        audit_reads(uow, who, "lab work list", orders.patients_of(items), query=True)
        now = uow.now()
    if as_json:
        typer.echo(json.dumps([_study_json(s) for s in items], indent=2))
        return
    from trephine.present.turnaround import waited_text

    for s in items:
        # How long it has waited, as the page's Waiting: an add-on on a sample collected in
        # 2020 and asked for last week has waited a week (and sorts so).
        waited = waited_text((now - s.waiting_since).total_seconds() / 3600)
        typer.echo(
            f"{s.section:<22}" + _study_line(s).strip() + f" [{s.patient}]; waiting {waited}"
        )
    typer.echo(f"{len(items)} pending stud{'y' if len(items) == 1 else 'ies'}")


@lab_app.command("turnaround")
def turnaround(
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
    since: str | None = typer.Option(
        None, "--since", help="Final reports on or after (YYYY-MM-DD)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Final reports on or before (YYYY-MM-DD)."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Turnaround, collection → final report, per study, per section and per month: count,
    median, 90th percentile (nearest rank), shortest and longest, in hours."""
    from trephine.present.turnaround import turnaround_json, turnaround_rows
    from trephine.services import orders

    def day(text: str | None, flag: str) -> dt.date | None:
        if text is None:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise fail(ValidationError(flag, text, "a date as YYYY-MM-DD")) from None

    database, who = _acting("records:read", None, database_url)
    with working(database, who) as uow:  # counts and hours only: no patient is shown
        result = orders.turnaround(uow, since=day(since, "--since"), until=day(until, "--until"))
    if as_json:
        typer.echo(json.dumps(turnaround_json(result), indent=2))
        return
    typer.echo(
        f"turnaround, collection → final report, of {result.studies} reported "
        f"stud{'y' if result.studies == 1 else 'ies'}, in hours. Final report time: "
        f"{result.final_time}"
    )
    for row in turnaround_rows(result):
        typer.echo(
            f"{row['by']:<8} {row['key']:<22} n={row['n']:<4} median {row['median']:>7} h  "
            f"p90 {row['p90']:>7} h  range {row['min']}–{row['max']} h"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(orders_app, name="orders")
    app.add_typer(lab_app, name="lab")
