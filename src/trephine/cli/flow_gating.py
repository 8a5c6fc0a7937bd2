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
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from trephine.cli import flow_options

if TYPE_CHECKING:
    from trephine.analysis.flow.strategy import GatingResult, Strategy
    from trephine.io.fcs import FcsFile


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `flow` group."""
    app.command("gate")(gate)
    app.command("mrd")(mrd)


def _refuse(message: str) -> typer.Exit:
    # The contract: exit code 2, one line on stderr, no traceback.
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(2)


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn Trephine's typed errors into the one-line refusal; echo warnings as one line each."""
    from trephine.errors import TrephineError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except TrephineError as exc:
            raise _refuse(str(exc)) from None
        except OSError as exc:
            raise _refuse(f"{exc.filename}: {exc.strerror}") from None
        finally:
            seen: set[str] = set()
            for w in caught:
                msg = " ".join(str(w.message).split())
                if msg not in seen and issubclass(w.category, UserWarning):
                    seen.add(msg)
                    typer.echo(f"warning: {msg}", err=True)


def _load(
    file: Path,
    gating_ml: Path | None,
    flowjo: Path | None,
    sample: str | None = None,
    dataset: int = 0,
) -> tuple[FcsFile, Strategy]:
    from trephine.io.fcs import read_fcs
    from trephine.io.gatingml import read_gatingml

    if flowjo is not None:
        if gating_ml is not None:
            raise _refuse("give one strategy: --gating-ml XML or --flowjo WSP --sample NAME")
        from trephine.cli.flow_plots import load_flowjo

        return load_flowjo(file, flowjo, sample)
    if gating_ml is None:
        raise _refuse("a gating strategy is required: --gating-ml XML")
    fcs = read_fcs(file, dataset=dataset)
    strategy = read_gatingml(gating_ml)
    return fcs, strategy


def _evaluate(fcs: FcsFile, strategy: Strategy, gate_ids: list[str] | None) -> GatingResult:
    from trephine.analysis.flow.strategy import FcsEvents, evaluate

    return evaluate(strategy, FcsEvents(fcs), gate_ids)


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
) -> None:
    """Gate an FCS file with a Gating-ML 2.0 strategy or a FlowJo workspace sample's gates."""
    with _refusals():
        fcs, strategy = _load(file, gating_ml, flowjo, sample, dataset=dataset)
        result = _evaluate(fcs, strategy, None)
        if membership is not None:
            _write_membership(membership, result)
    counts = result.counts()
    if as_json:
        doc = {
            "gates": {gid: {"count": counts[gid], "parent": result.parents[gid]} for gid in counts}
        }
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
    from decimal import Decimal, InvalidOperation

    from trephine.analysis.flow.mrd import (
        CRITERIA,
        Hemodilution,
        quantify_from_masks,
        with_limits,
    )
    from trephine.cli import flow_store

    if criteria.upper() not in CRITERIA:
        raise _refuse(f"--criteria: {criteria!r} is not allowed; allowed: {', '.join(CRITERIA)}")
    crit = CRITERIA[criteria.upper()]
    with _refusals():
        flow_store.check_options(specimen, store, method)
        if lod is not None or lloq is not None:
            crit = with_limits(
                crit,
                lod_events=lod if lod is not None else int(crit.lod_events.value),
                lloq_events=lloq if lloq is not None else int(crit.lloq_events.value),
            )
        from trephine.errors import ValidationError

        if (marrow_gate is None) != (min_marrow_percent is None):
            raise ValidationError(
                "--marrow-gate/--min-marrow-percent",
                (marrow_gate, min_marrow_percent),
                "both or neither",
            )
        threshold: Decimal | None = None
        if min_marrow_percent is not None:
            try:
                threshold = Decimal(min_marrow_percent) / 100
            except InvalidOperation:
                raise ValidationError(
                    "--min-marrow-percent", min_marrow_percent, "a number"
                ) from None
            if not threshold.is_finite() or threshold < 0:
                raise ValidationError("--min-marrow-percent", min_marrow_percent, ">= 0")
        fcs, strategy = _load(file, gating_ml, None, dataset=dataset)
        known = [g.id for g in strategy.gates]
        wanted = [("--denominator", denominator), ("--abnormal", abnormal)]
        if marrow_gate is not None:
            wanted.append(("--marrow-gate", marrow_gate))
        for role, gid in wanted:
            if gid not in known:
                raise ValidationError(role, gid, known, reason=f"no such gate in {gating_ml}")
        result = _evaluate(fcs, strategy, [gid for _, gid in wanted])
        hemo: Hemodilution | None = None
        if spicules is not None or marrow_gate is not None:
            marrow_events = (
                int(result.memberships[marrow_gate].sum()) if marrow_gate is not None else None
            )
            hemo = Hemodilution(
                spicules_present=spicules,
                marrow_events=marrow_events,
                min_marrow_fraction=threshold,
            )
        res = quantify_from_masks(
            result.memberships, denominator, abnormal, crit, hemodilution=hemo
        )
        stored = None
        if specimen is not None and method is not None and gating_ml is not None:
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
        f"  LOD {res.lod_events} events ({res.lod_fraction:.2e}), LLOQ {res.lloq_events} events "
        f"({res.lloq_fraction:.2e}) = sensitivity reached; target {res.target_sensitivity}"
    )
    for f in res.flags:
        typer.echo(f"  flag {f.code.value}: {f.message} [{f.rule}, {f.source} {f.tag}]")
    if stored is not None:
        flow_store.echo_summary(stored)
