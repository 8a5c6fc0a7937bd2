"""Cells with control characters and absurdly wide headers are refused, located, at the edge."""

from __future__ import annotations

from pathlib import Path

import pytest

from trephine.errors import ParseError
from trephine.io import tabular
from trephine.io.tabular import control_character, read_csv


@pytest.mark.parametrize(
    ("text", "found"),
    [("P\x001", "U+0000"), ("a\x1bb", "U+001B"), ("x\x7f", "U+007F"), ("\x85", "U+0085")],
)
def test_control_characters_are_named(text: str, found: str) -> None:
    assert control_character(text) == found


@pytest.mark.parametrize("text", ["plain", "two\tcolumns", "line\nbreak", "crlf\r\n", "é ≥ µ"])
def test_tabs_line_breaks_and_unicode_are_text(text: str) -> None:
    assert control_character(text) is None


def test_a_nul_in_a_cell_is_refused_with_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text("patient_id,sex,name,mrn\nP1,female,Ann\x00Smith,M1\n", encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        read_csv(path)
    assert caught.value.location is not None
    assert (caught.value.location.row, caught.value.location.column) == (2, "name")
    assert "U+0000" in str(caught.value)
    assert "Ann" not in str(caught.value)  # the cell's text (maybe identity) is not repeated


def test_a_control_character_in_the_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text("patient_id,se\x1bx\nP1,female\n", encoding="utf-8")
    with pytest.raises(ParseError, match="U\\+001B") as caught:
        read_csv(path)
    assert caught.value.location is not None and caught.value.location.row == 1


def test_an_absurdly_wide_header_is_refused_before_it_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n", encoding="utf-8")
    with pytest.raises(ParseError, match=f"100000 columns; at most {tabular.MAX_COLUMNS}"):
        read_csv(path)


def test_trailing_empty_header_cells_do_not_count_as_width(tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text("patient_id,sex" + "," * 5000 + "\nP1,female\n", encoding="utf-8")
    assert read_csv(path).header == ("patient_id", "sex")


def test_duplicate_columns_are_named_in_a_wide_header(tmp_path: Path) -> None:
    """Counted once per header (it used to call header.count() for every column)."""
    path = tmp_path / "results.csv"
    header = [f"c{i}" for i in range(tabular.MAX_COLUMNS - 2)] + ["c7", "c9"]
    path.write_text(",".join(header) + "\n", encoding="utf-8")
    with pytest.raises(ParseError, match="duplicate column\\(s\\) c7, c9"):
        read_csv(path)


def test_the_byte_scan_for_control_characters_agrees_with_the_pattern() -> None:
    """read_csv answers "any control character?" from the file's bytes when it can (C0 and DEL
    are single bytes in UTF-8, C1 starts with C2); it must agree with the refusing pattern."""
    from trephine.io.tabular import _CONTROL, _has_control

    for code in [*range(0x300), 0x2028, 0xFEFF, 0x1F600]:
        for text in (chr(code), f"ab{chr(code)}c", f"é{chr(code)}", f"\ufeff{chr(code)}"):
            found = _CONTROL.search(text) is not None
            assert _has_control(text.encode("utf-8"), text) is found, hex(code)
