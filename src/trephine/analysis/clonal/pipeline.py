"""track → cluster → tree for every patient, and the JSON shape the CLI and web timeline use.

Call it with plain :class:`~trephine.analysis.clonal.records.VariantObservation` records; it
never touches files or a database (the NGS-results service maps stored variants to records and
calls :func:`analyse`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trephine.analysis.clonal.clustering import (
    ClusterFit,
    count_matrix,
    fit_clusters,
    summarize_labels,
)
from trephine.analysis.clonal.records import SampleInfo, VariantObservation
from trephine.analysis.clonal.tracking import (
    Status,
    TrackedMutation,
    patient_samples,
    status_from_presence,
    track,
)
from trephine.analysis.clonal.tree import CloneTree, infer_tree


@dataclass(frozen=True)
class Settings:
    lod: float = 0.01
    error_rate: float = 0.001
    alpha: float = 0.01
    max_clusters: int = 10
    precision: float | None = 200.0
    tolerance: float = 0.05
    detection: float = 0.05
    seed: int = 0
    n_restarts: int = 4


@dataclass(frozen=True)
class PatientResult:
    patient_id: str
    samples: tuple[SampleInfo, ...]
    mutations: tuple[TrackedMutation, ...]
    clone_of: dict[str, str]  # mutation_id -> clone name
    fit: ClusterFit | None
    clone_names: tuple[str, ...]
    tree: CloneTree | None


@dataclass(frozen=True)
class Analysis:
    settings: Settings
    patients: tuple[PatientResult, ...]

    def to_json(self) -> dict[str, Any]:
        return analysis_json(self)


def analyse(obs: Sequence[VariantObservation], settings: Settings | None = None) -> Analysis:
    """Run the whole pipeline. Row order of ``obs`` does not matter."""
    st = settings or Settings()
    tracked = track(obs, lod=st.lod, error_rate=st.error_rate, alpha=st.alpha)
    samples = patient_samples(obs)
    by_patient: dict[str, list[VariantObservation]] = {}
    for o in obs:
        by_patient.setdefault(o.patient_id, []).append(o)
    tracked_by: dict[str, list[TrackedMutation]] = {}
    for t in tracked:
        tracked_by.setdefault(t.patient_id, []).append(t)
    results = []
    for pid in sorted(by_patient):
        muts = tuple(tracked_by[pid])
        results.append(_patient(pid, by_patient[pid], samples[pid].samples, muts, st))
    return Analysis(st, tuple(results))


def _patient(
    pid: str,
    obs: list[VariantObservation],
    samples: tuple[SampleInfo, ...],
    muts: tuple[TrackedMutation, ...],
    st: Settings,
) -> PatientResult:
    # Mutations never at or above the LOD carry no clonal signal; clustering them would only
    # create an all-zero "clone".
    detected = {t.mutation_id for t in muts if t.status is not Status.NOT_DETECTED}
    use = [o for o in obs if o.mutation_id in detected]
    if not use:
        return PatientResult(pid, samples, muts, {}, None, (), None)
    cm = count_matrix(use)
    given = {o.mutation_id: o.clone for o in use}
    if all(c is not None for c in given.values()):
        names = tuple(sorted({c for c in given.values() if c is not None}, key=_natural))
        idx = {c: i for i, c in enumerate(names)}
        fit = summarize_labels(
            cm,
            [idx[str(given[m])] for m in cm.mutation_ids],
            precision=st.precision,
            error_rate=st.error_rate,
        )
    else:
        fit = fit_clusters(
            cm,
            max_clusters=st.max_clusters,
            precision=st.precision,
            error_rate=st.error_rate,
            seed=st.seed,
            n_restarts=st.n_restarts,
        )
        names = tuple(str(k + 1) for k in range(fit.n_clusters))
    clone_of = {m: names[int(lab)] for m, lab in zip(fit.mutation_ids, fit.labels, strict=True)}
    tree = infer_tree(
        names,
        fit.sample_ids,
        np.clip(fit.ccf, 0.0, 1.0),
        tolerance=st.tolerance,
        detection=st.detection,
    )
    return PatientResult(pid, samples, muts, clone_of, fit, names, tree)


def _natural(label: str) -> tuple[int, int | str]:
    return (0, int(label)) if label.isdigit() else (1, label)


def _r(x: float | None, nd: int = 6) -> float | None:
    return None if x is None else round(float(x), nd)


def analysis_json(a: Analysis) -> dict[str, Any]:
    """The CLI contract: ``{"mutations": [...], "clones": [...]}`` (+ ``trees``, ``settings``)."""
    mutations: list[dict[str, Any]] = []
    clones: list[dict[str, Any]] = []
    trees: list[dict[str, Any]] = []
    for p in a.patients:
        for t in p.mutations:
            mutations.append(
                {
                    "patient_id": t.patient_id,
                    "mutation_id": t.mutation_id,
                    "gene": t.gene,
                    "status": str(t.status),
                    "clone": p.clone_of.get(t.mutation_id),
                    "chip": t.chip,
                    "mrd_informative": t.mrd_informative,
                    "intermittent": t.intermittent,
                    "samples": [
                        {
                            "sample_id": m.sample_id,
                            "day": m.day,
                            "vaf": _r(m.vaf),
                            "alt_count": m.alt_count,
                            "depth": m.depth,
                            "present": m.present,
                            "called": m.called,
                            "p_value": None if m.p_value is None else float(f"{m.p_value:.4g}"),
                        }
                        for m in t.measurements
                    ],
                }
            )
        if p.fit is None or p.tree is None:
            continue
        own = p.tree.own_fractions()
        sids = p.fit.sample_ids
        day_of = {s.sample_id: s.day for s in p.samples}
        for k, name in enumerate(p.clone_names):
            parent = p.tree.parent_of(name)
            # A clone's own status uses the tree's detection threshold on its CCF, the same
            # threshold that orders clones in time.
            seen = [bool(v >= a.settings.detection) for v in p.fit.ccf[k]]
            clone_status, _ = status_from_presence(seen)
            clones.append(
                {
                    "patient_id": p.patient_id,
                    "clone": name,
                    "parent": parent,
                    "fractions": {s: _r(own[k, j], 4) for j, s in enumerate(sids)},
                    "ccf": {s: _r(p.fit.ccf[k, j], 4) for j, s in enumerate(sids)},
                    "ccf_lower": {s: _r(p.fit.ccf_lower[k, j], 4) for j, s in enumerate(sids)},
                    "ccf_upper": {s: _r(p.fit.ccf_upper[k, j], 4) for j, s in enumerate(sids)},
                    "status": str(clone_status),
                    "first_detected_day": next(
                        (day_of[sid] for sid, hit in zip(sids, seen, strict=True) if hit), None
                    ),
                    "n_mutations": int(np.sum(p.fit.labels == k)),
                    "genes": sorted(
                        {
                            t.gene
                            for t in p.mutations
                            if p.clone_of.get(t.mutation_id) == name and t.gene not in ("", "-")
                        }
                    ),
                }
            )
        trees.append(
            {
                "patient_id": p.patient_id,
                "fits": p.tree.fits,
                "tolerance": p.tree.tolerance,
                "edges": [[a_, b] for a_, b in p.tree.edges()],
                "n_fitting_trees": p.tree.n_fitting_trees,
                "search_complete": p.tree.search_complete,
                "explanation": list(p.tree.explanation),
                "n_clusters_bic": (
                    {str(k): round(v, 2) for k, v in p.fit.bic_by_k.items()}
                    if p.fit.bic_by_k
                    else None
                ),
                "days": {s.sample_id: s.day for s in p.samples},
            }
        )
    return {
        "mutations": mutations,
        "clones": clones,
        "trees": trees,
        "samples": _sample_summaries(a),
        "settings": {k: v for k, v in a.settings.__dict__.items()},
    }


def _sample_summaries(a: Analysis) -> list[dict[str, Any]]:
    """Per specimen: how many mutations are present, and how many of them may serve as MRD
    markers (non-CHIP, ELN 2021 M12). The MRD call itself belongs to the criteria engine."""
    out: list[dict[str, Any]] = []
    for p in a.patients:
        for j, s in enumerate(p.samples):
            present = [t for t in p.mutations if t.measurements[j].present]
            informative = [t for t in present if t.mrd_informative]
            vafs = [t.measurements[j].vaf or 0.0 for t in informative]
            out.append(
                {
                    "patient_id": p.patient_id,
                    "sample_id": s.sample_id,
                    "day": s.day,
                    "purity": s.purity,
                    "n_present": len(present),
                    "n_present_mrd_informative": len(informative),
                    "max_vaf_mrd_informative": _r(max(vafs)) if vafs else None,
                    "chip_genes_present": sorted({t.gene for t in present if t.chip}),
                }
            )
    return out
