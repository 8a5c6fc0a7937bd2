"""The browser's entry form is read by the importer's rules (issue 10 §2), with every problem on
its field; karyotypes are checked for ISCN well-formedness."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trephine.domain.iscn import iscn_problem
from trephine.domain.results import Chimerism, FlowMRD, Karyotype, ResultKind
from trephine.importers.entry_form import parse_entry


@pytest.mark.parametrize(
    "text",
    [
        "46,XX[20]",
        "46,XY,del(20q)[8]/46,XY[12]",
        "46,XY,t(8;21)(q22;q22.1)[17]/46,XY[3]",
        "47,XX,+8[12]/46,XX[8]",
        "45,XY,-7[15]/46,XY[5]",
        "46,XX,inv(16)(p13.1q22)[20]",
        "45~47,XY,+mar[cp10]",
    ],
)
def test_well_formed_karyotypes_pass(text: str) -> None:
    assert iscn_problem(text) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("46XY", "at least the chromosome count"),
        ("XY,46[20]", "not a chromosome count"),
        ("46,XZ[20]", "sex chromosomes"),
        ("46,XY,t(8;21(q22;q22)[20]", "unbalanced parentheses"),
        ("46, XY[20]", "spaces"),
        ("46,XY[20],+8", "cell count goes last"),
    ],
)
def test_malformed_karyotypes_are_named(text: str, says: str) -> None:
    problem = iscn_problem(text)
    assert problem is not None and says in problem


def test_the_form_refuses_a_malformed_karyotype_on_its_field() -> None:
    value, problems = parse_entry(ResultKind.KARYOTYPE, "A-1", {"iscn": "46,XZ[20]"})
    assert value is None
    assert [p.field for p in problems] == ["iscn"]
    assert "not well-formed ISCN" in problems[0].message
    value, problems = parse_entry(
        ResultKind.KARYOTYPE, "A-1", {"iscn": "47,XY,+8[12]/46,XY[8]", "metaphases": "20"}
    )
    assert isinstance(value, Karyotype) and value.metaphases == 20 and not problems


def test_units_are_converted_and_errors_located_like_the_importer() -> None:
    value, problems = parse_entry(
        ResultKind.CHIMERISM, "A-1", {"donor_percent": "0.985", "donor_percent__unit": "1"}
    )
    assert isinstance(value, Chimerism) and value.donor_percent.value == Decimal("98.5")
    value, problems = parse_entry(ResultKind.FLOW_MRD, "A-1", {"mrd": "abc", "method": "LAIP"})
    assert value is None and [p.field for p in problems] == ["mrd"]
    value, problems = parse_entry(
        ResultKind.FLOW_MRD, "A-1", {"mrd": "<0.01", "method": "telepathy"}
    )
    assert value is None and problems[0].field == "method" and "LAIP" in problems[0].message
    value, problems = parse_entry(
        ResultKind.FLOW_MRD,
        "A-1",
        {"mrd": "0.05", "mrd__lod": "0.002", "mrd__lloq": "0.005", "method": "LAIP"},
    )
    assert isinstance(value, FlowMRD) and value.mrd.lod == Decimal("0.002")
    value, problems = parse_entry(ResultKind.FLOW_MRD, "A-1", {})
    assert value is None and "nothing entered" in problems[0].message
