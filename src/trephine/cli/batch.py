"""`trephine batch ...` commands: many files at once, on Dask (see :mod:`trephine.batch`).

``trephine batch flow-mrd DIR_OR_GLOB... (--gating-ml XML | --flowjo WSP) --denominator G
--abnormal G [--criteria AML] [--workers N] [--memory-limit 2GiB] [--scheduler ADDRESS]
[--threads] [--out results.csv|.json|.xlsx] [--specimens MAP.csv --method M [--store]
[--store-populations GATE[,GATE=population…] [--total-gate G]]]``

``trephine batch flow-gate DIR_OR_GLOB... (--gating-ml XML | --flowjo WSP) [--workers N] …
[--out …] [--specimens MAP.csv --store-populations GATE[,GATE=population…] [--total-gate G]]``:
the batch of ``flow gate`` - every gate counted, no MRD (an immune panel's tubes).

Exit codes: 0 every file quantified (gated); 1 some files failed (each failed row carries its
one-line error; the others are complete); 2 bad usage (nothing was processed).

Dask, numpy and the readers are imported inside the command so ``trephine --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from trephine.cli import flow_options
from trephine.cli.common import acting, flagged, open_database, refuse

if TYPE_CHECKING:
    from trephine.batch.flow_mrd import Settings, TubeRecord, TubeTask
    from trephine.store.database import Database

app = typer.Typer(help="Batch work over many files (Dask).", no_args_is_help=True)


#: Options both commands take, declared once.
INPUTS = typer.Argument(
    ..., metavar="DIR_OR_GLOB", help="FCS files, directories of them, or globs."
)
GATING_ML = typer.Option(None, "--gating-ml", help="Gating-ML 2.0 document gating every tube.")
FLOWJO = typer.Option(
    None, "--flowjo", help="FlowJo 10 workspace; each file gated by the sample using it."
)
WORKERS = typer.Option(
    None, "--workers", min=1, help="Local worker processes (default: the CPUs available)."
)
MEMORY_LIMIT = typer.Option(
    None, "--memory-limit", help="Memory per local worker, e.g. 2GiB (default: RAM/workers)."
)
SCHEDULER = typer.Option(
    None, "--scheduler", help="Address of a running Dask scheduler (tcp://host:8786)."
)
THREADS = typer.Option(
    False, "--threads", help="Local workers as threads of this process (small batches)."
)
OUT = typer.Option(None, "--out", help="Write the rows to a .csv, .json or .xlsx file.")
PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show a progress bar.")
SPECIMENS = typer.Option(
    None,
    "--specimens",
    help="CSV with columns file, specimen: the specimen of each FCS file (checked first).",
)
TOTAL_GATE = typer.Option(
    None, "--total-gate", help="The CD45+ gate (default: the ancestor gate naming CD45+)."
)
PANEL = typer.Option(None, "--panel", help="Panel name to record.")
ACTOR = typer.Option(None, "--actor", help="Who records them (audit trail).")
DATABASE_URL = typer.Option(
    None, "--database-url", help="Database URL (default: TREPHINE_DATABASE_URL)."
)


@app.command("flow-mrd")
def flow_mrd(
    inputs: list[str] = INPUTS,
    gating_ml: Path | None = GATING_ML,
    flowjo: Path | None = FLOWJO,
    denominator: str = flow_options.DENOMINATOR,
    abnormal: str = flow_options.ABNORMAL,
    criteria: str = flow_options.CRITERIA,
    lod: int | None = flow_options.LOD,
    lloq: int | None = flow_options.LLOQ,
    workers: int | None = WORKERS,
    memory_limit: str | None = MEMORY_LIMIT,
    scheduler: str | None = SCHEDULER,
    threads: bool = THREADS,
    out: Path | None = OUT,
    progress: bool = PROGRESS,
    specimens: Path | None = SPECIMENS,
    store: bool = typer.Option(
        False, "--store", help="Record each result as a DRAFT flow MRD result on its specimen."
    ),
    method: str | None = typer.Option(
        None, "--method", help="MRD method, required with --specimens: LAIP, DfN, LAIP+DfN."
    ),
    store_populations: str | None = typer.Option(
        None,
        "--store-populations",
        help="Also store these gates of each tube as draft population results on its specimen "
        "(needs --specimens): GATE[,GATE=population…].",
    ),
    total_gate: str | None = TOTAL_GATE,
    panel: str | None = PANEL,
    actor: str | None = ACTOR,
    database_url: str | None = DATABASE_URL,
) -> None:
    """Gate and quantify MRD in many FCS tubes in parallel: one row per file.

    Every tube is read, gated and quantified inside one Dask task exactly as
    ``trephine flow mrd`` does; rows come out sorted by path. A bad file does not stop the
    batch: its row carries the error and the exit code is 1."""
    from trephine.batch import flow_mrd as core
    from trephine.batch import output, runner
    from trephine.errors import TrephineError, ValidationError
    from trephine.importers.flow_mrd import METHODS, criteria_for

    _check_strategy_and_cluster(gating_ml, flowjo, scheduler, workers, memory_limit, threads)
    try:
        crit = criteria_for(criteria)
    except TrephineError as exc:
        raise refuse(exc) from None
    try:
        if out is not None:
            output.check_output_path(out)
        crit = criteria_for(criteria, lod, lloq)
        limit = runner.parse_memory_limit(memory_limit)
        settings = core.MrdSettings(
            denominator=denominator,
            abnormal=abnormal,
            criteria=crit,
            populations=_gate_list(store_populations),
            total_gate=total_gate,
        )
        paths = core.expand_inputs(inputs)
        if store and specimens is None:
            raise ValidationError("--store", True, "--specimens MAP.csv with --store")
        _check_population_options(store_populations, specimens, total_gate)
        if specimens is not None and method not in METHODS:
            raise ValidationError(
                "--method", method, METHODS, reason="the MRD method is required with --specimens"
            )
        tasks, accessions = _plan(
            paths, gating_ml, flowjo, settings, specimens, actor, database_url, flow_mrd=True
        )
    except (TrephineError, OSError) as exc:
        raise refuse(exc) from None

    records = _run(tasks, settings, scheduler, workers, limit, threads, progress)
    if accessions:
        strategy_file = gating_ml if gating_ml is not None else flowjo
        assert strategy_file is not None and method is not None
        records = _record_on_specimens(
            records,
            tasks,
            accessions,
            Recording(strategy_file, method, panel, store),
            actor,
            database_url,
        )
    meta: dict[str, object] = {
        "criteria": crit.name,
        "gating": str(gating_ml if gating_ml is not None else flowjo),
        "denominator": denominator,
        "abnormal": abnormal,
    }
    _finish(records, meta, out)


@app.command("flow-gate")
def flow_gate(
    inputs: list[str] = INPUTS,
    gating_ml: Path | None = GATING_ML,
    flowjo: Path | None = FLOWJO,
    workers: int | None = WORKERS,
    memory_limit: str | None = MEMORY_LIMIT,
    scheduler: str | None = SCHEDULER,
    threads: bool = THREADS,
    out: Path | None = OUT,
    progress: bool = PROGRESS,
    specimens: Path | None = SPECIMENS,
    store_populations: str | None = typer.Option(
        None,
        "--store-populations",
        help="Store these gates of each tube as draft population results on its specimen "
        "(with --specimens): GATE[,GATE=population…].",
    ),
    total_gate: str | None = TOTAL_GATE,
    panel: str | None = PANEL,
    actor: str | None = ACTOR,
    database_url: str | None = DATABASE_URL,
) -> None:
    """Gate many FCS tubes in parallel and count every gate: one row per file, no MRD.

    Every tube is read and gated inside one Dask task exactly as ``trephine flow gate`` gates
    one file. With ``--specimens MAP.csv --store-populations GATE,…`` the named gates of each
    tube are stored as draft population results on its specimen, all or nothing per tube (an
    immune panel: T, NK and B cells, regulatory T cells, MDSC). A bad file does not stop the
    batch: its row carries the error and the exit code is 1."""
    from trephine.batch import flow_mrd as core
    from trephine.batch import output, runner
    from trephine.errors import TrephineError, ValidationError

    _check_strategy_and_cluster(gating_ml, flowjo, scheduler, workers, memory_limit, threads)
    try:
        if out is not None:
            output.check_output_path(out)
        limit = runner.parse_memory_limit(memory_limit)
        settings = core.GateSettings(
            populations=_gate_list(store_populations), total_gate=total_gate
        )
        paths = core.expand_inputs(inputs)
        _check_population_options(store_populations, specimens, total_gate)
        if specimens is not None and store_populations is None:
            # As `flow gate --specimen` without --store-populations: nothing would be stored.
            raise ValidationError(
                "--store-populations", None, "GATE[,GATE…] to store with --specimens"
            )
        tasks, accessions = _plan(
            paths, gating_ml, flowjo, settings, specimens, actor, database_url, flow_mrd=False
        )
    except (TrephineError, OSError) as exc:
        raise refuse(exc) from None

    records = _run(tasks, settings, scheduler, workers, limit, threads, progress)
    if accessions:
        strategy_file = gating_ml if gating_ml is not None else flowjo
        assert strategy_file is not None
        records = _record_on_specimens(
            records,
            tasks,
            accessions,
            Recording(strategy_file, None, panel, False),
            actor,
            database_url,
        )
    meta: dict[str, object] = {
        "gating": str(gating_ml if gating_ml is not None else flowjo),
        "populations": store_populations,
    }
    _finish(records, meta, out)


def _check_strategy_and_cluster(
    gating_ml: Path | None,
    flowjo: Path | None,
    scheduler: str | None,
    workers: int | None,
    memory_limit: str | None,
    threads: bool,
) -> None:
    if (gating_ml is None) == (flowjo is None):
        raise refuse("give one strategy: --gating-ml XML or --flowjo WSP")
    if scheduler is not None and (workers is not None or memory_limit is not None or threads):
        raise refuse(
            "--scheduler uses that cluster's workers; --workers/--memory-limit/--threads "
            "size a local cluster"
        )


def _gate_list(store_populations: str | None) -> tuple[tuple[str, str | None], ...]:
    if store_populations is None:
        return ()
    from trephine.importers.flow_populations import parse_gate_list

    return tuple(parse_gate_list(store_populations))


def _check_population_options(
    store_populations: str | None, specimens: Path | None, total_gate: str | None
) -> None:
    from trephine.errors import ValidationError

    if store_populations is not None and specimens is None:
        raise ValidationError(
            "--store-populations",
            store_populations,
            "--specimens MAP.csv with --store-populations",
        )
    if total_gate is not None and store_populations is None:
        raise ValidationError("--total-gate", total_gate, "--store-populations GATE,… first")


def _plan(
    paths: list[Path],
    gating_ml: Path | None,
    flowjo: Path | None,
    settings: Settings,
    specimens: Path | None,
    actor: str | None,
    database_url: str | None,
    *,
    flow_mrd: bool,
) -> tuple[list[TubeTask], dict[str, str]]:
    """The tasks (gates checked) and ``{file: specimen}``, every specimen checked before any
    tube is read: a typo in the map must not surface after an hour of gating."""
    from trephine.batch import flow_mrd as core

    if gating_ml is not None:
        tasks = core.plan_gatingml(paths, gating_ml, settings)
    else:
        assert flowjo is not None
        tasks = core.plan_flowjo(paths, flowjo, settings)
    accessions: dict[str, str] = {}
    if specimens is not None:
        accessions = core.read_specimen_map(specimens, paths)
        _check_specimens(sorted(set(accessions.values())), actor, database_url, flow_mrd=flow_mrd)
    return tasks, accessions


def _finish(records: list[TubeRecord], meta: dict[str, object], out: Path | None) -> None:
    """Write or print the rows, one ``error:`` line per failed file; exit 1 if any failed."""
    from trephine.batch import output

    failed = [r for r in records if not r.ok]
    meta = {**meta, "files_total": len(records), "files_failed": len(failed)}
    if out is not None:
        try:
            output.write_records(out, records, meta)
        except OSError as exc:
            raise refuse(exc) from None
    else:
        _print_table(records)
    for r in failed:
        typer.echo(f"error: {flagged(r.error or '')}", err=True)
    if failed:
        raise typer.Exit(1)


def _run(
    tasks: list[TubeTask],
    settings: Settings,
    scheduler: str | None,
    workers: int | None,
    limit: int | None,
    threads: bool,
    progress: bool,
) -> list[TubeRecord]:
    """Run the tubes on Dask with a progress bar on stderr; a summary line when done."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from trephine.batch import runner
    from trephine.batch.flow_mrd import kind_of
    from trephine.errors import TrephineError

    console = Console(stderr=True)
    start = time.perf_counter()
    failed = 0
    # Connect (or start the local cluster) before drawing the bar: a scheduler that does not
    # answer is a usage error, not a batch stuck at 0 %.
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(
                runner.open_client(
                    scheduler=scheduler, workers=workers, memory_limit=limit, threads=threads
                )
            )
        except TrephineError as exc:
            raise refuse(exc) from None
        with Progress(
            TextColumn(f"[bold]{kind_of(settings)}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not progress,
        ) as bar:
            job = bar.add_task("tubes", total=len(tasks), failed=0)

            def done(rec: TubeRecord) -> None:
                nonlocal failed
                failed += not rec.ok
                bar.update(job, advance=1, failed=failed)

            records = runner.run_tubes(tasks, settings, client, on_done=done)
    wall = time.perf_counter() - start
    events = sum(r.events or 0 for r in records)
    console.print(
        f"{len(records)} file(s): {len(records) - failed} ok, {failed} failed; "
        f"{events:,} events in {wall:.1f} s ({events / wall if wall else 0:,.0f} events/s)"
    )
    return records


def _check_specimens(
    accessions: list[str], actor: str | None, database_url: str | None, *, flow_mrd: bool
) -> None:
    """Each specimen exists and, for flow MRD, takes it (the services' checks; populations
    are checked as ``flow gate --store-populations`` checks them); nothing is written."""
    from trephine.services.flow_results import check_flow_specimen
    from trephine.services.microenvironment import check_specimen

    check = check_flow_specimen if flow_mrd else check_specimen
    database = open_database(database_url, migrate=False)
    who = acting(database, "results:write", actor, option="--actor").name
    try:
        with database.unit_of_work(who) as uow:
            for acc in accessions:
                check(uow, acc)
    finally:
        database.dispose()


@dataclass(frozen=True)
class Recording:
    """How each tube's result is recorded on its specimen: ``method`` ``None`` for
    ``batch flow-gate`` (populations only, no MRD result)."""

    strategy_file: Path
    method: str | None
    panel: str | None
    store: bool


def _record_on_specimens(
    records: list[TubeRecord],
    tasks: list[TubeTask],
    accessions: dict[str, str],
    how: Recording,
    actor: str | None,
    database_url: str | None,
) -> list[TubeRecord]:
    """Record every tube on its specimen, one unit of work per tube (see :func:`_record_tube`).

    Runs here, in the client, one tube after another: results are tiny and the database is
    the client's, not the workers'."""
    database = open_database(database_url, migrate=False)
    who = acting(database, "results:write", actor, option="--actor").name
    try:
        return [
            _record_tube(database, who, rec, task, accessions[rec.file], how)
            for rec, task in zip(records, tasks, strict=True)
        ]
    finally:
        database.dispose()


def _record_tube(
    database: Database,
    who: str,
    rec: TubeRecord,
    task: TubeTask,
    specimen: str,
    how: Recording,
) -> TubeRecord:
    """Store (or, without --store, check) one tube's MRD result the way ``flow mrd --store``
    does, and its populations the way ``flow gate --store-populations`` does (``batch
    flow-gate``: the populations only).

    All or nothing per tube: the MRD result and the tube's populations are written in one unit
    of work, so a refusal of any of them (a signed-out population with another value, an empty
    parent gate) leaves nothing of this tube stored; it becomes the row's error and the row
    keeps its result. The other tubes are recorded."""
    from dataclasses import replace

    from trephine.batch.flow_mrd import one_line
    from trephine.cli.flow_populations import summaries
    from trephine.errors import TrephineError
    from trephine.importers.flow_mrd import tube_value
    from trephine.importers.flow_populations import tube_populations
    from trephine.services.flow_results import check_flow_specimen, record_flow_mrd
    from trephine.services.microenvironment import record_drafts

    if not rec.ok or (how.method is not None and rec.result is None):
        return replace(rec, specimen=specimen, stored="not stored (no result)")
    fcs_path = Path(rec.file)
    try:
        value = None
        if how.method is not None and rec.result is not None:
            value = tube_value(
                rec.result,
                fcs_path=fcs_path,
                gating_path=how.strategy_file,
                method=how.method,
                panel=how.panel,
            )
        populations = tube_populations(
            task.plans,
            rec.gate_counts or {},
            fcs_path=fcs_path,
            gating_path=how.strategy_file,
            panel=how.panel,
            fcs_sha256=rec.sha256,
        )
        with database.unit_of_work(who) as uow:
            mrd = None
            if value is not None and how.store:
                mrd = record_flow_mrd(uow, specimen, value)
            elif value is not None:
                check_flow_specimen(uow, specimen)
            stored = record_drafts(uow, [(specimen, v) for v in populations])
    except (TrephineError, OSError) as exc:
        return replace(
            rec,
            specimen=specimen,
            stored="not stored",
            error=f"{rec.file}: not stored on {specimen}: {one_line(exc)}",
            error_type=type(exc).__name__,
        )
    if value is None:
        said = ""
    elif mrd is None:
        said = "checked; nothing stored (add --store)"
        if populations:
            said = "MRD checked, not stored (add --store)"
    else:
        row, created = mrd
        verb = "stored" if created else "already stored"
        said = f"{verb}: result {row.id} v{row.version} ({row.state})"
    if populations:
        new = sum(created for _, created in stored)
        said += "; " if said else ""
        said += f"populations: {new} stored, {len(stored) - new} already stored"
    return replace(
        rec,
        specimen=specimen,
        stored=said,
        populations=tuple(summaries(stored, populations)),
    )


def _print_table(records: list[TubeRecord]) -> None:
    from rich.console import Console
    from rich.table import Table

    from trephine.batch.flow_mrd import GATE_KIND

    if records and records[0].kind == GATE_KIND:
        _print_gates(records)
        return
    table = Table("file", "events", "abnormal / denominator", "MRD %", "call", "flags", "error")
    with_specimens = any(r.specimen is not None for r in records)
    if with_specimens:
        table.add_column("specimen")
    for r in records:
        res = r.result
        table.add_row(
            r.file,
            f"{r.events:,}" if r.events is not None else "",
            f"{res.abnormal_events:,} / {res.denominator_events:,}" if res else "",
            f"{res.mrd_percent:.4g}" if res else "",
            res.call.value if res else "",
            ", ".join(res.flag_codes) if res else "",
            flagged(r.error or ""),
            *([f"{r.specimen}: {r.stored}"] if with_specimens else []),
        )
    Console(width=200).print(table)


def _print_gates(records: list[TubeRecord]) -> None:
    """``batch flow-gate`` without ``--out``: each file's gate counts (as ``flow gate``)."""
    from rich.console import Console
    from rich.table import Table

    table = Table("file", "events", "gates", "error")
    with_specimens = any(r.specimen is not None for r in records)
    if with_specimens:
        table.add_column("specimen")
    for r in records:
        table.add_row(
            r.file,
            f"{r.events:,}" if r.events is not None else "",
            ", ".join(f"{g} {n:,}" for g, n, _ in r.gates or ()),
            flagged(r.error or ""),
            *([f"{r.specimen}: {r.stored}"] if with_specimens else []),
        )
    Console(width=200).print(table)
