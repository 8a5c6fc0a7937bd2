"""Primary vs relapse cohorts: gene mutation frequency with Fisher's exact test, and the
per-patient view of the patients sequenced at both timepoints.

Counting follows the usual cohort convention (as in maftools' ``mafCompare``): a gene counts once
per sample however many mutations it carries there, and a cohort's size is the number of distinct
samples in its file (samples without any mutation are not visible in a MAF).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from scipy import stats

from trephine.errors import ValidationError


class GeneCall(Protocol):
    """Anything with a gene and a sample (e.g. :class:`trephine.io.maf.MafRecord`)."""

    @property
    def gene(self) -> str: ...

    @property
    def sample(self) -> str: ...


@dataclass(frozen=True)
class GeneComparison:
    gene: str
    mutated_primary: int
    n_primary: int
    mutated_relapse: int
    n_relapse: int
    odds_ratio: float
    p_value: float
    fdr: float

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _gene_samples(calls: Sequence[GeneCall]) -> tuple[dict[str, set[str]], set[str]]:
    genes: dict[str, set[str]] = {}
    for c in calls:
        genes.setdefault(c.gene, set()).add(c.sample)
    return genes, {c.sample for c in calls}


def compare_cohorts(
    primary: Sequence[GeneCall], relapse: Sequence[GeneCall], *, min_mutated: int = 5
) -> list[GeneComparison]:
    """Per gene: mutated samples in each cohort and a two-sided Fisher exact test.

    Genes mutated in fewer than ``min_mutated`` samples in *both* cohorts are left out (they
    cannot reach significance and only inflate the multiple-testing burden). Rows are sorted by
    p-value, then gene. ``fdr`` is the Benjamini–Hochberg adjusted p over the rows kept.
    """
    if min_mutated < 0:
        raise ValidationError("min_mutated", min_mutated, "an integer >= 0")
    gp, sp = _gene_samples(primary)
    gr, sr = _gene_samples(relapse)
    if not sp or not sr:
        raise ValidationError("cohort", "empty", "at least one mutated sample in each cohort")
    rows: list[tuple[str, int, int, float, float]] = []
    for gene in sorted(set(gp) | set(gr)):
        a, b = len(gp.get(gene, ())), len(gr.get(gene, ()))
        if max(a, b) < min_mutated:
            continue
        res = stats.fisher_exact([[a, len(sp) - a], [b, len(sr) - b]])
        rows.append((gene, a, b, float(res.statistic), float(res.pvalue)))
    fdr = stats.false_discovery_control([r[4] for r in rows]) if rows else []
    out = [
        GeneComparison(g, a, len(sp), b, len(sr), o, p, float(q))
        for (g, a, b, o, p), q in zip(rows, fdr, strict=True)
    ]
    return sorted(out, key=lambda r: (r.p_value, r.gene))


def default_patient_of(barcode: str) -> str:
    """Madan 2016 APL barcodes end in D (diagnosis) or R (relapse); the rest is the patient."""
    return barcode[:-1] if barcode[-1:] in ("D", "R") else barcode


@dataclass(frozen=True)
class PairedChanges:
    patients: tuple[str, ...]
    gained: dict[str, tuple[str, ...]] = field(default_factory=dict)  # gene -> patients
    lost: dict[str, tuple[str, ...]] = field(default_factory=dict)
    kept: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def most_gained(self, n: int) -> list[tuple[str, int]]:
        c = Counter({g: len(p) for g, p in self.gained.items()})
        return sorted(c.items(), key=lambda t: (-t[1], t[0]))[:n]

    def to_json(self) -> dict[str, Any]:
        return {
            "patients": list(self.patients),
            "gained": {g: list(p) for g, p in self.gained.items()},
            "lost": {g: list(p) for g, p in self.lost.items()},
            "kept": {g: list(p) for g, p in self.kept.items()},
        }


def paired_changes(
    primary: Sequence[GeneCall],
    relapse: Sequence[GeneCall],
    patient_of: Callable[[str], str] = default_patient_of,
) -> PairedChanges:
    """For patients with a sample in both cohorts: genes gained, lost and kept at relapse."""

    def by_patient(calls: Sequence[GeneCall]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for c in calls:
            out.setdefault(patient_of(c.sample), set()).add(c.gene)
        return out

    bp, br = by_patient(primary), by_patient(relapse)
    both = tuple(sorted(set(bp) & set(br)))
    gained: dict[str, list[str]] = {}
    lost: dict[str, list[str]] = {}
    kept: dict[str, list[str]] = {}
    for pid in both:
        for g in br[pid] - bp[pid]:
            gained.setdefault(g, []).append(pid)
        for g in bp[pid] - br[pid]:
            lost.setdefault(g, []).append(pid)
        for g in bp[pid] & br[pid]:
            kept.setdefault(g, []).append(pid)

    def freeze(d: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
        return {g: tuple(sorted(p)) for g, p in sorted(d.items())}

    return PairedChanges(both, freeze(gained), freeze(lost), freeze(kept))


@dataclass(frozen=True)
class SpecimenChange:
    """One mutation of one patient between two specimens (before → after)."""

    gene: str
    mutation_id: str
    vaf_before: float | None
    vaf_after: float | None
    #: persistent, cleared, emerging or not_detected (``analysis.clonal.tracking``, at the LOD)
    status: str
    #: DNMT3A/TET2/ASXL1: likely clonal haematopoiesis, not an MRD marker (ELN 2021 M12)
    chip: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def compare_specimens(
    observations: Sequence[Any], before: str, after: str, *, lod: float = 0.01
) -> list[SpecimenChange]:
    """The stored variants of one patient's two specimens (diagnosis/relapse, before/after):
    every mutation seen in either, its VAF in each and its status between them, through the
    same tracking as ``clonal track`` restricted to the two specimens."""
    from trephine.analysis.clonal.tracking import track

    samples = {o.sample_id for o in observations}
    for field_name, accession in (("before", before), ("after", after)):
        if accession not in samples:
            raise ValidationError(
                field_name, accession, sorted(samples) or "a specimen with stored variants"
            )
    if before == after:
        raise ValidationError("after", after, f"another specimen than {before}")
    chosen = [o for o in observations if o.sample_id in (before, after)]
    order = {o.sample_id: o.day for o in chosen}
    if order[before] > order[after]:
        raise ValidationError("before", before, f"a specimen collected before {after}")
    out = []
    for m in track(chosen, lod=lod):
        vaf = {x.sample_id: x.vaf for x in m.measurements}
        out.append(
            SpecimenChange(
                m.gene, m.mutation_id, vaf.get(before), vaf.get(after), str(m.status), m.chip
            )
        )
    return sorted(out, key=lambda c: (c.status, c.gene, c.mutation_id))
