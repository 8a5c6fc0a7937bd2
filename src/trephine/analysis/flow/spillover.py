"""The spillover matrix: how much of each dye's signal each detector sees.

One definition, here in the analysis layer that computes with it (compensation, gating); the
readers in :mod:`trephine.io` fill it in - from an FCS file's ``$SPILLOVER`` keyword
(:mod:`trephine.io.fcs`, which re-exports it) or from a matrix file
(:func:`trephine.io.spillover.read_spillover_matrix`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trephine.errors import ValidationError

__all__ = ["Spillover"]


@dataclass(frozen=True, eq=False)
class Spillover:
    """A spillover matrix: ``matrix[i, j]`` is the fraction of dye *i*'s signal seen in detector
    *j* (rows = stained dye/primary detector, columns = detector), over ``channels`` ($PnN)."""

    channels: list[str]
    matrix: np.ndarray

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, dtype=np.float64)
        n = len(self.channels)
        if m.shape != (n, n):
            raise ValidationError(
                "spillover.matrix",
                m.shape,
                f"a square {n}x{n} matrix for {n} channel names",
            )
        if len(set(self.channels)) != n:
            raise ValidationError("spillover.channels", self.channels, "distinct channel names")
        object.__setattr__(self, "matrix", m)

    def to_dict(self) -> dict[str, object]:
        return {"channels": list(self.channels), "matrix": self.matrix.tolist()}
