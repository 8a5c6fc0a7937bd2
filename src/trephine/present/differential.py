"""An aspirate differential as the lab reads it: each class's count, its percentage of the cells
counted with the Wilson 95 % interval (``analysis.stats.wilson``), the blast percentage and the
M:E ratio. The entry form's live figures (``web/static/lab-entry.js``) compute the same numbers
in the browser; these are the server's, shown once the form is saved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from trephine.analysis.stats import wilson
from trephine.domain.results import (
    ERYTHROID_CLASSES,
    MIN_ADEQUATE_CELLS,
    MYELOID_CLASSES,
    CellClass,
)


def percent_text(fraction: float) -> str:
    """A fraction as a percentage with one decimal (a 500-cell count resolves 0.2 %)."""
    return str(Decimal(repr(fraction * 100)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class ClassLine:
    cell_class: str
    count: int
    percent: str
    #: "lower–upper" of the Wilson 95 % interval, in percent.
    interval: str


@dataclass(frozen=True)
class DifferentialSummary:
    total: int
    lines: tuple[ClassLine, ...]
    blast_percent: str | None
    blast_interval: str | None
    me_ratio: str | None
    adequate: bool
    min_cells: int = MIN_ADEQUATE_CELLS


def summarise_counts(counts: Mapping[CellClass, int]) -> DifferentialSummary:
    """Figures for any counts, complete or not (a saved draft may be half counted)."""
    total = sum(counts.values())
    lines = []
    for cls in CellClass:
        n = counts.get(cls, 0)
        if total:
            ci = wilson(n, total)
            lines.append(
                ClassLine(
                    cls.value,
                    n,
                    percent_text(n / total),
                    f"{percent_text(ci.lower)}–{percent_text(ci.upper)}",
                )
            )
        else:
            lines.append(ClassLine(cls.value, n, "", ""))
    blasts = counts.get(CellClass.BLAST, 0)
    myeloid = sum(counts.get(c, 0) for c in MYELOID_CLASSES)
    erythroid = sum(counts.get(c, 0) for c in ERYTHROID_CLASSES)
    me = None
    if erythroid:
        ratio = Decimal(myeloid) / Decimal(erythroid)
        me = f"{ratio.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}:1"
    blast_ci = wilson(blasts, total) if total else None
    return DifferentialSummary(
        total=total,
        lines=tuple(lines),
        blast_percent=percent_text(blasts / total) if total else None,
        blast_interval=(
            None
            if blast_ci is None
            else f"{percent_text(blast_ci.lower)}–{percent_text(blast_ci.upper)}"
        ),
        me_ratio=me,
        adequate=total >= MIN_ADEQUATE_CELLS,
    )
