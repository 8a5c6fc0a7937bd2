"""CSV/XLSX tables: located records, forgiving headers, clear errors for broken files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from trephine.errors import ParseError
from trephine.io.tabular import read_csv, read_tables, read_xlsx


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_csv_records_know_their_row(tmp_path: Path) -> None:
    path = write(tmp_path / "patients.csv", "Patient ID, Sex \nP1,female\n\nP2,\n")
    table = read_csv(path)
    assert table.name == "patients" and table.header == ("patient_id", "sex")
    assert [(r.row, dict(r.values)) for r in table.records] == [
        (2, {"patient_id": "P1", "sex": "female"}),
        (4, {"patient_id": "P2", "sex": None}),  # blank line 3 skipped, numbering kept
    ]
    assert str(table.records[1].at("sex")) == f"{path}, row 4, column 'sex'"


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separated_files(tmp_path: Path, sep: str) -> None:
    path = write(tmp_path / "results.csv", f"accession{sep}value\nA1{sep}0,5\n")
    (record,) = read_csv(path).records
    # The decimal comma is kept as written; the importer refuses it with a located error
    # rather than guessing.
    assert dict(record.values) == {"accession": "A1", "value": "0,5"}


def test_byte_order_mark_and_quoted_newlines(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", b'\xef\xbb\xbfa,b\n"x\ny",2\n3,4\n')
    table = read_csv(path)
    assert table.header == ("a", "b")
    # Rows count records as a spreadsheet shows them, not text lines.
    assert [r.row for r in table.records] == [2, 3]
    assert table.records[0].get("a") == "x\ny"


def test_not_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", b"a,b\nok,\xe9t\xe9\n")
    with pytest.raises(ParseError) as caught:
        read_csv(path)
    assert caught.value.location is not None and caught.value.location.offset == 7
    assert "UTF-8" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message", "row"),
    [
        ("", "no header", 1),
        ("a,a\n1,2\n", "duplicate column", 1),
        ("a,,b\n", "header cell 2 is empty", 1),
        ("a,b\n1,2,3\n", "3 cells but the header has 2", 2),
        ('a,b\n"1,2\n', "malformed CSV", 2),
    ],
)
def test_broken_csv(tmp_path: Path, text: str, message: str, row: int) -> None:
    path = write(tmp_path / "x.csv", text)
    with pytest.raises(ParseError, match=message) as caught:
        read_csv(path)
    assert caught.value.location is not None and caught.value.location.row == row


def test_xlsx_sheets_typed_cells_and_hidden_sheets(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "results"
    sheet.append(["accession", "value", "when", "flag"])
    sheet.append(["A1", 0.1, dt.datetime(2024, 3, 1), True])
    sheet.append(["A2", 45000, dt.datetime(2024, 3, 1, 9, 30), None])
    hidden = workbook.create_sheet("scratch")
    hidden.sheet_state = "hidden"
    path = tmp_path / "book.xlsx"
    workbook.save(path)

    (table,) = read_xlsx(path)
    assert table.name == "results" and table.source == f"{path}[results]"
    first, second = (dict(r.values) for r in table.records)
    assert first == {"accession": "A1", "value": "0.1", "when": "2024-03-01", "flag": "true"}
    assert second["value"] == "45000" and second["when"] == "2024-03-01T09:30:00"


def test_percent_formatted_cells_read_as_shown(tmp_path: Path) -> None:
    """Excel stores "42 %" as 0.42; the template's unit column then says "%" — read 42."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["field", "value"])
    sheet.append(["vaf", 0.42])
    sheet.append(["mrd", 0.0001])
    sheet.append(["count", 7])
    sheet["B2"].number_format = "0%"
    sheet["B3"].number_format = "0.00%"
    path = tmp_path / "pct.xlsx"
    workbook.save(path)
    (table,) = read_xlsx(path)
    assert [r.get("value") for r in table.records] == ["42", "0.01", "7"]


def test_not_a_workbook(tmp_path: Path) -> None:
    path = write(tmp_path / "fake.xlsx", b"this is not a zip")
    with pytest.raises(ParseError, match=r"not a readable \.xlsx"):
        read_xlsx(path)


def test_read_tables_dispatch(tmp_path: Path) -> None:
    write(tmp_path / "patients.csv", "patient_id\nP1\n")
    write(tmp_path / "notes.txt", "ignored")
    assert [t.name for t in read_tables(tmp_path)] == ["patients"]
    with pytest.raises(ParseError, match="unsupported file type"):
        read_tables(tmp_path / "notes.txt")
    with pytest.raises(ParseError, match="file not found"):
        read_tables(tmp_path / "missing.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ParseError, match=r"no \.csv files"):
        read_tables(empty)
