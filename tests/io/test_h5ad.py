"""``trephine.io.h5ad.read_obs_columns``: the direct h5py path (categorical columns of string
categories, dense spatial arrays) gives exactly what anndata's reader gives, without calling it;
every other encoding still goes through anndata."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from trephine.io import h5ad


def _file(path: Path) -> Path:
    rng = np.random.default_rng(3)
    n = 60
    sample = pd.Categorical(rng.choice(["S-2", "S-1", "S-10"], n))
    kind = rng.choice([7, 12, 3], n)  # a numeric column: encoded as a plain array
    with_missing = pd.Categorical(rng.choice(["a", "b"], n), categories=["b", "a"])
    with_missing[[3, 7]] = np.nan
    obs = pd.DataFrame(
        {"sample": sample, "kind": kind, "gappy": with_missing},
        index=[f"c{i}" for i in range(n)],
    )
    adata = ad.AnnData(X=np.zeros((n, 2), dtype=np.float32), obs=obs)
    adata.obsm["spatial"] = rng.uniform(0, 100, (n, 3))
    adata.write_h5ad(path)
    return path


def _decoded(codes: np.ndarray, categories: list[str]) -> list[str | None]:
    return [categories[c] if c >= 0 else None for c in codes]


def test_direct_read_equals_anndata_without_calling_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file(tmp_path / "f.h5ad")
    expected = ad.read_h5ad(path)

    def refuse(element: object) -> object:
        raise AssertionError(f"anndata's reader used for {element}")

    monkeypatch.setattr(h5ad, "_read_elem", refuse)
    got = h5ad.read_obs_columns(path, ["sample", "gappy"])
    assert got.n_cells == 60
    for column in ("sample", "gappy"):
        want = expected.obs[column]
        assert got.categories[column] == list(want.cat.categories)
        assert _decoded(got.codes[column], got.categories[column]) == [
            None if pd.isna(v) else v for v in want
        ]
    assert (got.codes["gappy"] < 0).sum() == 2  # missing stays missing (-1)
    assert got.spatial is not None
    np.testing.assert_array_equal(got.spatial, expected.obsm["spatial"][:, :2])


def test_other_encodings_go_through_anndata(tmp_path: Path) -> None:
    path = _file(tmp_path / "f.h5ad")
    calls: list[str] = []
    real = h5ad._read_elem

    def counting(element: object) -> object:
        calls.append(str(getattr(element, "name", element)))
        return real(element)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(h5ad, "_read_elem", counting)
        got = h5ad.read_obs_columns(path, ["kind"])
    assert calls == ["/obs/kind"]
    want = ad.read_h5ad(path).obs["kind"]
    assert _decoded(got.codes["kind"], got.categories["kind"]) == [str(v) for v in want]
    assert got.categories["kind"] == ["12", "3", "7"]
