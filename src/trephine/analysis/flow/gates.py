"""Gate model (Gating-ML 2.0 semantics) and the vectorized region tests.

A gate is a frozen value object naming its id, its parent gate id (or ``None``) and the
:class:`Dimension` axes it is drawn on. Each dimension names a channel (``$PnN``) or a ratio
transform, the compensation it is read after (``"uncompensated"``, ``"FCS"`` for the file's own
spillover, or the id of a spectrum matrix of the strategy) and an optional transform id. The
gates only *test regions*: given the already compensated and transformed columns of their
dimensions (float arrays, one value per event), ``contains`` returns a boolean mask. Fetching,
compensating, transforming and caching columns, and combining masks along the hierarchy, is
:mod:`trephine.analysis.flow.strategy`'s job.

Boundary conventions (Gating-ML 2.0, section 5): a rectangle/range dimension includes its
``min`` and excludes its ``max`` (either may be absent: open-ended); a polygon uses the even-odd
(crossing-number) rule with half-open edges, so of two polygons sharing an edge an event on it
belongs to exactly one; an ellipsoid includes its boundary (``(x-m)' C^-1 (x-m) <= D^2``); a
quadrant divider with values ``v1 < v2 < ...`` splits its axis into ``(-inf, v1)``,
``[v1, v2)``, ..., ``[vk, inf)``. Events with a NaN coordinate (e.g. ``flog`` of a value <= 0)
are in no region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from trephine.errors import ValidationError

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: Events per block in the polygon test.
_BLOCK = 1 << 16

UNCOMPENSATED = "uncompensated"
FCS_COMPENSATION = "FCS"


@dataclass(frozen=True)
class Dimension:
    """One axis of a gate: which values, after which compensation and transform.

    Exactly one of ``channel`` (an FCS ``$PnN``, or a fluorochrome name of a spectrum matrix) and
    ``ratio`` (the id of a :class:`~trephine.analysis.flow.transforms.RatioTransform`) is set.
    """

    channel: str | None = None
    compensation: str = UNCOMPENSATED
    transform: str | None = None
    ratio: str | None = None

    def __post_init__(self) -> None:
        if (self.channel is None) == (self.ratio is None):
            raise ValidationError(
                "dimension", (self.channel, self.ratio), "exactly one of channel or ratio"
            )

    @property
    def label(self) -> str:
        """Human-readable name used in messages (``FL1-H``, ``ratio:FL2Rat1``)."""
        return self.channel if self.channel is not None else f"ratio:{self.ratio}"

    @property
    def key(self) -> tuple[str, str, str]:
        """Cache key: columns are shared by every gate with the same (compensation, transform,
        dimension)."""
        return (self.compensation, self.transform or "", self.label)


@dataclass(frozen=True)
class Gate:
    """Base of all gates: an id and the id of the parent population (``None`` = all events)."""

    id: str
    parent: str | None

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return ()

    def contains(self, columns: Sequence[FloatArray]) -> BoolArray:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class RectangleGate(Gate):
    """A rectangle (hyper-rectangle) or, with one dimension, a range gate.

    ``bounds[i]`` is ``(min, max)`` of dimension ``i``; ``None`` leaves that side open.
    """

    dims: tuple[Dimension, ...] = ()
    bounds: tuple[tuple[float | None, float | None], ...] = ()

    def __post_init__(self) -> None:
        if not self.dims or len(self.dims) != len(self.bounds):
            raise ValidationError(
                f"RectangleGate {self.id}.dimension", len(self.dims), "one (min, max) per dimension"
            )
        for dim, (lo, hi) in zip(self.dims, self.bounds, strict=True):
            if lo is None and hi is None:
                raise ValidationError(
                    f"RectangleGate {self.id}.{dim.label}", "(no min, no max)", "min and/or max"
                )
            if lo is not None and hi is not None and not lo <= hi:
                raise ValidationError(
                    f"RectangleGate {self.id}.{dim.label}.max", hi, f">= min ({lo})"
                )

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return self.dims

    def contains(self, columns: Sequence[FloatArray]) -> BoolArray:
        mask: BoolArray | None = None
        for col, (lo, hi) in zip(columns, self.bounds, strict=True):
            # min inclusive, max exclusive (Gating-ML 2.0 §5.3.1); NaN compares False.
            part: BoolArray
            if lo is not None and hi is not None:
                part = col >= lo
                part &= col < hi
            elif lo is not None:
                part = col >= lo
            else:
                assert hi is not None  # checked in __post_init__
                part = col < hi
            if mask is None:
                mask = part
            else:
                mask &= part
        assert mask is not None
        return mask


@dataclass(frozen=True)
class PolygonGate(Gate):
    """A polygon on two dimensions, even-odd rule; ``vertices`` in the dimensions' scale."""

    dims: tuple[Dimension, ...] = ()
    vertices: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if len(self.dims) != 2:
            raise ValidationError(f"PolygonGate {self.id}.dimension", len(self.dims), "2")
        if len(self.vertices) < 3:
            raise ValidationError(
                f"PolygonGate {self.id}.vertex", len(self.vertices), "at least 3 vertices"
            )

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return self.dims

    def contains(self, columns: Sequence[FloatArray]) -> BoolArray:
        x, y = columns
        out = np.empty(x.shape, dtype=bool)
        # Blocks keep the per-edge temporaries in the CPU cache (the test is memory-bound on
        # whole 2M-event columns) and the peak memory small.
        for lo in range(0, x.size, _BLOCK):
            hi = lo + _BLOCK
            out[lo:hi] = self._contains_block(x[lo:hi], y[lo:hi])
        return out

    def _contains_block(self, x: FloatArray, y: FloatArray) -> BoolArray:
        vx = [v[0] for v in self.vertices]
        vy = [v[1] for v in self.vertices]
        # Only events inside the bounding box can be inside (NaN fails these comparisons).
        box = (x >= min(vx)) & (x <= max(vx)) & (y >= min(vy)) & (y <= max(vy))
        nbox = int(np.count_nonzero(box))
        if nbox == 0:
            return box
        sub = nbox < box.size // 2
        if sub:
            idx = np.flatnonzero(box)
            px, py = x[idx], y[idx]
        else:
            px, py = x, y
        inside = np.zeros(px.shape, dtype=bool)
        on_edge: BoolArray | None = None
        above = [py >= v for v in vy]  # shared by the two edges meeting at each vertex
        n = len(vx)
        for i in range(n):
            k = (i + 1) % n
            x1, y1, x2, y2 = vx[i], vy[i], vx[k], vy[k]
            # Orientation of the event against the edge, as a cross product rather than a
            # division: an event exactly on the edge gives exactly 0 in the common cases
            # (axis-parallel and diagonal edges), which a computed intersection x does not.
            side = (x2 - x1) * (py - y1)
            side -= (px - x1) * (y2 - y1)
            zero = side == 0
            if zero.any():
                # Events on the boundary belong to the gate (as in the compliance truth).
                on = zero & (px >= min(x1, x2)) & (px <= max(x1, x2))
                on &= (py >= min(y1, y2)) & (py <= max(y1, y2))
                on_edge = on if on_edge is None else on_edge | on
            if y1 == y2:
                continue  # a horizontal edge never crosses a horizontal ray
            # Half-open in y so a ray through a vertex counts the two edges once in total; the
            # ray to +x crosses when the event lies left of an upward edge (side > 0) or right
            # of a downward one.
            crosses = above[i] != above[k]
            crosses &= (side > 0) if y2 > y1 else (side < 0)
            inside ^= crosses
        if on_edge is not None:
            inside |= on_edge
        if not sub:
            inside &= box
            return inside
        box[idx] = inside
        return box


@dataclass(frozen=True)
class EllipsoidGate(Gate):
    """``(x - mean)' inv(covariance) (x - mean) <= distance_square`` on n dimensions."""

    dims: tuple[Dimension, ...] = ()
    mean: tuple[float, ...] = ()
    covariance: tuple[tuple[float, ...], ...] = ()
    distance_square: float = 1.0
    _inverse: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.dims)
        if n < 2 or len(self.mean) != n or len(self.covariance) != n:
            raise ValidationError(
                f"EllipsoidGate {self.id}",
                (n, len(self.mean), len(self.covariance)),
                "n >= 2 dimensions, an n-vector mean and an n x n covariance matrix",
            )
        if any(len(row) != n for row in self.covariance):
            raise ValidationError(
                f"EllipsoidGate {self.id}.covarianceMatrix",
                [len(row) for row in self.covariance],
                f"{n} rows of {n} entries",
            )
        cov = np.array(self.covariance, dtype=np.float64)
        if cov.shape != (n, n):
            raise ValidationError(f"EllipsoidGate {self.id}.covarianceMatrix", cov.shape, (n, n))
        try:
            inv = np.linalg.inv(cov)
        except np.linalg.LinAlgError:
            raise ValidationError(
                f"EllipsoidGate {self.id}.covarianceMatrix", "singular", "an invertible matrix"
            ) from None
        if not self.distance_square > 0:
            raise ValidationError(
                f"EllipsoidGate {self.id}.distanceSquare", self.distance_square, "> 0"
            )
        object.__setattr__(self, "_inverse", inv)

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return self.dims

    def contains(self, columns: Sequence[FloatArray]) -> BoolArray:
        centred = [col - m for col, m in zip(columns, self.mean, strict=True)]
        inv = self._inverse
        dist = np.zeros(centred[0].shape, dtype=np.float64)
        for i, ci in enumerate(centred):
            for j, cj in enumerate(centred):
                dist += inv[i, j] * ci * cj
        return dist <= self.distance_square


@dataclass(frozen=True)
class Divider:
    """One axis of a quadrant gate, cut at ``values`` (ascending)."""

    id: str
    dim: Dimension
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values or list(self.values) != sorted(self.values):
            raise ValidationError(f"divider {self.id}.value", self.values, "ascending, >= 1 value")


@dataclass(frozen=True)
class Quadrant(Gate):
    """One population of a quadrant gate: for each referenced divider, the interval that holds
    ``location`` (a representative point, as Gating-ML writes quadrants)."""

    quadrant_gate: str = ""
    dividers: tuple[Divider, ...] = ()
    locations: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.dividers or len(self.dividers) != len(self.locations):
            raise ValidationError(
                f"Quadrant {self.id}.position", len(self.locations), "one location per divider"
            )

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return tuple(d.dim for d in self.dividers)

    def intervals(self) -> tuple[tuple[float | None, float | None], ...]:
        """The ``[lo, hi)`` interval of each divider that this quadrant covers."""
        out: list[tuple[float | None, float | None]] = []
        for div, loc in zip(self.dividers, self.locations, strict=True):
            lo: float | None = None
            hi: float | None = None
            for v in div.values:
                if loc >= v:
                    lo = v
                else:
                    hi = v
                    break
            out.append((lo, hi))
        return tuple(out)

    def contains(self, columns: Sequence[FloatArray]) -> BoolArray:
        mask: BoolArray | None = None
        for col, (lo, hi) in zip(columns, self.intervals(), strict=True):
            # ~isnan keeps NaN coordinates out of the open-ended lowest interval too.
            part = ~np.isnan(col) if lo is None else col >= lo
            if hi is not None:
                part &= col < hi
            mask = part if mask is None else mask & part
        assert mask is not None
        return mask


class BooleanOp(StrEnum):
    AND = "and"
    OR = "or"
    NOT = "not"


@dataclass(frozen=True)
class GateReference:
    gate: str
    complement: bool = False


@dataclass(frozen=True)
class BooleanGate(Gate):
    """``and``/``or`` of two or more gates (each optionally complemented), or ``not`` of one.

    Operands are the referenced gates' full memberships (their own parents included).
    """

    op: BooleanOp = BooleanOp.AND
    operands: tuple[GateReference, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.operands)
        if self.op is BooleanOp.NOT and n != 1:
            raise ValidationError(f"BooleanGate {self.id}.not", n, "exactly 1 operand")
        if self.op is not BooleanOp.NOT and n < 2:
            raise ValidationError(f"BooleanGate {self.id}.{self.op}", n, "2 or more operands")

    def combine(self, masks: Sequence[BoolArray]) -> BoolArray:
        terms = [~m if ref.complement else m for m, ref in zip(masks, self.operands, strict=True)]
        if self.op is BooleanOp.NOT:
            return ~terms[0]
        out = terms[0].copy()
        for t in terms[1:]:
            if self.op is BooleanOp.AND:
                out &= t
            else:
                out |= t
        return out


@dataclass(frozen=True)
class QuadrantGate:
    """The container Gating-ML writes: dividers plus named quadrants. Only the quadrants are
    populations (gates); this object is kept so export can write the document back as it was."""

    id: str
    parent: str | None
    dividers: tuple[Divider, ...]
    quadrants: tuple[Quadrant, ...]
