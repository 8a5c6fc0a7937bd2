"""Errors name domain fields; the command line maps them to its options in one place."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import trephine
from trephine.cli.common import FLAGS, flagged, message
from trephine.errors import Location, ValidationError, option

SRC = Path(trephine.__file__).resolve().parent
#: Packages below the edges: what they raise must not speak in command-line options.
BELOW_THE_CLI = (
    "services",
    "batch",
    "importers",
    "io",
    "analysis",
    "criteria",
    "assess",
    "domain",
    "store",
    "present",
    "demo",
)


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


#: A command-line option written out in text: ``--memory-limit``, ``--lod/--lloq``.
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (they document the CLI; allowed)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _flags_in_text(source: str) -> list[tuple[int, str]]:
    """Flags inside string literals (f-string parts included) that are not docstrings:
    text a user may be shown, e.g. an error's reason or a batch row's error."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found += [(node.lineno, flag) for flag in _FLAG.findall(node.value)]
    return found


def _options_in_text(source: str) -> list[str]:
    """Names passed to :func:`trephine.errors.option` in ``source``."""
    return [
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "option"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


def _below_the_cli() -> list[Path]:
    return [path for package in BELOW_THE_CLI for path in sorted((SRC / package).rglob("*.py"))]


def test_the_text_checker_sees_flags_but_not_docstrings() -> None:
    source = (
        '"""Run ``trephine batch --memory-limit 2GB``."""\n'
        'x = f"give workers more memory (--memory-limit) or use --lod/--lloq {y}"\n'
        'style = "--"\n'
    )
    assert _flags_in_text(source) == [(2, "--memory-limit"), (2, "--lod"), (2, "--lloq")]


def test_no_cli_flag_is_written_in_text_below_the_cli() -> None:
    """Errors, issues and batch rows below the CLI name domain fields (``option("lod")``),
    never the option a CLI user types (issue 8 §1: amendment ``--lod/--lloq``, batch
    ``--memory-limit``, readers ``--allow-missing-depth``)."""
    found = [
        f"{path.relative_to(SRC)}:{line}: {flag}"
        for path in _below_the_cli()
        for line, flag in _flags_in_text(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_every_option_named_below_the_cli_has_its_flag() -> None:
    named = {n for path in _below_the_cli() for n in _options_in_text(path.read_text("utf-8"))}
    assert {"lod", "lloq", "memory_limit", "workers", "allow_missing_depth"} <= named
    assert sorted(named - set(FLAGS)) == []


def test_marked_options_are_shown_as_flags_by_the_cli() -> None:
    text = f"give workers more memory ({option('memory_limit')}) or fewer {option('workers')}"
    assert text == "give workers more memory (`memory_limit`) or fewer `workers`"
    assert flagged(text) == "give workers more memory (--memory-limit) or fewer --workers"
    assert flagged("run `trephine init`; `not_an_option`") == "run `trephine init`; `not_an_option`"
    exc = ValidationError("mrd lod", "0.05", reason=f"give a new {option('lod')} for mrd")
    assert message(exc) == "mrd lod: '0.05' is not allowed (give a new --lod for mrd)"


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
