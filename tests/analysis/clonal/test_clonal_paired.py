"""Paired cohort view on the APL primary/relapse MAFs (Madan 2016; maftools mafCompare)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from trephine.analysis.cohort.paired import compare_cohorts, paired_changes
from trephine.errors import ValidationError
from trephine.io.maf import read_maf


@pytest.mark.shared_data
def test_apl_primary_vs_relapse_fisher(real_data: Path) -> None:
    d = real_data / "clonal/apl_madan2016"
    rows = {
        r.gene: r
        for r in compare_cohorts(read_maf(d / "APL_primary.maf"), read_maf(d / "APL_relapse.maf"))
    }
    pml, rara = rows["PML"], rows["RARA"]
    assert (pml.mutated_primary, pml.n_primary, pml.mutated_relapse, pml.n_relapse) == (
        1,
        124,
        11,
        58,
    )
    assert pml.p_value == pytest.approx(1.53e-05, rel=0.01)
    assert (rara.mutated_primary, rara.mutated_relapse) == (0, 7)
    assert rara.p_value == pytest.approx(2.57e-04, rel=0.01)
    assert (rows["RUNX1"].mutated_primary, rows["RUNX1"].mutated_relapse) == (1, 5)
    assert rows["RUNX1"].p_value == pytest.approx(0.0131, rel=0.01)
    assert "WT1" in rows and rows["WT1"].p_value > 0.05


@pytest.mark.shared_data
def test_apl_paired_patients(real_data: Path) -> None:
    d = real_data / "clonal/apl_madan2016"
    pairs = paired_changes(read_maf(d / "APL_primary.maf"), read_maf(d / "APL_relapse.maf"))
    assert len(pairs.patients) == 22
    assert {"DS2", "DS12", "29", "260"} <= set(pairs.patients)


@dataclass(frozen=True)
class _Call:
    gene: str
    sample: str


def test_counts_a_gene_once_per_sample_and_filters() -> None:
    a = [_Call("X", "p1"), _Call("X", "p1"), _Call("Y", "p2")]
    b = [_Call("X", "r1"), _Call("Z", "r2")]
    rows = compare_cohorts(a, b, min_mutated=1)
    x = next(r for r in rows if r.gene == "X")
    assert (x.mutated_primary, x.n_primary, x.mutated_relapse, x.n_relapse) == (1, 2, 1, 2)
    assert compare_cohorts(a, b, min_mutated=2) == []
    with pytest.raises(ValidationError):
        compare_cohorts([], b)
