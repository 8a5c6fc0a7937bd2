"""``trephine flow workspace`` and ``trephine flow plot`` (see :mod:`trephine.cli.flow`).

* ``trephine flow workspace WSP [--sample NAME] [--json]`` - the samples of a FlowJo 10
  workspace (FCS file, events, compensation, populations); with ``--sample`` the population tree
  of that sample with FlowJo's stored counts.
* ``trephine flow plot FILE (--gating-ml XML | --flowjo WSP --sample NAME) --out DIR
  [--format png|svg] [--gate ID ...]`` - one density plot per gate with the gate drawn.

Both read a FlowJo sample with :func:`trephine.importers.flow_mrd.load_flowjo`, as ``trephine
flow gate --flowjo`` does. Refusals follow the flow CLI contract: exit code 2, one line on
stderr, no traceback. numpy, the readers, the gating engine and matplotlib are imported inside
the commands so ``trephine --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from trephine.cli.common import refusals, refuse


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `flow` group."""
    app.command("workspace")(workspace)
    app.command("plot")(plot)


def workspace(
    wsp: Path = typer.Argument(..., help="FlowJo 10 workspace (.wsp)."),
    sample: str | None = typer.Option(None, "--sample", help="Show this sample's populations."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the samples of a FlowJo workspace, or one sample's populations and FlowJo counts."""
    from trephine.io.flowjo import describe, read_workspace

    with refusals():
        ws = read_workspace(wsp)
        chosen = [ws.sample(sample)] if sample is not None else list(ws.samples)
    if as_json:
        doc = {
            "workspace": str(wsp),
            "flowjo_version": ws.flowjo_version,
            "groups": {k: list(v) for k, v in ws.groups.items()},
            "samples": [describe(s) for s in chosen],
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"{wsp}: FlowJo {ws.flowjo_version or '?'}, {len(ws.samples)} sample(s)")
    for s in chosen:
        comp = s.compensation.id if s.compensation is not None else "none"
        events = f"{s.event_count:,}" if s.event_count is not None else "?"
        typer.echo(
            f"  {s.name}  file={s.fcs_name or '?'}  events={events}  compensation={comp}  "
            f"populations={len(s.populations)}"
        )
        if sample is None:
            continue
        for p in s.populations:
            depth = p.path.count("/") if p.parent is not None else 0
            if p.count is None:
                count = "not written"
            else:
                count = "not computed" if p.count == -1 else f"{p.count:,}"
            on = f" on {', '.join(p.on)}" if p.on else ""
            typer.echo(f"    {'  ' * depth}{p.name}  [{p.kind}{on}]  FlowJo count {count}")


def plot(
    file: Path = typer.Argument(..., help="FCS file to plot."),
    gating_ml: Path | None = typer.Option(
        None, "--gating-ml", help="Gating-ML 2.0 document with the strategy."
    ),
    flowjo: Path | None = typer.Option(None, "--flowjo", help="FlowJo 10 workspace (.wsp)."),
    sample: str | None = typer.Option(None, "--sample", help="Sample name in the workspace."),
    out: Path = typer.Option(..., "--out", help="Directory to write the figures to."),
    fmt: str = typer.Option("png", "--format", help="png or svg."),
    gate: list[str] | None = typer.Option(None, "--gate", help="Only this gate id (repeatable)."),
) -> None:
    """Density plots of each gate's parent population with the gate drawn, one file per gate.

    Boolean gates (no geometry) and gates on more than two dimensions are not drawn."""
    if fmt not in ("png", "svg"):
        raise refuse(f"--format: {fmt!r} is not allowed; allowed: png, svg")
    if (gating_ml is None) == (flowjo is None):
        raise refuse("give exactly one strategy: --gating-ml XML or --flowjo WSP --sample NAME")
    with refusals():
        from trephine.analysis.flow.plots import plot_strategy
        from trephine.analysis.flow.strategy import FcsEvents
        from trephine.importers.flow_mrd import load_tube

        fcs, strategy = load_tube(file, gating_ml=gating_ml, flowjo=flowjo, sample=sample)
        markers = {c.name: c.marker for c in fcs.channels}
        plots = plot_strategy(
            strategy,
            FcsEvents(fcs),
            out,
            "svg" if fmt == "svg" else "png",
            markers=markers,
            gate_ids=gate or None,
        )
    skipped = len(strategy.gates) - len(plots) if not gate else 0
    for p in plots:
        share = f"{100.0 * p.count / p.parent_count:.2f} %" if p.parent_count else "-"
        typer.echo(f"{p.path}  {p.gate_id}  {p.count:,} events ({share} of parent)")
    note = (
        f" ({skipped} gate(s) not drawn: boolean gates have no geometry, and only 1-D and 2-D "
        "gates can be plotted)"
        if skipped
        else ""
    )
    typer.echo(f"{len(plots)} figure(s) written to {out}{note}")
