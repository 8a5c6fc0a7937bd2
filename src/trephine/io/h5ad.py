"""Reading the parts of an AnnData ``.h5ad`` file a composition import needs (anndata + h5py).

Only the requested ``obs`` columns and, when present, ``obsm["spatial"]`` are read. The two
encodings nearly every file uses for them — a ``categorical`` column of a ``string-array`` of
categories and ``array`` codes, and a dense ``array`` of coordinates (anndata's on-disk format
0.2.0) — are read with h5py directly; every other encoding goes through anndata's own element
reader (:func:`anndata.io.read_elem`), so string, numeric and older columns are decoded by the
library that wrote them. Importing anndata costs ~1.5 s of CPU (it pulls in dask); the direct
path leaves it unimported. The expression matrix ``X`` is never loaded: a 500,000-cell file
imports in seconds and in the memory of its labels.

Files written by anndata before 0.7 (``obs`` as one record array, a categorical column's
categories in ``uns["<column>_categories"]``; e.g. scanpy's bundled ``pbmc68k_reduced``) are
read by anndata itself, opened backed (``X`` stays on disk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trephine.errors import ValidationError


@dataclass(frozen=True)
class ObsColumns:
    """Per-cell labels as integer codes into ``categories`` (one array per requested column),
    and the spatial coordinates (n × 2 float array) when the file has ``obsm["spatial"]``."""

    path: Path
    n_cells: int
    codes: dict[str, np.ndarray]
    categories: dict[str, list[str]]
    spatial: np.ndarray | None


def _encoding(element: Any) -> tuple[str, str]:
    return (
        str(element.attrs.get("encoding-type", "")),
        str(element.attrs.get("encoding-version", "")),
    )


def _direct_codes(element: Any) -> tuple[np.ndarray, list[str]] | None:
    """Codes and categories of a categorical column of string categories (format 0.2.0) read
    with h5py; ``None`` for any other encoding (read by anndata instead)."""
    import h5py

    if not isinstance(element, h5py.Group) or _encoding(element) != ("categorical", "0.2.0"):
        return None
    codes, categories = element.get("codes"), element.get("categories")
    if not isinstance(codes, h5py.Dataset) or not isinstance(categories, h5py.Dataset):
        return None
    if _encoding(codes)[0] != "array" or _encoding(categories) != ("string-array", "0.2.0"):
        return None
    if codes.ndim != 1 or codes.dtype.kind not in "iu" or categories.ndim != 1:
        return None
    return (
        np.asarray(codes[()], dtype=np.int64),
        [str(c) for c in categories.asstr()[()]],
    )


def _read_elem(element: Any) -> Any:
    from anndata.io import read_elem

    return read_elem(element)


def _as_codes(values: Any) -> tuple[np.ndarray, list[str]]:
    import pandas as pd

    if isinstance(values, pd.Categorical):
        cat = values
    else:
        cat = pd.Categorical(np.asarray(values).astype(str))
    codes = np.asarray(cat.codes, dtype=np.int64)
    return codes, [str(c) for c in cat.categories]


def read_obs_columns(path: str | Path, columns: Sequence[str]) -> ObsColumns:
    """``columns`` of ``obs`` (refused, naming the file, the missing and the available columns,
    when any is absent) and ``obsm["spatial"]`` if the file has it."""
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValidationError(
            "file", str(path), "an AnnData .h5ad (HDF5) file", reason=str(exc)
        ) from None
    with handle as f:
        if "obs" not in f:
            raise ValidationError("file", str(path), "an AnnData .h5ad file with obs")
        obs = f["obs"]
        if isinstance(obs, h5py.Group):
            return _read_current(path, f, obs, columns)
    # anndata < 0.7 wrote obs as one record array
    return _read_legacy(path, columns)


def _read_current(path: Path, f: Any, obs: Any, columns: Sequence[str]) -> ObsColumns:
    import h5py

    index_key = obs.attrs.get("_index", "_index")
    _check_columns(path, columns, [k for k in obs if not k.startswith("__") and k != index_key])
    codes: dict[str, np.ndarray] = {}
    categories: dict[str, list[str]] = {}
    n_cells = -1
    for column in columns:
        direct = _direct_codes(obs[column])
        codes[column], categories[column] = direct or _as_codes(_read_elem(obs[column]))
        n_cells = len(codes[column])
    spatial = None
    if "obsm" in f and "spatial" in f["obsm"]:
        element = f["obsm"]["spatial"]
        if isinstance(element, h5py.Dataset) and _encoding(element)[0] == "array":
            spatial = _coordinates(path, element[()], n_cells)
        else:
            spatial = _coordinates(path, _read_elem(element), n_cells)
    return ObsColumns(path, n_cells, codes, categories, spatial)


def _check_columns(path: Path, columns: Sequence[str], available: Sequence[str]) -> None:
    missing = [c for c in columns if c not in available]
    if missing:
        raise ValidationError(
            f"{path.name}: obs column",
            ", ".join(missing),
            sorted(available),
            reason="missing from the file",
        )


def _coordinates(path: Path, values: Any, n_cells: int) -> np.ndarray:
    spatial = np.asarray(values, dtype=np.float64)
    if spatial.ndim != 2 or spatial.shape[0] != n_cells or spatial.shape[1] < 2:
        raise ValidationError(
            f"{path.name}: obsm['spatial']",
            str(spatial.shape),
            f"an array of {n_cells} rows × 2 (x, y) coordinates",
        )
    return spatial[:, :2]


def _read_legacy(path: Path, columns: Sequence[str]) -> ObsColumns:
    """A file of anndata < 0.7, read by anndata (backed: ``X`` is not loaded)."""
    import warnings

    import anndata

    with warnings.catch_warnings():
        # anndata notes each legacy element it moves (uns['neighbors'] -> obsp) or decodes
        # without encoding metadata (uns, raw): parts of the file this import never uses.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", anndata.OldFormatWarning)
        adata = anndata.read_h5ad(path, backed="r")
    try:
        _check_columns(path, columns, [str(c) for c in adata.obs.columns])
        codes: dict[str, np.ndarray] = {}
        categories: dict[str, list[str]] = {}
        for column in columns:
            # a categorical column comes back as a pandas Categorical (categories from uns)
            codes[column], categories[column] = _as_codes(adata.obs[column].values)
        n_cells = int(adata.n_obs)
        spatial = None
        if "spatial" in adata.obsm:
            spatial = _coordinates(path, adata.obsm["spatial"], n_cells)
    finally:
        adata.file.close()
    return ObsColumns(path, n_cells, codes, categories, spatial)
