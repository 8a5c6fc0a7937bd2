#!/usr/bin/env python3
"""Batch flow MRD: a serial loop in one process vs ``trephine batch`` on Dask.

Generates N synthetic AML MRD tubes with the shared generator (not timed), then quantifies them
(read -> compensate/logicle -> 5-level hierarchy -> MRD) three ways and prints wall time,
throughput and peak memory:

* serial: :func:`trephine.batch.runner.run_serial` in this process;
* dask processes: a LocalCluster of W worker processes, one thread each (the CLI default);
  timed with and without the cluster start-up;
* dask threads: W worker threads in this process (``--threads``).

All three must give identical results (checked). Run from the repository root::

    .venv/bin/python benchmarks/bench_batch_flow.py [--tubes 8] [--events 500000] [--workers 2]

All timings exclude tube generation; the files are read once first so every mode finds them in
the page cache. Each mode runs --repeat times (median). Peak memory is the max RSS
(``getrusage``): this process for serial and threads (the threaded run comes last, so its figure
is the max of both - read it as an upper bound), and each worker process for the process cluster.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from trephine.analysis.flow.mrd import AML_ELN2021
from trephine.batch import runner
from trephine.batch.flow_mrd import MrdSettings, TubeRecord, expand_inputs, plan_gatingml

SHARED = Path(os.environ.get("TREPHINE_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def _maxrss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(out: Path, tubes: int, events: int) -> None:
    gen = SHARED / "bench" / "gen_synthetic_fcs.py"
    for i in range(tubes):
        path = out / f"tube_{i:02d}.fcs"
        if path.exists():
            continue
        subprocess.run(
            [sys.executable, str(gen), str(path), "--events", str(events), "--seed", str(i + 1)],
            check=True,
            capture_output=True,
        )
        for extra in out.glob(f"{path.name}.*"):
            extra.unlink()


def _line(name: str, seconds: float, events: int, base: float, mem: str) -> None:
    print(
        f"{name:<34} {seconds:7.2f} s  {events / seconds / 1e6:6.2f} M events/s  "
        f"x{base / seconds:4.2f} vs serial  peak RSS {mem}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tubes", type=int, default=8)
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="Runs per mode (median reported).")
    ap.add_argument("--dir", type=Path, default=None, help="Reuse/keep tubes here.")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.dir or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        _generate(out, args.tubes, args.events)
        gating = SHARED / "bench" / "mrd-hierarchy.gatingml.xml"
        settings = MrdSettings("CD45pos", "CD34pos_CD117pos", AML_ELN2021)
        tasks = plan_gatingml(expand_inputs([str(out)]), gating, settings)
        total = args.tubes * args.events
        print(
            f"{args.tubes} tubes x {args.events:,} events x 14 channels, {args.workers} workers, "
            f"{len(os.sched_getaffinity(0))} CPUs, load {os.getloadavg()[0]:.1f}"
        )

        for t in tasks:  # warm the page cache: every mode then reads from memory
            Path(t.path).read_bytes()

        def timed(run: Callable[[], list[TubeRecord]]) -> tuple[float, list[TubeRecord]]:
            # Median of --repeat runs: the machine is shared, single runs swing by 2x.
            times, recs = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                recs = run()
                times.append(time.perf_counter() - t0)
            return statistics.median(times), recs

        t_serial, serial = timed(lambda: runner.run_serial(tasks, settings))
        rss_serial = _maxrss_mib()

        t0 = time.perf_counter()
        with runner.open_client(workers=args.workers) as client:
            # Import the reader and gating engine in every worker first, so "tasks only" is the
            # steady state of a long-running cluster (--scheduler), not Python start-up.
            client.run(_warm)
            t_start = time.perf_counter() - t0
            t_procs, procs = timed(lambda: runner.run_tubes(tasks, settings, client))
            worker_rss = client.run(
                lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            )
        t_procs_all = t_start + t_procs

        with runner.open_client(workers=args.workers, threads=True) as client:
            t_threads, threads = timed(lambda: runner.run_tubes(tasks, settings, client))

        _check(serial, procs, threads)
        _line("serial loop, one process", t_serial, total, t_serial, f"{rss_serial:.0f} MiB")
        per_worker = ", ".join(f"{v:.0f}" for v in worker_rss.values())
        _line(
            f"dask {args.workers} processes (tasks only)",
            t_procs,
            total,
            t_serial,
            f"{per_worker} MiB per worker",
        )
        _line(
            f"dask {args.workers} processes (+ start-up)",
            t_procs_all,
            total,
            t_serial,
            f"(start-up {t_start:.2f} s)",
        )
        _line(
            f"dask {args.workers} threads, one process",
            t_threads,
            total,
            t_serial,
            f"<= {_maxrss_mib():.0f} MiB",
        )
        print(
            f"median of {args.repeat} runs per mode; per tube (serial, last run): "
            + ", ".join(f"{r.seconds:.2f}" for r in serial)
            + " s; results identical in all three runs"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def _warm() -> None:
    import trephine.analysis.flow.mrd
    import trephine.analysis.flow.strategy
    import trephine.batch.flow_mrd
    import trephine.io.fcs  # noqa: F401


def _check(*runs: list[TubeRecord]) -> None:
    first = runs[0]
    for other in runs[1:]:
        if [(r.file, r.result, r.error) for r in other] != [
            (r.file, r.result, r.error) for r in first
        ]:
            raise SystemExit("results differ between runs")
    failed = [r.error for r in first if not r.ok]
    if failed:
        raise SystemExit(f"tubes failed: {failed}")


if __name__ == "__main__":
    main()
