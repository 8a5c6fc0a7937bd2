"""``trephine results ...`` (the result lifecycle) and ``trephine audit ...`` (the audit trail).

The commands are thin: every change goes through :mod:`trephine.services.results`, which consults
the lifecycle table in :mod:`trephine.workflow` and writes the audit events, inside one unit of
work — so a refused command leaves the database exactly as it was. Amended values are parsed
by :mod:`trephine.importers.amendment` (the import template's field declarations and the
importer's cell parser), so ``--set`` accepts and refuses exactly what a ``results.csv`` row
would. Bad input exits 2 with a one-line message on
stderr (never a traceback). Services, SQLAlchemy and pydantic are imported inside the commands so
``trephine --help`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

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
from trephine.errors import ConcurrentChange, TrephineError, ValidationError
from trephine.workflow import ResultState

if TYPE_CHECKING:
    from trephine.domain.quantity import Quantity
    from trephine.domain.results import ResultValue
    from trephine.importers.amendment import Assignment
    from trephine.services.views import AuditEvent, StoredResult
    from trephine.store.database import UnitOfWork

results_app = typer.Typer(
    help="List, show, sign out (verify) and amend results; drafts can be cancelled.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="Read and check the append-only audit trail.", no_args_is_help=True)

E = TypeVar("E", bound=Enum)

AS_HELP = (
    "Who is acting, while the database has no accounts (default TREPHINE_CLI_USER); once it "
    "has, the account of TREPHINE_USER or TREPHINE_TOKEN acts and --as may only repeat it."
)
#: From the lifecycle table's enum (a light import: it needs only the error tree).
STATE_CHOICES = tuple(s.value for s in ResultState)


def _acting(user: str | None, permission: str, database_url: str | None) -> Acting:
    """Who acts (``cli/common.acting``): the ``--as`` user or the configured CLI user while the
    database has no accounts, else TREPHINE_USER / TREPHINE_TOKEN, whose role must grant
    ``permission``."""
    database = open_database(database_url, migrate=False)
    try:
        return acting(database, permission, user)
    finally:
        database.dispose()


# ------------------------------------------------------------------------- formatting


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _quantity(value: Quantity) -> str:
    from trephine.present.numbers import quantity_with_limits

    return quantity_with_limits(value)


def _scalar(value: object) -> str:
    from trephine.domain.quantity import Quantity

    if isinstance(value, Quantity):
        return _quantity(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{_scalar(k)} {_scalar(v)}" for k, v in value.items() if v)
    if isinstance(value, tuple):
        return ", ".join(_scalar(v) for v in value)
    return str(value)


def _value_lines(value: ResultValue) -> list[tuple[str, str]]:
    """Every field that has a value, in declaration order, as text."""
    from trephine.domain.results import AspirateDifferential

    lines = [
        (f.name, _scalar(getattr(value, f.name)))
        for f in fields(value)
        if getattr(value, f.name) not in (None, (), {})
    ]
    if isinstance(value, AspirateDifferential):
        # What the criteria read is derived, not stored; show it so a reviewer sees the effect.
        ratio = value.me_ratio()
        lines.append(("blast percent (derived)", f"{value.blast_percent:.1f} %"))
        lines.append(("M:E ratio (derived)", "n/a" if ratio is None else f"{ratio:.2f}"))
    return lines


#: What the one number a list shows is, where the kind alone does not say: a blood count's
#: line read 'blood_count  1.6 10^9/L' (which count?).
HEADLINE_NAMES = {"blood_count": "ANC", "differential": "blasts", "core": "cellularity"}


def _headline(result: StoredResult) -> str:
    top = result.headline
    if top is None:
        return ""
    name = HEADLINE_NAMES.get(str(result.kind))
    return _quantity(top) if name is None else f"{name} {_quantity(top)}"


def _result_json(result: StoredResult, history: Sequence[StoredResult] = ()) -> dict[str, Any]:
    """The one public JSON shape of a result (:func:`trephine.present.results.result`, what the
    API serves); a staff view, so a cancelled draft is shown too. Earlier versions in its
    ``history`` leave out cancelled drafts, as the API does."""
    from trephine.present.results import result as public

    earlier = [h for h in history if h.state is not ResultState.CANCELLED]
    data: dict[str, Any] = public(result, earlier, cancelled_ok=True).model_dump(mode="json")
    return data


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": _when(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "detail": event.detail,
    }


def _event_line(event: AuditEvent) -> str:
    detail = json.dumps(event.detail, sort_keys=True, ensure_ascii=False, default=str)
    return (
        f"#{event.id:<5} {_when(event.occurred_at)}  {event.actor:<14} {event.action:<8} "
        f"{event.entity} {event.entity_id}  {detail}"
    )


def _what(result: StoredResult) -> str:
    """The result's kind in its one name (domain/result_kinds) and what tells it apart; the
    code ``--kind`` takes is in ``--json``."""
    from trephine.domain.result_kinds import result_kind_name

    return f"{result_kind_name(result.kind)} {result.analyte}".strip()


def _entity(result: StoredResult) -> str:
    what = _what(result)
    return f"result {result.id} ({what} v{result.version})"


def _summary_line(result: StoredResult) -> str:
    what = _what(result)
    return (
        f"{result.id:>6}  {result.patient_id:<10} {result.accession:<12} {result.collected_on}  "
        f"v{result.version:<2} {result.state:<10} {what:<28} {_headline(result)}"
    )


# --------------------------------------------------------------------------- amending


def _split(option: str, items: Sequence[str]) -> dict[str, str]:
    """``["mrd=0.5"]`` → ``{"mrd": "0.5"}`` with the importer's field-name spelling rules."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        key = name.strip().lower().replace(" ", "_")
        if not sep or not key:
            raise ValidationError(option, item, "FIELD=VALUE")
        if key in out:
            raise ValidationError(option, item, f"each field once (already {key}={out[key]!r})")
        out[key] = value.strip()
    return out


def _assignments(
    sets: Sequence[str], units: Sequence[str], lods: Sequence[str], lloqs: Sequence[str]
) -> list[Assignment]:
    from trephine.importers.amendment import Assignment

    values = _split("--set", sets)
    extras = {"--unit": _split("--unit", units), "--lod": _split("--lod", lods)}
    extras["--lloq"] = _split("--lloq", lloqs)
    for option, given in extras.items():
        for key in given:
            if key not in values:
                raise ValidationError(option, key, sorted(values) or "a field also given to --set")
    return [
        Assignment(
            key,
            text,
            extras["--unit"].get(key),
            extras["--lod"].get(key),
            extras["--lloq"].get(key),
        )
        for key, text in values.items()
    ]


# ---------------------------------------------------------------------- results group


def _concurrent(result_id: int, exc: Exception) -> typer.Exit:
    """Two people changing one result at once: the loser's transaction is refused by the
    service's conditional update (:class:`ConcurrentChange`) or by the database's guards (unique
    version number, one successor per version, frozen signed-out rows) and is rolled back whole,
    so the message can promise that nothing was written."""
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    return fail(
        f"result {result_id} was changed by someone else at the same time ({reason}); "
        f"nothing was written — run `trephine results show {result_id}` and try again",
        code=1,
    )


@contextmanager
def _changing(result_id: int, actor: str, database_url: str | None) -> Iterator[UnitOfWork]:
    """One unit of work changing result ``result_id`` (verify, amend, cancel): a refusal exits 2
    with one line, a lost race with someone else exits 1 (see :func:`_concurrent`); either way
    the transaction is rolled back whole."""
    import sqlalchemy.exc

    database = open_database(database_url, migrate=False)
    try:
        with database.unit_of_work(actor) as uow:
            yield uow
    except ConcurrentChange as exc:
        raise _concurrent(result_id, exc) from None
    except TrephineError as exc:
        raise fail(exc) from None
    except sqlalchemy.exc.IntegrityError as exc:
        raise _concurrent(result_id, exc) from None
    finally:
        database.dispose()


@results_app.command("list")
def list_results(
    patient: str | None = typer.Option(None, "--patient", help="Only this patient's results."),
    state: str | None = typer.Option(
        None,
        "--state",
        help=f"Only results in this state ({', '.join(STATE_CHOICES)}). "
        "Without it: current versions only (no superseded or cancelled ones).",
    ),
    kind: str | None = typer.Option(None, "--kind", help="Only this result kind."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    ids_only: bool = typer.Option(
        False, "--ids", help="Only the ids, one per line (for scripts: id=$(... --ids))."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Results by patient and collection date: id, specimen, version, state, headline value."""
    from trephine.domain.results import ResultKind
    from trephine.services import results
    from trephine.workflow import CURRENT_STATES

    try:
        wanted_state = None if state is None else _choice("--state", state, ResultState)
        kinds = () if kind is None else (_choice("--kind", kind, ResultKind),)
    except ValidationError as exc:
        raise fail(exc) from None
    who = _acting(None, "records:read", database_url)
    with working(open_database(database_url, migrate=False), who) as uow:
        states = CURRENT_STATES if wanted_state is None else (wanted_state,)
        rows = results.list_results(uow, patient=patient, kinds=kinds, states=states)
        audit_reads(uow, who, "results list", [r.patient_id for r in rows], query=True)
    if ids_only:
        for r in rows:
            typer.echo(r.id)
        return
    if as_json:
        typer.echo(json.dumps([_result_json(r) for r in rows], indent=2))
        return
    typer.echo(
        f"{'id':>6}  {'patient':<10} {'specimen':<12} {'collected':<10}  {'ver':<3} "
        f"{'state':<10} {'result':<28} value"
    )
    for r in rows:
        typer.echo(_summary_line(r))
    typer.echo(f"{len(rows)} result(s)")


def _choice(option: str, text: str, enum: type[E]) -> E:
    wanted = text.strip().lower()
    for member in enum:
        if wanted in (str(member.value).lower(), member.name.lower()):
            return member
    raise ValidationError(option, text, [m.value for m in enum])


@results_app.command("show")
def show_result(
    result_id: int = typer.Argument(..., help="The result's id (any version)."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """One result version: value with unit and qualifier, state, who signed it out and when,
    and the full version history (superseded versions stay readable), with their audit events."""
    from trephine.services import audit, results

    who = _acting(None, "records:read", database_url)
    with working(open_database(database_url, migrate=False), who) as uow:
        result = results.get_result(uow, result_id)
        versions = results.history(uow, result_id)
        events = audit.events_for(uow, "result", [v.id for v in versions])
        audit_reads(uow, who, "result", [result.patient_id])
    if as_json:
        payload = {
            "result": _result_json(result, versions),
            "versions": [_result_json(v) for v in versions],
            "audit": [_event_json(e) for e in events],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    _print_result(result, versions, events)


def _print_result(
    result: StoredResult, versions: Sequence[StoredResult], events: Sequence[AuditEvent]
) -> None:
    from trephine.workflow import CURRENT_STATES

    what = _what(result)
    typer.echo(
        f"result {result.id}: {what} — patient {result.patient_id}, specimen {result.accession}, "
        f"collected {result.collected_on}"
    )
    current = "current" if result.state in CURRENT_STATES else "not current"
    typer.echo(f"state: {result.state} (version {result.version} of {len(versions)}, {current})")
    for name, text in _value_lines(result.value):
        typer.echo(f"  {name}: {text}")
    typer.echo(f"created by {result.created_by} at {_when(result.created_at)}")
    if result.verified_by:
        typer.echo(f"signed out by {result.verified_by} at {_when(result.verified_at)}")
    else:
        typer.echo("not signed out")
    if result.amended_by:
        typer.echo(
            f"amended by {result.amended_by} at {_when(result.amended_at)}: "
            f"{result.amendment_reason}"
        )
    if result.supersedes_id is not None:
        typer.echo(f"supersedes result {result.supersedes_id}")
    later = [v for v in versions if v.supersedes_id == result.id]
    if later:
        typer.echo(f"superseded by result {later[0].id} (version {later[0].version})")
    typer.echo("history:")
    for v in versions:
        marker = "*" if v.id == result.id else " "
        why = f"  reason: {v.amendment_reason}" if v.amendment_reason else ""
        signed = f"  signed out by {v.verified_by}" if v.verified_by else ""
        typer.echo(
            f" {marker}v{v.version} result {v.id}  {v.state:<10} {_headline(v):<20}"
            f"  created by {v.created_by} {_when(v.created_at)}{signed}{why}"
        )
        if v.id != result.id:
            for name, text in _value_lines(v.value):
                typer.echo(f"      {name}: {text}")
    typer.echo("audit:")
    for event in events:
        typer.echo(f"  {_event_line(event)}")


@results_app.command("verify")
def verify(
    result_id: int = typer.Argument(..., help="The draft result's id."),
    user: str | None = typer.Option(None, "--as", "--actor", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Sign out a draft (draft → verified). Anything else is refused by the lifecycle."""
    from trephine.services import results

    with _changing(
        result_id, _acting(user, "results:write", database_url).name, database_url
    ) as uow:
        done = results.verify_result(uow, result_id)
    typer.echo(
        f"result {done.id} ({_what(done)}) v{done.version}"
        + f" signed out by {done.verified_by} at {_when(done.verified_at)}"
    )


@results_app.command("amend")
def amend(
    result_id: int = typer.Argument(..., help="The signed-out result's id (its current version)."),
    reason: str | None = typer.Option(
        None,
        "--reason",
        metavar="TEXT",
        help="Why the signed-out result is corrected (required; audited).",
    ),
    sets: list[str] = typer.Option(
        [],
        "--set",
        metavar="FIELD=VALUE",
        help="FIELD=VALUE, a field of the result's kind as in the import template "
        "(e.g. mrd=0.08, mrd='<0.01', mrd='not detected', blasts=31); repeatable.",
    ),
    units: list[str] = typer.Option(
        [],
        "--unit",
        metavar="FIELD=UNIT",
        help="FIELD=UNIT for a measured --set field (converted, as at import).",
    ),
    lods: list[str] = typer.Option(
        [], "--lod", metavar="FIELD=LOD", help="FIELD=LOD for a measured --set field."
    ),
    lloqs: list[str] = typer.Option(
        [], "--lloq", metavar="FIELD=LLOQ", help="FIELD=LLOQ for a measured --set field."
    ),
    user: str | None = typer.Option(None, "--as", "--actor", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Correct a signed-out result: a new version (state amended) supersedes it, with who, when
    and why; the original stays readable. Drafts are not amended (they are still editable)."""
    from trephine.errors import IllegalTransition
    from trephine.importers.amendment import AssignmentRefused, amended_value
    from trephine.services import results
    from trephine.workflow import Action, next_state

    actor = _acting(user, "results:write", database_url).name
    if reason is None or not reason.strip():
        raise fail(
            "--reason is required: say why the signed-out result is corrected "
            "(it is kept with the new version and in the audit trail)"
        )
    try:
        assignments = _assignments(sets, units, lods, lloqs)
    except ValidationError as exc:
        raise fail(exc) from None
    if not assignments:
        raise fail("nothing to amend: give at least one --set FIELD=VALUE")
    with _changing(result_id, actor, database_url) as uow:
        current = results.get_result(uow, result_id)
        # The lifecycle decides before the new value is even parsed, so amending a draft or a
        # superseded version says so instead of complaining about the value.
        try:
            next_state(_entity(current), current.state, Action.AMEND)
        except IllegalTransition as exc:
            if current.state is ResultState.SUPERSEDED:
                latest = results.history(uow, result_id)[-1]
                raise IllegalTransition(
                    _entity(current),
                    exc.from_state,
                    exc.to_state,
                    f"a superseded version is never changed; amend the current version, "
                    f"result {latest.id} (v{latest.version}, {latest.state})",
                ) from None
            raise
        try:
            value = amended_value(current.value, assignments)
        except AssignmentRefused as exc:
            # The importer words it neutrally; here the user typed an option, so echo it back.
            raise fail(f"--set {exc.field}={exc.value}: {exc.reason}") from None
        done = results.amend_result(uow, result_id, value, reason)
    typer.echo(
        f"result {done.id} v{done.version} ({done.state}) supersedes result {done.supersedes_id} "
        f"v{done.version - 1}; amended by {done.amended_by} at {_when(done.amended_at)}: "
        f"{done.amendment_reason}"
    )


@results_app.command("cancel")
def cancel(
    result_id: int = typer.Argument(..., help="The draft result's id."),
    reason: str | None = typer.Option(None, "--reason", help="Why (required; audited)."),
    user: str | None = typer.Option(None, "--as", "--actor", metavar="USER", help=AS_HELP),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Withdraw a draft entered in error (it stays in the database as cancelled)."""
    from trephine.services import results

    actor = _acting(user, "results:write", database_url).name
    if reason is None or not reason.strip():
        raise fail(ValidationError("--reason", reason, "a non-empty reason for cancelling"))
    with _changing(result_id, actor, database_url) as uow:
        done = results.cancel_result(uow, result_id, reason)
    typer.echo(f"result {done.id} v{done.version} cancelled by {actor}: {reason.strip()}")


# ------------------------------------------------------------------------ audit group


def _since(text: str) -> dt.datetime:
    """A date means midnight UTC; a date-time without an offset is read as UTC (as at import)."""
    try:
        if len(text.strip()) == 10:
            day = dt.date.fromisoformat(text.strip())
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            "--since", text, "a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM[:SS][+HH:MM]"
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


@audit_app.command("list")
def audit_list(
    entity: str | None = typer.Option(
        None, "--entity", help="Only this entity type (result, patient, specimen, procedure, …)."
    ),
    entity_id: str | None = typer.Option(None, "--id", help="Only this entity id (with --entity)."),
    actor: str | None = typer.Option(None, "--actor", "--user", help="Only events by this user."),
    since: str | None = typer.Option(
        None, "--since", help="Only events at or after this date (UTC) or date-time."
    ),
    reads: bool = typer.Option(
        False,
        "--reads",
        help="Audited reads only: who saw which patient's record, when, from where.",
    ),
    patient: str | None = typer.Option(
        None, "--patient", help="With --reads: only reads that showed this patient."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Audit events, oldest first: when, who, what, on which record, and the detail (reason …)."""
    from trephine.services import audit

    try:
        start = None if since is None else _since(since)
        if entity_id is not None and entity is None:
            raise ValidationError("--id", entity_id, "given together with --entity")
        if patient is not None and not reads:
            raise ValidationError("--patient", patient, "given together with --reads")
        if reads and entity is not None:
            raise ValidationError("--entity", entity, "not with --reads (reads are of patients)")
    except ValidationError as exc:
        raise fail(exc) from None
    who = _acting(None, "audit:read", database_url)
    with working(open_database(database_url, migrate=False), who) as uow:
        if reads:
            events = audit.reads(uow, user=actor, patient=patient)
            if start is not None:
                events = [e for e in events if e.occurred_at >= start]
        else:
            events = audit.events(uow, entity, entity_id, actor=actor, since=start)
    if as_json:
        typer.echo(json.dumps([_event_json(e) for e in events], indent=2, default=_json_default))
        return
    for event in events:
        typer.echo(_event_line(event))
    typer.echo(f"{len(events)} event(s)")


@audit_app.command("verify")
def audit_verify(
    anchor: list[str] = typer.Option(
        [],
        "--anchor",
        help="A chain head recorded earlier (EVENT_ID:SHA256, as printed here); checked to be "
        "still in place. Repeatable.",
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Check the trail: the database refuses to change or delete audit events, stored
    assessments and signed-out results (probed in a transaction that is rolled back), every
    event links by hash to the one before it (the first break is named), and every result
    version has the create/verify/amend/cancel events its columns claim. Exit 1 if not."""
    from trephine.services import audit

    try:
        anchors = [audit.parse_anchor(a) for a in anchor]
    except ValidationError as exc:
        raise fail(exc) from None
    who = _acting(None, "audit:read", database_url)
    database = open_database(database_url, migrate=False)
    try:
        checks = audit.probe_guards(database)
        with database.unit_of_work(who.name) as uow:
            checks += audit.chain_checks(uow, anchors)
            checks += audit.trail_checks(uow)
            checks += audit.read_checks(uow)
    except TrephineError as exc:
        # Same one-line refusal as every other command, not a traceback.
        raise fail(exc) from None
    finally:
        database.dispose()
    failed = [c for c in checks if c.passed is False]
    if as_json:
        payload = {"ok": not failed, "checks": [c.__dict__ for c in checks]}
        typer.echo(json.dumps(payload, indent=2))
    else:
        for check in checks:
            mark = {True: "ok  ", False: "FAIL", None: "skip"}[check.passed]
            typer.echo(f"{mark}  {check.name}: {check.detail}")
        typer.echo("audit trail: " + (f"{len(failed)} problem(s)" if failed else "intact"))
    if failed:
        raise typer.Exit(code=1)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def register(app: typer.Typer) -> None:
    """Attach this module's command groups to the top-level app."""
    app.add_typer(results_app, name="results")
    app.add_typer(audit_app, name="audit")
