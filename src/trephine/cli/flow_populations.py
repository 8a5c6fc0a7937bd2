"""Storing gated populations (``trephine flow gate … --store-populations GATE,… --specimen ACC``).

Kept apart from :mod:`trephine.cli.flow_gating` so that gating without storing never imports the
database layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from trephine.cli.common import acting, open_database

if TYPE_CHECKING:
    from collections.abc import Sequence

    from trephine.analysis.flow.strategy import GatingResult
    from trephine.domain.results import Population
    from trephine.services.views import StoredResult


def check_options(store_populations: str | None, specimen: str | None) -> None:
    from trephine.errors import ValidationError

    if store_populations is not None and specimen is None:
        raise ValidationError("--specimen", None, "--specimen ACCESSION with --store-populations")
    if specimen is not None and store_populations is None:
        raise ValidationError("--store-populations", None, "GATE[,GATE…] to store with --specimen")


def store_populations(
    result: GatingResult,
    *,
    gates: str,
    fcs_path: Path,
    gating_path: Path | None,
    specimen: str,
    total_gate: str | None,
    panel: str | None,
    actor: str | None,
    database_url: str | None,
) -> list[dict[str, Any]]:
    """Record the named gates as draft ``population`` results on ``specimen`` (all or nothing)."""
    from trephine.importers.flow_populations import (
        parse_gate_list,
        plan_populations,
        tube_populations,
    )
    from trephine.services.microenvironment import record_drafts

    plans = plan_populations(parse_gate_list(gates), result.parents, total_gate=total_gate)
    values = tube_populations(
        plans, result.counts(), fcs_path=fcs_path, gating_path=gating_path, panel=panel
    )
    database = open_database(database_url, migrate=False)
    who = acting(database, "results:write", actor, option="--actor")
    try:
        with database.unit_of_work(who.name) as uow:
            stored = record_drafts(uow, [(specimen, v) for v in values])
    finally:
        database.dispose()
    return summaries(stored, values)


def summaries(
    stored: Sequence[tuple[StoredResult, bool]], values: Sequence[Population]
) -> list[dict[str, Any]]:
    """The JSON summary of stored populations (``flow gate --json``'s ``stored.populations``)."""
    from trephine.present.results import population_intervals

    out = []
    for (row, created), value in zip(stored, values, strict=True):
        ci = population_intervals(value)
        out.append(
            {
                "gate": value.source_label,
                "population": value.population,
                "parent": value.parent,
                "count": value.count,
                "parent_count": value.parent_count,
                "percent_of_parent": ci["of_parent"],
                "percent_of_total": ci.get("of_total"),
                "result_id": row.id,
                "state": str(row.state),
                "version": row.version,
                "created": created,
            }
        )
    return out


def echo_stored(specimen: str, stored: list[dict[str, Any]]) -> None:
    for item in stored:
        verb = "stored" if item["created"] else "already stored"
        typer.echo(
            f"  {verb}: {item['population']} (gate {item['gate']}) "
            f"{item['percent_of_parent']['text']} of {item['parent']} — "
            f"result {item['result_id']} v{item['version']} ({item['state']}) on {specimen}"
        )
