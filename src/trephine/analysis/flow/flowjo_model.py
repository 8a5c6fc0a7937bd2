"""FlowJo 10 semantics that the Gating-ML 2.0 model does not have.

A FlowJo workspace (read by :mod:`trephine.io.flowjo`) becomes an ordinary
:class:`~trephine.analysis.flow.strategy.Strategy`; these few pieces fill the gaps:

* :class:`FlowJoLog` - FlowJo's ``log`` transform (``offset``, ``decades``). Unlike Gating-ML's
  ``flog`` it does not leave values at or below zero undefined: FlowJo pins everything below
  ``offset`` to the bottom of the axis, so such events stay gateable.
* :class:`FlowJoLinear` - FlowJo's ``linear`` display scale from ``minRange`` to ``maxRange``
  mapped to 0..1. Gating-ML's ``flin`` cannot express a positive ``minRange`` (its ``A`` is
  an offset added, not a minimum), and FlowJo does write one (e.g. for ``Time``).
* :class:`OutsideGate` - a region gate with FlowJo's ``eventsInside="0"``: the population is
  the events of the parent *outside* the region.

FlowJo's ``biex`` is :class:`~trephine.analysis.flow.transforms.FlowJoBiex`, its ``logicle`` and
``fasinh`` are the Gating-ML transforms. Only numpy is imported (gating hot path).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trephine.analysis.flow.gates import BooleanGate, Dimension, Gate, Quadrant
from trephine.analysis.flow.transforms import Transform
from trephine.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FlowJoLog(Transform):
    """FlowJo ``log``: ``(log10(max(x, offset)) - log10(offset)) / decades``.

    ``offset`` is the lowest value shown (the axis minimum), ``decades`` the axis length; the
    axis maximum ``offset * 10**decades`` maps to 1.
    """

    offset: float = 1.0
    decades: float = 4.5

    def __post_init__(self) -> None:
        if not (self.offset > 0 and math.isfinite(self.offset)):
            raise ValidationError("log.offset", self.offset, "a finite number > 0")
        if not (self.decades > 0 and math.isfinite(self.decades)):
            raise ValidationError("log.decades", self.decades, "a finite number > 0")

    def apply(self, x: npt.ArrayLike) -> FloatArray:
        arr = np.asarray(x, dtype=np.float64)
        # NaN stays NaN (no region contains it); everything else below offset is pinned.
        clipped = np.where(arr < self.offset, self.offset, arr)
        out: FloatArray = (np.log10(clipped) - math.log10(self.offset)) / self.decades
        return out

    def inverse(self, y: npt.ArrayLike) -> FloatArray:
        out: FloatArray = self.offset * np.power(
            10.0, np.asarray(y, dtype=np.float64) * self.decades
        )
        return out


@dataclass(frozen=True)
class FlowJoLinear(Transform):
    """FlowJo ``linear``: the axis ``min_range..max_range`` mapped to ``0..1``.

    FlowJo also writes a ``gain``; it only rescales the axis labels, and since membership is
    invariant under a per-axis affine map it does not change any gate, so it is not modelled.
    """

    min_range: float = 0.0
    max_range: float = 262144.0

    def __post_init__(self) -> None:
        lo, hi = self.min_range, self.max_range
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValidationError(
                "linear.maxRange", (lo, hi), "finite minRange < maxRange", reason="empty axis"
            )

    def apply(self, x: npt.ArrayLike) -> FloatArray:
        out: FloatArray = (np.asarray(x, dtype=np.float64) - self.min_range) / (
            self.max_range - self.min_range
        )
        return out

    def inverse(self, y: npt.ArrayLike) -> FloatArray:
        out: FloatArray = (
            np.asarray(y, dtype=np.float64) * (self.max_range - self.min_range) + self.min_range
        )
        return out


@dataclass(frozen=True)
class OutsideGate(Gate):
    """The events *outside* ``region`` (FlowJo's ``eventsInside="0"``), within the parent.

    ``region`` is a parentless region gate (rectangle, polygon, ellipsoid) on the same
    dimensions; it is not itself a population of the strategy.
    """

    region: Gate | None = None

    def __post_init__(self) -> None:
        if self.region is None or isinstance(self.region, BooleanGate | Quadrant):
            raise ValidationError(
                f"OutsideGate {self.id}.region",
                type(self.region).__name__,
                "a rectangle, polygon or ellipsoid gate",
            )

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        assert self.region is not None
        return self.region.dimensions

    def contains(self, columns: Sequence[FloatArray]) -> BoolArray:
        assert self.region is not None
        inside = self.region.contains(columns)
        # An event with a NaN coordinate is in no region, and so not "outside" it either.
        defined = np.ones(inside.shape, dtype=bool)
        for col in columns:
            defined &= ~np.isnan(col)
        out: BoolArray = ~inside & defined
        return out
