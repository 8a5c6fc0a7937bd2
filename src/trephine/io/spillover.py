"""Spillover matrices from files: a matrix file, or FCS single-stain control files.

:func:`read_spillover_matrix` reads the layouts labs exchange; :func:`spillover_from_fcs_controls`
estimates a matrix from FCS control files with
:func:`trephine.analysis.flow.compensation.spillover_from_controls`. Both give the analysis
layer's :class:`~trephine.analysis.flow.spillover.Spillover` (io sits above analysis).
"""

from __future__ import annotations

import csv
import io
import os
import shlex
from collections.abc import Mapping, Sequence

import numpy as np

from trephine.analysis.flow.compensation import spillover_from_controls
from trephine.analysis.flow.spillover import Spillover
from trephine.errors import Location, ParseError
from trephine.io.fcs import FcsFile

__all__ = ["read_spillover_matrix", "spillover_from_fcs_controls"]


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
