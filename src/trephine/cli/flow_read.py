"""``trephine flow info``: what an FCS file holds (see :mod:`trephine.cli.flow`).

numpy and the reader are imported inside the command so that ``trephine --help`` stays fast.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from trephine.io.fcs import FcsFile


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `flow` group."""
    app.command("info")(info)


def info(
    file: Path = typer.Argument(..., help="FCS/LMD file to describe."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    dataset: int = typer.Option(0, "--dataset", min=0, help="Data set (0-based, $NEXTDATA)."),
) -> None:
    """Show version, events, channels, data sets and spillover of an FCS file."""
    from trephine.errors import FileQuirkWarning, TrephineError
    from trephine.io.fcs import read_fcs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FileQuirkWarning)
        try:
            # Metadata only: a 2M-event tube is described without decoding 100 MB of events.
            fcs = read_fcs(file, dataset=dataset, events=False)
        except TrephineError as exc:
            # The contract: exit code 2, one line on stderr, no traceback.
            typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
            raise typer.Exit(2) from None
    quirks = [str(w.message) for w in caught if issubclass(w.category, FileQuirkWarning)]
    summary = describe(fcs, quirks)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print_table(summary)


def describe(fcs: FcsFile, quirks: list[str]) -> dict[str, Any]:
    """The JSON document of ``trephine flow info --json``."""
    spill = fcs.spillover
    return {
        "file": fcs.path,
        "version": fcs.version,
        "dataset": fcs.dataset,
        "datasets": fcs.dataset_count,
        "events": fcs.event_count,
        "datatype": fcs.text.get("$DATATYPE", "").strip(),
        "byteorder": fcs.text.get("$BYTEORD", "").strip(),
        "channels": [
            {
                "index": c.index,
                "name": c.name,
                "marker": c.marker,
                "bits": c.bits,
                "range": c.range,
                "amplification": [c.amp_decades, c.amp_offset],
                "gain": c.gain,
            }
            for c in fcs.channels
        ],
        "spillover": None if spill is None else spill.to_dict(),
        "quirks": [q.split(": ", 1)[-1] for q in quirks],
    }


def _print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{summary['file']}[/bold]  {summary['version']}  "
        f"data set {summary['dataset'] + 1} of {summary['datasets']}  "
        f"{summary['events']:,} events x {len(summary['channels'])} channels  "
        f"$DATATYPE {summary['datatype']}  $BYTEORD {summary['byteorder']}"
    )
    table = Table("n", "$PnN", "$PnS", "$PnB", "$PnR", "$PnE", "$PnG")
    for c in summary["channels"]:
        table.add_row(
            str(c["index"]),
            c["name"],
            c["marker"] or "",
            str(c["bits"]),
            f"{c['range']:.10g}",
            ",".join(f"{v:g}" for v in c["amplification"]),
            f"{c['gain']:g}",
        )
    console.print(table)
    spill = summary["spillover"]
    if spill is None:
        console.print("spillover: none")
    else:
        st = Table("spillover", *spill["channels"])
        for name, row in zip(spill["channels"], spill["matrix"], strict=True):
            st.add_row(name, *(f"{v:.4f}" for v in row))
        console.print(st)
    for q in summary["quirks"]:
        console.print(f"[yellow]quirk:[/yellow] {q}")
