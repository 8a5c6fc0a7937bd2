"""XLSX input that is damaged or lies about itself: read every cell, or refuse in one line.

openpyxl's read-only mode believes the ``<dimension>`` a sheet records; a workbook whose stored
dimension understates its data used to import part of it with exit code 0. Damaged workbooks
(broken zip, XML, styles) used to escape as TypeError, XMLSyntaxError, zlib.error … tracebacks.
"""

from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from trephine.errors import ParseError
from trephine.importers.clinical import parse_tables
from trephine.io.tabular import read_xlsx

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "templates" / "example"


def example_workbook(path: Path) -> Path:
    """The shipped example import set as one workbook, one sheet per CSV."""
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for file in sorted(EXAMPLE.glob("*.csv")):
        sheet = workbook.create_sheet(file.stem)
        with file.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                sheet.append(row)
    workbook.save(path)
    return path


def rewrite_members(path: Path, edit: dict[str, tuple[str, str]]) -> None:
    """Apply ``{member: (regex, replacement)}`` to the XML parts inside the xlsx zip."""
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    for name, (pattern, replacement) in edit.items():
        text, count = re.subn(pattern, replacement, members[name].decode("utf-8"))
        assert count, f"{pattern!r} not found in {name}"
        members[name] = text.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)


def sheet_part(path: Path, title: str) -> str:
    """The zip member holding the sheet called ``title`` (openpyxl writes them in order)."""
    with zipfile.ZipFile(path) as archive:
        workbook = archive.read("xl/workbook.xml").decode("utf-8")
    titles = re.findall(r'<sheet [^>]*name="([^"]+)"', workbook)
    return f"xl/worksheets/sheet{titles.index(title) + 1}.xml"


def test_an_understated_dimension_does_not_cut_rows_or_columns(tmp_path: Path) -> None:
    path = example_workbook(tmp_path / "example.xlsx")
    expected = {t.name: t for t in read_xlsx(path)}
    results = expected["results"]
    assert len(results.records) > 8 and {"lod", "lloq", "status"} <= set(results.header)
    # The sheet claims to hold only A1:F9 — fewer rows, and no lod/lloq/status columns.
    part = sheet_part(path, "results")
    rewrite_members(path, {part: (r'<dimension ref="[^"]+"', '<dimension ref="A1:F9"')})

    tables = {t.name: t for t in read_xlsx(path)}

    assert tables["results"].header == results.header
    assert [dict(r.values) for r in tables["results"].records] == [
        dict(r.values) for r in results.records
    ]
    parsed, issues = parse_tables(list(tables.values()))
    assert not [i for i in issues if i.severity == "error"]
    assert len(parsed.results) == len(parse_tables(list(expected.values()))[0].results)


def test_a_missing_dimension_reads_everything(tmp_path: Path) -> None:
    path = example_workbook(tmp_path / "example.xlsx")
    part = sheet_part(path, "results")
    expected = len(next(t for t in read_xlsx(path) if t.name == "results").records)
    rewrite_members(path, {part: (r'<dimension ref="[^"]+"\s*/>', "")})
    assert len({t.name: t for t in read_xlsx(path)}["results"].records) == expected


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """One damaged copy of a workbook: raw byte flips, truncation, or XML parts edited."""
    how = rng.randrange(6)
    if how == 0:
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        return bytes(damaged)
    if how == 1:
        return data[: rng.randrange(len(data))]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    name = rng.choice(sorted(members))
    text = bytearray(members[name])
    if how == 2:
        for _ in range(rng.randint(1, 5)):
            at = rng.randrange(len(text) or 1)
            del text[at : at + rng.randint(1, 20)]
    elif how == 3:
        junk = [b"<", b">", b'"', b"&", b"&#0;", b"-1", b"99999999999", b"\x00", b"</c>", b"NaN"]
        for _ in range(rng.randint(1, 5)):
            at = rng.randrange(len(text) or 1)
            text[at:at] = rng.choice(junk)
    elif how == 4:
        numbers = [m.span() for m in re.finditer(rb"\d+", bytes(text))]
        for _ in range(min(3, len(numbers))):
            start, end = rng.choice(numbers)
            text[start:end] = rng.choice([b"0", b"-1", b"999999999", b"1e5", b"", b"x"])
    if how == 5:
        del members[name]
    else:
        members[name] = bytes(text)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return out.getvalue()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_damaged_workbooks_are_refused_in_one_located_line(tmp_path: Path) -> None:
    """300 seeded mutations of a valid workbook: each reads, or is one located ParseError."""
    data = example_workbook(tmp_path / "example.xlsx").read_bytes()
    rng = random.Random(20261203)
    target = tmp_path / "damaged.xlsx"
    outcomes = {"read": 0, "refused": 0}
    for _ in range(300):
        target.write_bytes(_mutate(data, rng))
        try:
            read_xlsx(target)
        except ParseError as exc:
            assert exc.location is not None and exc.location.source is not None
            assert str(target) in exc.location.source
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
        else:
            outcomes["read"] += 1
    # The mutations must really exercise both paths, or the test proves nothing.
    assert outcomes["refused"] > 50 and outcomes["read"] > 10


def test_cli_refuses_a_damaged_workbook_with_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trephine.cli.main import app

    path = example_workbook(tmp_path / "example.xlsx")
    rewrite_members(path, {"xl/styles.xml": (r"<cellXfs", "<cellXfs <")})
    result = CliRunner().invoke(
        app, ["import", str(path), "--database-url", f"sqlite:///{tmp_path / 'x.db'}"]
    )
    assert result.exit_code == 2, result.output
    assert "not a readable .xlsx workbook" in result.output
    assert "Traceback" not in result.output
