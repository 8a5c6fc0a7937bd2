"""`trephine stats ...`: survival statistics on a user's own table (CSV or XLSX).

``stats survival`` is the generic entry the research analyses are validated through: the same
Kaplan–Meier and log-rank code the cohort pages use, on any table with a time and an event
column. ``stats cox`` and ``stats incidence`` fit a Cox model and an Aalen–Johansen cumulative
incidence the same way. A bad cell is refused with the file, row, column and what is allowed;
nothing is computed from a table with a bad row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from trephine.cli.common import refusals

app = typer.Typer(help="Survival statistics on a table (Kaplan–Meier, log-rank, Cox, ...).")


def _column(table: Any, name: str, option: str) -> str:
    from trephine.errors import ValidationError
    from trephine.io.tabular import normalise_header

    key = normalise_header(name)
    if key not in table.header:
        raise ValidationError(
            option, name, ", ".join(table.header), reason=f"not in {table.source}"
        )
    return key


def _number(record: Any, column: str, *, whole: bool = False, minimum: float = 0.0) -> float:
    import math

    from trephine.errors import ValidationError

    text = record.get(column)
    allowed = "a whole number >= 0" if whole else f"a number >= {minimum:g}"
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum or (whole and not value.is_integer()):
        raise ValidationError(column, text, allowed, location=record.at(column))
    return value


def _event(record: Any, column: str) -> int:
    from trephine.errors import ValidationError

    text = (record.get(column) or "").strip().lower()
    mapped = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}.get(text)
    if mapped is None:
        raise ValidationError(
            column,
            record.get(column),
            "0 (censored) or 1 (event); also false/true",
            location=record.at(column),
        )
    return mapped


def _table(file: Path) -> Any:
    from trephine.errors import Location, ParseError
    from trephine.io.tabular import read_tables

    tables = read_tables(file)
    if len(tables) != 1 or not tables[0].records:
        raise ParseError(
            f"expected one sheet with at least one data row (found {len(tables)} sheet(s), "
            f"{sum(len(t) for t in tables)} data row(s))",
            location=Location(source=str(file)),
        )
    return tables[0]


def _read(
    file: Path, time: str, event: str, group: str | None
) -> tuple[list[float], list[int], list[str] | None, Any]:
    from trephine.errors import ValidationError

    table = _table(file)
    tcol = _column(table, time, "--time")
    ecol = _column(table, event, "--event")
    gcol = _column(table, group, "--group") if group else None
    times, events, groups = [], [], []
    for rec in table.records:
        times.append(_number(rec, tcol))
        events.append(_event(rec, ecol))
        if gcol:
            g = rec.get(gcol)
            if g is None:
                raise ValidationError(gcol, None, "a group label", location=rec.at(gcol))
            groups.append(g)
    return times, events, (groups if gcol else None), table


@app.command("survival")
def survival(
    file: Path = typer.Argument(..., help="CSV or XLSX, one row per subject."),
    time: str = typer.Option(..., "--time", help="Column: time to event or censoring (>= 0)."),
    event: str = typer.Option(..., "--event", help="Column: 1 = event, 0 = censored."),
    group: str | None = typer.Option(None, "--group", help="Column: group label (log-rank)."),
    at: list[float] = typer.Option([], "--at", help="Report S(t) at this time (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Kaplan–Meier per group (n, events, median with 95 % CI, S(t)), and the log-rank test."""
    from trephine.analysis.stats.survival import by_group

    with refusals():
        times, events, groups, _ = _read(file, time, event, group)
        doc = by_group(times, events, groups, at=at)
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(_survival_table(doc))


def _survival_table(doc: dict[str, Any]) -> str:
    from trephine.present.numbers import format_value as computed

    def shown(v: float | None) -> str:
        return "not reached" if v is None else computed(v)

    lines = []
    for name, g in doc["groups"].items():
        lo, hi = g["median_ci"]
        at = ", ".join(f"S({t}) {computed(s)}" for t, s in g["survival_at"].items())
        lines.append(
            f"{name}: n {g['n']}, events {g['events']}, median {shown(g['median'])} "
            f"(95% CI {shown(lo)} to {shown(hi)})" + (f"; {at}" if at else "")
        )
    if "logrank" in doc:
        lr = doc["logrank"]
        lines.append(
            f"log-rank: chi-square {computed(lr['statistic'])} on {lr['df']} df, "
            f"p = {computed(lr['p'])}"
        )
    return "\n".join(lines)


@app.command("cox")
def cox_cmd(
    file: Path = typer.Argument(..., help="CSV or XLSX, one row per subject."),
    time: str = typer.Option(..., "--time"),
    event: str = typer.Option(..., "--event"),
    covariate: list[str] = typer.Option(..., "--covariate", help="Numeric column (repeatable)."),
    ties: str = typer.Option("efron", "--ties", help="Tie method: efron (R coxph's default)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Cox proportional-hazards regression: hazard ratio, 95 % CI and p per covariate."""
    import pandas as pd

    from trephine.analysis.stats.survival import cox

    with refusals():
        times, events, _, table = _read(file, time, event, None)
        cols = [_column(table, c, "--covariate") for c in covariate]
        data: dict[str, list[float]] = {"time": times, "event": [float(e) for e in events]}
        for c in cols:
            data[c] = [_number(r, c, minimum=-float("inf")) for r in table.records]
        model = cox(pd.DataFrame(data), time="time", event="event", covariates=cols, ties=ties)
    if as_json:
        typer.echo(json.dumps(model.to_json(), indent=2))
        return
    from trephine.present.numbers import format_value as computed

    typer.echo(f"n {model.n}, events {model.events}, ties: {model.ties}")
    for t in model.terms:
        typer.echo(
            f"{t.covariate}: HR {computed(t.hazard_ratio)} "
            f"(95% CI {computed(t.lower)} to {computed(t.upper)}), p = {computed(t.p)}"
        )


@app.command("incidence")
def incidence_cmd(
    file: Path = typer.Argument(..., help="CSV or XLSX, one row per subject."),
    time: str = typer.Option(..., "--time", help="Column: time to the first event or censoring."),
    event: str = typer.Option(..., "--event", help="Column: 1 = the event of interest."),
    competing: list[str] = typer.Option(
        ..., "--competing", help="Column: 1 = a competing event (repeatable)."
    ),
    at: list[float] = typer.Option([], "--at", help="Report the incidence at this time."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Aalen–Johansen cumulative incidence of --event with the --competing events as competing
    risks (a row with the event of interest counts as that event, whatever else it has)."""
    from trephine.analysis.stats.survival import cumulative_incidence

    with refusals():
        table = _table(file)
        tcol = _column(table, time, "--time")
        ecol = _column(table, event, "--event")
        ccols = [_column(table, c, "--competing") for c in competing]
        times = [_number(r, tcol) for r in table.records]
        causes = []
        for r in table.records:
            if _event(r, ecol):
                causes.append(1)
            else:
                causes.append(2 if any([_event(r, c) for c in ccols]) else 0)
        res = cumulative_incidence(times, causes, cause=1, at=at)
    if as_json:
        typer.echo(json.dumps(res.to_json(), indent=2))
        return
    from trephine.present.numbers import format_value as computed

    typer.echo(f"n {res.n}, events {res.events}, competing {res.competing}")
    for t, v in res.at.items():
        typer.echo(f"cumulative incidence at {t:g}: {computed(v)}")
