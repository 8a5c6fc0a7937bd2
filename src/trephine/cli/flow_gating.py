"""``trephine flow gate`` and ``trephine flow mrd`` (see :mod:`trephine.cli.flow`).

Contract (used by external checks, keep it exactly):

* ``trephine flow gate FILE --gating-ml XML [--json] [--membership OUT.npz]`` - with ``--json``,
  ``{"gates": {GATE_ID: {"count": N, "parent": PARENT_ID_or_null}}}``; ``--membership`` writes one
  boolean array per gate id, in event order (an ``.npz`` as ``np.savez_compressed`` writes it).
* ``trephine flow mrd FILE --gating-ml XML --denominator GATE --abnormal GATE [--json]``.
* Refusals: exit code 2, one line on stderr naming the file, gate or dimension; no traceback.

numpy, the reader and the gating engine are imported inside the commands so ``trephine --help``
stays fast; the gating path itself imports only numpy and the standard library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from trephine.cli import flow_options
from trephine.cli.common import refusals, refuse

if TYPE_CHECKING:
    from trephine.analysis.flow.strategy import GatingResult


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `flow` group."""
    app.command("gate")(gate)
    app.command("mrd")(mrd)


def _write_membership(path: Path, result: GatingResult) -> None:
    """Write the masks in ``.npz`` format (what ``np.savez_compressed`` produces).

    Written through ``zipfile`` because gate ids are arbitrary strings: ``savez_compressed``
    takes them as keyword arguments, so an id such as ``file`` would collide with its own
    parameters.
    """
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for gid, mask in result.memberships.items():
            with zf.open(f"{gid}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(mask, dtype=bool))


def gate(
    file: Path = typer.Argument(..., help="FCS file to gate."),
    gating_ml: Path | None = typer.Option(
        None, "--gating-ml", help="Gating-ML 2.0 document with the strategy."
    ),
    flowjo: Path | None = typer.Option(
        None, "--flowjo", help="FlowJo 10 workspace (.wsp); with --sample."
    ),
    sample: str | None = typer.Option(None, "--sample", help="Sample name in the workspace."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON counts per gate."),
    membership: Path | None = typer.Option(
        None, "--membership", help="Write one boolean array per gate id (.npz)."
    ),
    dataset: int = typer.Option(
        0, "--dataset", min=0, help="Data set of the FCS file (0-based, $NEXTDATA; Gating-ML)."
    ),
    store_populations: str | None = typer.Option(
        None,
        "--store-populations",
        help="Store these gates as draft population results: GATE[,GATE=population…].",
    ),
    specimen: str | None = typer.Option(
        None, "--specimen", help="Specimen accession the populations are stored on."
    ),
    total_gate: str | None = typer.Option(
        None, "--total-gate", help="The CD45+ gate (default: the ancestor gate naming CD45+)."
    ),
    panel: str | None = typer.Option(None, "--panel", help="Panel name to record."),
    actor: str | None = typer.Option(None, "--actor", help="Who records it (audit trail)."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database URL (default: TREPHINE_DATABASE_URL)."
    ),
) -> None:
    """Gate an FCS file with a Gating-ML 2.0 strategy or a FlowJo workspace sample's gates.

    With ``--store-populations GATE,… --specimen ACC`` the named gates are recorded as draft
    ``population`` results (count, parent, % of parent and of CD45+ with 95 % Wilson intervals,
    the FCS file's SHA-256); a gate whose name is not a population of the vocabulary is mapped
    with ``GATE=population``.
    """
    from trephine.cli import flow_populations
    from trephine.importers import flow_mrd as tube

    if gating_ml is None and flowjo is None:
        raise refuse("a gating strategy is required: --gating-ml XML")
    if gating_ml is not None and flowjo is not None:
        raise refuse("give one strategy: --gating-ml XML or --flowjo WSP --sample NAME")
    with refusals():
        flow_populations.check_options(store_populations, specimen)
        fcs, strategy = tube.load_tube(
            file, gating_ml=gating_ml, flowjo=flowjo, sample=sample, dataset=dataset
        )
        result = tube.gate(strategy, fcs, None)
        if membership is not None:
            _write_membership(membership, result)
        stored = None
        if store_populations is not None and specimen is not None:
            stored = flow_populations.store_populations(
                result,
                gates=store_populations,
                fcs_path=file,
                gating_path=gating_ml or flowjo,
                specimen=specimen,
                total_gate=total_gate,
                panel=panel,
                actor=actor,
                database_url=database_url,
            )
    counts = result.counts()
    if as_json:
        doc: dict[str, object] = {
            "gates": {gid: {"count": counts[gid], "parent": result.parents[gid]} for gid in counts}
        }
        if stored is not None:
            doc["stored"] = {"specimen": specimen, "populations": stored}
        typer.echo(json.dumps(doc, indent=2))
        return
    total = result.event_count
    typer.echo(f"{fcs.path}: {total:,} events")
    width = max(len(g) for g in counts)
    for gid, n in counts.items():
        parent = result.parents[gid]
        base = counts[parent] if parent is not None else total
        share = f"{100.0 * n / base:6.2f} % of {parent or 'all events'}" if base else "-"
        typer.echo(f"  {gid:<{width}}  {n:>10,}  {share}")
    if stored is not None and specimen is not None:
        flow_populations.echo_stored(specimen, stored)


def mrd(
    file: Path = typer.Argument(..., help="FCS file of the MRD tube."),
    gating_ml: Path | None = typer.Option(
        None, "--gating-ml", help="Gating-ML 2.0 document with the strategy."
    ),
    denominator: str = flow_options.DENOMINATOR,
    abnormal: str = flow_options.ABNORMAL,
    criteria: str = flow_options.CRITERIA,
    lod: int | None = flow_options.LOD,
    lloq: int | None = flow_options.LLOQ,
    spicules: bool | None = typer.Option(
        None, "--spicules/--no-spicules", help="Aspirate particles seen (haemodilution, §8)."
    ),
    marrow_gate: str | None = typer.Option(
        None, "--marrow-gate", help="Gate of a marrow-restricted population (e.g. CD117+)."
    ),
    min_marrow_percent: str | None = typer.Option(
        None, "--min-marrow-percent", help="Site threshold for --marrow-gate, % of denominator."
    ),
    dataset: int = typer.Option(0, "--dataset", min=0, help="Data set (0-based, $NEXTDATA)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    specimen: str | None = typer.Option(
        None, "--specimen", help="Specimen accession to record the result on (with --store)."
    ),
    store: bool = typer.Option(
        False, "--store", help="Record it as a DRAFT flow MRD result on --specimen."
    ),
    method: str | None = typer.Option(
        None, "--method", help="MRD method, required with --specimen: LAIP, DfN, LAIP+DfN."
    ),
    panel: str | None = typer.Option(None, "--panel", help="Panel name to record."),
    actor: str | None = typer.Option(None, "--actor", help="Who records it (audit trail)."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database URL (default: TREPHINE_DATABASE_URL)."
    ),
) -> None:
    """Quantify MRD: abnormal events / denominator events with LOD, LLOQ, call and flags.

    With ``--specimen ACC --store --method M`` the result (with the FCS file name and SHA-256
    and the gating document's SHA-256) is recorded as a draft on that specimen."""
    from trephine.cli import flow_store
    from trephine.errors import ValidationError
    from trephine.importers import flow_mrd as tube
    from trephine.present.numbers import format_value

    with refusals():
        crit = tube.criteria_for(criteria, lod, lloq)
    with refusals():
        flow_store.check_options(specimen, store, method)
        if (marrow_gate is None) != (min_marrow_percent is None):
            raise ValidationError(
                "--marrow-gate/--min-marrow-percent",
                (marrow_gate, min_marrow_percent),
                "both or neither",
            )
        threshold = tube.marrow_threshold(min_marrow_percent)
        if gating_ml is None:
            raise refuse("a gating strategy is required: --gating-ml XML")
        fcs, strategy = tube.load_tube(file, gating_ml=gating_ml, dataset=dataset)
        res = tube.quantify(
            fcs,
            strategy,
            denominator,
            abnormal,
            crit,
            source=str(gating_ml),
            marrow_gate=marrow_gate,
            spicules=spicules,
            min_marrow_fraction=threshold,
        )
        stored = None
        if specimen is not None and method is not None:
            stored = flow_store.store_result(
                res,
                fcs_path=file,
                gating_path=gating_ml,
                specimen=specimen,
                method=method,
                panel=panel,
                store=store,
                actor=actor,
                database_url=database_url,
            )
    if as_json:
        doc = {"file": fcs.path, **res.to_dict()}
        if stored is not None:
            doc["stored"] = stored
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"{fcs.path}: {res.criteria}")
    typer.echo(
        f"  MRD {res.mrd_percent:.4g} %  ({res.abnormal_events:,} {abnormal} / "
        f"{res.denominator_events:,} {denominator})  call: {res.call.value}"
    )
    typer.echo(
        f"  LOD {res.lod_events} events ({format_value(res.lod_fraction)}), LLOQ "
        f"{res.lloq_events} events ({format_value(res.lloq_fraction)}) = sensitivity reached; "
        f"target {format_value(res.target_sensitivity)}"
    )
    for f in res.flags:
        typer.echo(f"  flag {f.code.value}: {f.message} [{f.rule}, {f.source} {f.tag}]")
    if stored is not None:
        flow_store.echo_summary(stored)
