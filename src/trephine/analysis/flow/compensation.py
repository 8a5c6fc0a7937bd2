"""Fluorescence compensation: apply a spillover matrix, estimate one from single-stain controls.

A spillover matrix ``S`` (rows = dye/primary detector, columns = detector) says how much of each
dye's signal lands in each detector, so observed = true @ S and true = observed @ inv(S). The
inverse is computed once per matrix and applied as one matrix product over all events; solving
a linear system per event (``np.linalg.solve``) would cost 15x more on a 2M-event tube.

:class:`~trephine.analysis.flow.spillover.Spillover` is re-exported here. Reading a matrix file
(:func:`trephine.io.spillover.read_spillover_matrix`) and estimating one from FCS control files
(:func:`trephine.io.spillover.spillover_from_fcs_controls`) live in ``io/``, which sits above
analysis: analysis never imports a reader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from trephine.analysis.flow.spillover import Spillover
from trephine.errors import ValidationError

__all__ = [
    "Spillover",
    "compensate",
    "spillover_from_controls",
]


def _columns(channel_names: Sequence[str], spillover: Spillover) -> list[int]:
    names = list(channel_names)
    missing = [c for c in spillover.channels if c not in names]
    if missing:
        raise ValidationError(
            "spillover.channels",
            missing,
            names,
            reason="the spillover matrix names channels the events do not have",
        )
    return [names.index(c) for c in spillover.channels]


def compensate(
    events: np.ndarray, channel_names: Sequence[str], spillover: Spillover
) -> np.ndarray:
    """Return a new float64 array with the spillover channels compensated.

    ``events`` is events x channels with columns named by ``channel_names``; columns the matrix
    does not name are copied unchanged.
    """
    arr = np.asarray(events)
    if arr.ndim != 2 or arr.shape[1] != len(channel_names):
        raise ValidationError(
            "events",
            arr.shape,
            f"an events x {len(channel_names)} array (one column per channel name)",
        )
    cols = _columns(channel_names, spillover)
    try:
        inverse = np.linalg.inv(spillover.matrix)
    except np.linalg.LinAlgError:
        raise ValidationError(
            "spillover.matrix", "singular", "an invertible matrix", reason="cannot compensate"
        ) from None
    out = arr.astype(np.float64, copy=True)
    if cols == list(range(cols[0], cols[0] + len(cols))):
        # Contiguous columns: work on a view and skip a fancy-index copy.
        block = out[:, cols[0] : cols[0] + len(cols)]
        block[...] = block @ inverse
    else:
        # np.take gathers into a contiguous block for BLAS; writing back column by column is
        # faster than one fancy-index assignment. Multiplying the full event matrix by a padded
        # identity would avoid the gather, but 0 * inf in an unrelated column would then turn
        # every compensated value of that event into NaN.
        result = np.take(out, cols, axis=1) @ inverse
        for k, col in enumerate(cols):
            out[:, col] = result[:, k]
    return out


def spillover_from_controls(
    unstained: np.ndarray,
    stained: Mapping[str, np.ndarray],
    channels: Sequence[str],
) -> Spillover:
    """Estimate a spillover matrix from single-stain controls.

    ``unstained`` and each ``stained[channel]`` are events x len(channels) arrays of linear
    (decoded) intensities in ``channels`` order; ``stained`` is keyed by each control's primary
    detector. Row *i* is the median signal of control *i* minus the unstained median, divided by
    its value in its own detector (the median method flowCore's ``spillover()`` uses).
    """
    names = list(channels)
    if sorted(stained) != sorted(names):
        raise ValidationError(
            "stained", sorted(stained), names, reason="one single-stain control per channel"
        )
    k = len(names)
    base = _medians(unstained, k, "unstained")
    matrix = np.empty((k, k), dtype=np.float64)
    for i, name in enumerate(names):
        row = _medians(stained[name], k, name) - base
        if not row[i] > 0:
            raise ValidationError(
                f"stained[{name!r}]",
                float(row[i]),
                "a primary-detector median above the unstained median",
                reason="the control is not brighter than the unstained control in its detector",
            )
        matrix[i] = row / row[i]
    return Spillover(names, matrix)


def _medians(arr: np.ndarray, k: int, label: str) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != k or a.shape[0] == 0:
        raise ValidationError(label, a.shape, f"a non-empty events x {k} array")
    return np.asarray(np.median(a, axis=0))
