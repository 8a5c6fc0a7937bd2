"""Benchmark: 1,000 patients × 6 timepoints × 40 mutations tracked, clustered and treed.

Synthetic cohort generated here with a seed (no patient data). Each patient has 3–5 clones in a
random tree whose cellular prevalences change over six real sampling days; reads are drawn from a
binomial at depth ~Poisson(500). Prints wall time for

* baseline: tracking alone (presence, status, binomial call) for the whole cohort;
* tracking + clustering + tree (the full ``analyse`` pipeline), and its clustering accuracy
  (mean adjusted Rand index against the simulated clones).

Run:  .venv/bin/python benchmarks/bench_clonal.py [--patients 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import comb

from trephine.analysis.clonal.pipeline import Settings, analyse
from trephine.analysis.clonal.records import VariantObservation
from trephine.analysis.clonal.tracking import track

DAYS = (0.0, 28.0, 90.0, 180.0, 365.0, 540.0)


def simulate(n_patients: int, seed: int) -> tuple[list[VariantObservation], dict[str, int]]:
    rng = np.random.default_rng(seed)
    obs: list[VariantObservation] = []
    truth: dict[str, int] = {}
    for p in range(n_patients):
        k = int(rng.integers(3, 6))
        parent = [-1] + [int(rng.integers(0, i)) for i in range(1, k)]
        # Own fractions per day from a Dirichlet (plus normal cells), summed up the tree.
        own = rng.dirichlet(np.full(k + 1, 0.8), size=len(DAYS)).T[:k]
        ccf = own.copy()
        for i in reversed(range(1, k)):
            ccf[parent[i]] += ccf[i]
        sizes = rng.multinomial(40 - k, np.full(k, 1.0 / k)) + 1
        m = 0
        for c in range(k):
            for _ in range(sizes[c]):
                mid = f"P{p}_m{m}"
                truth[mid] = c
                m += 1
                for s, day in enumerate(DAYS):
                    d = int(rng.poisson(500))
                    a = int(rng.binomial(d, ccf[c, s] / 2))
                    obs.append(
                        VariantObservation(f"P{p}", f"P{p}_S{s}", day, "-", mid, a, d, a / d)
                    )
    return obs, truth


def ari(a: list[int], b: list[int]) -> float:
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    t = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(t, (ia, ib), 1)
    s, r, c = comb(t, 2).sum(), comb(t.sum(1), 2).sum(), comb(t.sum(0), 2).sum()
    e = r * c / comb(len(a), 2)
    return float((s - e) / ((r + c) / 2 - e)) if (r + c) / 2 != e else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-clusters", type=int, default=8)
    args = ap.parse_args()

    t0 = time.perf_counter()
    obs, truth = simulate(args.patients, args.seed)
    t_sim = time.perf_counter() - t0
    print(
        f"cohort: {args.patients} patients x {len(DAYS)} timepoints x 40 mutations "
        f"= {len(obs):,} observations (simulated in {t_sim:.1f} s)"
    )

    # Wall time and this process's CPU time: on a shared machine the CPU figure is the stable one.
    t0, c0 = time.perf_counter(), time.process_time()
    tracked = track(obs, lod=0.01)
    t_track, c_track = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"baseline  tracking alone:            {t_track:8.2f} s wall, {c_track:7.2f} s CPU  "
        f"({len(tracked):,} mutations)"
    )

    t0, c0 = time.perf_counter(), time.process_time()
    result = analyse(obs, Settings(lod=0.01, max_clusters=args.max_clusters, n_restarts=2))
    t_full, c_full = time.perf_counter() - t0, time.process_time() - c0
    scores = []
    fits = 0
    for p in result.patients:
        mids = sorted(p.clone_of)
        scores.append(ari([truth[m] for m in mids], [int(p.clone_of[m]) for m in mids]))
        fits += bool(p.tree and p.tree.fits)
    print(
        f"tracking + clustering + tree:        {t_full:8.2f} s wall, {c_full:7.2f} s CPU  "
        f"({1000 * c_full / args.patients:.0f} ms CPU/patient, "
        f"{c_full / max(c_track, 1e-9):.0f}x the tracking baseline's CPU)"
    )
    print(
        f"clustering accuracy: mean ARI {np.mean(scores):.3f} (median {np.median(scores):.3f}); "
        f"trees fitting the sum rule: {fits}/{len(result.patients)}"
    )


if __name__ == "__main__":
    main()
