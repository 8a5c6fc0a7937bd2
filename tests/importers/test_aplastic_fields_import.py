"""Aplastic anaemia inputs in the import template: absolute reticulocytes (converted from /µL
like the other counts) with their counting method, and the core's residual haematopoietic
cells; bad values are refused naming the field and what is allowed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from trephine.domain.results import BloodCount, CoreFindings, ReticulocyteMethod
from trephine.errors import ImportRejected
from trephine.importers.clinical import import_path
from trephine.services import results
from trephine.store.database import Database

ROWS = [
    "EX24-0003,blood_count,,reticulocytes,18000,/uL,,,verified",
    "EX24-0003,blood_count,,reticulocyte_method,automated,,,,verified",
    "EX24-0002,core,,residual_hematopoietic_cells,25,%,,,verified",
]


def _append(example_dir: Path, rows: list[str]) -> None:
    with (example_dir / "results.csv").open("a", encoding="utf-8") as handle:
        handle.write("".join(f"{r}\n" for r in rows))


def test_reticulocytes_and_residual_cells_import(database: Database, example_dir: Path) -> None:
    _append(example_dir, ROWS)
    import_path(database, example_dir, "importer")
    with database.unit_of_work("reader") as uow:
        stored = [r.value for r in results.patient_results(uow, "EX-001")]
    (count,) = [v for v in stored if isinstance(v, BloodCount) and v.reticulocytes is not None]
    assert count.reticulocytes is not None and count.reticulocytes.value == Decimal("18.000")
    assert count.reticulocyte_method is ReticulocyteMethod.AUTOMATED
    (core,) = [v for v in stored if isinstance(v, CoreFindings)]
    assert core.residual_hematopoietic_cells is not None
    assert core.residual_hematopoietic_cells.value == Decimal(25)


def test_unknown_reticulocyte_method_is_refused_naming_the_choices(
    database: Database, example_dir: Path
) -> None:
    _append(example_dir, [ROWS[0], ROWS[1].replace("automated", "flow")])
    with pytest.raises(ImportRejected) as info:
        import_path(database, example_dir, "importer")
    text = str(info.value)
    assert "results.csv, row " in text and "'flow' is not allowed" in text
    assert "allowed: manual, automated" in text
