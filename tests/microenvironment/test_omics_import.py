"""``trephine omics import FILE.h5ad``: per-specimen cell-type counts of small AnnData objects
built here are stored as draft single-cell populations with the file's hash; missing columns,
unknown specimens and bad mappings are refused (nothing written); unmapped labels are listed
and stay in the denominator; spatial co-localisation has known answers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trephine.analysis.microenvironment.composition import colocalisation, composition
from trephine.cli.main import app
from trephine.domain.results import Population, ResultKind
from trephine.services import results
from trephine.store.database import Database


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def write_h5ad(
    path: Path, specimens: list[str], types: list[str], xy: np.ndarray | None = None
) -> Path:
    obs = pd.DataFrame(
        {"sample": pd.Categorical(specimens), "cell_type": pd.Categorical(types)},
        index=[f"cell{i}" for i in range(len(types))],
    )
    adata = ad.AnnData(X=np.zeros((len(types), 3), dtype=np.float32), obs=obs)
    if xy is not None:
        adata.obsm["spatial"] = xy
    adata.write_h5ad(path)
    return path


def small_file(tmp_path: Path) -> Path:
    # 6 T cells (CD4 "CD4+ T cells" 3, "Tregs" 1, "CD8 T" 2), 3 monocytes, 1 "weird blob".
    # C-1: 4 "B cell", 4 "NK cells", 2 "Monocyte".
    specimens = ["A-1"] * 10 + ["C-1"] * 10
    types = (
        ["CD4+ T cells"] * 3
        + ["Tregs"]
        + ["CD8 T"] * 2
        + ["CD14+ monocytes"] * 3
        + ["weird blob"]
        + ["B cell"] * 4
        + ["NK cells"] * 4
        + ["CD14+ monocytes"] * 2
    )
    return write_h5ad(tmp_path / "small.h5ad", specimens, types)


def run(db: Database, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["omics", "import", *args, "--database-url", url_of(db)])
    return res.exit_code, res.stdout, res.stderr


def stored(db: Database) -> dict[tuple[str, str], Population]:
    with db.unit_of_work("reader") as uow:
        rows = results.patient_results(uow, "P001", (ResultKind.POPULATION,))
    out = {}
    for r in rows:
        assert isinstance(r.value, Population)
        out[(r.accession, r.value.population)] = r.value
    return out


def test_counts_and_proportions_are_stored_per_specimen(seeded: Database, tmp_path: Path) -> None:
    path = small_file(tmp_path)
    code, out, err = run(
        seeded,
        str(path),
        "--specimen-column",
        "sample",
        "--cell-type-column",
        "cell_type",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["unmapped_labels"] == {"weird blob": 1}
    assert doc["mapping"]["Tregs"] == "regulatory T cells"
    pops = stored(seeded)
    treg = pops[("A-1", "regulatory T cells")]
    assert (treg.count, treg.parent, treg.parent_count) == (1, "cells profiled", 10)
    assert treg.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert treg.method == "single-cell" and treg.source_file == "small.h5ad"
    assert "weird blob 1" in treg.flags[0]  # listed on every population of that specimen
    assert pops[("A-1", "CD4 T cells")].count == 3
    assert pops[("A-1", "monocytes")].percent_of_parent == 30
    assert pops[("C-1", "monocytes")].count == 2 and pops[("C-1", "NK cells")].count == 4
    # A population present in the file but absent from a specimen is a true zero.
    assert pops[("C-1", "regulatory T cells")].count == 0
    assert pops[("C-1", "B cells")].flags == ()
    # Again: nothing new.
    code, out, _ = run(
        seeded, str(path), "--specimen-column", "sample", "--cell-type-column", "cell_type"
    )
    assert code == 0 and "0 new" in out


def test_explicit_mapping_and_dry_run(seeded: Database, tmp_path: Path) -> None:
    path = small_file(tmp_path)
    code, out, err = run(
        seeded,
        str(path),
        "--specimen-column",
        "sample",
        "--cell-type-column",
        "cell_type",
        "--map",
        "weird blob=mesenchymal stromal cells",
        "--dry-run",
    )
    assert code == 0, err
    assert "unmapped" not in out and "none written" in out
    assert stored(seeded) == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--specimen-column", "donor", "--cell-type-column", "cell_type"], "obs column: 'donor'"),
        (
            [
                "--specimen-column",
                "sample",
                "--cell-type-column",
                "cell_type",
                "--map",
                "weird blob=unicorns",
            ],
            "unicorns",
        ),
        (
            [
                "--specimen-column",
                "sample",
                "--cell-type-column",
                "cell_type",
                "--map",
                "absent label=NK cells",
            ],
            "absent label",
        ),
    ],
)
def test_refusals_name_the_problem(
    seeded: Database, tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = run(seeded, str(small_file(tmp_path)), *args)
    assert code == 2 and message in err and "Traceback" not in err
    assert stored(seeded) == {}


def test_missing_column_lists_the_columns_the_file_has(seeded: Database, tmp_path: Path) -> None:
    code, _, err = run(
        seeded,
        str(small_file(tmp_path)),
        "--specimen-column",
        "donor",
        "--cell-type-column",
        "cell_type",
    )
    assert code == 2 and "sample" in err and "cell_type" in err


def test_unknown_specimens_are_listed_and_nothing_is_stored(
    seeded: Database, tmp_path: Path
) -> None:
    path = write_h5ad(tmp_path / "x.h5ad", ["A-1", "Q-7", "Q-8"], ["NK", "NK", "B cell"])
    code, _, err = run(
        seeded, str(path), "--specimen-column", "sample", "--cell-type-column", "cell_type"
    )
    assert code == 2 and "Q-7, Q-8" in err and "2 of 3 specimens are not stored" in err
    assert stored(seeded) == {}


def test_composition_counts() -> None:
    counts = composition(np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 2]), 2, 3)
    assert counts.tolist() == [[1, 1, 0], [0, 2, 1]]


def test_colocalisation_segregated_vs_mixed() -> None:
    rng = np.random.default_rng(3)
    # Two cell types in two separate clumps: each type's neighbours are its own type.
    left = rng.normal((0, 0), 1.0, size=(200, 2))
    right = rng.normal((50, 0), 1.0, size=(200, 2))
    xy = np.vstack([left, right])
    labels = np.array([0] * 200 + [1] * 200)
    seg = colocalisation(xy, labels, ["A", "B"], k=8, permutations=50)
    # Observed share of own type is 1; expected is 199/399: ratio ≈ 2.005.
    assert seg.ratio[0, 0] == pytest.approx(399 / 199, rel=1e-9)
    assert seg.ratio[0, 1] == 0
    assert seg.zscore is not None and seg.zscore[0, 0] > 10 and seg.zscore[0, 1] < -10
    # The same positions with labels shuffled: no structure, ratios near 1.
    mixed = colocalisation(xy, rng.permutation(labels), ["A", "B"], k=8, permutations=50)
    assert mixed.ratio[0, 1] == pytest.approx(1.0, abs=0.15)
    assert mixed.zscore is not None and abs(mixed.zscore[0, 1]) < 4


def test_spatial_file_reports_colocalisation(seeded: Database, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    xy = np.vstack([rng.normal((0, 0), 1, (60, 2)), rng.normal((40, 0), 1, (60, 2))])
    types = ["T cell"] * 60 + ["B cell"] * 60
    path = write_h5ad(tmp_path / "sp.h5ad", ["A-1"] * 120, types, xy)
    out_csv = tmp_path / "coloc.csv"
    code, out, err = run(
        seeded,
        str(path),
        "--specimen-column",
        "sample",
        "--cell-type-column",
        "cell_type",
        "--json",
        "--permutations",
        "20",
        "--colocalisation-out",
        str(out_csv),
    )
    assert code == 0, err
    pairs = json.loads(out)["colocalisation"]["A-1"]["pairs"]
    tb = next(p for p in pairs if (p["cell_type"], p["neighbour_type"]) == ("T cell", "B cell"))
    assert tb["ratio"] == 0
    assert out_csv.read_text().startswith("specimen,cell_type,neighbour_type,ratio,zscore,k")
