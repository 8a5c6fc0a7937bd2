"""`trephine criteria ...` commands: list, show, evaluate.

Bad input exits with code 2 and one line on stderr naming the file, the field and what is
allowed; never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from trephine.cli.common import fail

app = typer.Typer(
    help="Clinical criteria: explainable response, MRD and diagnostic calls.", no_args_is_help=True
)


@app.command("list")
def list_() -> None:
    """List the ruleset strings a case can name, and the rule sets behind each."""
    from trephine.criteria.registry import REGISTRY

    width = max(len(name) for name in REGISTRY)
    for name, entry in REGISTRY.items():
        keys = ", ".join(rs.key for rs in entry.rulesets)
        typer.echo(f"{name:<{width}}  {entry.description}  [{keys}]")
    typer.echo('\nCompare editions with "A vs B", e.g. "ELN2022 vs ELN2017".')


@app.command("show")
def show(ruleset: str = typer.Argument(..., help="A ruleset string or rule-set key.")) -> None:
    """Print the rules table (thresholds, citations, parameters) generated from the code."""
    from trephine.criteria.docs import render
    from trephine.criteria.registry import REGISTRY, get
    from trephine.errors import ValidationError

    try:
        if ruleset in REGISTRY:
            typer.echo("\n".join(render(rs) for rs in REGISTRY[ruleset].rulesets))
        else:
            typer.echo(render(get(ruleset)))
    except ValidationError as exc:
        raise fail(str(exc)) from None


@app.command("evaluate")
def evaluate_cmd(
    file: Path = typer.Argument(..., help="JSON: one case, a list of cases or {'cases': [...]}"),
    fmt: str = typer.Option("json", "--format", help="json or table"),
) -> None:
    """Evaluate cases in the clinical-cases.json format and explain every call."""
    from trephine.errors import TrephineError

    if fmt not in ("json", "table"):
        raise fail(f"--format: {fmt!r} is not allowed; allowed: json, table")
    try:
        results = evaluate_file(file)
    except TrephineError as exc:
        raise fail(str(exc)) from None
    if fmt == "json":
        import json

        typer.echo(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    else:
        _table(results)


def evaluate_file(file: Path) -> list[dict[str, Any]]:
    """Read and evaluate a case file; errors carry the file name and location."""
    import json
    from decimal import Decimal

    from trephine.criteria.cases import evaluate_case
    from trephine.errors import Location, ParseError, ValidationError

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParseError(
            f"cannot read: {exc.strerror}", location=Location(source=str(file))
        ) from None
    try:
        # Numbers become Decimal so that thresholds compare exactly (G2).
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            location=Location(source=str(file), offset=exc.pos),
        ) from None
    if isinstance(data, dict) and "cases" in data and "ruleset" not in data:
        cases, where = data["cases"], "cases"
    else:
        cases, where = data, "cases"
    if isinstance(cases, dict):
        cases, single = [cases], True
    else:
        single = False
    if not isinstance(cases, list):
        raise ValidationError(
            "cases",
            type(cases).__name__,
            "a case object or a list of cases",
            location=Location(source=str(file)),
        )
    out = []
    for i, case in enumerate(cases):
        label = "case" if single else f"{where}[{i}]"
        try:
            out.append(evaluate_case(case, label))
        except ValidationError as exc:
            raise ValidationError(
                exc.field,
                exc.value,
                exc.allowed,
                reason=exc.reason,
                location=Location(source=str(file)),
            ) from None
    return out


def _table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "ruleset", "result", "rule", "missing", show_lines=True)
    for r in results:
        outputs = {
            k: v
            for k, v in r.items()
            if k not in ("id", "ruleset", "explanation") and not k.endswith("flags")
        }
        shown = "\n".join(f"{k} = {v}" for k, v in outputs.items())
        flags = r.get("flags") or []
        if flags:
            shown += "\nflags: " + ", ".join(flags)
        rules, missing = [], []
        for key, why in r["explanation"].items():
            if isinstance(why, dict) and "rule" in why:
                rules.append(f"{key}: {why['rule']}")
                missing += [m for m in why.get("missing", []) if m not in missing]
        table.add_row(
            str(r.get("id")), str(r.get("ruleset")), shown, "\n".join(rules), ", ".join(missing)
        )
    Console(file=sys.stdout, width=160).print(table)
