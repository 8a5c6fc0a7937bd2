"""Fixtures of the clonal tests (converters live in ``clonal_datasets``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clonal_datasets import aml1_observations

from trephine.io.variants_tsv import write_variants_tsv


@pytest.fixture()
def aml1_tsv(real_data: Path, tmp_path: Path) -> Path:
    """AML1 written as a long TSV (converted here from the vendored published file)."""
    obs, _ = aml1_observations(real_data)
    out = tmp_path / "aml1.tsv"
    write_variants_tsv(obs, out)
    return out
