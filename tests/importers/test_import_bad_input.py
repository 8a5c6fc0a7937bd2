"""Bad import files: every problem is reported with file, row, column, value and what is allowed.

These run phase 1 only (no database): nothing can be written before every row has been checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trephine.errors import Issue, Severity
from trephine.importers.clinical import parse_tables
from trephine.io.tabular import read_csv


def errors_for(tmp_path: Path, sheet: str, text: str) -> list[Issue]:
    path = tmp_path / f"{sheet}.csv"
    path.write_text(text, encoding="utf-8")
    _, issues = parse_tables([read_csv(path)])
    return [i for i in issues if i.severity is Severity.ERROR]


def one(issues: list[Issue]) -> Issue:
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def test_bad_choice_lists_allowed_values(tmp_path: Path) -> None:
    issue = one(errors_for(tmp_path, "patients", "patient_id,sex\nP1,femal\n"))
    assert (issue.location.row, issue.location.column) == (2, "sex")
    assert "'femal'" in issue.message and "female, male, other, unknown" in issue.message


def test_all_errors_are_collected_not_just_the_first(tmp_path: Path) -> None:
    issues = errors_for(
        tmp_path,
        "patients",
        "patient_id,sex,birth_year\nP 1,female,1960\nP2,x,1960\nP3,male,18x0\n",
    )
    assert [(i.location.row, i.location.column) for i in issues] == [
        (2, "patient_id"),
        (3, "sex"),
        (4, "birth_year"),
    ]


def test_unknown_and_missing_columns(tmp_path: Path) -> None:
    issues = errors_for(tmp_path, "patients", "patient_id,gender\nP1,female\n")
    assert {(i.code, i.location.column) for i in issues} == {
        ("unknown-column", "gender"),
        ("missing-column", "sex"),
    }
    assert all(i.location.row == 1 for i in issues)


def test_unknown_sheet_names_the_allowed_sheets(tmp_path: Path) -> None:
    issue = one(errors_for(tmp_path, "labs", "a\n1\n"))
    assert issue.code == "unknown-sheet" and "patients" in issue.message


@pytest.mark.parametrize(
    ("row", "column", "expected"),
    [
        ("A1,core,,cellularity,140,%,,,", "value", "0–100 %"),
        ("A1,blood_count,,hemoglobin,9,mg/dL,,,", "unit", "g/L"),
        ("A1,ngs_variant,,vaf,0.4,,,,", "unit", "%, percent, 1"),
        ("A1,flow_mrd,,mrd,≤0.01,%,,,", "value", "'<' or '>'"),
        ("A1,flow_mrd,,method,LAIPx,,,,", "value", "LAIP, DfN, LAIP+DfN"),
        ("A1,differential,,blastz,3,,,,", "field", "blasts"),
        ("A1,karyotype,,metaphases,20,1,,,", "unit", "has no unit"),
        ("A1,core,,cellularity,40,%,,,pending", "status", "draft, verified"),
        ("A1,mri,,x,1,,,,", "kind", "blood_count"),
        ("A1,core,,cellularity,,%,,,", "value", "required"),
        ('A1,flow_mrd,,mrd,"0,05",%,,,', "value", "decimal comma"),
        ('A1,flow_mrd,,mrd,0.05,%,"0,001",,', "lod", "decimal comma"),
    ],
)
def test_result_row_errors(tmp_path: Path, row: str, column: str, expected: str) -> None:
    header = "accession,kind,item,field,value,unit,lod,lloq,status\n"
    issue = one(errors_for(tmp_path, "results", header + row + "\n"))
    assert (issue.location.row, issue.location.column) == (2, column)
    assert expected in issue.message


def test_incomplete_result_is_named(tmp_path: Path) -> None:
    text = "accession,kind,field,value\nA1,ngs_variant,gene,FLT3\n"
    issue = one(errors_for(tmp_path, "results", text))
    assert "incomplete ngs_variant result" in issue.message and "hgvs" in issue.message


def test_differential_sum_mismatch(tmp_path: Path) -> None:
    text = (
        "accession,kind,field,value\n"
        "A1,differential,blasts,10\nA1,differential,neutrophils,80\n"
        "A1,differential,cells_counted,100\n"
    )
    issue = one(errors_for(tmp_path, "results", text))
    assert "cells_counted" in issue.message and "(90)" in issue.message


def test_field_given_twice(tmp_path: Path) -> None:
    text = "accession,kind,field,value\nA1,core,cellularity,40\nA1,core,cellularity,50\n"
    issue = one(errors_for(tmp_path, "results", text))
    assert issue.location.row == 3 and "again after row 2" in issue.message


def test_small_differential_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text(
        "accession,kind,field,value\nA1,differential,blasts,3\nA1,differential,neutrophils,97\n",
        encoding="utf-8",
    )
    parsed, issues = parse_tables([read_csv(path)])
    assert [i.code for i in issues] == ["inadequate-differential"]
    assert issues[0].severity is Severity.WARNING and len(parsed.results) == 1


def test_dates_and_instants(tmp_path: Path) -> None:
    text = (
        "patient_id,performed_at,site\n"
        "P1,2024-13-01T09:00,sternum\n"
        "P1,2024-03-01T09:00+01:00,sternum\n"
    )
    path = tmp_path / "procedures.csv"
    path.write_text(text, encoding="utf-8")
    parsed, issues = parse_tables([read_csv(path)])
    issue = one([i for i in issues if i.severity is Severity.ERROR])
    assert (issue.location.row, issue.location.column) == (2, "performed_at")
    assert "YYYY-MM-DD" in issue.message
    (procedure,) = parsed.procedures
    assert procedure.item.performed_at.isoformat() == "2024-03-01T08:00:00+00:00"


def test_therapy_rows_of_one_line_must_agree(tmp_path: Path) -> None:
    text = (
        "patient_id,line,regimen,intent,intensity,start,cycle,cycle_start\n"
        "P1,1,aza,palliative,less intensive,2024-01-01,1,2024-01-01\n"
        "P1,1,decitabine,palliative,less intensive,2024-01-01,2,2024-02-01\n"
    )
    issue = one(errors_for(tmp_path, "therapies", text))
    assert (issue.location.row, issue.location.column) == (3, "regimen")
    assert "as in row 2" in issue.message


def test_identity_needs_name_and_mrn_together(tmp_path: Path) -> None:
    issue = one(errors_for(tmp_path, "patients", "patient_id,sex,name,mrn\nP1,male,Syn,\n"))
    assert issue.location.column == "mrn"


def test_two_items_for_the_same_result_are_refused(tmp_path: Path) -> None:
    text = (
        "accession,kind,item,field,value,unit\n"
        "A1,flow_mrd,1,mrd,0.1,%\nA1,flow_mrd,1,method,LAIP,\n"
        "A1,flow_mrd,2,mrd,0.2,%\nA1,flow_mrd,2,method,LAIP,\n"
    )
    issue = one(errors_for(tmp_path, "results", text))
    assert (issue.location.row, issue.location.column) == (4, "item")
    assert "row 2 already gives flow_mrd LAIP for A1" in issue.message
