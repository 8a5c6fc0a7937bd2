"""Fixtures shared by every test area.

Area-specific fixtures live in the ``conftest.py`` of each test folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Public test material beside the project root (see each folder's MANIFEST.md).
SHARED = Path(os.environ.get("TREPHINE_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared``; tests that need it are skipped (not failed) on a checkout without it."""
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def shared_data(shared_dir: Path) -> Path:
    return shared_dir / "data"
