"""Issue 14 acceptance, "through import like the others": population and measurement rows in the
Excel workbook (typed cells: whole numbers, decimals, percentages as fractions) store the same
values as the same rows in the CSV set."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from test_population_measurement_kinds import ROWS

from trephine.domain.results import ResultKind
from trephine.importers.clinical import import_path
from trephine.services import results
from trephine.store.database import Database


def _typed(cell: str) -> object:
    """Numbers as Excel stores them (int or float cells), the rest as text."""
    if not cell:
        return None
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            continue
    return cell


def _stored(db: Database) -> dict[tuple[str, str], object]:
    with db.unit_of_work("reader") as uow:
        rows = results.list_results(uow, kinds=(ResultKind.POPULATION, ResultKind.MEASUREMENT))
    return {(r.accession, r.analyte): (r.value, str(r.state)) for r in rows}


def test_workbook_rows_store_what_the_csv_rows_store(
    database: Database, example_dir: Path, tmp_path: Path
) -> None:
    with (example_dir / "results.csv").open("a", encoding="utf-8") as handle:
        handle.write("".join(f"{r}\n" for r in ROWS))
    import_path(database, example_dir, "importer")
    from_csv = _stored(database)
    assert len(from_csv) == 3

    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for path in sorted(example_dir.glob("*.csv")):
        sheet = workbook.create_sheet(path.stem)
        with path.open(newline="", encoding="utf-8") as handle:
            for n, row in enumerate(csv.reader(handle)):
                sheet.append(row if n == 0 else [_typed(c) for c in row])
    xlsx = tmp_path / "set.xlsx"
    workbook.save(xlsx)
    other = Database(f"sqlite:///{tmp_path / 'xlsx.db'}")
    try:
        other.upgrade()
        import_path(other, xlsx, "importer")
        assert _stored(other) == from_csv
    finally:
        other.dispose()
