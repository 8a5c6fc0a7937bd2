"""``trephine assess`` text output stays readable in an 80-column terminal (acceptance audit)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from assess_case import biopsy, marrow_items, seed_aml_patient
from trephine.cli.main import app
from trephine.store.database import Database


def test_assess_table_keeps_full_dates_and_categories_at_80_columns(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A clinician reads the table in a default terminal: the date and the category are the
    # point of the row, so they must never be cut to "2022-12-…" by the wide evidence column.
    monkeypatch.setenv("COLUMNS", "80")
    seed_aml_patient(database)
    biopsy(database, 150, 3, marrow_items(40))  # 8 % blasts after CR: relapse
    url = database.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["assess", "P1", "--database-url", url])
    assert result.exit_code == 0, result.output
    rows = [line.split("│") for line in result.output.splitlines() if line.count("│") > 2]
    assert rows, result.output
    # Columns 1-3: date, call, category.
    assert all("…" not in "".join(row[1:4]) for row in rows), result.output
    dates = re.findall(r"│ (\d{4}-\d{2}-\d{2}) ", result.output)
    assert dates, result.output
    # The category whole, in the words of the pages (the code is --json's).
    assert "Haematologic relapse" in result.output
