"""Issue 14 §4: every differential percentage carries its 95 % Wilson interval (JSON, summary,
chronology), and a call whose blast threshold lies inside the interval carries the
COUNT_CANNOT_SEPARATE flag with a worded evidence item — tested at the interval's edges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trephine.analysis.stats import wilson
from trephine.assess.call import Call
from trephine.assess.intervals import COUNT_FLAG, interval_evidence
from trephine.criteria import registry
from trephine.criteria.engine import evaluate
from trephine.domain.results import AspirateDifferential, CellClass
from trephine.present import results as present


def diff(blasts: int, cells: int) -> AspirateDifferential:
    return AspirateDifferential(
        {CellClass.BLAST: blasts, CellClass.NEUTROPHIL: cells - blasts}, cells
    )


def test_the_issue_example_5_percent_of_200_cells() -> None:
    d = diff(10, 200)
    ci = present.detail(d)["derived"]["intervals"]["blasts"]
    assert ci["text"] == "5.0 % (95 % CI 2.7–9.0 %)"
    assert float(ci["ci95_low"]) == pytest.approx(2.7383, abs=1e-4)  # by hand: Wilson 1927
    assert float(ci["ci95_high"]) == pytest.approx(8.9578, abs=1e-4)
    assert "blasts 5.0 % (95 % CI 2.7–9.0 %)" in present.summary(d)
    assert present.detail(d)["derived"]["intervals"]["neutrophils"]["count"] == 190


def evidence_for(pct: Decimal, threshold: int) -> list[dict[str, object]]:
    return [
        {
            "input": "bm_blasts_pct",
            "value": str(pct),
            "comparator": "<",
            "threshold": str(threshold),
            "outcome": pct < threshold,
        }
    ]


def edges(threshold: float, n: int) -> tuple[int, int]:
    """The largest count whose upper bound is below the threshold, and the next one."""
    below = max(x for x in range(n + 1) if wilson(x, n).upper < threshold)
    return below, below + 1


@pytest.mark.parametrize("n", [100, 200, 500])
def test_flag_appears_exactly_when_the_threshold_enters_the_interval(n: int) -> None:
    below, inside = edges(0.05, n)
    for x, flagged in ((below, False), (inside, True)):
        pct = Decimal(x) * 100 / n
        items = interval_evidence(
            evidence_for(pct, 5), {"bm_blasts_pct": pct, "cells_counted": Decimal(n)}
        )
        assert bool(items) is flagged, (x, n)
    # And at the top: the smallest count whose lower bound is above 5 % is not flagged.
    above = min(x for x in range(n + 1) if wilson(x, n).lower > 0.05)
    for x, flagged in ((above - 1, True), (above, False)):
        pct = Decimal(x) * 100 / n
        items = interval_evidence(
            evidence_for(pct, 5), {"bm_blasts_pct": pct, "cells_counted": Decimal(n)}
        )
        assert bool(items) is flagged, (x, n)


def test_known_edges_for_200_cells() -> None:
    # 3/200 = 1.5 % (upper bound 4.3 %) cannot reach 5 %; 4/200 = 2.0 % can.
    assert edges(0.05, 200) == (3, 4)
    assert wilson(3, 200).upper == pytest.approx(0.043166, abs=1e-6)
    assert wilson(4, 200).upper > 0.05


def test_no_flag_without_the_count_or_for_other_inputs() -> None:
    pct = Decimal(5)
    assert interval_evidence(evidence_for(pct, 5), {"bm_blasts_pct": pct}) == []
    other = [{"input": "anc", "value": "0.9", "threshold": "1.0"}]
    assert interval_evidence(other, {"anc": Decimal("0.9"), "cells_counted": Decimal(200)}) == []


def test_a_cr_call_on_a_small_count_carries_the_flag_and_says_why() -> None:
    ruleset = registry.get("ELN2022")
    facts = {
        "bm_blasts_pct": Decimal("4.5"),
        "cells_counted": Decimal(200),
        "anc": Decimal("1.5"),
        "plt": Decimal(150),
        "circulating_blasts": False,
        "extramedullary": False,
        "spicules_present": True,
    }
    evaluation = evaluate(ruleset, facts)
    call = Call.from_evaluation(dt.date(2024, 3, 1), "response", evaluation)
    assert COUNT_FLAG in call.flags
    (item,) = [e for e in call.evidence if e.get("flag") == COUNT_FLAG]
    assert item["sentence"].startswith("Marrow blasts 4.5 % of 200 cells counted (95 % CI 2.4–")
    assert "cannot separate" in item["sentence"]
    # The same marrow counted on 2,000 cells separates them: no flag, same category.
    bigger = evaluate(
        ruleset, {**facts, "bm_blasts_pct": Decimal("2.0"), "cells_counted": Decimal(2000)}
    )
    plain = Call.from_evaluation(dt.date(2024, 3, 1), "response", bigger)
    assert COUNT_FLAG not in plain.flags
