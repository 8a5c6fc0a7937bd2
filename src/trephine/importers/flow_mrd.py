"""Flow MRD from one FCS tube: the one pipeline ``trephine flow mrd`` and ``batch/`` both run.

1. :func:`criteria_for` - the MRD criteria set by name, with the laboratory's LOD/LLOQ.
2. :func:`load_tube` - read the FCS file and the gating strategy (Gating-ML, or a FlowJo
   workspace sample with :func:`load_flowjo`, warning when the file is not the sample's).
3. :func:`check_gates` / :func:`missing_gate` - every gate asked for exists in the strategy.
4. :func:`quantify` - gate only the gates needed, then LOD/LLOQ, call and flags
   (:func:`quantify_and_count` also counts the gates whose populations a batch stores).
5. :func:`flow_mrd_value` - the domain :class:`~trephine.domain.results.FlowMRD` to store, with
   the file's and the gating document's :func:`sha256_of`.

Errors name domain fields (``denominator_gate``, ``abnormal_gate``, ``marrow_gate``,
``criteria``, ``sample``); the CLI maps them to its options (:mod:`trephine.cli.common`).
numpy and the readers are imported inside the functions: the CLI imports this module while
deciding what to do, and must stay fast.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from trephine.errors import TrephineWarning, ValidationError

if TYPE_CHECKING:
    from trephine.analysis.flow.mrd import MrdCriteria, MrdResult
    from trephine.analysis.flow.strategy import GatingResult, Strategy
    from trephine.domain.results import FlowMethod, FlowMRD
    from trephine.io.fcs import FcsFile

#: How the stored value is measured (the ``--method`` of ``flow mrd``).
METHODS = ("LAIP", "DfN", "LAIP+DfN")
_HUNDRED = 100


def sha256_of(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (hex), read in blocks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def criteria_for(name: str, lod: int | None = None, lloq: int | None = None) -> MrdCriteria:
    """The criteria set called ``name`` (AML, ALL, CLL, MM; any case), with the laboratory's
    LOD and LLOQ in events when given (the other limit stays the set's)."""
    from trephine.analysis.flow.mrd import criteria_sets, with_limits

    sets = criteria_sets()
    if name.upper() not in sets:
        raise ValidationError("criteria", name, list(sets))
    crit = sets[name.upper()]
    if lod is not None or lloq is not None:
        crit = with_limits(
            crit,
            lod_events=lod if lod is not None else int(crit.lod_events.value),
            lloq_events=lloq if lloq is not None else int(crit.lloq_events.value),
        )
    return crit


def warn_if_not_the_samples_file(
    fcs: FcsFile, expected_events: int | None, sample: str | None, workspace: str | None = None
) -> None:
    """Warn when FlowJo recorded another event count for the sample than the file has: gating
    the wrong file gives plausible but meaningless counts."""
    if expected_events is None or expected_events < 0 or expected_events == fcs.event_count:
        return
    where = f" of {workspace}" if workspace is not None else ""
    warnings.warn(
        f"{fcs.path}: {fcs.event_count} events, but FlowJo recorded {expected_events} for "
        f"sample {sample!r}{where} (is this the sample's FCS file?)",
        TrephineWarning,
        stacklevel=3,
    )


def load_flowjo(file: str | Path, wsp: str | Path, sample: str | None) -> tuple[FcsFile, Strategy]:
    """Read ``file`` and the strategy of ``sample`` in the FlowJo workspace ``wsp``."""
    from trephine.io.fcs import read_fcs
    from trephine.io.flowjo import read_workspace

    ws = read_workspace(wsp)
    if sample is None:
        # No sample named: the workspace's only sample, or the one sample made from this FCS
        # file (FlowJo links them by file name); anything else is ambiguous.
        same_file = [x for x in ws.samples if x.fcs_name == Path(file).name]
        chosen = ws.samples if len(ws.samples) == 1 else tuple(same_file)
        if len(chosen) != 1:
            raise ValidationError(
                "sample",
                None,
                ws.sample_names or "(the workspace has no samples)",
                reason=f"{Path(wsp).name} has {len(ws.samples)} samples, {len(same_file)} of "
                f"them made from {Path(file).name}; name the one to take the gates from",
            )
        s = chosen[0]
    else:
        s = ws.sample(sample)
    fcs = read_fcs(file)
    if s.event_count is not None and s.event_count >= 0 and s.event_count != fcs.event_count:
        warnings.warn(
            f"{fcs.path}: {fcs.event_count} events, but FlowJo recorded {s.event_count} for "
            f"sample {s.name!r} of {wsp} (is this the sample's FCS file, {s.fcs_name}?)",
            TrephineWarning,
            stacklevel=2,
        )
    return fcs, s.strategy


def load_tube(
    file: str | Path,
    *,
    gating_ml: str | Path | None = None,
    flowjo: str | Path | None = None,
    sample: str | None = None,
    dataset: int = 0,
) -> tuple[FcsFile, Strategy]:
    """The FCS file and its gating strategy: a Gating-ML document, or a FlowJo sample's gates."""
    from trephine.io.fcs import read_fcs
    from trephine.io.gatingml import read_gatingml

    if (gating_ml is None) == (flowjo is None):
        raise ValidationError(
            "strategy", None, "one gating strategy: a Gating-ML document or a FlowJo workspace"
        )
    if flowjo is not None:
        return load_flowjo(file, flowjo, sample)
    assert gating_ml is not None
    return read_fcs(file, dataset=dataset), read_gatingml(gating_ml)


def missing_gate(
    strategy: Strategy, wanted: Sequence[tuple[str, str]], source: str
) -> ValidationError | None:
    """The first ``(field, gate id)`` of ``wanted`` the strategy lacks, as an error, or None."""
    known = [g.id for g in strategy.gates]
    for field, gid in wanted:
        if gid not in known:
            return ValidationError(field, gid, known, reason=f"no such gate in {source}")
    return None


def check_gates(strategy: Strategy, wanted: Sequence[tuple[str, str]], source: str) -> None:
    """Refuse when a gate of ``wanted`` (``(field, gate id)`` pairs) is not in the strategy."""
    problem = missing_gate(strategy, wanted, source)
    if problem is not None:
        raise problem


def gate(strategy: Strategy, fcs: FcsFile, gate_ids: Sequence[str] | None) -> GatingResult:
    """Gate the tube: only ``gate_ids`` (and their ancestors), or every gate when None."""
    from trephine.analysis.flow.strategy import FcsEvents, apply_strategy

    return apply_strategy(strategy, FcsEvents(fcs), list(gate_ids) if gate_ids else None)


def marrow_threshold(min_marrow_percent: str | None) -> Decimal | None:
    """A site's minimum marrow-restricted population, given in % of the denominator."""
    from decimal import InvalidOperation

    if min_marrow_percent is None:
        return None
    try:
        threshold = Decimal(min_marrow_percent) / 100
    except InvalidOperation:
        raise ValidationError("min_marrow_percent", min_marrow_percent, "a number") from None
    if not threshold.is_finite() or threshold < 0:
        raise ValidationError("min_marrow_percent", min_marrow_percent, ">= 0")
    return threshold


def quantify(
    fcs: FcsFile,
    strategy: Strategy,
    denominator: str,
    abnormal: str,
    criteria: MrdCriteria,
    *,
    source: str | None = None,
    marrow_gate: str | None = None,
    spicules: bool | None = None,
    min_marrow_fraction: Decimal | None = None,
) -> MrdResult:
    """Gate the tube (only the gates needed) and quantify MRD with LOD, LLOQ, call and flags.

    With ``source`` (the strategy's file) the gates are checked first; with ``marrow_gate`` or
    ``spicules`` the haemodilution checks run too."""
    result, _ = quantify_and_count(
        fcs,
        strategy,
        denominator,
        abnormal,
        criteria,
        source=source,
        marrow_gate=marrow_gate,
        spicules=spicules,
        min_marrow_fraction=min_marrow_fraction,
    )
    return result


def quantify_and_count(
    fcs: FcsFile,
    strategy: Strategy,
    denominator: str,
    abnormal: str,
    criteria: MrdCriteria,
    *,
    counted: Sequence[str] = (),
    source: str | None = None,
    marrow_gate: str | None = None,
    spicules: bool | None = None,
    min_marrow_fraction: Decimal | None = None,
) -> tuple[MrdResult, dict[str, int]]:
    """:func:`quantify`, and in the same gating pass the event counts of the ``counted`` gates
    (the populations a batch stores, :func:`trephine.importers.flow_populations.gates_counted`)."""
    from trephine.analysis.flow.mrd import Hemodilution, quantify_from_masks

    wanted = [("denominator_gate", denominator), ("abnormal_gate", abnormal)]
    if marrow_gate is not None:
        wanted.append(("marrow_gate", marrow_gate))
    wanted.extend(("gate", gid) for gid in counted)
    if source is not None:
        check_gates(strategy, wanted, source)
    result = gate(strategy, fcs, list(dict.fromkeys(gid for _, gid in wanted)))
    hemo: Hemodilution | None = None
    if spicules is not None or marrow_gate is not None:
        marrow_events = (
            int(result.memberships[marrow_gate].sum()) if marrow_gate is not None else None
        )
        hemo = Hemodilution(
            spicules_present=spicules,
            marrow_events=marrow_events,
            min_marrow_fraction=min_marrow_fraction,
        )
    mrd = quantify_from_masks(
        result.memberships, denominator, abnormal, criteria, hemodilution=hemo
    )
    return mrd, {gid: result.count(gid) for gid in counted}


def flow_mrd_value(
    res: MrdResult,
    method: FlowMethod,
    *,
    source_file: str,
    source_sha256: str,
    gating_sha256: str,
    panel: str | None = None,
) -> FlowMRD:
    """The domain value of one quantification: MRD in % of the denominator (e.g. CD45+), with
    LOD/LLOQ of this acquisition in %, "not detected" below the LOD, and the flags."""
    from trephine.domain.quantity import Qualifier, Quantity
    from trephine.domain.results import FlowMRD

    lod = res.lod_fraction * _HUNDRED
    lloq = res.lloq_fraction * _HUNDRED
    if res.detected:
        mrd = Quantity(res.mrd_percent, "%", Qualifier.EXACT, lod=lod, lloq=lloq)
    else:
        mrd = Quantity(None, "%", Qualifier.NOT_DETECTED, lod=lod, lloq=lloq)
    return FlowMRD(
        mrd,
        method,
        events_acquired=res.denominator_events,
        abnormal_events=res.abnormal_events,
        panel=panel,
        flags=res.flag_codes,
        source_file=source_file,
        source_sha256=source_sha256,
        gating_sha256=gating_sha256,
    )


def tube_value(
    res: MrdResult,
    *,
    fcs_path: str | Path,
    gating_path: str | Path,
    method: str,
    panel: str | None,
) -> FlowMRD:
    """:func:`flow_mrd_value` for a tube read from ``fcs_path`` and gated by ``gating_path``."""
    from trephine.domain.results import FlowMethod

    return flow_mrd_value(
        res,
        FlowMethod(method),
        source_file=Path(fcs_path).name,
        source_sha256=sha256_of(fcs_path),
        gating_sha256=sha256_of(gating_path),
        panel=panel,
    )
