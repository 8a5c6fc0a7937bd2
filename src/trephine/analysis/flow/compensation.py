"""Fluorescence compensation: apply a spillover matrix, read one from a file, estimate one.

A spillover matrix ``S`` (rows = dye/primary detector, columns = detector) says how much of each
dye's signal lands in each detector, so observed = true @ S and true = observed @ inv(S). The
inverse is computed once per matrix and applied as one matrix product over all events; solving
a linear system per event (``np.linalg.solve``) would cost 15x more on a 2M-event tube.

:class:`~trephine.io.fcs.Spillover` has one definition, in the FCS reader (it is what the file
carries); it is re-exported here.
"""

from __future__ import annotations

import csv
import io
import os
import shlex
from collections.abc import Mapping, Sequence

import numpy as np

from trephine.errors import Location, ParseError, ValidationError
from trephine.io.fcs import FcsFile, Spillover

__all__ = [
    "Spillover",
    "compensate",
    "read_spillover_matrix",
    "spillover_from_controls",
    "spillover_from_fcs_controls",
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


def read_spillover_matrix(path: str | os.PathLike[str]) -> Spillover:
    """Read a spillover matrix file with detector names as header.

    Accepts the layouts labs exchange: a CSV with a header row of detector names (FlowJo/FlowKit
    export, optionally starting with ``#``), the same with a row-label column, tab-separated
    FlowJo matrices (a title line and a ``<`` ``>`` line before the header), and
    whitespace-separated tables with quoted names (R ``write.table``). Rows labelled with
    detector names are put in header order.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8-sig", newline="") as fh:
            content = fh.read()
    except OSError as exc:
        raise ParseError(f"cannot open file: {exc.strerror}", location=Location(source)) from exc
    except UnicodeDecodeError as exc:
        raise ParseError("not a text file", location=Location(source, offset=exc.start)) from exc
    lines = [(i + 1, ln) for i, ln in enumerate(content.splitlines()) if ln.strip()]
    if not lines:
        raise ParseError("empty spillover matrix file", location=Location(source))
    rows = [(no, _tokens(ln)) for no, ln in lines]

    # The numeric block is at the end; the header is the line just above it.
    start = len(rows)
    while start > 0 and _numeric_row(rows[start - 1][1]):
        start -= 1
    if start == 0 or start == len(rows):
        raise ParseError(
            "no header row of detector names followed by numeric rows",
            location=Location(source, row=rows[0][0]),
        )
    header_no, header = rows[start - 1]
    names = [t.lstrip("#").strip() for t in header]
    names = [n for n in names if n]
    body = rows[start:]
    labelled = all(not _is_number(toks[0]) for _, toks in body)
    if labelled and len(names) == len(body[0][1]):
        names = names[1:]  # a corner cell above the row-label column
    n = len(names)
    if len(body) != n:
        raise ParseError(
            f"{n} detector names but {len(body)} matrix rows",
            location=Location(source, row=header_no),
        )
    matrix = np.empty((n, n), dtype=np.float64)
    labels: list[str] = []
    for i, (no, toks) in enumerate(body):
        if len(toks) == n + 1:
            labels.append(toks[0])
            toks = toks[1:]
        if len(toks) != n:
            raise ParseError(
                f"row has {len(toks)} values, expected {n}", location=Location(source, row=no)
            )
        matrix[i] = [float(t) for t in toks]
    if labels:
        if sorted(labels) != sorted(names):
            raise ParseError(
                f"row labels {labels} do not match the header {names}",
                location=Location(source, row=body[0][0]),
            )
        order = [labels.index(name) for name in names]
        matrix = matrix[order]
    return Spillover(names, matrix)


def _tokens(line: str) -> list[str]:
    if "," in line or "\t" in line:
        delim = "," if "," in line else "\t"
        return [t.strip() for t in next(csv.reader(io.StringIO(line), delimiter=delim))]
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def _numeric_row(tokens: Sequence[str]) -> bool:
    # A data row is all numbers, or a label followed by numbers.
    vals = tokens[1:] if tokens and not _is_number(tokens[0]) else tokens
    return bool(vals) and all(_is_number(t) for t in vals)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


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


def spillover_from_fcs_controls(
    unstained: FcsFile,
    stained: Mapping[str, FcsFile],
    channels: Sequence[str],
) -> Spillover:
    """:func:`spillover_from_controls` on FCS files, on their ``$PnE``-decoded values.

    Log-amplified channels must be linearised before medians are subtracted. ``$PnG`` is not
    divided out, matching flowCore's ``read.FCS`` defaults with which reference matrices such as
    ``compref`` were made.
    """

    def view(f: FcsFile) -> np.ndarray:
        cols = [f.channel_index(c) for c in channels]
        return _decoded(f)[:, cols]

    return spillover_from_controls(
        view(unstained), {name: view(f) for name, f in stained.items()}, channels
    )


def _decoded(f: FcsFile) -> np.ndarray:
    out = f.raw.astype(np.float64, copy=True)
    for col, ch in enumerate(f.channels):
        if ch.amp_decades > 0 and ch.range > 0:
            out[:, col] = ch.amp_offset * 10.0 ** (ch.amp_decades * out[:, col] / ch.range)
    return out
