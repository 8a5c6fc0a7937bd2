"""``trephine demo`` (load the synthetic cohort) and ``trephine serve`` (the web app).

Heavy imports (SQLAlchemy, FastAPI, uvicorn, plotly) happen inside the commands so that
``trephine --help`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from trephine.cli.common import fail, shown_url
from trephine.errors import TrephineError, ValidationError

if TYPE_CHECKING:
    from trephine.demo.model import SyntheticPatient
    from trephine.store.database import Database


def _database_problem(exc: Exception) -> str:
    from trephine.settings import get_settings

    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    url = shown_url(get_settings().database_url)
    return f"database {url!r}: {first} (check TREPHINE_DATABASE_URL; `trephine init` migrates)"


def demo(
    patients: int = typer.Option(
        240, "--patients", "-n", min=1, max=100_000, help="How many synthetic patients."
    ),
    seed: int = typer.Option(20240917, "--seed", help="Random seed; same seed, same cohort."),
    allow_mixed: bool = typer.Option(
        False,
        "--allow-mixed",
        help="Load even if the database already holds patients that are not from the demo.",
    ),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        metavar="YYYY-MM-DD",
        help="The day the demo is seen from (default: today, UTC): every date of the cohort "
        "moves by whole weeks so that its calendar ends in the week before it.",
    ),
    demo_accounts: bool = typer.Option(
        True,
        "--accounts/--no-accounts",
        help="Create the demo-admin/-lab/-clinician/-researcher accounts (random passwords, "
        "printed once).",
    ),
) -> None:
    """Load the seeded synthetic demo cohort (no real data) into the database.

    Migrates the database first if needed. Re-running skips patients already loaded, and
    keeps the calendar they were loaded with.
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from sqlalchemy.exc import SQLAlchemyError

    from trephine.demo import generate_cohort
    from trephine.demo.calendar import calendar_end
    from trephine.demo.load import book_upcoming, load_cohort
    from trephine.services import open_database

    started = time.perf_counter()
    try:
        day = _as_of(as_of)
        database = open_database()
        database.upgrade()
        if not allow_mixed:
            _refuse_mixing(database)
        shift, kept = _demo_shift(database, seed, day, explicit=as_of is not None)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        ) as progress:
            task = progress.add_task("Loading synthetic patients", total=patients)
            created: list[SyntheticPatient] = []

            def loaded(sp: SyntheticPatient, was_created: bool) -> None:
                progress.advance(task)
                if was_created:
                    created.append(sp)

            report = load_cohort(
                database, generate_cohort(patients, seed, shift_days=shift), on_patient=loaded
            )
            # The next marrow of some patients still on therapy, booked for the coming weeks.
            booked = book_upcoming(database, created)
            # Then the criteria calls and alerts over the stored timelines (trephine assess
            # --all), so the web app shows them; re-running adds nothing (idempotent).
            from trephine.services.assessments import assess_all

            assess_task = progress.add_task("Assessing (criteria, alerts)", total=None)

            def assessed(_outcome: object, total: int) -> None:
                progress.update(assess_task, total=total)
                progress.advance(assess_task)

            outcomes = assess_all(database, "demo-assess", on_patient=assessed)
        from trephine.demo.study import STUDY, ensure_demo_study

        with database.unit_of_work("demo-research") as uow:
            enrolled = ensure_demo_study(uow)
        made: list[tuple[str, object, str | None]] = []
        demo_patient: str | None = None
        if demo_accounts:
            from trephine.services import accounts, patient_portal

            with database.unit_of_work("demo") as uow:
                made = list(accounts.ensure_demo_accounts(uow))
                demo_patient = patient_portal.ensure_demo_patient(uow)
        database.dispose()
    except TrephineError as exc:
        raise fail(exc) from None
    except SQLAlchemyError as exc:
        # One line naming the database problem; the driver's traceback helps nobody here.
        raise fail(_database_problem(exc)) from None
    elapsed = time.perf_counter() - started
    typer.echo(
        f"{report.patients_created} patients loaded ({report.patients_skipped} already present), "
        f"{report.procedures} biopsies, {report.specimens} specimens, {report.results} results "
        f"signed out, {report.amendments} amended — {elapsed:.1f} s"
    )
    runs = [o.run for o in outcomes if o.run is not None]
    skipped = sum(o.status == "skipped" for o in outcomes)
    typer.echo(
        f"assessed {len(runs)} patients: {sum(len(r.assessments) for r in runs)} criteria calls, "
        f"{sum(len(r.alerts) for r in runs)} alerts ({skipped} skipped: no stored-timeline rule "
        "set for their diagnosis yet); see `trephine alerts list`"
    )
    typer.echo(f"study {STUDY}: {enrolled} patients enrolled (`trephine study show {STUDY}`)")
    typer.echo(
        f"{booked} marrows booked in the coming weeks (`trephine procedures list --status planned`)"
    )
    end = calendar_end(shift)
    typer.echo(
        f"calendar: every date moved {shift // 7:+d} weeks from the reference calendar; the "
        f"cohort's calendar ends {end - dt.timedelta(days=1)}"
        + (" (kept from the demo patients already loaded)" if kept else f" (as of {day})")
    )
    errors = [o for o in outcomes if o.status == "error"]
    for o in errors:
        typer.echo(f"assess {o.patient_id}: {o.reason}", err=True)
    if made:
        typer.echo("demo accounts (sign in at /sign-in; passwords are shown only this once):")
        for name, role, password in made:
            shown = password or "(exists; `trephine users reset-password` sets a new one)"
            typer.echo(f"  {name:<16} {role!s:<11} {shown}")
        if demo_patient is not None:
            typer.echo(
                f"demo-patient reads {demo_patient}'s pages at /my (the latest biopsy's results "
                "are not released yet: `trephine release PROCEDURE_ID` as a clinician)"
            )


def _as_of(text: str | None) -> dt.date:
    """The ``--as-of`` day (today in UTC without one); not after today, since lab records are
    refused with future times."""
    today = dt.datetime.now(dt.UTC).date()
    if text is None:
        return today
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError("--as-of", text, "a date as YYYY-MM-DD") from None
    if day > today:
        raise ValidationError("--as-of", text, f"a date as YYYY-MM-DD up to today ({today})")
    return day


def _demo_shift(database: Database, seed: int, day: dt.date, *, explicit: bool) -> tuple[int, bool]:
    """The calendar shift to load with, and whether it is the one of the demo patients already
    in the database (one calendar per database: an explicit ``--as-of`` that would start a
    second one is refused)."""
    from trephine.demo.calendar import calendar_end, shift_for
    from trephine.demo.load import loaded_shift

    wanted = shift_for(day)
    loaded = loaded_shift(database, seed)
    if loaded is None or loaded == wanted:
        return wanted, False
    if explicit:
        end = calendar_end(loaded)
        raise ValidationError(
            "--as-of",
            day.isoformat(),
            f"a day from {end + dt.timedelta(days=1)} to {end + dt.timedelta(days=7)} (the "
            "calendar of the demo patients already loaded), or no --as-of",
            reason="the demo patients already loaded have their calendar; a fresh database "
            "takes another",
        )
    return loaded, True


def _refuse_mixing(database: Database) -> None:
    """Synthetic patients must not end up among real ones by accident."""
    from trephine.demo import ID_PREFIX
    from trephine.services import patients

    with database.unit_of_work("demo-lab") as uow:
        others = [p.patient_id for p in patients.list_patients(uow)]
    others = [pid for pid in others if not pid.startswith(ID_PREFIX)]
    if others:
        raise ValidationError(
            "database",
            shown_url(database.url),
            f"a database without other patients (it holds {len(others)}, e.g. {others[0]!r})",
            reason="the demo cohort is synthetic; use a separate database or --allow-mixed",
        )


LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: ``serve`` starts one worker per CPU up to this many: past it, more processes add memory
#: (each holds the app, its caches and a connection pool) rather than throughput.
DEFAULT_WORKERS_CAP = 8
MAX_WORKERS = 64


def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to listen on (loopback by default)."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    tls_cert: Path | None = typer.Option(
        None, "--tls-cert", help="TLS certificate (PEM); with --tls-key, serve HTTPS."
    ),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="TLS private key (PEM)."),
    behind_proxy: bool = typer.Option(
        False,
        "--behind-proxy",
        help="A TLS proxy fronts this server: trust its X-Forwarded-* headers, from "
        "TREPHINE_PROXY_ADDRESS only.",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        max=MAX_WORKERS,
        help="Server processes answering requests (default: the CPUs this process may use, "
        f"at most {DEFAULT_WORKERS_CAP}; 1 for an in-memory database).",
    ),
    access_log: bool = typer.Option(
        False,
        "--access-log",
        help="Log a line per request (method, path AND query string, which may hold a name or "
        "MRN searched for). Off by default: the audit trail records who read what.",
    ),
) -> None:
    """Serve the web app and the JSON API (uvicorn).

    Loopback by default. Another --host is refused unless the server speaks TLS itself
    (--tls-cert/--tls-key) or --behind-proxy says a TLS proxy fronts it. Several worker
    processes share the port; everything they share (sessions, sign-in throttling, pending
    signatures, the audit chain) is in the database.
    """
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from trephine.api.app import create_app
    from trephine.api.serving import LOOP as FAIR_LOOP
    from trephine.settings import get_settings

    if (tls_cert is None) != (tls_key is None):
        raise fail(ValidationError("--tls-cert/--tls-key", None, "both files, or neither"))
    for option, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None and not path.is_file():
            raise fail(ValidationError(option, str(path), "a readable PEM file"))
    tls = tls_cert is not None
    if host not in LOOPBACK and not (tls or behind_proxy):
        raise fail(
            ValidationError(
                "--host",
                host,
                f"{', '.join(LOOPBACK)}; another address needs --tls-cert/--tls-key or "
                "--behind-proxy",
                reason="patient data must not travel unencrypted",
            )
        )
    settings = get_settings()
    hosts = list(dict.fromkeys([*settings.allowed_hosts, host]))
    settings = settings.model_copy(update={"allowed_hosts": hosts})
    in_memory = _in_memory(settings.database_url)
    if workers is not None and workers > 1 and in_memory:
        raise fail(
            ValidationError(
                "--workers",
                workers,
                "1 for an in-memory SQLite database (each process would have its own)",
            )
        )
    count = workers if workers is not None else (1 if in_memory else default_workers())
    try:
        # Built here also when workers build their own: a configuration error (OIDC settings,
        # an unreachable database) is one line now, not a traceback in every worker.
        app = create_app(settings=settings, server=True)
        database = app.state.database
        if database.current_revision() != database.head_revision():
            typer.echo(
                "warning: the database is not migrated; run `trephine init` (and `trephine "
                "demo` for the synthetic cohort). /healthz answers 503 until then.",
                err=True,
            )
    except TrephineError as exc:
        raise fail(exc) from None
    except SQLAlchemyError as exc:
        raise fail(_database_problem(exc)) from None
    scheme = "https" if tls else "http"
    plural = "process" if count == 1 else "processes"
    typer.echo(f"Trephine on {scheme}://{host}:{port}/  ({count} worker {plural}; Ctrl+C to stop)")
    target: Any = app
    if count > 1:
        # Each worker is a fresh interpreter (spawned) that builds its own app from the
        # environment: the allowed hosts travel there with the --host added.
        database.dispose()
        os.environ["TREPHINE_ALLOWED_HOSTS"] = json.dumps(hosts)
        target = WORKER_APP
    uvicorn.run(
        target,
        factory=count > 1,
        workers=count,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        # Forwarded headers change the client address and scheme: believed only from the proxy.
        proxy_headers=behind_proxy,
        forwarded_allow_ips=settings.proxy_address if behind_proxy else None,
        server_header=False,
        # Several workers share the connections fairly (api/serving.py: uvicorn's own accept
        # gives most of them to one worker, and keep-alive keeps them there).
        loop=FAIR_LOOP if count > 1 else "auto",
    )


#: What each worker process imports and calls to build its app (uvicorn's factory form).
WORKER_APP = "trephine.api.app:served_app"


def _in_memory(url: str) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def default_workers() -> int:
    """The CPUs this process may run on (its affinity, so a container's or ``taskset``'s
    limit counts), at most :data:`DEFAULT_WORKERS_CAP`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, DEFAULT_WORKERS_CAP))


def register(app: typer.Typer) -> None:
    """Attach ``demo`` and ``serve`` to the top-level app."""
    app.command("demo")(demo)
    app.command("serve")(serve)
