"""Plot geometry as plain data: fish-plot bands on the real time axis, tree layout, VAF series.

Kept free of matplotlib so the web timeline can draw the same shapes from JSON and so nesting can
be tested without rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trephine.errors import ValidationError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FishLayout:
    clones: tuple[str, ...]
    parents: tuple[str | None, ...]
    days: tuple[float, ...]
    lower: FloatArray  # (K, T) band bottom in [0, 1]
    upper: FloatArray  # (K, T) band top
    draw_order: tuple[int, ...]  # parents before children

    def to_json(self) -> dict[str, Any]:
        return {
            "days": list(self.days),
            "clones": [
                {
                    "clone": c,
                    "parent": p,
                    "lower": [round(float(v), 6) for v in self.lower[k]],
                    "upper": [round(float(v), 6) for v in self.upper[k]],
                }
                for k, (c, p) in enumerate(zip(self.clones, self.parents, strict=True))
            ],
        }


def _topo(clones: Sequence[str], parents: Sequence[str | None]) -> list[int]:
    idx = {c: i for i, c in enumerate(clones)}
    for c, p in zip(clones, parents, strict=True):
        if p is not None and p not in idx:
            raise ValidationError("parent", p, clones, reason=f"parent of clone {c!r}")
    order: list[int] = []
    state = [0] * len(clones)

    def visit(i: int, path: tuple[str, ...]) -> None:
        if state[i] == 2:
            return
        if state[i] == 1:
            raise ValidationError(
                "parent", parents[i], "a tree", reason=f"cycle {' → '.join(path)}"
            )
        state[i] = 1
        p = parents[i]
        if p is not None:
            visit(idx[p], (*path, p))
        state[i] = 2
        order.append(i)

    for i in range(len(clones)):
        visit(i, (clones[i],))
    return order


def fish_layout(
    clones: Sequence[str],
    parents: Sequence[str | None],
    days: Sequence[float],
    ccf: FloatArray,
    *,
    tolerance: float = 0.05,
) -> FishLayout:
    """Nested bands: each clone's band lies inside its parent's, children spread evenly.

    ``ccf`` is clones × days, cellular prevalence *including* descendants, as fractions. Children
    summing to more than their parent by at most ``tolerance`` (rounding in published tables) are
    scaled down to fit; beyond it the data cannot be drawn nested and a located error says which
    clone on which day.
    """
    f = np.asarray(ccf, dtype=np.float64)
    k, t = f.shape
    if k != len(clones) or t != len(days):
        raise ValidationError("ccf", f"shape {f.shape}", f"({len(clones)}, {len(days)})")
    if np.any(np.diff(np.asarray(days, dtype=float)) <= 0):
        raise ValidationError("days", list(days), "strictly increasing days")
    if np.any(f < 0) or np.any(f > 1 + tolerance):
        raise ValidationError("ccf", "values outside [0, 1]", "fractions 0..1")
    order = _topo(clones, parents)
    idx = {c: i for i, c in enumerate(clones)}
    kids: dict[int | None, list[int]] = {}
    for i in order:
        p = parents[i]
        kids.setdefault(None if p is None else idx[p], []).append(i)
    height = np.minimum(f, 1.0)
    lower = np.zeros((k, t))
    upper = np.zeros((k, t))

    def place(node: int | None, lo: FloatArray, cap: FloatArray) -> None:
        ch = kids.get(node, [])
        if not ch:
            return
        total = height[ch].sum(axis=0)
        over = total - cap
        bad = np.where(over > tolerance + 1e-12)[0]
        if bad.size:
            j = int(bad[0])
            who = "all cells (100%)" if node is None else f"clone {clones[node]}"
            raise ValidationError(
                "fraction",
                f"{total[j]:.4g}",
                f"at most {who} = {cap[j]:.4g} + tolerance {tolerance:g}",
                reason=(
                    f"day {days[j]:g}: children "
                    f"{', '.join(clones[c] for c in ch)} exceed their parent"
                ),
            )
        scale = np.where(total > cap, cap / np.maximum(total, 1e-300), 1.0)
        hs = height[ch] * scale
        height[ch] = hs
        gap = (cap - hs.sum(axis=0)) / (len(ch) + 1)
        cursor = lo + gap
        for n, c in enumerate(ch):
            lower[c] = cursor
            upper[c] = cursor + hs[n]
            cursor = upper[c] + gap
            place(c, lower[c].copy(), hs[n].copy())

    place(None, np.zeros(t), np.ones(t))
    return FishLayout(
        tuple(clones), tuple(parents), tuple(float(d) for d in days), lower, upper, tuple(order)
    )


def check_nesting(layout: FishLayout, eps: float = 1e-9) -> list[str]:
    """Problems with a layout (empty = every band inside its parent's, siblings disjoint)."""
    idx = {c: i for i, c in enumerate(layout.clones)}
    out: list[str] = []
    for i, p in enumerate(layout.parents):
        if layout.upper[i].min() < layout.lower[i].min() - eps:
            out.append(f"clone {layout.clones[i]}: negative height")
        if p is None:
            lo, hi = np.zeros(len(layout.days)), np.ones(len(layout.days))
        else:
            lo, hi = layout.lower[idx[p]], layout.upper[idx[p]]
        if np.any(layout.lower[i] < lo - eps) or np.any(layout.upper[i] > hi + eps):
            out.append(f"clone {layout.clones[i]} leaves the band of {p or 'all cells'}")
    for i in range(len(layout.clones)):
        for j in range(i + 1, len(layout.clones)):
            if layout.parents[i] == layout.parents[j]:
                overlap = np.minimum(layout.upper[i], layout.upper[j]) - np.maximum(
                    layout.lower[i], layout.lower[j]
                )
                if np.any(overlap > eps):
                    out.append(f"siblings {layout.clones[i]} and {layout.clones[j]} overlap")
    return out


def tree_layout(
    clones: Sequence[str], parents: Sequence[str | None]
) -> dict[str, tuple[float, float]]:
    """(x, depth) per clone: leaves spread left to right, parents centred over children."""
    order = _topo(clones, parents)
    kids: dict[str | None, list[str]] = {}
    for i in order:
        kids.setdefault(parents[i], []).append(clones[i])
    pos: dict[str, tuple[float, float]] = {}
    next_x = [0.0]

    def walk(c: str, depth: int) -> float:
        ch = kids.get(c, [])
        if not ch:
            x = next_x[0]
            next_x[0] += 1.0
        else:
            xs = [walk(k, depth + 1) for k in ch]
            x = (min(xs) + max(xs)) / 2
        pos[c] = (x, float(depth))
        return x

    for r in kids.get(None, []):
        walk(r, 0)
    return pos
