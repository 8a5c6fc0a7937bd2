"""The paired-samples page's words and numbers (present/paired.py), without a database."""

from __future__ import annotations

from trephine.analysis.cohort.paired import SpecimenChange
from trephine.analysis.microenvironment.paired import Pair, compare
from trephine.present.paired import clonal_sentence, number, paired_test_sentence, signed, vaf
from trephine.services.research import PairedSpecimens


def test_numbers_four_significant_digits_true_minus_and_vaf_as_reported() -> None:
    assert number(0.0078125) == "0.007813" and number(-0.73) == "−0.73"
    assert signed(21.0) == "+21" and signed(0.0) == "0" and signed(-1.19) == "−1.19"
    assert vaf(0.366) == "36.6 %" and vaf(0.0005) == "0.05 %" and vaf(None) == "—"


def test_clonal_sentence_names_each_change_and_clonal_haematopoiesis() -> None:
    p = PairedSpecimens(
        "P1",
        "S1",
        "S2",
        0.0,
        539.0,
        (
            SpecimenChange("FLT3", "c.1780_1809dup", 0.289, 0.338, "persistent", False),
            SpecimenChange("NPM1", "c.860_863dup", 0.41, None, "cleared", False),
            SpecimenChange("DNMT3A", "c.2645G>A", 0.12, 0.11, "persistent", True),
        ),
    )
    text = clonal_sentence(p)
    assert text.startswith("Between day 0 and day 539 after diagnosis")
    assert "2 persisted (FLT3 c.1780_1809dup, 28.9 % → 33.8 %; DNMT3A" in text
    assert "1 cleared (NPM1 c.860_863dup, 41 % before)" in text and "none emerged" in text
    assert "DNMT3A may be clonal haematopoiesis" in text


def test_paired_sentence_counts_directions_and_gives_p_and_q() -> None:
    (tested, untested) = compare(
        {
            "core cellularity": ("%", [Pair(f"P{i}", 80.0 + i, 20.0 + i) for i in range(6)]),
            "cells counted": ("", [Pair("P1", 500, 500), Pair("P2", 500, 500)]),
        }
    )
    text = paired_test_sentence(tested, ("Screening", "End of induction"), 1)
    assert tested.test is not None and tested.q_value is not None
    assert "in 6 patients with a value at both visits" in text
    assert "median was 82.5 % at Screening and 22.5 % at End of induction" in text
    assert "(median change −60)" in text and "lower in 6" in text
    assert f"p = {number(tested.test.p_value)}" in text and "effect size r = −1." in text
    assert "not tested, every pair unchanged" in paired_test_sentence(untested, ("a", "b"), 1)
