"""The shipped blank templates and docs/import-template.md match the declared template."""

from __future__ import annotations

from pathlib import Path

from trephine.importers.template import SHEETS, render_reference, write_blank_templates

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_blank_csv_templates_are_current(tmp_path: Path) -> None:
    write_blank_templates(tmp_path)
    for sheet in SHEETS:
        shipped = (DOCS / "templates" / "blank" / f"{sheet}.csv").read_text(encoding="utf-8")
        assert shipped == (tmp_path / f"{sheet}.csv").read_text(encoding="utf-8"), sheet


def test_blank_xlsx_template_has_every_sheet_and_column() -> None:
    from openpyxl import load_workbook

    workbook = load_workbook(DOCS / "templates" / "blank" / "trephine-import-template.xlsx")
    assert workbook.sheetnames == list(SHEETS)
    for sheet, columns in SHEETS.items():
        header = [cell.value for cell in workbook[sheet][1]]
        assert header == [c.name for c in columns]


def test_doc_reference_is_generated_from_the_code() -> None:
    text = (DOCS / "import-template.md").read_text(encoding="utf-8")
    start = text.index("-->\n", text.index("<!-- BEGIN GENERATED")) + len("-->\n")
    end = text.index("<!-- END GENERATED -->")
    assert text[start:end] == render_reference(), (
        "docs/import-template.md is stale: regenerate the section from render_reference()"
    )


def test_example_set_uses_only_declared_sheets() -> None:
    names = {p.stem for p in (DOCS / "templates" / "example").glob("*.csv")}
    assert names <= set(SHEETS) and {"patients", "results"} <= names
