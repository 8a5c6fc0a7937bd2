"""A differential's per-class intervals: the counts' exact %, Wilson bounds and text, the same
whether worked out now or remembered from an earlier differential with the same counts."""

from __future__ import annotations

from decimal import Decimal

from trephine.analysis.stats import wilson
from trephine.domain.results import AspirateDifferential, CellClass
from trephine.present.results import differential_ci, differential_intervals, interval_text


def _expected(x: int, n: int) -> dict[str, str | int]:
    ci = wilson(x, n)
    return {
        "count": x,
        "percent": str(Decimal(x) * 100 / Decimal(n)),
        "ci95_low": f"{ci.lower * 100:.6g}",
        "ci95_high": f"{ci.upper * 100:.6g}",
        "text": interval_text(ci.estimate, ci.lower, ci.upper),
    }


def test_every_class_is_worded_from_its_count_and_the_total() -> None:
    for n in (1, 7, 100, 200, 333, 500, 1000):
        for blasts in sorted({0, 1, n // 3, n - 1, n}):
            others = n - blasts
            counts = {CellClass.BLAST: blasts, CellClass.LYMPHOCYTE: others}
            d = AspirateDifferential(counts, n)
            for _ in range(2):  # the second time from what was remembered
                shown = differential_intervals(d)
                assert shown == {
                    str(CellClass.BLAST): _expected(blasts, n),
                    str(CellClass.LYMPHOCYTE): _expected(others, n),
                }
                shown[str(CellClass.BLAST)]["text"] = "changed by a caller"
            text = str(_expected(blasts, n)["text"])
            assert differential_ci(d, CellClass.BLAST) == "(" + text.split("(", 1)[1]


def test_a_class_not_counted_is_left_out() -> None:
    d = AspirateDifferential({CellClass.BLAST: 5, CellClass.ERYTHROBLAST: 195}, 200)
    assert set(differential_intervals(d)) == {str(CellClass.BLAST), str(CellClass.ERYTHROBLAST)}
