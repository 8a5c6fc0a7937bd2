"""Issue 14 §2 on a data set that ships inside a PyPI package: scanpy's bundled
``pbmc68k_reduced`` (700 blood mononuclear cells, 10 cell-type labels as an analysis tool wrote
them, saved by anndata < 0.7), vendored in tests/data/omics. ``trephine omics import`` reads its
legacy layout, maps the labels it knows, lists the ones it does not (kept in the denominator) and
stores per-specimen counts equal to those anndata itself reads from the file.

The file has no specimen column; its cell-cycle ``phase`` (G1, S, G2M) stands in for one, with
three aspirates of those accessions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest
from typer.testing import CliRunner

from testdata import DATA
from trephine.cli.main import app
from trephine.domain import Patient, Procedure, Sex, Site, Specimen, SpecimenType
from trephine.domain.results import Population, ResultKind
from trephine.services import patients, procedures, results
from trephine.store.database import Database

FILE = DATA / "omics" / "10x_pbmc68k_reduced.h5ad"
AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)
PHASES = ("G1", "S", "G2M")
#: Labels the vocabulary does not know by themselves, mapped as a user would.
MAP = {
    "Dendritic": "dendritic cells",
    "CD19+ B": "B cells",
    "CD4+/CD25 T Reg": "regulatory T cells",
    "CD8+ Cytotoxic T": "CD8 T cells",
}
#: Mapped by the vocabulary alone.
KNOWN = {"CD14+ Monocyte": "monocytes", "CD56+ NK": "NK cells", "CD34+": "CD34+ progenitors"}
UNMAPPED = ("CD4+/CD45RA+/CD25- Naive T", "CD4+/CD45RO+ Memory", "CD8+/CD45RA+ Naive Cytotoxic")


@pytest.fixture
def phases(database: Database) -> Database:
    with database.unit_of_work("seed") as uow:
        patients.register_patient(uow, Patient("P001", Sex.FEMALE, 1961))
        proc_id, _ = procedures.record_procedure(
            uow, "P001", Procedure(AT, Site.POSTERIOR_ILIAC_CREST)
        )
        for acc in PHASES:
            procedures.add_specimen(
                uow,
                "P001",
                Specimen(acc, SpecimenType.ASPIRATE, AT, first_pull=acc == "G1"),
                proc_id,
            )
    return database


def expected_counts() -> pd.DataFrame:
    """cells per (phase, label), as anndata reads the file (the independent answer)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", ad.OldFormatWarning)
        adata = ad.read_h5ad(FILE)
    assert adata.n_obs == 700
    return pd.crosstab(adata.obs["phase"], adata.obs["bulk_labels"])


def test_the_pypi_data_set_imports_with_anndatas_counts(phases: Database) -> None:
    url = phases.engine.url.render_as_string(hide_password=False)
    maps = [a for label, name in MAP.items() for a in ("--map", f"{label}={name}")]
    res = CliRunner().invoke(
        app,
        [
            "omics", "import", str(FILE), "--specimen-column", "phase",
            "--cell-type-column", "bulk_labels", *maps, "--json", "--database-url", url,
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    table = expected_counts()
    # Unmapped labels are listed with their cells, never dropped silently.
    assert doc["unmapped_labels"] == {label: int(table[label].sum()) for label in UNMAPPED}
    assert {k: v for k, v in doc["mapping"].items() if v is not None} == {**MAP, **KNOWN}
    with phases.unit_of_work("reader") as uow:
        rows = results.patient_results(uow, "P001", (ResultKind.POPULATION,))
    stored = {}
    for r in rows:
        assert isinstance(r.value, Population)
        stored[(r.accession, r.value.population)] = r.value
    assert len(stored) == len(PHASES) * len({**MAP, **KNOWN})
    digest = hashlib.sha256(Path(FILE).read_bytes()).hexdigest()
    for phase in PHASES:
        cells = int(table.loc[phase].sum())
        for label, population in {**MAP, **KNOWN}.items():
            value = stored[(phase, population)]
            assert value.count == int(table.loc[phase, label]), (phase, label)
            # The unmapped cells stay in the denominator: every cell of the specimen.
            assert value.parent_count == cells
            assert value.method == "single-cell" and value.source_sha256 == digest
    assert stored[("G1", "dendritic cells")].count == 196
    assert stored[("G2M", "dendritic cells")].count == 0  # a true zero
