#!/usr/bin/env python3
"""h5ad import speed (issue 14 §2): a 500,000-cell AnnData imported in under 30 s.

Generates (not timed) a synthetic ``.h5ad`` of N cells (default 500,000) over S specimens
(default 40) with 20 cell-type labels (two of them outside the vocabulary), a 200-gene sparse
expression matrix and ``obsm["spatial"]`` coordinates; registers the specimens in a fresh SQLite
database; then times ``trephine omics import`` as a user runs it (the CLI in-process, through
``typer.testing.CliRunner``): reading the columns, hashing the file, counting, mapping, the
per-specimen co-localisation (k = 10, 20 permutations) and storing the draft populations with
their audit events.

Baseline measured in the same run: ``anndata.read_h5ad`` of the same file (what loading it in a
notebook costs). The ratio import / read_h5ad is printed with the absolute time and the target.
Then the same pair again as a person runs them, each in a fresh process (``python -m trephine
omics import …`` on a fresh copy of the database vs ``python -c "import anndata;
anndata.read_h5ad(…)"``), wall and CPU time (the CPU time is the figure load does not inflate).

    .venv/bin/python benchmarks/bench_omics.py [--cells 500000] [--specimens 40]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_S = 30.0
LABELS = [
    "CD4+ T cells",
    "CD8+ T cells",
    "Tregs",
    "NK cells",
    "B cells",
    "plasma cells",
    "CD14+ monocytes",
    "M-MDSC",
    "G-MDSC",
    "CD34+ progenitors",
    "HSC",
    "neutrophils",
    "erythroblasts",
    "pDC",
    "DC",
    "macrophages",
    "MSC",
    "endothelial cells",
    "cycling cells",
    "doublets",
]


def make_file(path: Path, cells: int, specimens: int, seed: int = 14) -> list[str]:
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    accessions = [f"SC-{i:04d}" for i in range(specimens)]
    spec = rng.integers(0, specimens, cells)
    types = rng.integers(0, len(LABELS), cells)
    obs = pd.DataFrame(
        {
            "sample": pd.Categorical.from_codes(spec, accessions),
            "cell_type": pd.Categorical.from_codes(types, LABELS),
        },
        index=pd.RangeIndex(cells).astype(str),
    )
    # A sparse count matrix (200 genes, ~2 detected per cell): X is in the file as real data
    # sets have it, but the import never reads it.
    nnz_per_cell = 2
    indptr = np.arange(0, cells * nnz_per_cell + 1, nnz_per_cell)
    indices = rng.integers(0, 200, cells * nnz_per_cell).astype(np.int32)
    data = rng.integers(1, 20, cells * nnz_per_cell).astype(np.float32)
    x = sp.csr_matrix((data, indices, indptr), shape=(cells, 200))
    adata = ad.AnnData(X=x, obs=obs)
    adata.obsm["spatial"] = rng.uniform(0, 5000, (cells, 2))
    adata.write_h5ad(path)
    return accessions


def register(url: str, accessions: list[str]) -> None:
    from trephine.domain import Patient, Procedure, Sex, Site, Specimen, SpecimenType
    from trephine.services import open_database, patients, procedures

    db = open_database(url)
    db.upgrade()
    at = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)
    with db.unit_of_work("bench") as uow:
        for i, acc in enumerate(accessions):
            pid = f"B{i:04d}"
            patients.register_patient(uow, Patient(pid, Sex.FEMALE, 1960))
            proc, _ = procedures.record_procedure(
                uow, pid, Procedure(at, Site.POSTERIOR_ILIAC_CREST)
            )
            procedures.add_specimen(uow, pid, Specimen(acc, SpecimenType.ASPIRATE, at), proc)
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500_000)
    parser.add_argument("--specimens", type=int, default=40)
    args = parser.parse_args()
    import anndata as ad
    from typer.testing import CliRunner

    from trephine.cli.main import app

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cells.h5ad"
        accessions = make_file(path, args.cells, args.specimens)
        registered = Path(tmp) / "registered.db"
        register(f"sqlite:///{registered}", accessions)
        size_mb = path.stat().st_size / 1e6
        command = [
            "omics",
            "import",
            str(path),
            "--specimen-column",
            "sample",
            "--cell-type-column",
            "cell_type",
            "--permutations",
            "20",
            "--database-url",
        ]

        def database() -> str:
            copy = Path(tmp) / "bench.db"
            shutil.copyfile(registered, copy)
            return f"sqlite:///{copy}"

        t0, c0 = time.perf_counter(), time.process_time()
        ad.read_h5ad(path)
        baseline, baseline_cpu = time.perf_counter() - t0, time.process_time() - c0

        url = database()
        t0, c0 = time.perf_counter(), time.process_time()
        res = CliRunner().invoke(app, [*command, url])
        elapsed, elapsed_cpu = time.perf_counter() - t0, time.process_time() - c0
        if res.exit_code != 0:
            raise SystemExit(f"import failed: {res.stderr}")

        read_code = "import sys, anndata; anndata.read_h5ad(sys.argv[1])"
        fresh_base = _child([sys.executable, "-c", read_code, str(path)])
        fresh = _child([sys.executable, "-m", "trephine", *command, database()])
    load = os.getloadavg()
    print(f"h5ad: {args.cells:,} cells, {args.specimens} specimens, {size_mb:.0f} MB")
    print(res.stdout.strip())
    print("in process (anndata already imported):")
    print(f"  baseline anndata.read_h5ad: {baseline:6.2f} s wall {baseline_cpu:6.2f} s CPU")
    print(
        f"  trephine omics import:      {elapsed:6.2f} s wall {elapsed_cpu:6.2f} s CPU"
        f"  ({elapsed / baseline:.2f}x wall, {elapsed_cpu / baseline_cpu:.2f}x CPU)"
    )
    print("fresh process each (start-up and imports included):")
    print(f"  python -c read_h5ad:        {fresh_base[0]:6.2f} s wall {fresh_base[1]:6.2f} s CPU")
    print(
        f"  trephine omics import:      {fresh[0]:6.2f} s wall {fresh[1]:6.2f} s CPU"
        f"  ({fresh[0] / fresh_base[0]:.2f}x wall, {fresh[1] / fresh_base[1]:.2f}x CPU)"
    )
    worst = max(elapsed, fresh[0])
    verdict = "PASS" if worst < TARGET_S else "FAIL"
    print(
        f"target < {TARGET_S:.0f} s (slower of the two): {verdict}   "
        f"(load average {load[0]:.1f} {load[1]:.1f})"
    )


def _child(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU time (user + system) of a child process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


if __name__ == "__main__":
    main()
