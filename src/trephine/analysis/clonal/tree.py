"""Clone trees under the sum rule and the time order, by branch and bound.

Input: one cellular prevalence (CCF, the fraction of cells carrying the clone's mutations,
descendants included) per clone and sample, and the samples' days. A tree is valid when

* **sum rule** — in every sample, a parent's CCF is at least the sum of its children's CCFs,
  within ``tolerance`` (absolute CCF; measurement noise makes exact equality too strict);
  roots hang off a virtual "all cells" node of CCF 1;
* **time order** — a clone is never the parent of a clone that was detectable (CCF >=
  ``detection``) in an earlier sample than the parent itself.

Search: clones are placed one at a time in order of first detection, then decreasing mean CCF
(a valid parent always has at least its child's CCF, so it comes first up to the tolerance). Each
clone tries the candidate parents with the least spare capacity first ("best fit", which nests
clones as deeply as the data allow instead of flattening them under the root). The cost of a
partial tree is its total sum-rule excess beyond the tolerance; branches whose cost already
exceeds the best complete tree are pruned. The first zero-cost tree is returned, and the search
continues (up to ``max_trees``) only to count how many trees fit equally well. When no tree has
zero cost, the cheapest tree is returned with a plain-language explanation per violation.
A node budget keeps 20+ clones fast; hitting it is reported, never silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from trephine.errors import ValidationError

FloatArray = NDArray[np.float64]
ROOT = -1  # the virtual "all cells" node
#: Rounding slack on a cellular prevalence: a value up to 1 + this is still a whole clone, and
#: children exceeding their parent by no more than the tolerance plus this still fit (a CCF of
#: 6e-10 beside a parent of 0 is arithmetic, not biology).
NUMERIC_SLACK = 1e-9


@dataclass(frozen=True)
class CloneTree:
    clones: tuple[str, ...]
    sample_ids: tuple[str, ...]
    parents: tuple[int, ...]  # index into clones, or ROOT
    ccf: FloatArray  # (K, S) cellular prevalence incl. descendants
    fits: bool
    tolerance: float
    n_fitting_trees: int  # zero-cost trees found (capped at max_trees)
    search_complete: bool
    explanation: tuple[str, ...] = field(default=())

    def parent_of(self, clone: str) -> str | None:
        p = self.parents[self.clones.index(clone)]
        return None if p == ROOT else self.clones[p]

    def children(self, k: int) -> list[int]:
        return [i for i, p in enumerate(self.parents) if p == k]

    def own_fractions(self) -> FloatArray:
        """Clone fractions excluding descendants (what a fish plot or TimeScape shows).

        Within the tolerance a parent may be slightly smaller than its children's sum; the
        resulting small negative own fraction is clipped to 0 (noise, not biology).
        """
        own = self.ccf.copy()
        for k, p in enumerate(self.parents):
            if p != ROOT:
                own[p] -= self.ccf[k]
        return np.clip(own, 0.0, None)

    def edges(self) -> list[tuple[str | None, str]]:
        return [
            (None if p == ROOT else self.clones[p], self.clones[k])
            for k, p in enumerate(self.parents)
        ]


def first_detection(ccf: FloatArray, detection: float) -> NDArray[np.int64]:
    """Index of the first sample where each clone reaches ``detection`` (S if never)."""
    hit = ccf >= detection
    idx = np.where(hit.any(axis=1), np.argmax(hit, axis=1), ccf.shape[1])
    return np.asarray(idx, dtype=np.int64)


def infer_tree(
    clones: Sequence[str],
    sample_ids: Sequence[str],
    ccf: FloatArray,
    *,
    tolerance: float = 0.05,
    detection: float = 0.05,
    max_trees: int = 100,
    node_budget: int = 200_000,
) -> CloneTree:
    """Find a clone tree for ``ccf`` (clones × samples, samples in day order)."""
    ccf = np.asarray(ccf, dtype=np.float64)
    k, s = ccf.shape
    if k != len(clones) or s != len(sample_ids):
        raise ValidationError(
            "ccf", f"shape {ccf.shape}", f"({len(clones)} clones, {len(sample_ids)} samples)"
        )
    if not np.all(np.isfinite(ccf)) or ccf.min() < 0 or ccf.max() > 1 + NUMERIC_SLACK:
        raise ValidationError("ccf", "values outside [0, 1]", "cellular prevalences in [0, 1]")
    if not 0 <= tolerance < 1:
        raise ValidationError("tolerance", tolerance, "an absolute CCF in [0, 1)")
    first = first_detection(ccf, detection)
    order = sorted(range(k), key=lambda i: (first[i], -ccf[i].mean(), i))

    parents = [ROOT] * k
    # Spare capacity per node and sample; node ROOT is the virtual all-cells node (index k).
    spare = np.vstack([ccf, np.ones((1, s))])
    best_cost = np.inf
    best_parents: list[int] | None = None
    n_zero = 0
    nodes = 0
    complete = True

    def excess_if(p: int, c: int) -> float:
        return float(np.sum(np.clip(-(spare[p] - ccf[c]) - tolerance - NUMERIC_SLACK, 0.0, None)))

    def dfs(pos: int, cost: float) -> None:
        nonlocal best_cost, best_parents, n_zero, nodes, complete
        if pos == k:
            if cost < best_cost - 1e-12:
                best_cost, best_parents = cost, list(parents)
            if cost <= 1e-12:
                n_zero += 1
            return
        c = order[pos]
        cands: list[tuple[float, float, int]] = []
        for p in [*order[:pos], k]:
            # Time order: the parent must be detectable no later than the child.
            if p != k and first[p] > first[c]:
                continue
            add = excess_if(p, c)
            slack = float(np.min(spare[p] - ccf[c]))
            cands.append((add, slack if add == 0 else np.inf, p))
        cands.sort(key=lambda t: (t[0], t[1], t[2] == k))
        for add, _, p in cands:
            if n_zero >= max_trees:
                return
            if nodes >= node_budget:
                complete = False
                return
            if cost + add > best_cost + 1e-12:
                continue
            nodes += 1
            parents[c] = ROOT if p == k else p
            spare[p] -= ccf[c]
            dfs(pos + 1, cost + add)
            spare[p] += ccf[c]
            parents[c] = ROOT

    dfs(0, 0.0)
    assert best_parents is not None  # the root is always a candidate, so one tree exists
    fits = best_cost <= 1e-12
    tree = CloneTree(
        clones=tuple(clones),
        sample_ids=tuple(sample_ids),
        parents=tuple(best_parents),
        ccf=ccf,
        fits=fits,
        tolerance=tolerance,
        n_fitting_trees=n_zero,
        search_complete=complete,
    )
    notes = [] if fits else explain_violations(tree)
    if not complete:
        notes.append(
            f"search stopped after {node_budget} nodes; the tree shown is the best found, "
            "not proven optimal"
        )
    return replace(tree, explanation=tuple(notes))


def explain_violations(tree: CloneTree) -> list[str]:
    """Plain-language reasons why ``tree`` breaks the sum rule (empty when it does not)."""
    out: list[str] = []
    k = len(tree.clones)
    for p in [*range(k), ROOT]:
        kids = [i for i, q in enumerate(tree.parents) if q == p]
        if not kids:
            continue
        for j, sid in enumerate(tree.sample_ids):
            total = float(sum(tree.ccf[i, j] for i in kids))
            cap = 1.0 if p == ROOT else float(tree.ccf[p, j])
            if total > cap + tree.tolerance:
                names = " + ".join(f"clone {tree.clones[i]} ({tree.ccf[i, j]:.1%})" for i in kids)
                who = "all cells" if p == ROOT else f"clone {tree.clones[p]}"
                out.append(
                    f"in sample {sid}, {names} add up to {total:.1%}, more than {who} "
                    f"({cap:.1%}) plus the {tree.tolerance:.0%} tolerance"
                    + (
                        "; no placement of the clones satisfies the sum rule in every sample "
                        "while respecting the time order"
                        if tree.search_complete
                        else ""
                    )
                )
    return out
