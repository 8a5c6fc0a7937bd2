"""A result kind has one name, in :mod:`trephine.domain.result_kinds`: every kind has one, no two
kinds share one, the labels of the timeline and report add a result's detail to it, and no
second table naming the kinds appears in src (the lab forms' ``KIND_TITLES`` and the
chronology's kind phrases were two)."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

import trephine
from trephine.domain import result_kinds
from trephine.domain.quantity import Quantity
from trephine.domain.result_kinds import RESULT_KIND_NAMES, result_kind_name, result_kind_words
from trephine.domain.results import (
    Chimerism,
    ChimerismLineage,
    Extramedullary,
    FlowMethod,
    FlowMRD,
    ResultKind,
)
from trephine.present.fhir import values
from trephine.present.results import label

SRC = Path(trephine.__file__).parent
HOME = Path(result_kinds.__file__)
CODES = {k.value for k in ResultKind}

#: Tables keyed by result kinds whose words name something else, with what they name.
OTHER_TABLES = {
    # The one number a list line shows for a kind ("ANC 1.6", "blasts 6 %"), not the kind.
    ("cli/results.py", "HEADLINE_NAMES"),
}


def test_every_result_kind_has_one_name_of_its_own() -> None:
    assert set(RESULT_KIND_NAMES) == set(ResultKind)
    names = list(RESULT_KIND_NAMES.values())
    assert len(set(names)) == len(names), names
    for kind, name in RESULT_KIND_NAMES.items():
        assert name[:1].isupper() and name == name.strip(), (kind, name)
        assert result_kind_name(kind.value) == name


def test_a_code_that_is_no_kind_names_itself() -> None:
    with pytest.raises(ValueError, match="flow_mdr"):
        result_kind_name("flow_mdr")


def test_the_name_inside_a_sentence_keeps_abbreviations() -> None:
    assert result_kind_words(ResultKind.FLOW_MRD) == "flow cytometry MRD"
    assert result_kind_words("ngs_variant") == "NGS variant"
    assert result_kind_words(ResultKind.DIFFERENTIAL) == "aspirate differential"


def test_the_labels_add_a_results_detail_to_its_kinds_name() -> None:
    mrd = FlowMRD(Quantity(Decimal("0.02"), "%"), FlowMethod.LAIP)
    assert label(mrd) == "Flow cytometry MRD (LAIP)"
    chimerism = Chimerism(Quantity(Decimal("98"), "%"), ChimerismLineage.T_CELLS)
    assert label(chimerism) == "Donor chimerism (CD3)"
    assert label(Extramedullary("CNS", True)) == "Extramedullary disease (CNS)"
    # The FHIR Observation text reads the same name.
    assert values(mrd)[0].label == "Flow cytometry MRD (LAIP)"


def _kind_key(key: ast.expr | None) -> bool:
    if isinstance(key, ast.Constant):
        return key.value in CODES
    return isinstance(key, ast.Attribute) and key.attr in ResultKind.__members__


def _words(value: ast.expr) -> bool:
    """A name-like value: a string, or an f-string (``f"{analyte} MRD"``)."""
    return isinstance(value, ast.JoinedStr) or (
        isinstance(value, ast.Constant) and isinstance(value.value, str)
    )


def _kind_tables(tree: ast.AST) -> dict[int, str]:
    """The dict literals keying three or more result kinds to words: line → assigned name."""
    names: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(targets[0], ast.Name):
                names[node.value.lineno] = targets[0].id
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            worded = [
                k for k, v in zip(node.keys, node.values, strict=True) if _kind_key(k) and _words(v)
            ]
            if len(worded) >= 3:
                found[node.lineno] = names.get(node.lineno, "")
    return found


def test_no_second_table_names_the_result_kinds() -> None:
    elsewhere = sorted(
        f"{path.relative_to(SRC)}:{line} {name}".strip()
        for path in sorted(SRC.rglob("*.py"))
        if path != HOME
        for line, name in _kind_tables(ast.parse(path.read_text(encoding="utf-8"))).items()
        if (str(path.relative_to(SRC)), name) not in OTHER_TABLES
    )
    assert not elsewhere, f"result kinds named outside domain/result_kinds.py: {elsewhere}"
    # The scan sees the home's table and the two shapes it replaced.
    assert _kind_tables(ast.parse(HOME.read_text(encoding="utf-8")))
    lab_titles = (
        "KIND_TITLES = {ResultKind.DIFFERENTIAL: 'Aspirate differential', ResultKind.CORE:"
        " 'Trephine core findings', ResultKind.FLOW_MRD: 'Flow cytometry MRD'}"
    )
    chronology = (
        'label = {"flow_mrd": "flow MRD", "molecular_mrd": f"{result.analyte} MRD",'
        ' "chimerism": f"donor chimerism ({result.analyte})"}.get(str(result.kind))'
    )
    assert list(_kind_tables(ast.parse(lab_titles)).items()) == [(1, "KIND_TITLES")]
    assert list(_kind_tables(ast.parse(chronology))) == [1]
    # The tables known to name something else are still there, so the exception is not stale.
    for path, name in OTHER_TABLES:
        assert name in _kind_tables(ast.parse((SRC / path).read_text(encoding="utf-8"))).values()
