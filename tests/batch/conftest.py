"""Small generated MRD tubes for the batch tests (the shared benchmark generator, 12-30k events,
vendored in tests/data/bench)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testdata import DATA

#: (file name, events, seed): different sizes so tubes finish in a different order than sorted.
TUBES = (("tube_a.fcs", 30000, 11), ("tube_b.fcs", 12000, 12), ("tube_c.fcs", 20000, 13))


@pytest.fixture(scope="session")
def gating_ml(mrd_gating_ml: Path) -> Path:
    return mrd_gating_ml


@pytest.fixture(scope="session")
def tube_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of three synthetic AML MRD tubes (FCS 3.1, 14 channels, with spillover),
    made by the shared bench generator and vendored in ``tests/data/bench``."""
    out = tmp_path_factory.mktemp("tubes")
    for name, _events, _seed in TUBES:
        shutil.copyfile(DATA / "bench" / name, out / name)
    return out
