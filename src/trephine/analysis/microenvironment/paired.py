"""Paired comparison of populations and measurements (issue 14 §5): one paired Wilcoxon test
per feature (a population's % or a measurement index), Benjamini–Hochberg across features, and
a paired-lines plot. The tests are :mod:`trephine.analysis.stats` (the one home for them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trephine.analysis.stats import PairedTest, benjamini_hochberg, paired_wilcoxon


@dataclass(frozen=True)
class Pair:
    patient: str
    before: float
    after: float


@dataclass(frozen=True)
class FeatureComparison:
    feature: str
    unit: str
    pairs: tuple[Pair, ...]
    test: PairedTest | None
    #: Why no test was run (fewer than 2 pairs, every pair unchanged).
    not_tested: str | None
    q_value: float | None = None

    def to_json(self) -> dict[str, object]:
        t = self.test
        return {
            "feature": self.feature,
            "unit": self.unit,
            "n_pairs": len(self.pairs),
            "median_before": None if t is None else t.median_before,
            "median_after": None if t is None else t.median_after,
            "median_difference": None if t is None else t.median_difference,
            "statistic": None if t is None else t.statistic,
            "p_value": None if t is None else t.p_value,
            "q_value": self.q_value,
            "effect_size": None if t is None else t.effect_size,
            "not_tested": self.not_tested,
            "pairs": [
                {"patient": p.patient, "before": p.before, "after": p.after} for p in self.pairs
            ],
        }


def compare(features: Mapping[str, tuple[str, Sequence[Pair]]]) -> list[FeatureComparison]:
    """``{feature: (unit, pairs)}`` → one comparison per feature, q-values across those tested."""
    out: list[FeatureComparison] = []
    for feature, (unit, pairs) in features.items():
        test: PairedTest | None = None
        reason: str | None = None
        if len(pairs) < 2:
            reason = f"{len(pairs)} pair(s): a paired test needs at least 2"
        elif all(p.before == p.after for p in pairs):
            reason = "every pair unchanged"
        else:
            test = paired_wilcoxon([p.before for p in pairs], [p.after for p in pairs])
        out.append(FeatureComparison(feature, unit, tuple(pairs), test, reason))
    tested = [c for c in out if c.test is not None]
    qs = benjamini_hochberg([c.test.p_value for c in tested if c.test is not None])
    q_of = {c.feature: q for c, q in zip(tested, qs, strict=True)}
    return [
        FeatureComparison(c.feature, c.unit, c.pairs, c.test, c.not_tested, q_of.get(c.feature))
        for c in out
    ]


def paired_lines_svg(
    comparisons: Sequence[FeatureComparison],
    path: Path,
    labels: tuple[str, str] = ("before", "after"),
) -> Path:
    """:func:`paired_lines_figure` written as SVG (a vector file that scales with the page)."""
    import matplotlib.pyplot as plt

    fig = paired_lines_figure(comparisons, labels)
    fig.savefig(path, format="svg")
    plt.close(fig)
    return path


def paired_lines_figure(
    comparisons: Sequence[FeatureComparison], labels: tuple[str, str] = ("before", "after")
) -> Any:
    """One small panel per feature: a line per patient from before to after, the medians bold
    (a matplotlib figure; the caller writes and closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in comparisons if c.pairs]
    cols = min(3, max(1, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.ravel()[len(shown) :]:
        ax.set_visible(False)
    for ax, c in zip(axes.ravel(), shown, strict=False):
        for p in c.pairs:
            ax.plot(
                [0, 1],
                [p.before, p.after],
                color="#6b7280",
                linewidth=0.8,
                marker="o",
                markersize=3,
            )
        if c.test is not None:
            ax.plot(
                [0, 1], [c.test.median_before, c.test.median_after], color="#1d4ed8", linewidth=2.5
            )
            q = "" if c.q_value is None else f", q = {c.q_value:.3g}"
            ax.set_title(f"{c.feature}\np = {c.test.p_value:.3g}{q}", fontsize=8)
        else:
            ax.set_title(f"{c.feature}\n({c.not_tested})", fontsize=8)
        ax.set_xticks([0, 1], labels)
        ax.set_xlim(-0.3, 1.3)
        ax.set_ylabel(c.unit, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig
