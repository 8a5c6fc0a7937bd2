"""Fixtures of the criteria tests."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from testdata import DATA


@pytest.fixture(scope="session")
def clinical_cases() -> dict[str, Any]:
    """The project's worked cases (``../shared/spec/clinical-cases.json``, vendored in
    ``tests/data/spec``) parsed with Decimal numbers."""
    path = DATA / "spec" / "clinical-cases.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)  # type: ignore[no-any-return]
