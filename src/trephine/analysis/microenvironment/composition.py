"""Cell-type composition per specimen and neighbourhood co-localisation between cell types.

Pure numpy/scipy (``scipy.spatial.cKDTree``); squidpy is not needed. Inputs are integer label
codes per cell (as :mod:`trephine.io.h5ad` reads them), so 500,000 cells are counted with one
``bincount``.

Co-localisation (:func:`colocalisation`): for every cell its ``k`` nearest neighbours in the same
specimen; for each ordered pair of cell types (A, B) the observed share of B among A's
neighbours divided by the share expected if labels were placed at random (B's share of the
specimen's other cells). A ratio above 1 means B sits near A more often than chance, below 1
less often. A permutation z-score (labels shuffled, positions kept) says how far from chance it
is; ``permutations=0`` skips it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def composition(
    specimen_codes: np.ndarray, type_codes: np.ndarray, n_specimens: int, n_types: int
) -> np.ndarray:
    """Cell counts, an ``n_specimens × n_types`` integer matrix."""
    flat = specimen_codes.astype(np.int64) * n_types + type_codes.astype(np.int64)
    counts = np.bincount(flat, minlength=n_specimens * n_types)
    return counts.reshape(n_specimens, n_types)


@dataclass(frozen=True)
class Colocalisation:
    """Observed/expected neighbour ratios (``ratio[a, b]``) and permutation z-scores."""

    types: list[str]
    k: int
    cells: int
    ratio: np.ndarray
    zscore: np.ndarray | None
    permutations: int

    def pairs(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for a, ta in enumerate(self.types):
            for b, tb in enumerate(self.types):
                ratio = float(self.ratio[a, b])
                z = None if self.zscore is None else float(self.zscore[a, b])
                out.append(
                    {
                        "cell_type": ta,
                        "neighbour_type": tb,
                        "ratio": None if np.isnan(ratio) else round(ratio, 4),
                        "zscore": None if z is None or np.isnan(z) else round(z, 3),
                    }
                )
        return out


def _neighbour_pair_counts(labels: np.ndarray, neighbours: np.ndarray, n_types: int) -> np.ndarray:
    centre = np.repeat(labels, neighbours.shape[1])
    flat = centre * n_types + labels[neighbours.ravel()]
    return np.bincount(flat, minlength=n_types * n_types).reshape(n_types, n_types)


def colocalisation(
    xy: np.ndarray,
    labels: np.ndarray,
    types: list[str],
    *,
    k: int = 10,
    permutations: int = 100,
    seed: int = 0,
) -> Colocalisation:
    """Neighbourhood co-localisation of the cell types of ONE specimen (see module text)."""
    from scipy.spatial import cKDTree

    n = len(labels)
    n_types = len(types)
    k_eff = min(k, n - 1)
    if k_eff < 1:
        nan = np.full((n_types, n_types), np.nan)
        return Colocalisation(types, 0, n, nan, None, 0)
    tree = cKDTree(xy)
    _, idx = tree.query(xy, k=k_eff + 1)
    neighbours = np.asarray(idx[:, 1:], dtype=np.int64)  # drop the cell itself
    labels = labels.astype(np.int64)
    observed = _neighbour_pair_counts(labels, neighbours, n_types).astype(np.float64)
    type_counts = np.bincount(labels, minlength=n_types).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = observed / observed.sum(axis=1, keepdims=True)
        # Expected share of B among a cell's neighbours under random labels: B's share of the
        # OTHER cells (a cell is never its own neighbour).
        expected = (type_counts[None, :] - np.eye(n_types)) / (n - 1)
        ratio = share / expected
    ratio[type_counts == 0, :] = np.nan
    ratio[:, type_counts == 0] = np.nan
    zscore = None
    if permutations > 0:
        rng = np.random.default_rng(seed)
        null = np.empty((permutations, n_types, n_types))
        for i in range(permutations):
            null[i] = _neighbour_pair_counts(rng.permutation(labels), neighbours, n_types)
        mean = null.mean(axis=0)
        sd = null.std(axis=0, ddof=1) if permutations > 1 else np.zeros_like(mean)
        with np.errstate(divide="ignore", invalid="ignore"):
            zscore = np.where(sd > 0, (observed - mean) / sd, np.nan)
    return Colocalisation(types, k_eff, n, ratio, zscore, permutations)
