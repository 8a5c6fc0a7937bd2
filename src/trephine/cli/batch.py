"""`trephine batch ...` commands: many files at once, on Dask (see :mod:`trephine.batch`).

``trephine batch flow-mrd DIR_OR_GLOB... (--gating-ml XML | --flowjo WSP) --denominator G
--abnormal G [--criteria AML] [--workers N] [--memory-limit 2GiB] [--scheduler ADDRESS]
[--threads] [--out results.csv|.json|.xlsx]``

Exit codes: 0 every file quantified; 1 some files failed (each failed row carries its one-line
error; the others are complete); 2 bad usage (nothing was processed).

Dask, numpy and the readers are imported inside the command so ``trephine --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from trephine.batch.flow_mrd import MrdSettings, TubeRecord, TubeTask

app = typer.Typer(help="Batch work over many files (Dask).", no_args_is_help=True)


def _refuse(message: str) -> typer.Exit:
    # Same contract as the flow commands: exit code 2, one line on stderr, no traceback.
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(2)


@app.command("flow-mrd")
def flow_mrd(
    inputs: list[str] = typer.Argument(
        ..., metavar="DIR_OR_GLOB", help="FCS files, directories of them, or globs."
    ),
    gating_ml: Path | None = typer.Option(
        None, "--gating-ml", help="Gating-ML 2.0 document gating every tube."
    ),
    flowjo: Path | None = typer.Option(
        None, "--flowjo", help="FlowJo 10 workspace; each file gated by the sample using it."
    ),
    denominator: str = typer.Option(
        ..., "--denominator", help="Gate id of the denominator (e.g. viable CD45+ cells)."
    ),
    abnormal: str = typer.Option(
        ..., "--abnormal", help="Gate id of the abnormal population (LAIP / DfN)."
    ),
    criteria: str = typer.Option(
        "AML", "--criteria", help="Criteria set: AML (ELN 2021), ALL, CLL (iwCLL), MM (IMWG)."
    ),
    lod: int | None = typer.Option(None, "--lod", help="Laboratory LOD in events."),
    lloq: int | None = typer.Option(None, "--lloq", help="Laboratory LLOQ in events."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Local worker processes (default: the CPUs available)."
    ),
    memory_limit: str | None = typer.Option(
        None, "--memory-limit", help="Memory per local worker, e.g. 2GiB (default: RAM/workers)."
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Address of a running Dask scheduler (tcp://host:8786)."
    ),
    threads: bool = typer.Option(
        False, "--threads", help="Local workers as threads of this process (small batches)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write the rows to a .csv, .json or .xlsx file."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Gate and quantify MRD in many FCS tubes in parallel: one row per file.

    Every tube is read, gated and quantified inside one Dask task exactly as
    ``trephine flow mrd`` does; rows come out sorted by path. A bad file does not stop the
    batch: its row carries the error and the exit code is 1."""
    from trephine.analysis.flow.mrd import CRITERIA, with_limits
    from trephine.batch import flow_mrd as core
    from trephine.batch import output, runner
    from trephine.errors import TrephineError

    if (gating_ml is None) == (flowjo is None):
        raise _refuse("give one strategy: --gating-ml XML or --flowjo WSP")
    if scheduler is not None and (workers is not None or memory_limit is not None or threads):
        raise _refuse(
            "--scheduler uses that cluster's workers; --workers/--memory-limit/--threads "
            "size a local cluster"
        )
    if criteria.upper() not in CRITERIA:
        raise _refuse(f"--criteria: {criteria!r} is not allowed; allowed: {', '.join(CRITERIA)}")
    crit = CRITERIA[criteria.upper()]
    try:
        if out is not None:
            output.check_output_path(out)
        if lod is not None or lloq is not None:
            crit = with_limits(
                crit,
                lod_events=lod if lod is not None else int(crit.lod_events.value),
                lloq_events=lloq if lloq is not None else int(crit.lloq_events.value),
            )
        limit = runner.parse_memory_limit(memory_limit)
        settings = core.MrdSettings(denominator=denominator, abnormal=abnormal, criteria=crit)
        paths = core.expand_inputs(inputs)
        if gating_ml is not None:
            tasks = core.plan_gatingml(paths, gating_ml, settings)
        else:
            assert flowjo is not None
            tasks = core.plan_flowjo(paths, flowjo, settings)
    except TrephineError as exc:
        raise _refuse(core.one_line(exc)) from None
    except OSError as exc:
        raise _refuse(core.one_line(exc)) from None

    records = _run(tasks, settings, scheduler, workers, limit, threads, progress)
    failed = [r for r in records if not r.ok]
    meta: dict[str, object] = {
        "criteria": crit.name,
        "gating": str(gating_ml if gating_ml is not None else flowjo),
        "denominator": denominator,
        "abnormal": abnormal,
        "files_total": len(records),
        "files_failed": len(failed),
    }
    if out is not None:
        try:
            output.write_records(out, records, meta)
        except OSError as exc:
            raise _refuse(core.one_line(exc)) from None
    else:
        _print_table(records)
    for r in failed:
        typer.echo(f"error: {r.error}", err=True)
    if failed:
        raise typer.Exit(1)


def _run(
    tasks: list[TubeTask],
    settings: MrdSettings,
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
    from trephine.batch.flow_mrd import one_line
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
            raise _refuse(one_line(exc)) from None
        with Progress(
            TextColumn("[bold]flow MRD[/bold]"),
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


def _print_table(records: list[TubeRecord]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("file", "events", "abnormal / denominator", "MRD %", "call", "flags", "error")
    for r in records:
        res = r.result
        table.add_row(
            r.file,
            f"{r.events:,}" if r.events is not None else "",
            f"{res.abnormal_events:,} / {res.denominator_events:,}" if res else "",
            f"{res.mrd_percent:.4g}" if res else "",
            res.call.value if res else "",
            ", ".join(res.flag_codes) if res else "",
            r.error or "",
        )
    Console(width=200).print(table)
