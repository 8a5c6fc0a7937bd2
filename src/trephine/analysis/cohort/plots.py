"""Kaplan–Meier plots with the at-risk table, and the swimmer plot of a cohort (matplotlib).

matplotlib is imported inside the functions (Agg backend), as in the other plot modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trephine.analysis.cohort.outcomes import (
    CR_CATEGORIES,
    MRD_STATUS,
    RELAPSE_CATEGORIES,
    Course,
    TimeRow,
)
from trephine.assess.call import BONE_MARROW, PERIPHERAL_BLOOD

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Steps between the days marked on a survival plot's axis: whole weeks, months, years.
DAY_STEPS = (1, 2, 7, 14, 30, 60, 90, 180, 365, 730, 1825, 3650)


def day_ticks(tmax: float, ticks: int = 6) -> list[float]:
    """At most ``ticks`` round days from 0 to ``tmax`` (0, 180, 360, …), not ``tmax`` cut into
    equal parts (0, 160, 319, 479, …: days nobody reports a number at risk on)."""
    step = next((s for s in DAY_STEPS if tmax / s <= ticks - 1), DAY_STEPS[-1])
    return [float(step * i) for i in range(int(tmax // step) + 1)]


def km_figure(
    rows: Sequence[TimeRow],
    *,
    title: str,
    xlabel: str = "days",
    ticks: int = 6,
    at: Sequence[float] | None = None,
) -> Figure:
    """One step curve per group with its 95 % band and censoring marks; the number at risk
    under the axis at ``at`` (the days a table beside the plot reports, up to the last
    follow-up) or at round days (:func:`day_ticks`)."""
    from trephine.analysis.stats.survival import kaplan_meier

    plt = _plt()
    groups = sorted({r.group for r in rows})
    tmax = max((r.time for r in rows), default=1.0) or 1.0
    times = [float(t) for t in at if 0 <= t <= tmax] if at is not None else day_ticks(tmax, ticks)
    fig = plt.figure(figsize=(7, 4.8))
    ax = fig.add_axes((0.1, 0.32, 0.85, 0.58))
    table = fig.add_axes((0.1, 0.04, 0.85, 0.16))
    table.axis("off")
    colors = plt.get_cmap("tab10")
    for i, g in enumerate(groups):
        sel = [r for r in rows if r.group == g]
        c = kaplan_meier([r.time for r in sel], [r.event for r in sel], at=times)
        xs = [s[0] for s in c.steps]
        ax.step(xs, [s[1] for s in c.steps], where="post", color=colors(i), label=f"{g} (n={c.n})")
        ax.fill_between(
            xs,
            [s[2] for s in c.steps],
            [s[3] for s in c.steps],
            step="post",
            color=colors(i),
            alpha=0.15,
            lw=0,
        )
        cens = [r.time for r in sel if not r.event]
        if cens:
            surv = [next(s[1] for s in reversed(c.steps) if s[0] <= t) for t in cens]
            ax.plot(cens, surv, "|", color=colors(i), ms=8)
        y = 1 - (i + 1) / (len(groups) + 1)
        table.text(-0.02, y, g, ha="right", va="center", fontsize=8, color=colors(i))
        for t in times:
            table.text(t / tmax, y, str(c.at_risk[t]), ha="center", va="center", fontsize=8)
    table.set_xlim(0, 1)
    table.set_title("number at risk", fontsize=8, loc="left")
    ax.set_xlim(0, tmax)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(times)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("probability")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    return fig


#: Where an MRD marker sits on its patient's lane, by the call's sample, and whether it is
#: filled: a day's marrow and blood calls (both current, :mod:`trephine.assess.current`) are two
#: markers, the marrow's filled just above the lane and the blood's open just below it — never
#: one on top of the other. A call with no sample named (stored before calls named theirs) sits
#: on the lane, filled.
MRD_LANE: dict[str | None, tuple[float, bool]] = {
    BONE_MARROW: (-0.17, True),
    PERIPHERAL_BLOOD: (0.17, False),
    None: (0.0, True),
}


def swimmer_figure(courses: Sequence[Course], *, title: str = "swimmer plot") -> Figure:
    """One lane per patient from diagnosis to the end of follow-up: therapy lines as bars,
    CR (filled circle), MRD negative/positive (green up / red down triangle: filled just above
    the lane for bone marrow, open just below it for peripheral blood, :data:`MRD_LANE`),
    relapse (red cross), transplant or CAR-T (diamond), death (black square)."""
    plt = _plt()
    n = len(courses)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * n + 1.2)))
    regimens = sorted({reg for c in courses for _, _, reg in c.lines})
    cmap = plt.get_cmap("tab20")
    colour = {r: cmap(i % 20) for i, r in enumerate(regimens)}
    for y, c in enumerate(courses):
        ax.plot([0, c.days(c.end)], [y, y], color="0.8", lw=1, zorder=1)
        for start, end, reg in c.lines:
            stop = end or c.end
            ax.barh(
                y,
                c.days(stop) - c.days(start),
                left=c.days(start),
                height=0.5,
                color=colour[reg],
                zorder=2,
            )
        for e in c.events:
            x = c.days(e.date)
            if e.kind == "response" and e.category in CR_CATEGORIES:
                ax.plot(x, y, "o", color="black", ms=5, zorder=3)
            elif e.kind == "mrd" and e.category in MRD_STATUS:
                neg = MRD_STATUS[e.category] == "negative"
                offset, filled = MRD_LANE.get(e.sample, MRD_LANE[None])
                colour_of = "green" if neg else "red"
                ax.plot(
                    x,
                    y + offset,
                    "^" if neg else "v",
                    color=colour_of,
                    markerfacecolor=colour_of if filled else "white",
                    ms=5,
                    zorder=3,
                )
            elif e.category in RELAPSE_CATEGORIES:
                ax.plot(x, y, "X", color="red", ms=7, zorder=4)
        for when, _kind in c.cellular:
            ax.plot(c.days(when), y, "D", color="purple", ms=5, zorder=4)
        if c.died_on is not None:
            ax.plot(c.days(c.died_on), y, "s", color="black", ms=5, zorder=4)
    ax.set_yticks(range(n))
    ax.set_yticklabels([c.patient for c in courses], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("days from diagnosis")
    ax.set_title(title)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=colour[r], label=r) for r in regimens] + [
        Line2D([], [], marker="o", color="black", ls="", label="CR"),
        Line2D([], [], marker="^", color="green", ls="", label="MRD negative"),
        Line2D([], [], marker="v", color="red", ls="", label="MRD positive / low-level"),
        Line2D([], [], marker="^", color="0.3", ls="", label="MRD, bone marrow (above)"),
        Line2D(
            [],
            [],
            marker="^",
            color="0.3",
            markerfacecolor="white",
            ls="",
            label="MRD, peripheral blood (open, below)",
        ),
        Line2D([], [], marker="X", color="red", ls="", label="relapse"),
        Line2D([], [], marker="D", color="purple", ls="", label="transplant / CAR-T"),
    ]
    ax.legend(handles=handles, fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig
