"""Fixtures of the clonal tests (converters live in ``clonal_datasets``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clonal_datasets import aml1_observations

from trephine.io.variants_tsv import write_variants_tsv


@pytest.fixture()
def aml1_tsv(shared_data: Path, tmp_path: Path) -> Path:
    """AML1 written as a long TSV (converted here from the shared file, not copied)."""
    obs, _ = aml1_observations(shared_data)
    out = tmp_path / "aml1.tsv"
    write_variants_tsv(obs, out)
    return out
