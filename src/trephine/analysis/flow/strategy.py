"""Gating strategies (gate trees) and their evaluation over the events of one file.

A :class:`Strategy` holds gates (each with an id and a parent id), the transforms and spectrum
(compensation) matrices they refer to by id. It is the model both the Gating-ML 2.0 reader/writer
(:mod:`trephine.io.gatingml`) and a FlowJo workspace importer fill in.

:func:`apply_strategy` (the public name; "apply", not "evaluate", which is what
:func:`trephine.criteria.engine.evaluate` does with a rule set) computes every gate as a
boolean mask over the events:

* a column is the values of one :class:`~trephine.analysis.flow.gates.Dimension` - channel,
  compensated, optionally ratio'd, transformed - and is computed once per
  (compensation, transform, dimension) and shared by every gate that uses it;
* a gate's membership is its own region AND its parent's membership. When the parent holds few
  events (under a quarter of the file) the child's columns are computed for those events only,
  so deep gates in a hierarchy cost almost nothing; otherwise the full column is computed and
  cached for reuse;
* compensation is applied per needed output column (one row of the unmixing matrix), so a gate
  on CD45 never materialises the other compensated channels, and raw columns are read straight
  out of the reader's event matrix without a full float64 copy.

Only numpy is imported; this is the hot path measured by ``benchmarks/bench_flow_gating.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from trephine.analysis.flow.gates import (
    FCS_COMPENSATION,
    UNCOMPENSATED,
    BooleanGate,
    Dimension,
    Gate,
    QuadrantGate,
)
from trephine.analysis.flow.transforms import RatioTransform, Transform
from trephine.errors import Location, TrephineWarning, ValidationError

if TYPE_CHECKING:
    from trephine.analysis.flow.spillover import Spillover

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
#: Which events: an index array, a slice of rows, or ``None`` for all.
Rows = IntArray | slice | None

#: Rows per block when compensating a full column: the weighted sum of detector columns is
#: built block by block so its float64 temporaries stay small.
_BLOCK = 1 << 16

#: Below this fraction of all events, a child gate is evaluated on its parent's events only.
_SUBSET_FRACTION = 0.25


@dataclass(frozen=True)
class SpectrumMatrix:
    """A Gating-ML ``spectrumMatrix``: ``matrix[i, j]`` = share of fluorochrome ``i`` seen by
    detector ``j``. Compensated (unmixed) fluorochrome values are ``raw @ pinv(matrix)``; for a
    square matrix that is the usual ``raw @ inv(spillover)``. With ``inverted`` the matrix is
    already the detectors x fluorochromes compensation matrix."""

    id: str
    fluorochromes: tuple[str, ...]
    detectors: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]
    inverted: bool = False
    _unmixing: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        m = np.array(self.matrix, dtype=np.float64)
        want = (
            (len(self.detectors), len(self.fluorochromes))
            if self.inverted
            else (len(self.fluorochromes), len(self.detectors))
        )
        if m.shape != want:
            raise ValidationError(
                f"spectrumMatrix {self.id}", m.shape, f"{want[0]} x {want[1]} coefficients"
            )
        unmix: FloatArray
        if self.inverted:
            unmix = m
        elif m.shape[0] == m.shape[1]:
            try:
                unmix = np.asarray(np.linalg.inv(m), dtype=np.float64)
            except np.linalg.LinAlgError:
                raise ValidationError(
                    f"spectrumMatrix {self.id}", "singular", "an invertible matrix"
                ) from None
        else:
            unmix = np.asarray(np.linalg.pinv(m), dtype=np.float64)
        object.__setattr__(self, "_unmixing", unmix)

    def weights(self, fluorochrome: str) -> list[tuple[str, float]]:
        """``(detector, weight)`` pairs whose weighted sum is the compensated value."""
        j = self.fluorochromes.index(fluorochrome)
        col = self._unmixing[:, j]
        return [(d, float(w)) for d, w in zip(self.detectors, col, strict=True) if w != 0.0]


@dataclass(frozen=True)
class Strategy:
    """A gate tree plus the transforms and spectrum matrices its dimensions refer to."""

    gates: tuple[Gate, ...]
    transforms: Mapping[str, Transform | RatioTransform] = field(default_factory=dict)
    matrices: Mapping[str, SpectrumMatrix] = field(default_factory=dict)
    #: Quadrant containers as written in the source document (for export); their quadrants are
    #: in ``gates``.
    quadrant_gates: tuple[QuadrantGate, ...] = ()
    source: str | None = None

    def __post_init__(self) -> None:
        ids = [g.id for g in self.gates]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValidationError("gate id", dupes, "unique gate ids", location=self._loc())
        known = set(ids)
        for g in self.gates:
            if g.parent is not None and g.parent not in known:
                raise ValidationError(
                    f"gate {g.id}.parent_id", g.parent, sorted(known), location=self._loc()
                )
            if isinstance(g, BooleanGate):
                for ref in g.operands:
                    if ref.gate not in known:
                        raise ValidationError(
                            f"BooleanGate {g.id}.gateReference",
                            ref.gate,
                            sorted(known),
                            location=self._loc(),
                        )
            for dim in g.dimensions:
                self._check_dimension(g.id, dim)
        self.order()  # raises on cycles

    def _loc(self) -> Location | None:
        return Location(source=self.source) if self.source else None

    def _check_dimension(self, gate_id: str, dim: Dimension) -> None:
        comp = dim.compensation
        if comp not in (UNCOMPENSATED, FCS_COMPENSATION) and comp not in self.matrices:
            allowed = [UNCOMPENSATED, FCS_COMPENSATION, *sorted(self.matrices)]
            raise ValidationError(
                f"gate {gate_id} dimension {dim.label} compensation-ref",
                comp,
                allowed,
                location=self._loc(),
            )
        plain = sorted(k for k, t in self.transforms.items() if isinstance(t, Transform))
        if dim.transform is not None and not isinstance(
            self.transforms.get(dim.transform), Transform
        ):
            raise ValidationError(
                f"gate {gate_id} dimension {dim.label} transformation-ref",
                dim.transform,
                plain,
                location=self._loc(),
            )
        if dim.ratio is not None and not isinstance(self.transforms.get(dim.ratio), RatioTransform):
            ratios = sorted(k for k, t in self.transforms.items() if isinstance(t, RatioTransform))
            raise ValidationError(
                f"gate {gate_id} new-dimension transformation-ref",
                dim.ratio,
                ratios,
                location=self._loc(),
            )

    def gate(self, gate_id: str) -> Gate:
        for g in self.gates:
            if g.id == gate_id:
                return g
        raise ValidationError("gate", gate_id, [g.id for g in self.gates], location=self._loc())

    def order(self) -> list[Gate]:
        """Gates in an order where parents and boolean operands come first."""
        by_id = {g.id: g for g in self.gates}
        done: dict[str, bool] = {}
        out: list[Gate] = []

        def deps(g: Gate) -> list[str]:
            d = [g.parent] if g.parent is not None else []
            if isinstance(g, BooleanGate):
                d += [r.gate for r in g.operands]
            return d

        def visit(g: Gate, path: tuple[str, ...]) -> None:
            state = done.get(g.id)
            if state is True:
                return
            if state is False:
                cycle = " -> ".join((*path, g.id))
                raise ValidationError(
                    "gate hierarchy", cycle, "a tree without cycles", location=self._loc()
                )
            done[g.id] = False
            for dep in deps(g):
                visit(by_id[dep], (*path, g.id))
            done[g.id] = True
            out.append(g)

        for g in self.gates:
            visit(g, ())
        return out

    def channels(self) -> set[str]:
        """Every FCS channel the strategy reads (for checking a file before gating)."""
        out: set[str] = set()
        for g in self.gates:
            for dim in g.dimensions:
                out |= self._dimension_channels(dim)
        return out

    def _dimension_channels(self, dim: Dimension) -> set[str]:
        if dim.ratio is not None:
            r = self.transforms[dim.ratio]
            assert isinstance(r, RatioTransform)
            names = {r.numerator, r.denominator}
        else:
            assert dim.channel is not None
            names = {dim.channel}
        m = self.matrices.get(dim.compensation)
        if m is not None:
            out: set[str] = set()
            for n in names:
                out |= {d for d, _ in m.weights(n)} if n in m.fluorochromes else {n}
            return out
        return names


class EventSource(Protocol):
    """What gating needs from a file: scaled columns by channel name and its spillover."""

    @property
    def source(self) -> str: ...

    @property
    def event_count(self) -> int: ...

    def column(self, channel: str, idx: Rows) -> FloatArray:
        """Scaled values of ``channel`` for events ``idx`` (all when ``None``), float64."""
        ...

    def columns(self, channels: Sequence[str], idx: Rows) -> FloatArray:
        """Scaled values of several channels, events x channels, float64 (a new array)."""
        ...

    def spillover(self) -> tuple[Sequence[str], FloatArray] | None:
        """``(channels, matrix)`` of the file's own spillover, or ``None``."""
        ...


class FcsData(Protocol):
    """What :class:`FcsEvents` reads of a file (:class:`trephine.io.fcs.FcsFile` is one): the
    analysis layer names the shape it needs instead of importing the reader."""

    @property
    def path(self) -> str: ...

    @property
    def event_count(self) -> int: ...

    @property
    def channel_names(self) -> list[str]: ...

    @property
    def spillover(self) -> Spillover | None: ...

    def channel_index(self, name_or_marker: str) -> int: ...

    def scaled(self, columns: Sequence[int] | None = None, *, rows: Rows = None) -> FloatArray: ...


class ArrayEvents:
    """An :class:`EventSource` over an in-memory events x channels array (already scaled)."""

    def __init__(
        self,
        events: npt.ArrayLike,
        channels: Sequence[str],
        spillover: tuple[Sequence[str], npt.ArrayLike] | None = None,
        source: str = "<array>",
    ) -> None:
        self._events = np.asarray(events)
        if self._events.ndim != 2 or self._events.shape[1] != len(channels):
            raise ValidationError(
                "events", self._events.shape, f"events x {len(channels)} (one column per channel)"
            )
        self._channels = list(channels)
        self._spill = (
            None
            if spillover is None
            else (list(spillover[0]), np.asarray(spillover[1], dtype=np.float64))
        )
        self._source = source

    @property
    def source(self) -> str:
        return self._source

    @property
    def event_count(self) -> int:
        return int(self._events.shape[0])

    def column(self, channel: str, idx: Rows) -> FloatArray:
        j = _find_channel(channel, self._channels, self._source)
        col = self._events[:, j] if idx is None else self._events[idx, j]
        return np.array(col, dtype=np.float64)

    def columns(self, channels: Sequence[str], idx: Rows) -> FloatArray:
        js = [_find_channel(c, self._channels, self._source) for c in channels]
        block = self._events if idx is None else self._events[idx]
        return np.array(block[:, js], dtype=np.float64)

    def spillover(self) -> tuple[Sequence[str], FloatArray] | None:
        return self._spill


def _find_channel(name: str, channels: Sequence[str], source: str) -> int:
    try:
        return list(channels).index(name)
    except ValueError:
        raise ValidationError(
            "dimension",
            name,
            list(channels),
            location=Location(source=source),
            reason="the file has no such channel",
        ) from None


class FcsEvents:
    """An :class:`EventSource` over a file read by :func:`trephine.io.fcs.read_fcs`.

    Columns come from :meth:`FcsFile.scaled` ($PnE log decoding, $PnG gain, $TIMESTEP on the
    time channel) for the requested rows only: gating works on blocks and subsets of rows and
    must not make a float64 copy of whole columns it does not use.
    """

    def __init__(self, fcs: FcsData) -> None:
        self._f = fcs
        self._names = fcs.channel_names

    @property
    def source(self) -> str:
        return self._f.path

    @property
    def event_count(self) -> int:
        return self._f.event_count

    def _index(self, channel: str) -> int:
        if channel in self._names:
            return self._names.index(channel)
        try:
            return self._f.channel_index(channel)  # falls back to $PnS
        except ValidationError:
            raise ValidationError(
                "dimension",
                channel,
                self._names,
                location=Location(source=self._f.path),
                reason="the file has no such channel ($PnN or $PnS)",
            ) from None

    def column(self, channel: str, idx: Rows) -> FloatArray:
        out: FloatArray = self._f.scaled([self._index(channel)], rows=idx)[:, 0]
        return out

    def columns(self, channels: Sequence[str], idx: Rows) -> FloatArray:
        out: FloatArray = self._f.scaled([self._index(c) for c in channels], rows=idx)
        return out

    def spillover(self) -> tuple[Sequence[str], FloatArray] | None:
        s = self._f.spillover
        return None if s is None else (list(s.channels), np.asarray(s.matrix, dtype=np.float64))


@dataclass(frozen=True)
class GatingResult:
    """Membership of every gate, in event order, plus the tree it came from."""

    source: str
    event_count: int
    memberships: Mapping[str, BoolArray]
    parents: Mapping[str, str | None]

    def count(self, gate_id: str) -> int:
        if gate_id not in self.memberships:
            raise ValidationError("gate", gate_id, list(self.memberships))
        return int(np.count_nonzero(self.memberships[gate_id]))

    def counts(self) -> dict[str, int]:
        return {g: int(np.count_nonzero(m)) for g, m in self.memberships.items()}


class _Columns:
    """Computes dimension columns on demand; full-length ones are cached by dimension key."""

    def __init__(self, strategy: Strategy, events: EventSource) -> None:
        self.s = strategy
        self.ev = events
        self.n = events.event_count
        self.cache: dict[tuple[str, str, str], FloatArray] = {}
        self._fcs_matrix: SpectrumMatrix | None = None
        self._warned_no_spill = False

    def get(self, dim: Dimension, idx: IntArray | None) -> FloatArray:
        full = self.cache.get(dim.key)
        if full is not None:
            return full if idx is None else full[idx]
        col = self._compute(dim, idx)
        if idx is None:
            self.cache[dim.key] = col
        return col

    def prefetch(self, dims: Sequence[Dimension]) -> None:
        """Compute many full columns that share a compensation in one pass over the events.

        Each block of events is compensated for all requested channels at once (one small
        matrix product) and transformed before the next block is read, so the raw events are
        read once instead of once per channel and no compensated-but-untransformed copy of the
        whole column set is kept.
        """
        groups: dict[str, list[Dimension]] = {}
        for d in dims:
            if d.channel is None or d.key in self.cache:
                continue
            m = self._matrix(d.compensation)
            if m is None or d.channel not in m.fluorochromes:
                continue
            group = groups.setdefault(d.compensation, [])
            if d.key not in {g.key for g in group}:
                group.append(d)
        for comp, group in groups.items():
            m = self._matrix(comp)
            assert m is not None
            channels = list(dict.fromkeys(d.channel for d in group if d.channel is not None))
            used: dict[str, int] = {}
            for ch in channels:
                for det, _ in m.weights(ch):
                    used.setdefault(det, len(used))
            weights = np.zeros((len(used), len(channels)))
            for k, ch in enumerate(channels):
                for det, w in m.weights(ch):
                    weights[used[det], k] = w
            outs = [np.empty(self.n) for _ in group]
            transforms: list[Transform | None] = []
            for d in group:
                t = self.s.transforms[d.transform] if d.transform is not None else None
                assert t is None or isinstance(t, Transform)  # checked by Strategy
                transforms.append(t)
            col_of = [channels.index(d.channel) for d in group if d.channel is not None]
            for lo in range(0, self.n, _BLOCK):
                rows = slice(lo, min(lo + _BLOCK, self.n))
                block = self.ev.columns(list(used), rows)
                for out, t, k in zip(outs, transforms, col_of, strict=True):
                    values = _combine(block, weights[:, k])
                    out[rows] = values if t is None else t.apply(values)
            for d, out in zip(group, outs, strict=True):
                self.cache[d.key] = out

    def _matrix(self, comp: str) -> SpectrumMatrix | None:
        if comp == UNCOMPENSATED:
            return None
        if comp != FCS_COMPENSATION:
            return self.s.matrices[comp]
        if self._fcs_matrix is None:
            spill = self.ev.spillover()
            if spill is None:
                if not self._warned_no_spill:
                    warnings.warn(
                        f"{self.ev.source}: compensation-ref 'FCS' but the file has no spillover "
                        "matrix; values are used uncompensated",
                        TrephineWarning,
                        stacklevel=4,
                    )
                    self._warned_no_spill = True
                return None
            names, m = spill
            self._fcs_matrix = SpectrumMatrix(
                id=FCS_COMPENSATION,
                fluorochromes=tuple(names),
                detectors=tuple(names),
                matrix=tuple(tuple(float(v) for v in row) for row in m),
            )
        return self._fcs_matrix

    def _compensated(self, channel: str, comp: str, idx: IntArray | None) -> FloatArray:
        m = self._matrix(comp)
        if m is None or channel not in m.fluorochromes:
            # Channels the matrix does not cover (scatter, time) pass through unchanged.
            return self.ev.column(channel, idx)
        weights = m.weights(channel)
        if idx is not None:
            return self._weighted(weights, idx, idx.size)
        out = np.empty(self.n, dtype=np.float64)
        for lo in range(0, self.n, _BLOCK):
            rows = slice(lo, min(lo + _BLOCK, self.n))
            out[rows] = self._weighted(weights, rows, rows.stop - rows.start)
        return out

    def _weighted(self, weights: list[tuple[str, float]], rows: Rows, size: int) -> FloatArray:
        if not weights:  # an all-zero unmixing column: the dye is unobservable
            return np.zeros(size)
        block = self.ev.columns([d for d, _ in weights], rows)
        return _combine(block, [w for _, w in weights])

    def _compute(self, dim: Dimension, idx: IntArray | None) -> FloatArray:
        if dim.ratio is not None:
            r = self.s.transforms[dim.ratio]
            assert isinstance(r, RatioTransform)
            col = r.apply(
                self._compensated(r.numerator, dim.compensation, idx),
                self._compensated(r.denominator, dim.compensation, idx),
            )
        else:
            assert dim.channel is not None
            col = self._compensated(dim.channel, dim.compensation, idx)
        if dim.transform is not None:
            t = self.s.transforms[dim.transform]
            assert isinstance(t, Transform)
            col = t.apply(col)
        return col


def _combine(block: FloatArray, weights: Sequence[float] | FloatArray) -> FloatArray:
    """``block @ weights`` for one output column, as a plain weighted sum of columns.

    Not a BLAS call on purpose: BLAS threads on small blocks cost more than they save (10x
    slower on a busy 2-core machine), and a fixed left-to-right summation order gives the same
    value for an event whichever block or subset it is computed in.
    """
    out: FloatArray | None = None
    for i, w in enumerate(weights):
        if w == 0.0:
            continue
        term = block[:, i] * w
        if out is None:
            out = term
        else:
            out += term
    return out if out is not None else np.zeros(block.shape[0])


def dimension_values(
    strategy: Strategy, events: EventSource, dims: Sequence[Dimension]
) -> list[FloatArray]:
    """Compensated (and transformed) values of each dimension for all events, as gating sees
    them; dimensions sharing a (compensation, transform, channel) share one array."""
    for dim in dims:
        strategy._check_dimension("<values>", dim)
    cols = _Columns(strategy, events)
    cols.prefetch(dims)
    return [cols.get(d, None) for d in dims]


def apply_strategy(
    strategy: Strategy, events: EventSource, gate_ids: Iterable[str] | None = None
) -> GatingResult:
    """Apply the strategy (or only ``gate_ids`` and what they depend on) on ``events``."""
    order = strategy.order()
    if gate_ids is not None:
        wanted = set(gate_ids)
        for gid in wanted:
            strategy.gate(gid)  # raises a ValidationError naming the known gates
        needed: set[str] = set()
        stack = list(wanted)
        while stack:
            g = strategy.gate(stack.pop())
            if g.id in needed:
                continue
            needed.add(g.id)
            if g.parent is not None:
                stack.append(g.parent)
            if isinstance(g, BooleanGate):
                stack += [r.gate for r in g.operands]
        order = [g for g in order if g.id in needed]
    # Every channel must exist before any work is done, so a refusal names the first bad one.
    for g in order:
        for dim in g.dimensions:
            for ch in strategy._dimension_channels(dim):
                try:
                    events.column(ch, np.zeros(0, dtype=np.intp))
                except ValidationError as exc:
                    raise ValidationError(
                        f"gate {g.id} dimension",
                        ch,
                        exc.allowed,
                        location=Location(source=events.source),
                        reason="the file has no such channel",
                    ) from None
    cols = _Columns(strategy, events)
    n = events.event_count
    masks: dict[str, BoolArray] = {}
    for g in order:
        parent = masks[g.parent] if g.parent is not None else None
        if isinstance(g, BooleanGate):
            mask = g.combine([masks[r.gate] for r in g.operands])
            if parent is not None:
                mask &= parent
        else:
            idx: IntArray | None = None
            if parent is not None:
                k = int(np.count_nonzero(parent))
                if k < _SUBSET_FRACTION * n:
                    idx = np.flatnonzero(parent)
            columns = [cols.get(d, idx) for d in g.dimensions]
            inside = g.contains(columns)
            if idx is not None:
                mask = np.zeros(n, dtype=bool)
                mask[idx] = inside
            else:
                mask = inside
                if parent is not None:
                    mask &= parent
        masks[g.id] = mask
    return GatingResult(
        source=events.source,
        event_count=n,
        memberships={g.id: masks[g.id] for g in strategy.gates if g.id in masks},
        parents={g.id: g.parent for g in strategy.gates if g.id in masks},
    )
