"""CSV and XLSX tables as plain located records (no database, no domain types).

A :class:`Table` is a header plus :class:`Record` rows; every value is a stripped string (or
``None`` for an empty cell) and every record knows its file, sheet and row so that errors further
down can point at the cell. Row numbers are what a spreadsheet shows: the header is row 1.

XLSX is read with openpyxl (read-only, cached values, never formulas); CSV with the csv module as
UTF-8 (a byte-order mark is accepted, as Excel writes one).

What is refused here, whatever the file type, with the file, row and column:

- control characters in a cell (NUL, escape, …; tab and line breaks are text): PostgreSQL refuses
  a NUL where SQLite would store it, so both databases only ever see text without them;
- more than :data:`MAX_COLUMNS` header cells or :data:`MAX_ROWS` rows;
- a workbook openpyxl cannot read, whatever the damage (a broken zip, XML or style part): one
  located :class:`~trephine.errors.ParseError`, never a traceback.

An XLSX sheet records its own size (``<dimension ref="A1:I9"/>``), which openpyxl's read-only mode
believes; a writer that gets it wrong (too small) would silently cut rows and columns off. The
stored size is ignored and every cell that exists is read.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from zipfile import BadZipFile, LargeZipFile

from trephine.errors import Location, ParseError

#: Guard against accidental huge files (and zip bombs in XLSX).
MAX_ROWS = 1_000_000
#: No template sheet has more than a dozen columns; a header far wider than any sheet could be
#: is refused before anything is compared (a 100,000-column header used to take minutes).
MAX_COLUMNS = 1_000

#: C0 and C1 control characters except tab, line feed and carriage return (text in a cell).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


#: The C0 control bytes and DEL that :data:`_CONTROL` refuses (tab, LF and CR are text).
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def _has_control(data: bytes, text: str) -> bool:
    """Does ``text`` (``data`` decoded as UTF-8) hold a character :data:`_CONTROL` refuses?

    In UTF-8 a C0 control or DEL is that one byte, and a C1 control (U+0080–U+009F) starts with
    the byte C2; a file with neither (nearly every file) is answered by two C-speed scans of its
    bytes, the rest by the regular expression over the text."""
    if b"\xc2" not in data and len(data.translate(None, _CONTROL_BYTES)) == len(data):
        return False
    return _CONTROL.search(text) is not None


def control_character(text: str) -> str | None:
    """The first control character in ``text`` as ``U+0000``, or None when there is none.

    Every edge that accepts text (import cells, CLI arguments, API paths and queries) refuses
    such text with this check, so SQLite and PostgreSQL never disagree about storing it.
    """
    found = _CONTROL.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


class Record(NamedTuple):
    """One data row: column → text (None when empty), with where it came from.

    A named tuple (immutable like a frozen dataclass, and several times cheaper to make: a
    file of 100,000 rows makes 100,000 of them)."""

    source: str
    row: int
    values: Mapping[str, str | None]

    def get(self, column: str) -> str | None:
        return self.values.get(column)

    def at(self, column: str | None = None) -> Location:
        return Location(source=self.source, row=self.row, column=column)


@dataclass(frozen=True)
class Table:
    """A sheet (XLSX) or a file (CSV). ``name`` is the sheet name or the file stem."""

    name: str
    source: str
    header: tuple[str, ...]
    records: tuple[Record, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.records)


def normalise_header(text: str) -> str:
    """``"Patient ID"`` → ``"patient_id"``: templates are forgiving about case and spaces."""
    return "_".join(text.strip().lower().replace("-", " ").split())


def _text(value: object) -> str | None:
    """A cell as text. Spreadsheet dates become ISO dates; numbers keep their digits."""
    if type(value) is str:  # every CSV cell, most XLSX cells
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        # Excel has no time zones; a midnight datetime is how it stores a plain date.
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # repr() is the shortest text that round-trips: 0.1 → "0.1", not 0.1000000000000000055.
        text = repr(value)
        if text.endswith(".0"):
            text = text[:-2]
        return str(Decimal(text)) if "e" in text.lower() else text
    text = str(value).strip()
    return text or None


def _refuse_control(source: str, row: int, column: str | None, text: str | None) -> None:
    if text is None:
        return
    found = control_character(text)
    if found is not None:
        raise ParseError(
            f"control character {found} in the cell; remove it (only text, tabs and line breaks "
            "are allowed)",
            location=Location(source=source, row=row, column=column),
        )


def _table(
    name: str,
    source: str,
    rows: Iterator[Sequence[object]],
    *,
    controls: bool = True,
    text_only: bool = False,
) -> Table:
    """``controls=False`` when the caller has seen the whole text and it holds no control
    character (a CSV file is checked in one pass; the cells are then not checked one by one).
    ``text_only`` when every cell is a ``str`` (a CSV reader's rows)."""
    header_row = next(rows, None)
    if header_row is None:
        raise ParseError("empty table: no header row", location=Location(source=source, row=1))
    if len(header_row) > MAX_COLUMNS:
        # Trailing empty cells are layout; only a header that really is that wide is refused.
        width = len(header_row)
        while width > MAX_COLUMNS and _text(header_row[width - 1]) is None:
            width -= 1
        if width > MAX_COLUMNS:
            raise ParseError(
                f"the header has {width} columns; at most {MAX_COLUMNS} are read",
                location=Location(source=source, row=1),
            )
        header_row = header_row[:width]
    raw_header = [_text(h) for h in header_row]
    for index, text in enumerate(raw_header, start=1):
        if controls:
            _refuse_control(source, 1, f"header cell {index}", text)
    header = [normalise_header(h or "") for h in raw_header]
    while header and not header[-1]:
        header.pop()
    for index, column in enumerate(header, start=1):
        if not column:
            raise ParseError(
                f"header cell {index} is empty", location=Location(source=source, row=1)
            )
    duplicates = sorted(c for c, n in Counter(header).items() if n > 1)
    if duplicates:
        raise ParseError(
            f"duplicate column(s) {', '.join(duplicates)}",
            location=Location(source=source, row=1, column=duplicates[0]),
        )
    records: list[Record] = []
    width = len(header)
    for number, raw in enumerate(rows, start=2):
        if number > MAX_ROWS:
            raise ParseError(f"more than {MAX_ROWS} rows", location=Location(source, number))
        # A CSV row is all text (the common case, strip only); a sheet's cells are typed.
        # (``text_only``: a CSV reader's cells are str, so no cast, a call per cell, is made.)
        cells = (
            [v.strip() or None for v in raw]  # type: ignore[attr-defined]
            if text_only
            else [_text(v) for v in raw]
        )
        if not any(cells):
            continue  # blank lines are layout, not data
        if len(cells) > width and any(c is not None for c in cells[width:]):
            raise ParseError(
                f"{len(cells)} cells but the header has {width} columns",
                location=Location(source=source, row=number),
            )
        if controls:
            for column, text in zip(header, cells, strict=False):
                _refuse_control(source, number, column, text)
        if len(cells) < width:
            cells += [None] * (width - len(cells))
        records.append(Record(source, number, dict(zip(header, cells, strict=False))))
    return Table(name, source, tuple(header), tuple(records))


def _delimiter(text: str) -> str:
    """Comma, unless the header row is separated by the semicolon or tab that spreadsheet
    programs write in locales where the comma is the decimal mark."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])  # ties go to the comma (first)
    return best if counts[best] else ","


def read_csv(path: Path, *, name: str | None = None) -> Table:
    source = str(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"not UTF-8 text ({exc.reason}); save the file as CSV UTF-8",
            location=Location(source=source, offset=exc.start),
        ) from None

    delimiter = _delimiter(text)

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    controls = _has_control(data, text)  # one pass; cells are checked only if needed
    try:
        return _table(name or path.stem, source, reader, controls=controls, text_only=True)
    except csv.Error as exc:  # only the reader raises it
        raise ParseError(
            f"malformed CSV: {exc}", location=Location(source=source, row=reader.line_num)
        ) from None


def _unreadable_workbook_errors() -> tuple[type[BaseException], ...]:
    """What openpyxl (and the zip, zlib and XML layers under it) raise on a damaged workbook.

    Found by mutating valid workbooks (tests/io/test_xlsx_robustness.py): each of these came out
    of ``load_workbook`` or of reading a sheet's rows for some damaged file.
    """
    from openpyxl.utils.exceptions import InvalidFileException

    return (
        InvalidFileException,
        BadZipFile,
        LargeZipFile,
        zlib.error,
        EOFError,
        OSError,
        SyntaxError,  # xml.etree's ParseError and lxml's XMLSyntaxError both derive from it
        KeyError,
        IndexError,
        ValueError,
        TypeError,
        AttributeError,
        UnicodeError,
        OverflowError,
        AssertionError,
        NotImplementedError,  # a zip member compressed with a method zipfile cannot read
    )


def read_xlsx(path: Path) -> list[Table]:
    """Every visible sheet of a workbook, in workbook order.

    A damaged workbook is one located :class:`ParseError`, wherever the damage is found.
    """
    from openpyxl import load_workbook

    source = str(path)
    unreadable = _unreadable_workbook_errors()
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except unreadable as exc:
        raise _unreadable(source, exc) from None
    try:
        tables = []
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible":
                continue
            where = f"{source}[{sheet.title}]"
            try:
                # The stored <dimension> may understate the data; read every cell that exists.
                sheet.reset_dimensions()
                rows = (tuple(_cell_value(cell) for cell in row) for row in sheet.iter_rows())
                tables.append(_table(sheet.title, where, rows))
            except unreadable as exc:
                if isinstance(exc, ParseError):  # ours, already located
                    raise
                raise _unreadable(where, exc) from None
        return tables
    finally:
        with contextlib.suppress(*unreadable):  # a damaged archive must not hide the answer
            workbook.close()


def _unreadable(source: str, exc: BaseException) -> ParseError:
    reason = " ".join(str(exc).split())[:200]
    return ParseError(
        f"not a readable .xlsx workbook ({type(exc).__name__}: {reason}); "
        "open it in a spreadsheet program and save it again as .xlsx",
        location=Location(source=source),
    )


def _cell_value(cell: Any) -> object:
    """A cell's value as the user sees it. A number formatted as a percentage is shown as 42 %
    but stored as 0.42; returning the stored fraction would be a silent factor-100 error in a
    column whose unit is "%", so it is returned as the percentage the user typed."""
    value = getattr(cell, "value", None)
    number_format = getattr(cell, "number_format", "") or ""
    if isinstance(value, int | float) and not isinstance(value, bool) and "%" in number_format:
        shown = Decimal(repr(value)) * 100
        return format(shown.normalize(), "f")
    return value


def read_tables(path: Path) -> list[Table]:
    """A .csv file (one table named after the file), an .xlsx workbook, or a folder of CSVs."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
        if not files:
            raise ParseError("folder holds no .csv files", location=Location(source=str(path)))
        return [read_csv(p) for p in files]
    if not path.exists():
        raise ParseError("file not found", location=Location(source=str(path)))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return [read_csv(path)]
    if suffix in {".xlsx", ".xlsm"}:
        return read_xlsx(path)
    raise ParseError(
        f"unsupported file type {suffix or '(none)'!r}; allowed: .csv, .xlsx, or a folder of .csv",
        location=Location(source=str(path)),
    )
