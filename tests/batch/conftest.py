"""Small generated MRD tubes for the batch tests (the shared benchmark generator, 12-30k events)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: (file name, events, seed): different sizes so tubes finish in a different order than sorted.
TUBES = (("tube_a.fcs", 30000, 11), ("tube_b.fcs", 12000, 12), ("tube_c.fcs", 20000, 13))


@pytest.fixture(scope="session")
def gating_ml(shared_dir: Path) -> Path:
    return shared_dir / "bench" / "mrd-hierarchy.gatingml.xml"


@pytest.fixture(scope="session")
def tube_dir(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of three synthetic AML MRD tubes (FCS 3.1, 14 channels, with spillover)."""
    out = tmp_path_factory.mktemp("tubes")
    gen = shared_dir / "bench" / "gen_synthetic_fcs.py"
    for name, events, seed in TUBES:
        subprocess.run(
            [
                sys.executable,
                str(gen),
                str(out / name),
                "--events",
                str(events),
                "--seed",
                str(seed),
            ],
            check=True,
            capture_output=True,
        )
        # The generator's truth files are not FCS; keep the directory to tubes only.
        for extra in out.glob(f"{name}.*"):
            extra.unlink()
    return out
