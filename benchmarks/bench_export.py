#!/usr/bin/env python3
"""Research export speed: a cohort of 10,000 patients exported (issue 12 §3: under 15 s here).

Set-up (not timed): the shipped example template (``docs/templates/example``: 3 patients, 4
procedures, 7 specimens, 12 results) scaled with suffixed ids to ``--patients`` patients and
imported through the clinical importer into a fresh SQLite database; a cohort ``all`` of every
patient with a diagnosis.

Timed, each ``--runs`` times (median printed), all in this process:

* **export**: what ``trephine export all --format csv --deidentify safe-harbor`` does after
  opening the database — evaluate the cohort (kept), read every table of every member, apply
  Safe Harbor (keyed pseudonyms, days from diagnosis), write the CSVs and the data dictionary,
  audit with every file's SHA-256 — and the same as Parquet;
* **baseline** (the floor, same run, same database): ``SELECT *`` of the same tables joined to
  nothing, written with ``csv.writer`` — what reading and writing the rows costs with no
  de-identification, no reshaping and no audit.

The ratio export / baseline is printed with the wall and CPU times; the target is the wall time
of the csv export under 15 s. Run it alone and give the load (``uptime``) beside its figures.

    .venv/bin/python benchmarks/bench_export.py [--patients 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import scale_example

TARGET_S = 15.0
PATIENTS_PER_COPY = 3
KEY = "bench-export-key-0123456789abcdef"


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.environ["TREPHINE_EXPORT_KEY"] = KEY

    from trephine.domain.cohort import CohortDefinition
    from trephine.importers.clinical import import_path
    from trephine.present.deidentify import Deidentifier, Level
    from trephine.present.research_tables import write_csv, write_parquet
    from trephine.services import cohorts, exports
    from trephine.store.database import Database

    copies = math.ceil(args.patients / PATIENTS_PER_COPY)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scale_example(work / "set", copies)
        db = Database(f"sqlite:///{work / 'bench.db'}")
        db.upgrade()
        t0 = time.perf_counter()
        report = import_path(db, work / "set", "bench")
        print(
            f"set-up: {report.created['patients']} patients, {report.created['results']} "
            f"results imported in {time.perf_counter() - t0:.1f} s (not timed)"
        )
        with db.unit_of_work("bench") as uow:
            cohorts.define(uow, "all", CohortDefinition())
        deid = Deidentifier(Level.SAFE_HARBOR, KEY.encode())
        sizes: dict[str, int] = {}

        def export(fmt: str) -> Callable[[], object]:
            writer = write_csv if fmt == "csv" else write_parquet

            def run() -> None:
                with db.unit_of_work("bench") as uow:
                    ev = cohorts.evaluate(uow, "all")
                    files = writer(exports.build(uow, ev, deid), exports.LOINC)
                    exports.record(uow, ev, deid, fmt, files)
                sizes[fmt] = len(ev.members)

            return run

        tables = (
            "patient",
            "diagnosis",
            "therapy_line",
            "cellular_therapy",
            "procedure",
            "specimen",
            "result",
            "assessment",
        )

        def baseline() -> None:
            from sqlalchemy import text

            with db.unit_of_work("bench") as uow:
                for table in tables:
                    result = uow.session.execute(text(f'SELECT * FROM "{table}"'))
                    buf = io.StringIO()
                    w = csv.writer(buf)
                    w.writerow(result.keys())
                    w.writerows(result)

        base_wall, base_cpu = timed(baseline, args.runs)
        print(
            f"baseline (SELECT * + csv.writer of {len(tables)} tables): "
            f"{base_wall:.2f} s wall, {base_cpu:.2f} s CPU"
        )
        ok = True
        for fmt in ("csv", "parquet"):
            wall, cpu = timed(export(fmt), args.runs)
            verdict = ""
            if fmt == "csv":
                ok = wall < TARGET_S
                verdict = f"; target < {TARGET_S:.0f} s: {'PASS' if ok else 'FAIL'}"
            print(
                f"export {fmt}, safe-harbor, {sizes[fmt]} patients: {wall:.2f} s wall, "
                f"{cpu:.2f} s CPU; {wall / base_wall:.1f}x the baseline wall "
                f"({cpu / base_cpu:.1f}x CPU){verdict}"
            )
        db.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
