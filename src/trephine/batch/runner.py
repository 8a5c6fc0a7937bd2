"""Fan tubes out over Dask and collect their records in path order.

Why ``dask.distributed`` with worker *processes* (one thread each) by default, rather than the
threaded local scheduler:

* Gating is numpy-heavy but not GIL-free end to end (per-gate Python, the FCS parser, Decimal
  arithmetic), so threads in one process do not scale to all cores; processes do.
* A tube of 5 M events x 20 channels is 400 MB of float32 before compensation and transforms
  make float64 copies: memory per tube, not CPU, is what limits a machine. A worker process has
  a memory limit its nanny enforces (``--memory-limit``); one thread per worker means one tube
  per limit. A tube that blows the limit kills only its worker, the batch reports that row and
  goes on.
* The same code connects to an existing cluster (``--scheduler tcp://host:8786``) when the day's
  tubes outgrow one machine: each task reads its file where it runs, so the files must be on a
  path every worker sees (a shared file system), and the workers need trephine installed.

``threads=True`` runs the workers as threads of this process: no start-up cost (about a second
per worker process), for small batches and tests; memory limits are then not enforced.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from trephine.batch.flow_mrd import (
    MRD_KIND,
    Settings,
    TubeRecord,
    TubeTask,
    kind_of,
    one_line,
    process_tube,
)
from trephine.errors import ValidationError, option

if TYPE_CHECKING:
    from distributed import Client

#: A tube that kills its worker is retried this many times before its row says so: a crash from
#: an oversized tube repeats, and every retry costs a worker restart.
ALLOWED_FAILURES = 1


def default_workers() -> int:
    import os

    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def parse_memory_limit(text: str | None) -> int | None:
    """``"2GiB"``, ``"1500MB"``, ... in bytes; ``None``/``"auto"`` = machine memory / workers."""
    if text is None or text.strip().lower() == "auto":
        return None
    from dask.utils import parse_bytes

    try:
        value = parse_bytes(text)
    except (ValueError, TypeError):
        value = -1
    if value <= 0:
        raise ValidationError(
            "memory_limit", text, "a size such as 2GiB, 1500MB or auto", reason="not a size"
        )
    return int(value)


@contextmanager
def open_client(
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    memory_limit: int | None = None,
    threads: bool = False,
    timeout: str = "10s",
) -> Iterator[Client]:
    """A Dask client: on the scheduler at ``scheduler``, or on a LocalCluster closed afterwards.

    The local cluster has ``workers`` workers (default: the CPUs this process may use) of one
    thread each, each limited to ``memory_limit`` bytes (default: machine memory / workers).
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ValidationError(
                "scheduler",
                scheduler,
                "the address of a running Dask scheduler, e.g. tcp://host:8786",
                reason=one_line(exc),
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers if workers is not None else default_workers()
    if n < 1:
        raise ValidationError("workers", n, ">= 1")
    environ = {
        k: v
        for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
        if k != "MALLOC_TRIM_THRESHOLD_"
    }
    with dask.config.set(
        {
            # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers to hand freed memory back to the
            # OS. Setting it turns off glibc's adaptive mmap threshold, so every array over
            # 128 KiB is mmap'd and page-faulted afresh: gating a tube took 2-3x the CPU of the
            # same code in a plain process (measured, benchmarks/bench_batch_flow.py). Without
            # it workers allocate like any Python process; the memory limit still applies.
            "distributed.nanny.pre-spawn-environ": environ,
            "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
            # Hand a worker its next tube only when it is free (one task per thread): a queued
            # tube on a worker that dies is counted as a suspect too, so an oversized tube
            # would otherwise take innocent tubes down with it.
            "distributed.scheduler.worker-saturation": 1.0,
            # Results are a few hundred bytes: spilling to disk would only write temp files.
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": False,
        }
    ):
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=not threads,
            memory_limit=memory_limit if memory_limit is not None else "auto",
            dashboard_address=":0",  # any free port: never collide with a running cluster
            # Worker deaths are reported on the rows; the scheduler's log lines would repeat them.
            silence_logs=logging.CRITICAL,
        )
        try:
            client = Client(cluster)
            try:
                yield client
            finally:
                client.close()
        finally:
            cluster.close()


def run_tubes(
    tasks: Sequence[TubeTask],
    settings: Settings,
    client: Client,
    on_done: Callable[[TubeRecord], None] | None = None,
) -> list[TubeRecord]:
    """Process every task on ``client``; the records come back in the order of ``tasks``.

    Each tube is one task (read -> gate -> quantify inside it), so only the small record crosses
    the network. ``on_done`` is called as each tube finishes (for a progress bar).
    """
    from distributed import as_completed

    batch = uuid.uuid4().hex[:8]
    futures = [
        # pure=False and unique keys: the same file twice in one session must run again (it may
        # have been rewritten), and hashing a Strategy for a key is wasted work.
        client.submit(process_tube, t, settings, key=f"trephine-mrd-{batch}-{i}", pure=False)
        for i, t in enumerate(tasks)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    records: list[TubeRecord | None] = [None] * len(tasks)
    for fut in as_completed(futures):
        i = index[fut.key]
        if fut.status == "finished":
            rec: TubeRecord = fut.result()
        else:
            rec = _lost(tasks[i], fut.exception(), kind_of(settings))
        records[i] = rec
        fut.release()
        if on_done is not None:
            on_done(rec)
    return [r for r in records if r is not None]


def _lost(task: TubeTask, exc: BaseException | None, kind: str = MRD_KIND) -> TubeRecord:
    """The row of a tube whose task failed outside :func:`process_tube` (its worker died)."""
    name = type(exc).__name__ if exc is not None else "CancelledError"
    if name == "KilledWorker":
        msg = (
            f"{task.path}: the worker processing this tube died (over its memory limit, or a "
            f"crash), also on retry; give workers more memory ({option('memory_limit')}) or "
            f"fewer {option('workers')}"
        )
    else:
        msg = f"{task.path}: task failed ({name}: {one_line(exc) if exc else 'cancelled'})"
    return TubeRecord(file=task.path, sample=task.sample, error=msg, error_type=name, kind=kind)


def run_serial(
    tasks: Sequence[TubeTask],
    settings: Settings,
    on_done: Callable[[TubeRecord], None] | None = None,
) -> list[TubeRecord]:
    """The same in this process, one tube after another (a baseline, and for tiny batches)."""
    out: list[TubeRecord] = []
    for t in tasks:
        rec = process_tube(t, settings)
        out.append(rec)
        if on_done is not None:
            on_done(rec)
    return out
