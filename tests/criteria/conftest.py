"""Fixtures of the criteria tests."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def clinical_cases(shared_dir: Path) -> dict[str, Any]:
    """``../shared/spec/clinical-cases.json`` parsed with Decimal numbers."""
    path = shared_dir / "spec" / "clinical-cases.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)  # type: ignore[no-any-return]
