"""Errors name domain fields; the command line maps them to its options in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import trephine
from trephine.cli.common import FLAGS, message
from trephine.errors import Location, ValidationError

SRC = Path(trephine.__file__).resolve().parent
#: Packages below the edges: what they raise must not speak in command-line options.
BELOW_THE_CLI = ("services", "batch", "importers", "io", "analysis", "criteria", "domain", "store")


def _flag_fields(source: str) -> list[int]:
    """Lines raising ``ValidationError("--something", ...)``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "ValidationError"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith("--")
        ):
            lines.append(node.lineno)
    return lines


def test_the_checker_sees_a_flag() -> None:
    assert _flag_fields(
        'raise ValidationError("--specimen", x)\nValidationError("specimen", x)'
    ) == [1]


def test_no_cli_flag_is_raised_below_the_cli() -> None:
    found = [
        f"{path.relative_to(SRC)}:{line}"
        for package in BELOW_THE_CLI
        for path in sorted((SRC / package).rglob("*.py"))
        for line in _flag_fields(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(("field", "flag"), sorted(FLAGS.items()))
def test_a_domain_field_is_shown_as_its_option(field: str, flag: str) -> None:
    exc = ValidationError(field, "x", ["a", "b"], reason="no such thing")
    assert str(exc).startswith(f"{field}: 'x'")
    assert message(exc) == f"{flag}: 'x' is not allowed (no such thing); allowed: a, b"


def test_a_column_of_a_file_is_not_an_option() -> None:
    at_row = ValidationError("specimen", "", "an accession", location=Location("map.csv", row=3))
    assert message(at_row) == str(at_row) and "--specimen" not in message(at_row)
    in_file = ValidationError("sample", "S9", ["S1"], location=Location("panel.wsp"))
    assert message(in_file).startswith("panel.wsp: --sample: 'S9'")


def test_unmapped_fields_and_other_errors_pass_through() -> None:
    exc = ValidationError("bm_blasts_pct", 140, "0-100")
    assert message(exc) == str(exc)
    missing = FileNotFoundError(2, "No such file or directory", "tube.fcs")
    assert message(missing) == "tube.fcs: No such file or directory"


def test_services_refuse_with_domain_names() -> None:
    from trephine.assess.registry import choose

    with pytest.raises(ValidationError) as caught:
        choose([], "RECIST")
    assert caught.value.field == "ruleset" and message(caught.value).startswith("--ruleset: ")
