#!/usr/bin/env python3
"""Import speed: the example template scaled to N results, against a raw-executemany floor.

Claims under test (issue 8 §4), each printed with PASS/FAIL:

* importing 100,000 results runs at >= 5,000 results/s on SQLite and >= 3,000/s on PostgreSQL;
* the import is within 10x of the **floor**: the same rows (every table the import wrote,
  audit trail included) inserted into the same, freshly migrated schema with one raw
  ``executemany`` per table in one transaction — what the database costs with no checking at all;
* re-importing the same file (everything already present) is no slower than importing it.

What is timed: ``trephine.importers.clinical.import_path`` on a folder of CSVs — reading,
parsing and validating every row, then writing in one transaction (the command's own work;
process start-up and the progress bar are not included). The scaled set is the shipped example
(``docs/templates/example``: 3 patients, 4 procedures, 7 specimens, 12 results from 55 result
rows) repeated with suffixed patient ids, accessions and MRNs; it is generated, not timed.
Wall time and this process's CPU time are both printed: the machine is shared, so the CPU
ratios are the steadier figures.

    .venv/bin/python benchmarks/bench_import.py [--results 100000]
        [--backend sqlite|postgresql|both]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

PostgreSQL runs in a temporary database created and dropped on that server.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "templates" / "example"
#: Results in one copy of the example (a result is one value of one kind on one specimen).
RESULTS_PER_COPY = 12

#: Targets from issue 8 §4.
RATE_TARGET = {"sqlite": 5_000, "postgresql": 3_000}
FLOOR_FACTOR = 10.0


def scale_example(target: Path, copies: int) -> None:
    """Write the example set ``copies`` times into ``target`` (ids, accessions, MRNs suffixed)."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(EXAMPLE.glob("*.csv")):
        with source.open(newline="", encoding="utf-8") as handle:
            header, *rows = list(csv.reader(handle))
        keyed = [header.index(c) for c in ("patient_id", "accession", "mrn") if c in header]
        with (target / source.name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for copy in range(copies):
                for row in rows:
                    out = list(row)
                    for index in keyed:
                        if out[index]:
                            out[index] = f"{out[index]}-{copy}"
                    writer.writerow(out)


@contextmanager
def fresh_database(backend: str, work: Path, postgres_url: str) -> Iterator[Any]:
    """A migrated, empty database on ``backend``; dropped (PostgreSQL) afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from trephine.store.database import Database

    if backend == "sqlite":
        path = work / f"bench-{uuid.uuid4().hex[:8]}.db"
        database = Database(f"sqlite:///{path}")
        database.upgrade()
        try:
            yield database
        finally:
            database.dispose()
        return
    name = f"trephine_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    try:
        database.upgrade()
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Timing:
    wall: float
    cpu: float


def timed(work: Callable[[], Any]) -> tuple[Timing, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = work()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu), value


#: Tables in foreign-key order (parents first), as the floor inserts them.
TABLES = [
    "patient",
    "patient_identity",
    "diagnosis",
    "therapy_line",
    "therapy_cycle",
    "cellular_therapy",
    "procedure",
    "complication",
    "specimen",
    "result",
    "audit_event",
]


def written_rows(database: Any) -> dict[str, list[dict[str, Any]]]:
    """Every row the import wrote, per table, as the driver returns them."""
    from trephine.store.tables import Base

    tables = Base.metadata.tables
    with database.engine.connect() as connection:
        return {
            name: [dict(row._mapping) for row in connection.execute(tables[name].select())]
            for name in TABLES
        }


def floor(database: Any, rows: dict[str, list[dict[str, Any]]]) -> None:
    """The same rows, one raw executemany per table, one transaction."""
    from sqlalchemy import insert

    from trephine.store.tables import Base

    tables = Base.metadata.tables
    with database.engine.begin() as connection:
        for name in TABLES:
            if rows[name]:
                connection.execute(insert(tables[name]), rows[name])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run_backend(backend: str, folder: Path, results: int, work: Path, pg: str) -> list[bool]:
    from trephine.importers.clinical import import_path

    with fresh_database(backend, work, pg) as database:
        first, report = timed(lambda: import_path(database, folder, "bench-import"))
        assert report.created["results"] == results, report.created
        again, report2 = timed(lambda: import_path(database, folder, "bench-import"))
        assert report2.total_created == 0 and report2.unchanged["results"] == results
        rows = written_rows(database)
    with fresh_database(backend, work, pg) as target:
        base, _ = timed(lambda: floor(target, rows))
    total_rows = sum(len(r) for r in rows.values())
    rate = results / first.wall
    wall_ratio, cpu_ratio = first.wall / base.wall, first.cpu / max(base.cpu, 1e-9)
    again_ratio = again.wall / first.wall
    print(f"\n## {backend}: {results:,} results ({total_rows:,} rows written incl. audit events)")
    print("| step | wall s | CPU s | results/s |\n|---|---|---|---|")
    print(f"| import | {first.wall:.2f} | {first.cpu:.2f} | {rate:,.0f} |")
    print(
        f"| re-import (all present) | {again.wall:.2f} | {again.cpu:.2f} | "
        f"{results / again.wall:,.0f} |"
    )
    print(
        f"| floor: raw executemany of the same rows | {base.wall:.2f} | {base.cpu:.2f} | "
        f"{results / base.wall:,.0f} |"
    )
    checks = [
        (
            f"import >= {RATE_TARGET[backend]:,} results/s",
            rate >= RATE_TARGET[backend],
            f"{rate:,.0f}/s",
        ),
        (
            f"import within {FLOOR_FACTOR:.0f}x of the floor (wall)",
            wall_ratio <= FLOOR_FACTOR,
            f"{wall_ratio:.1f}x (CPU {cpu_ratio:.1f}x)",
        ),
        (
            "re-import no slower than import (wall)",
            again_ratio <= 1.0,
            f"{again_ratio:.2f}x (CPU {again.cpu / max(first.cpu, 1e-9):.2f}x)",
        ),
    ]
    for name, ok, figure in checks:
        print(f"{verdict(ok)}  {name}: {figure}")
    return [ok for _, ok, _ in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TREPHINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    copies = math.ceil(args.results / RESULTS_PER_COPY)
    results = copies * RESULTS_PER_COPY
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"# bench_import: {results:,} results ({copies:,} copies of the example)")
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    verdicts: list[bool] = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        work = Path(tmp)
        folder = work / "scaled"
        scale_example(folder, copies)
        for backend in backends:
            verdicts += run_backend(backend, folder, results, work, args.postgres_url)
    print(f"\noverall: {verdict(all(verdicts))}")


if __name__ == "__main__":
    main()
