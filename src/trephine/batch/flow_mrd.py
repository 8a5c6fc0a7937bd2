"""One flow tube in a batch: read -> gate (-> quantify MRD), returning a small record.

:func:`process_tube` is what each Dask task runs, for both batch commands:

* ``batch flow-mrd`` (:class:`MrdSettings`): the one tube pipeline that ``trephine flow mrd``
  runs too (:mod:`trephine.importers.flow_mrd`: read, gate only the gates needed, quantify), so
  a batch row and a single-file run of the same tube agree to the last digit;
* ``batch flow-gate`` (:class:`GateSettings`): what ``trephine flow gate`` does to one file
  (read, count every gate), for tubes with no MRD question - an immune panel whose gated
  populations are stored (``--store-populations``).
The event arrays never leave the task: the record is a few hundred bytes, so nothing large
crosses the network between workers and the client.

A bad tube never raises out of :func:`process_tube`: the error becomes the record's one-line
``error`` (with the error's type), so one corrupt file cannot stop a day's batch.

Planning (:func:`plan_gatingml`, :func:`plan_flowjo`) happens once, on the client: the gating
document is parsed and the gate ids checked before any tube is read, so a typo in
``--abnormal`` is one usage error, not a hundred failed rows.
"""

from __future__ import annotations

import glob
import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from trephine.errors import Location, TrephineError, TrephineWarning, ValidationError
from trephine.importers.flow_mrd import (
    gate,
    missing_gate,
    quantify_and_count,
    sha256_of,
    warn_if_not_the_samples_file,
)
from trephine.importers.flow_populations import GatePlan, gates_counted, plan_populations

if TYPE_CHECKING:
    from trephine.analysis.flow.mrd import MrdCriteria, MrdResult
    from trephine.analysis.flow.strategy import Strategy
    from trephine.io.fcs import FcsFile

#: File name endings taken from a directory (FCS files carry no other reliable mark).
FCS_SUFFIXES = (".fcs", ".lmd")


@dataclass(frozen=True)
class MrdSettings:
    """What every tube of the batch is asked: the gates and the criteria set, and (with
    ``--store-populations``) the gates to store as populations (``GATE``/``GATE=population``,
    :func:`trephine.importers.flow_populations.parse_gate_list`) with the CD45+ gate."""

    denominator: str
    abnormal: str
    criteria: MrdCriteria
    populations: tuple[tuple[str, str | None], ...] = ()
    total_gate: str | None = None


@dataclass(frozen=True)
class GateSettings:
    """A batch of ``flow gate``: every gate of each tube counted, no MRD; with
    ``--store-populations`` the gates to store (as in :class:`MrdSettings`)."""

    populations: tuple[tuple[str, str | None], ...] = ()
    total_gate: str | None = None


#: What every tube of a batch is asked: MRD (``batch flow-mrd``) or the gate counts only.
Settings = MrdSettings | GateSettings

#: :attr:`TubeRecord.kind` of the two batches (the rows' columns, the Excel sheet's name).
MRD_KIND = "flow MRD"
GATE_KIND = "flow gate"


def kind_of(settings: Settings) -> str:
    return MRD_KIND if isinstance(settings, MrdSettings) else GATE_KIND


@dataclass(frozen=True)
class TubeTask:
    """One tube to process. ``problem`` is an error found while planning (the tube is then not
    read at all, e.g. a file the FlowJo workspace has no sample for)."""

    path: str
    strategy: Strategy | None
    sample: str | None = None
    #: FlowJo's recorded event count for the sample, to warn about a mismatched file.
    expected_events: int | None = None
    problem: str | None = None
    #: the populations to count in this tube, checked against its strategy while planning
    plans: tuple[GatePlan, ...] = ()


@dataclass(frozen=True)
class TubeRecord:
    """The outcome for one tube: a result or a one-line error, never both."""

    file: str
    sha256: str | None = None
    events: int | None = None
    sample: str | None = None
    result: MrdResult | None = None
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    #: with ``--specimens``: the specimen accession and what happened to the result there
    specimen: str | None = None
    stored: str | None = None
    #: with ``--store-populations``: the event count of every gate the populations need
    gate_counts: dict[str, int] | None = None
    #: ... and what was stored (as ``flow gate --json`` reports ``stored.populations``)
    populations: tuple[dict[str, object], ...] = ()
    #: ``batch flow-gate``: every gate's ``(id, count, parent id)``, in the strategy's order
    gates: tuple[tuple[str, int, str | None], ...] | None = None
    #: ``"flow MRD"`` or ``"flow gate"``: which batch made the record (its row's columns)
    kind: str = MRD_KIND

    @property
    def ok(self) -> bool:
        return self.error is None

    def row(self) -> dict[str, object]:
        """The flat row of the CSV/Excel output (one per file; empty cells on failure): the
        file's columns, the gates (``flow gate``) or the MRD result (``flow MRD``), then the
        outcome's columns."""
        head: dict[str, object] = {
            "file": self.file,
            "sha256": self.sha256,
            "sample": self.sample,
            "events": self.events,
        }
        if self.kind == GATE_KIND:
            body: dict[str, object] = {
                "gates": "; ".join(f"{g} {n}" for g, n, _ in self.gates or ()) or None
            }
        else:
            r = self.result
            body = {
                "denominator_gate": r.denominator_gate if r else None,
                "abnormal_gate": r.abnormal_gate if r else None,
                "denominator_events": r.denominator_events if r else None,
                "abnormal_events": r.abnormal_events if r else None,
                "mrd_percent": r.mrd_percent if r else None,
                "lod_events": r.lod_events if r else None,
                "lloq_events": r.lloq_events if r else None,
                "lod_fraction": r.lod_fraction if r else None,
                "sensitivity_reached": r.sensitivity_reached if r else None,
                "target_sensitivity": r.target_sensitivity if r else None,
                "call": r.call.value if r else None,
                "flags": ";".join(r.flag_codes) if r else None,
            }
        return {
            **head,
            **body,
            "warnings": " | ".join(self.warnings) or None,
            "seconds": round(self.seconds, 3),
            "specimen": self.specimen,
            "stored": self.stored,
            "populations": "; ".join(_population_text(p) for p in self.populations) or None,
            "error_type": self.error_type,
            "error": self.error,
        }

    def to_dict(self) -> dict[str, object]:
        """JSON view: the flat row plus the full result (as ``trephine flow mrd --json``), or
        for ``batch flow-gate`` the gates as ``trephine flow gate --json`` gives them."""
        doc: dict[str, object] = {
            k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.row().items()
        }
        doc["warnings"] = list(self.warnings)
        if self.kind == GATE_KIND:
            doc["gates"] = (
                None
                if self.gates is None
                else {g: {"count": n, "parent": parent} for g, n, parent in self.gates}
            )
        else:
            doc["result"] = self.result.to_dict() if self.result is not None else None
        doc["populations"] = [_jsonable(p) for p in self.populations]
        return doc


def _population_text(p: dict[str, object]) -> str:
    share = p["percent_of_parent"]
    text = share["text"] if isinstance(share, dict) else share
    return f"{p['population']} {p['count']}/{p['parent_count']} = {text} of {p['parent']}"


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value) if isinstance(value, Decimal) else value


@dataclass
class _Clock:
    start: float = field(default_factory=time.perf_counter)

    def __call__(self) -> float:
        return time.perf_counter() - self.start


def one_line(exc: BaseException) -> str:
    """An error as one line (messages such as ImportRejected's span several)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__


def process_tube(task: TubeTask, settings: Settings) -> TubeRecord:
    """Read, gate and (with :class:`MrdSettings`) quantify one tube; every failure becomes the
    record's error."""
    clock = _Clock()
    kind = kind_of(settings)
    if task.problem is not None or task.strategy is None:
        return TubeRecord(
            file=task.path,
            sample=task.sample,
            error=_naming(task.path, task.problem or "no gating strategy for this file"),
            error_type="ValidationError",
            kind=kind,
        )
    digest: str | None = None
    events: int | None = None
    result: MrdResult | None = None
    every: tuple[tuple[str, int, str | None], ...] | None = None
    with _captured_warnings() as seen:
        # Tolerated file quirks are warnings: keep them on the row so the lab sees them.
        try:
            digest = sha256_of(task.path)
            fcs = _read(task)
            events = fcs.event_count
            if isinstance(settings, MrdSettings):
                result, counts = quantify_and_count(
                    fcs,
                    task.strategy,
                    settings.denominator,
                    settings.abnormal,
                    settings.criteria,
                    counted=gates_counted(task.plans),
                )
            else:
                # `flow gate`: every gate of the strategy, counted in one pass.
                gated = gate(task.strategy, fcs, None)
                counts = gated.counts()
                every = tuple((g, n, gated.parents[g]) for g, n in counts.items())
            error: BaseException | None = None
        except Exception as exc:
            # Refusals (TrephineError, OSError), MemoryError and defects alike: one tube must
            # not end the batch. They are told apart in the message below.
            error, result, counts = exc, None, {}
    if error is None:
        return TubeRecord(
            file=task.path,
            sha256=digest,
            events=events,
            sample=task.sample,
            result=result,
            gate_counts=counts if task.plans else None,
            gates=every,
            warnings=tuple(seen),
            seconds=clock(),
            kind=kind,
        )
    message = _naming(task.path, one_line(error))
    if isinstance(error, MemoryError):
        message = f"{task.path}: out of memory while processing this tube"
    elif not isinstance(error, (TrephineError, OSError)):
        # Not a refusal of the input but a defect: say so, so nobody "fixes" the file.
        message = f"{task.path}: internal error ({type(error).__name__}: {one_line(error)})"
    return TubeRecord(
        file=task.path,
        sha256=digest,
        events=events,
        sample=task.sample,
        warnings=tuple(seen),
        seconds=clock(),
        error=message,
        error_type=type(error).__name__,
        kind=kind,
    )


_local = threading.local()


def _show(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    sink: list[str] | None = getattr(_local, "sink", None)
    if sink is None:
        _original_show(message, category, filename, lineno, file, line)
        return
    msg = " ".join(str(message).split())
    if issubclass(category, UserWarning) and msg not in sink:
        sink.append(msg)


_original_show = warnings.showwarning


@contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """The UserWarnings raised in THIS thread while inside, de-duplicated, in order.

    Not ``warnings.catch_warnings``: it swaps process-wide state, so two tubes on worker threads
    (``--threads``) would record each other's warnings, and overlapping exits would leave the
    process's warnings going to a dead list. A per-thread sink behind one ``showwarning`` hook
    keeps each row's warnings its own.
    """
    global _original_show
    if warnings.showwarning is not _show:
        # (Re)install: something (a test runner) may have restored its own hook meanwhile.
        _original_show = warnings.showwarning
        warnings.showwarning = _show
    # Every tube must report its quirks, not only the first one from each code location.
    warnings.filterwarnings("always", category=TrephineWarning)
    sink: list[str] = []
    _local.sink = sink
    try:
        yield sink
    finally:
        _local.sink = None


def _naming(path: str, message: str) -> str:
    # Errors about a tube's content (e.g. an empty denominator gate) need not name the file;
    # in a batch every line must.
    return message if path in message else f"{path}: {message}"


def _read(task: TubeTask) -> FcsFile:
    from trephine.io.fcs import read_fcs

    fcs = read_fcs(task.path)
    warn_if_not_the_samples_file(fcs, task.expected_events, task.sample)
    return fcs


# --------------------------------------------------------------------------- planning


def expand_inputs(inputs: Sequence[str]) -> list[Path]:
    """Files named by the arguments, sorted by path, each once.

    A directory gives its FCS files (``*.fcs``/``*.lmd``, any case, not recursive); an argument
    with ``*``, ``?`` or ``[`` is a glob (for quoted patterns, and shells that do not expand);
    anything else must be an existing file. An argument that names nothing is an error - a
    mistyped directory must not pass as "nothing to do".
    """
    found: dict[str, Path] = {}
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            hits = [c for c in p.iterdir() if c.is_file() and c.suffix.lower() in FCS_SUFFIXES]
            if not hits:
                raise ValidationError(
                    "inputs",
                    arg,
                    "a directory with FCS files (*.fcs, *.lmd), FCS files or a glob",
                    reason="the directory has no FCS files",
                )
        elif glob.has_magic(arg):
            hits = [Path(h) for h in glob.glob(arg, recursive=True) if Path(h).is_file()]
            if not hits:
                raise ValidationError(
                    "inputs", arg, "a glob matching files", reason="matches no file"
                )
        elif p.is_file():
            hits = [p]
        else:
            raise ValidationError(
                "inputs", arg, "an FCS file, a directory or a glob", reason="not found"
            )
        for h in hits:
            found.setdefault(os.path.normpath(os.path.abspath(h)), h)
    return [found[k] for k in sorted(found)]


def _missing(strategy: Strategy, settings: Settings, source: str) -> ValidationError | None:
    """The first MRD gate the strategy lacks (``batch flow-gate`` asks for none)."""
    if not isinstance(settings, MrdSettings):
        return None
    return missing_gate(
        strategy,
        [("denominator_gate", settings.denominator), ("abnormal_gate", settings.abnormal)],
        source,
    )


def check_gates(strategy: Strategy, settings: Settings, source: str) -> str | None:
    """The first missing gate as a one-line refusal, or ``None``."""
    problem = _missing(strategy, settings, source)
    return None if problem is None else str(problem)


def population_plans(strategy: Strategy, settings: Settings, source: str) -> tuple[GatePlan, ...]:
    """The populations ``settings`` asks for, checked against this strategy's gate tree (the
    single-file command's :func:`~trephine.importers.flow_populations.plan_populations`)."""
    if not settings.populations:
        return ()
    tree = {g.id: g.parent for g in strategy.gates}
    plans = plan_populations(
        settings.populations, tree, total_gate=settings.total_gate, source=source
    )
    return tuple(plans)


def plan_gatingml(paths: Sequence[Path], gating_ml: Path, settings: Settings) -> list[TubeTask]:
    """One task per file, all with the strategy of ``gating_ml`` (gates checked up front)."""
    from trephine.io.gatingml import read_gatingml

    strategy = read_gatingml(gating_ml)
    missing = _missing(strategy, settings, str(gating_ml))
    if missing is not None:
        # The same document gates every tube: a missing gate fails the whole batch, once.
        raise missing
    # So does a population gate that is missing or maps to no population.
    plans = population_plans(strategy, settings, str(gating_ml))
    return [TubeTask(path=str(p), strategy=strategy, plans=plans) for p in paths]


def plan_flowjo(paths: Sequence[Path], wsp: Path, settings: Settings) -> list[TubeTask]:
    """One task per file with the gates of the workspace sample whose FCS file it is.

    Samples are matched by FCS file name (``DataSet@uri``), as FlowJo links them. A file with no
    sample, or a sample without the gates, becomes that row's error - workspaces routinely
    hold tubes gated differently, and the others should still be quantified.
    """
    from trephine.io.flowjo import read_workspace

    ws = read_workspace(wsp)
    tasks: list[TubeTask] = []
    for p in paths:
        named = [s for s in ws.samples if s.fcs_name == p.name]
        if len(named) != 1:
            reason = (
                "no sample of the workspace uses this file"
                if not named
                else ("several samples use this file: " + ", ".join(s.name for s in named))
            )
            problem = str(
                ValidationError(
                    "FCS file",
                    p.name,
                    sorted({s.fcs_name or s.name for s in ws.samples}) or "(no samples)",
                    reason=reason,
                    location=Location(source=str(wsp)),
                )
            )
            tasks.append(TubeTask(path=str(p), strategy=None, problem=problem))
            continue
        s = named[0]
        source = f"{wsp} sample {s.name!r}"
        missing = check_gates(s.strategy, settings, source)
        plans: tuple[GatePlan, ...] = ()
        if missing is None:
            # A sample gated without a population's gate: that tube's row error (nothing of
            # it is quantified or stored); the other samples' tubes run.
            try:
                plans = population_plans(s.strategy, settings, source)
            except ValidationError as exc:
                missing = str(exc)
        tasks.append(
            TubeTask(
                path=str(p),
                strategy=s.strategy if missing is None else None,
                sample=s.name,
                expected_events=s.event_count
                if s.event_count is not None and s.event_count >= 0
                else None,
                problem=missing,
                plans=plans,
            )
        )
    return tasks


# --------------------------------------------------------------------------- specimens


def read_specimen_map(path: Path, files: Sequence[Path]) -> dict[str, str]:
    """``{file path: specimen accession}`` for every file, from a CSV with ``file`` and
    ``specimen`` columns (``file`` is the FCS file's name, as instruments export lists).

    Strict, because a result stored on the wrong specimen is worse than none: every input file
    must be listed exactly once, names must be unique among the inputs, and a listed file that
    is not an input is an error too (a stale or mistyped list).
    """
    import csv

    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            "specimen_map", source, "a UTF-8 CSV file", location=Location(source, offset=exc.start)
        ) from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in ("file", "specimen") if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(
            "header",
            reader.fieldnames,
            "columns file, specimen",
            location=Location(source, row=1),
            reason=f"missing {', '.join(missing)}",
        )
    by_name: dict[str, Path] = {}
    for f in files:
        if f.name in by_name:
            raise ValidationError(
                "specimen_map",
                f.name,
                "input files with distinct names",
                reason=f"both {by_name[f.name]} and {f} are inputs; the map cannot tell them apart",
            )
        by_name[f.name] = f
    mapping: dict[str, str] = {}
    for n, row in enumerate(reader, start=2):
        name = (row.get("file") or "").strip()
        acc = (row.get("specimen") or "").strip()
        if not name and not acc:
            continue
        loc = Location(source, row=n)
        if name not in by_name:
            raise ValidationError(
                "file", name, sorted(by_name), location=loc, reason="not one of the input files"
            )
        if not acc:
            raise ValidationError("specimen", acc, "a specimen accession", location=loc)
        key = str(by_name[name])
        if key in mapping:
            raise ValidationError(
                "file", name, "each file once", location=loc, reason="listed twice"
            )
        mapping[key] = acc
    unlisted = [str(f) for f in files if str(f) not in mapping]
    if unlisted:
        raise ValidationError(
            "specimen_map",
            source,
            "a specimen for every input file",
            reason=f"no specimen for {', '.join(unlisted)}",
        )
    return mapping
