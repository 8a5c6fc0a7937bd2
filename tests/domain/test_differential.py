"""Aspirate differential: derived blast % and M:E ratio, count invariants."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trephine.domain import AspirateDifferential, CellClass
from trephine.domain.results import ERYTHROID_CLASSES, MYELOID_CLASSES
from trephine.errors import ValidationError

NORMAL = {
    # A plausible adult marrow (criteria spec §7.3 ranges), 500 cells.
    CellClass.BLAST: 10,
    CellClass.PROMYELOCYTE: 15,
    CellClass.MYELOCYTE: 60,
    CellClass.METAMYELOCYTE: 50,
    CellClass.BAND: 50,
    CellClass.NEUTROPHIL: 60,
    CellClass.EOSINOPHIL: 15,
    CellClass.BASOPHIL: 0,
    CellClass.MONOCYTE: 10,
    CellClass.PROERYTHROBLAST: 5,
    CellClass.ERYTHROBLAST: 115,
    CellClass.LYMPHOCYTE: 100,
    CellClass.PLASMA_CELL: 10,
}


def test_blast_percent_is_of_all_nucleated_cells() -> None:
    diff = AspirateDifferential(NORMAL, 500)
    assert diff.blast_percent == Decimal(2)
    assert diff.percent(CellClass.LYMPHOCYTE) == Decimal(20)


def test_blast_percent_is_exact_not_rounded() -> None:
    # 124 of 2500 is 4.96 %: it must stay below 5, never be rounded up to it (spec G2).
    counts = {CellClass.BLAST: 124, CellClass.NEUTROPHIL: 2376}
    assert AspirateDifferential(counts, 2500).blast_percent == Decimal("4.96")


def test_me_ratio_counts_granulocytic_series_against_erythroid_precursors() -> None:
    diff = AspirateDifferential(NORMAL, 500)
    myeloid = 10 + 15 + 60 + 50 + 50 + 60 + 15 + 0  # blasts … basophils, not monocytes
    erythroid = 5 + 115
    assert diff.me_ratio() == Decimal(myeloid) / Decimal(erythroid)
    assert Decimal(2) <= diff.me_ratio() <= Decimal(4)  # type: ignore[operator]
    assert diff.me_ratio(include_monocytes=True) == Decimal(myeloid + 10) / Decimal(erythroid)


def test_me_ratio_is_undefined_without_erythroid_precursors() -> None:
    assert AspirateDifferential({CellClass.NEUTROPHIL: 10}, 10).me_ratio() is None


def test_lymphocytes_and_plasma_cells_are_neither_myeloid_nor_erythroid() -> None:
    assert CellClass.LYMPHOCYTE not in MYELOID_CLASSES | ERYTHROID_CLASSES
    assert CellClass.PLASMA_CELL not in MYELOID_CLASSES | ERYTHROID_CLASSES
    assert not MYELOID_CLASSES & ERYTHROID_CLASSES


def test_cells_counted_must_equal_the_sum() -> None:
    with pytest.raises(ValidationError) as caught:
        AspirateDifferential({CellClass.BLAST: 10, CellClass.NEUTROPHIL: 480}, 500)
    assert caught.value.field == "cells_counted" and "490" in str(caught.value)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_counts_are_whole_non_negative_numbers(bad: object) -> None:
    with pytest.raises(ValidationError, match="blasts"):
        AspirateDifferential({CellClass.BLAST: bad}, 1)  # type: ignore[dict-item]


def test_adequacy_follows_icsh_500_cells() -> None:
    assert AspirateDifferential(NORMAL, 500).adequate
    assert not AspirateDifferential({CellClass.BLAST: 1, CellClass.NEUTROPHIL: 198}, 199).adequate


def test_zero_counts_do_not_change_equality() -> None:
    a = AspirateDifferential({CellClass.BLAST: 1, CellClass.NEUTROPHIL: 9}, 10)
    b = AspirateDifferential({CellClass.BLAST: 1, CellClass.NEUTROPHIL: 9, CellClass.BAND: 0}, 10)
    assert a == b and hash(a) == hash(b)


counts = st.dictionaries(st.sampled_from(list(CellClass)), st.integers(0, 400), min_size=1).filter(
    lambda d: sum(d.values()) > 0
)


# No deadline: the machine is shared, and timing is not what these tests check.
@settings(deadline=None)
@given(counts, st.integers(1, 5))
def test_derived_values_are_invariant_to_scaling_the_count(
    base: dict[CellClass, int], factor: int
) -> None:
    one = AspirateDifferential(base, sum(base.values()))
    scaled = {k: v * factor for k, v in base.items()}
    many = AspirateDifferential(scaled, sum(scaled.values()))
    assert many.blast_percent == one.blast_percent
    assert many.me_ratio() == one.me_ratio()
    assert Decimal(0) <= one.blast_percent <= Decimal(100)
