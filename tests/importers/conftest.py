"""Fixtures for importer tests: a writable copy of the shipped example import set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "templates" / "example"


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE, target)
    return target


def edit_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV (row numbers as a spreadsheet shows them; header is row 1)."""
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[row - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@pytest.fixture
def edit() -> object:
    return edit_cell
