"""``trephine omics import FILE.h5ad --specimen-column COL --cell-type-column COL``: per-specimen
cell-type counts and proportions of a single-cell (or spatial) AnnData file stored as draft
``population`` results (method single-cell) with the file's SHA-256
(:mod:`trephine.importers.omics`). Recording results needs ``results:write`` (``cli/common.acting``,
checked before the file is read)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from trephine.cli.common import acting, open_database, refusals

if TYPE_CHECKING:
    from trephine.analysis.microenvironment.composition import Colocalisation

app = typer.Typer(help="Single-cell and spatial data (AnnData .h5ad).", no_args_is_help=True)


@app.command("import")
def import_h5ad(
    file: Path = typer.Argument(..., help="AnnData .h5ad file."),
    specimen_column: str = typer.Option(
        ..., "--specimen-column", help="obs column holding each cell's specimen accession."
    ),
    cell_type_column: str = typer.Option(
        ..., "--cell-type-column", help="obs column holding each cell's cell-type label."
    ),
    mapping: list[str] = typer.Option(
        [], "--map", help="LABEL=population for a label the vocabulary does not know (repeat)."
    ),
    neighbours: int = typer.Option(
        10, "--neighbours", min=1, help="Neighbours per cell for co-localisation (spatial)."
    ),
    permutations: int = typer.Option(
        100, "--permutations", min=0, help="Label permutations for co-localisation z-scores."
    ),
    colocalisation_out: Path | None = typer.Option(
        None, "--colocalisation-out", help="Write the co-localisation table (CSV)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report; write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the import as JSON."),
    actor: str | None = typer.Option(None, "--actor", help="Who records it (audit trail)."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database URL (default: TREPHINE_DATABASE_URL)."
    ),
) -> None:
    """Store per-specimen cell-type counts of an h5ad as draft population results."""
    from importlib.metadata import version

    from trephine import __version__
    from trephine.importers.omics import parse_mapping, plan_h5ad_import
    from trephine.services.microenvironment import record_drafts, stored_accessions

    software = f"trephine {__version__}; anndata {version('anndata')}"
    database = open_database(database_url, migrate=False)
    who = acting(database, "results:write", actor, option="--actor")
    try:
        with refusals():
            explicit = parse_mapping(mapping)
            with database.unit_of_work(who.name) as uow:
                plan = plan_h5ad_import(
                    file,
                    specimen_column,
                    cell_type_column,
                    known_specimens=lambda names: stored_accessions(uow, names),
                    mapping=explicit,
                    neighbours=neighbours,
                    permutations=permutations,
                    software=software,
                )
                stored = [] if dry_run else record_drafts(uow, plan.populations)
    finally:
        database.dispose()
    if colocalisation_out is not None:
        _write_colocalisation(colocalisation_out, plan.colocalisation)
    created = sum(1 for _, new in stored if new)
    if as_json:
        doc = plan.to_json()
        doc["stored"] = {"results": len(stored), "created": created, "dry_run": dry_run}
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(
        f"{plan.file}: {plan.cells:,} cells in {len(plan.specimens)} specimens "
        f"(sha256 {plan.sha256[:12]}…)"
    )
    for label, name in sorted(plan.mapping.items()):
        typer.echo(f"  label {label!r} → {name}")
    if plan.unmapped:
        listed = ", ".join(f"{k!r} ({v:,} cells)" for k, v in sorted(plan.unmapped.items()))
        typer.echo(
            f"  unmapped labels (kept in the denominator, not stored): {listed}; "
            "map them with --map LABEL=population"
        )
    if plan.colocalisation:
        typer.echo(f"  co-localisation computed for {len(plan.colocalisation)} specimens")
    if dry_run:
        typer.echo(f"  dry run: {len(plan.populations)} population results checked, none written")
    else:
        typer.echo(
            f"  stored {len(stored)} population results as drafts ({created} new, "
            f"{len(stored) - created} unchanged)"
        )


def _write_colocalisation(path: Path, coloc: Mapping[str, Colocalisation]) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["specimen", "cell_type", "neighbour_type", "ratio", "zscore", "k"])
        for accession, result in coloc.items():
            for pair in result.pairs():
                writer.writerow(
                    [
                        accession,
                        pair["cell_type"],
                        pair["neighbour_type"],
                        pair["ratio"],
                        pair["zscore"],
                        result.k,
                    ]
                )
