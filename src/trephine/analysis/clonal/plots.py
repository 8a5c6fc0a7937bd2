"""Matplotlib figures: VAF over real days, fish plot, clone tree; PNG/SVG plus plot-data JSON.

matplotlib is imported inside the functions (Agg backend) so importing this module is cheap and
never needs a display.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trephine.analysis.clonal.plotdata import FishLayout, fish_layout, tree_layout

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from trephine.analysis.clonal.pipeline import PatientResult


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(n: int) -> list[Any]:
    plt = _plt()
    cmap = plt.get_cmap("tab20" if n > 10 else "tab10")
    return [cmap(i % cmap.N) for i in range(n)]


def vaf_figure(p: PatientResult, *, lod: float, log: bool = False) -> Figure:
    """One line per mutation on the real day axis, coloured by clone, with the LOD line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = list(p.clone_names)
    colors = dict(zip(names, _colors(len(names)), strict=True))
    floor = lod / 10.0  # where "absent" (VAF 0 or unmeasured) is drawn on a log axis
    for t in p.mutations:
        days = [m.day for m in t.measurements]
        vafs = [m.vaf if m.vaf is not None else 0.0 for m in t.measurements]
        if log:
            vafs = [max(v, floor) for v in vafs]
        clone = p.clone_of.get(t.mutation_id)
        ax.plot(
            days,
            vafs,
            marker="o",
            ms=2.5,
            lw=0.8,
            alpha=0.6,
            color=colors.get(clone, "grey") if clone else "grey",
            ls="--" if t.chip else "-",
        )
    for c in names:
        ax.plot([], [], color=colors[c], label=f"clone {c}")
    ax.axhline(lod, color="black", ls=":", lw=1, label=f"LOD {lod:g}")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(floor / 1.5, 1.0)
    else:
        ax.set_ylim(0, max(0.55, max((m.vaf or 0) for t in p.mutations for m in t.measurements)))
    ax.set_xlabel("days from diagnosis")
    ax.set_ylabel("VAF (fraction)")
    ax.set_title(f"{p.patient_id}: variant allele fractions (dashed = CHIP gene)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def fish_figure(layout: FishLayout, title: str) -> Figure:
    """Nested bands over the real days, parents drawn before children."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    colors = _colors(len(layout.clones))
    days = np.asarray(layout.days)
    for k in layout.draw_order:
        ax.fill_between(
            days,
            layout.lower[k],
            layout.upper[k],
            color=colors[k],
            lw=0.5,
            edgecolor="white",
            label=f"clone {layout.clones[k]}",
        )
    for d in days:
        ax.axvline(d, color="black", lw=0.5, ls=":")
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xlabel("days from diagnosis (dotted: samples)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def tree_figure(clones: Sequence[str], parents: Sequence[str | None], title: str) -> Figure:
    plt = _plt()
    pos = tree_layout(clones, parents)
    fig, ax = plt.subplots(figsize=(max(3.5, 1.6 * len(clones)), 3.5))
    colors = dict(zip(clones, _colors(len(clones)), strict=True))
    for c, p in zip(clones, parents, strict=True):
        if p is not None:
            (x0, y0), (x1, y1) = pos[p], pos[c]
            ax.plot([x0, x1], [-y0, -y1], color="grey", lw=1.2, zorder=1)
    for c, (x, y) in pos.items():
        ax.scatter([x], [-y], s=300, color=colors[c], zorder=2, edgecolor="black")
        # Labels sit under the node; long cluster names (gene lists) are shortened.
        label = c if len(c) <= 18 else c[:16] + "…"
        ax.annotate(label, (x, -y - 0.18), ha="center", va="top", fontsize=7, zorder=3)
    xs = [x for x, _ in pos.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(-max(y for _, y in pos.values()) - 0.6, 0.4)
    ax.set_axis_off()
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def plot_data(p: PatientResult, *, lod: float, fish: FishLayout | None) -> dict[str, Any]:
    """What the web timeline needs to draw the same three figures."""
    return {
        "patient_id": p.patient_id,
        "lod": lod,
        "samples": [{"sample_id": s.sample_id, "day": s.day} for s in p.samples],
        "mutations": [
            {
                "mutation_id": t.mutation_id,
                "gene": t.gene,
                "clone": p.clone_of.get(t.mutation_id),
                "status": str(t.status),
                "chip": t.chip,
                "points": [{"day": m.day, "vaf": m.vaf} for m in t.measurements],
            }
            for t in p.mutations
        ],
        "fish": None if fish is None else fish.to_json(),
        "tree": None
        if p.tree is None
        else {"edges": [[a, b] for a, b in p.tree.edges()], "fits": p.tree.fits},
    }


def write_patient_plots(
    p: PatientResult, out: Path, *, lod: float, log: bool, formats: Sequence[str]
) -> list[Path]:
    """Write ``<patient>_vaf``, ``_fish``, ``_tree`` figures and ``<patient>_plotdata.json``."""
    plt = _plt()
    base = _safe(p.patient_id)
    figs: dict[str, Figure] = {"vaf": vaf_figure(p, lod=lod, log=log)}
    fish: FishLayout | None = None
    if p.tree is not None and p.fit is not None:
        parents = [p.tree.parent_of(c) for c in p.clone_names]
        day_of = {s.sample_id: s.day for s in p.samples}
        # Two specimens on one day (e.g. marrow and blood) cannot both sit on a time axis: the
        # fish plot keeps the first of each day (sample order is day, then sample id).
        keep = [
            j
            for j, sid in enumerate(p.fit.sample_ids)
            if j == 0 or day_of[sid] != day_of[p.fit.sample_ids[j - 1]]
        ]
        days = [day_of[p.fit.sample_ids[j]] for j in keep]
        # The tree search already enforced the sum rule within its tolerance (or explained why
        # not); here any residual excess is scaled to fit so a best-effort tree still draws.
        ccf = np.clip(p.tree.ccf[:, keep], 0, 1)
        fish = fish_layout(p.clone_names, parents, days, ccf, tolerance=1.0)
        figs["fish"] = fish_figure(fish, f"{p.patient_id}: clones over time")
        note = "" if p.tree.fits else " (no tree fits the sum rule; best effort)"
        figs["tree"] = tree_figure(p.clone_names, parents, f"{p.patient_id}: clone tree{note}")
    written: list[Path] = []
    for kind, fig in figs.items():
        for fmt in formats:
            path = out / f"{base}_{kind}.{fmt}"
            fig.savefig(path, format=fmt, dpi=120)
            written.append(path)
        plt.close(fig)
    path = out / f"{base}_plotdata.json"
    path.write_text(json.dumps(plot_data(p, lod=lod, fish=fish), indent=1))
    written.append(path)
    return written
