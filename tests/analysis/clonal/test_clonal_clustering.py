"""Beta-binomial mixture: published clusters (AML1, PyClone-VI truth), determinism, scale."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from clonal_datasets import adjusted_rand_index, aml1_observations, pyclone_observations

from trephine.analysis.clonal.clustering import count_matrix, fit_clusters
from trephine.analysis.clonal.records import VariantObservation
from trephine.errors import ValidationError


def _synthetic(
    n_clusters: int, n_samples: int, per_cluster: int, depth: int, seed: int
) -> tuple[list[VariantObservation], dict[str, int]]:
    """Well-separated clusters: each cluster gets its own random CCF profile over samples."""
    rng = np.random.default_rng(seed)
    ccf = rng.uniform(0.05, 1.0, size=(n_clusters, n_samples))
    obs: list[VariantObservation] = []
    truth: dict[str, int] = {}
    for k in range(n_clusters):
        for j in range(per_cluster):
            mid = f"c{k}_m{j}"
            truth[mid] = k
            for s in range(n_samples):
                d = int(rng.poisson(depth))
                a = int(rng.binomial(d, ccf[k, s] / 2))
                obs.append(VariantObservation("P", f"S{s}", float(s * 30), "-", mid, a, d, a / d))
    return obs, truth


@pytest.mark.shared_data
def test_aml1_recovers_published_clusters(real_data: Path) -> None:
    obs, truth = aml1_observations(real_data)
    fit = fit_clusters(count_matrix(obs), seed=0)
    assert fit.n_clusters == 5
    ari = adjusted_rand_index(fit.labels, [truth[m] for m in fit.mutation_ids])
    assert ari >= 0.9, ari
    # Founding cluster: CCF ~ 2 x 46.9 % VAF at diagnosis, with an interval around the mean.
    k = int(np.argmax(fit.ccf[:, 0]))
    assert fit.ccf[k, 0] == pytest.approx(0.94, abs=0.03)
    assert fit.ccf_lower[k, 0] <= fit.ccf[k, 0] <= fit.ccf_upper[k, 0]
    assert sorted(fit.sizes()) == sorted([305, 4, 3, 3, 63])


@pytest.mark.shared_data
def test_pyclone_vi_synthetic_truth(real_data: Path) -> None:
    obs, truth = pyclone_observations(real_data)
    fit = fit_clusters(count_matrix(obs), max_clusters=12, seed=0)
    ari = adjusted_rand_index(fit.labels, [truth[m] for m in fit.mutation_ids])
    assert ari >= 0.9, ari


def test_deterministic_and_row_order_free() -> None:
    obs, _ = _synthetic(4, 3, 12, 300, seed=3)
    a = fit_clusters(count_matrix(obs), seed=7)
    rng = np.random.default_rng(1)
    shuffled = [obs[i] for i in rng.permutation(len(obs))]
    b = fit_clusters(count_matrix(shuffled), seed=7)
    assert a.mutation_ids == b.mutation_ids
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.ccf, b.ccf)


def test_twenty_clusters_by_ten_samples_in_seconds() -> None:
    obs, truth = _synthetic(20, 10, 8, 500, seed=11)
    t0 = time.perf_counter()
    fit = fit_clusters(count_matrix(obs), max_clusters=25, n_restarts=3, seed=0)
    elapsed = time.perf_counter() - t0
    ari = adjusted_rand_index(fit.labels, [truth[m] for m in fit.mutation_ids])
    assert ari >= 0.9, ari
    assert 18 <= fit.n_clusters <= 22
    assert elapsed < 30, elapsed  # typically a few seconds; generous for a shared CI machine


def test_purity_scales_ccf() -> None:
    # 40 % blasts and a heterozygous clonal mutation: VAF 0.2 means CCF 1, not 0.4.
    obs = [
        VariantObservation("P", "S", 0.0, "-", f"m{i}", 200, 1000, 0.2, purity=0.4)
        for i in range(10)
    ]
    fit = fit_clusters(count_matrix(obs), seed=0)
    assert fit.n_clusters == 1 and fit.ccf[0, 0] > 0.95


def test_bad_settings_refused() -> None:
    obs, _ = _synthetic(1, 1, 3, 100, seed=0)
    with pytest.raises(ValidationError, match="max_clusters"):
        fit_clusters(count_matrix(obs), max_clusters=0)
    with pytest.raises(ValidationError, match="observations"):
        count_matrix([])
