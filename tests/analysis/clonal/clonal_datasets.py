"""Converters from the shared published datasets to Trephine's long variant TSV.

Conversions happen here (in the test); the published files are vendored unchanged
in tests/data/clonal.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.special import comb

from trephine.analysis.clonal.records import VariantObservation

# The shared AML1 files carry no sampling days; 335 is a placeholder for the relapse day (these
# tests use only the order of the two samples, never the interval).
AML1_DAYS = {"primary": 0.0, "relapse": 335.0}


def aml1_observations(real_data: Path) -> tuple[list[VariantObservation], dict[str, str]]:
    """AML1 as long-format observations (VAF % -> fraction) and the published cluster labels."""
    path = real_data / "clonal/ding2012_aml1/aml1_variants_annotated.tsv"
    obs: list[VariantObservation] = []
    truth: dict[str, str] = {}
    with path.open() as fh:
        for rec in csv.DictReader(fh, delimiter="\t"):
            truth[rec["mutation_id"]] = rec["cluster"]
            for suffix, day in AML1_DAYS.items():
                alt, depth = rec[f"alt_{suffix}"], rec[f"depth_{suffix}"]
                counts = bool(alt) and bool(depth)
                obs.append(
                    VariantObservation(
                        patient_id="AML1",
                        sample_id="P" if suffix == "primary" else "R",
                        day=day,
                        gene=rec["gene"],
                        mutation_id=rec["mutation_id"],
                        alt_count=int(alt) if counts else None,
                        depth=int(depth) if counts else None,
                        # The published VAF columns are percentages; the long TSV wants fractions.
                        vaf=float(rec[f"vaf_{suffix}_pct"]) / 100.0,
                    )
                )
    return obs, truth


def pyclone_observations(real_data: Path) -> tuple[list[VariantObservation], dict[str, str]]:
    path = real_data / "clonal/pyclone_vi/synthetic.tsv"
    obs: list[VariantObservation] = []
    truth: dict[str, str] = {}
    with path.open() as fh:
        for rec in csv.DictReader(fh, delimiter="\t"):
            truth[rec["mutation_id"]] = rec["cluster"]
            alt, ref = int(rec["alt_counts"]), int(rec["ref_counts"])
            obs.append(
                VariantObservation(
                    patient_id="SIM",
                    sample_id=rec["sample_id"],
                    day=float(rec["sample_id"][1:]),  # simulated samples have no days: order only
                    gene="-",
                    mutation_id=rec["mutation_id"],
                    alt_count=alt,
                    depth=alt + ref,
                    vaf=alt / (alt + ref),
                    purity=float(rec["tumour_content"]),
                    major_cn=int(rec["major_cn"]),
                    minor_cn=int(rec["minor_cn"]),
                )
            )
    return obs, truth


def calder_observations(real_data: Path) -> list[VariantObservation]:
    """CLL003: pooled reads per published cluster, one pseudo-mutation per cluster.

    Rows a–e are the five timepoints in temporal order; the file has no days, so the sample
    index stands in for the day (order is what the tree and the statuses use).
    """
    path = real_data / "clonal/calder_cll003/CLL003_clustered.txt"
    lines = [ln.split("\t") for ln in path.read_text().splitlines() if ln.strip()]
    names = lines[0][1:]
    obs: list[VariantObservation] = []
    for day, row in enumerate(lines[1:]):
        sample = row[0]
        values = [int(v) for v in row[1:]]
        for j in range(0, len(names), 2):
            ref, alt = values[j], values[j + 1]
            cluster = names[j]
            obs.append(
                VariantObservation(
                    patient_id="CLL003",
                    sample_id=sample,
                    day=float(day),
                    gene="SF3B1" if "SF3B1" in cluster else cluster.split("_")[0],
                    mutation_id=cluster,
                    alt_count=alt,
                    depth=ref + alt,
                    vaf=alt / (ref + alt),
                    clone=cluster,
                )
            )
    return obs


def adjusted_rand_index(a: Sequence[object], b: Sequence[object]) -> float:
    """Hubert & Arabie's adjusted Rand index from the contingency table."""
    _, ia = np.unique(np.asarray(a, dtype=str), return_inverse=True)
    _, ib = np.unique(np.asarray(b, dtype=str), return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(table, (ia, ib), 1)
    pairs = comb(table, 2).sum()
    rows, cols = comb(table.sum(axis=1), 2).sum(), comb(table.sum(axis=0), 2).sum()
    expected = rows * cols / comb(len(ia), 2)
    return float((pairs - expected) / ((rows + cols) / 2 - expected))
