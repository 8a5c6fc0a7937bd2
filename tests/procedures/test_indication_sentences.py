"""Every indication has a plain-language sentence a patient reads easily (issue 11 §1)."""

from __future__ import annotations

import pytest
import textstat

from trephine.domain.procedure import Indication
from trephine.present.procedures import INDICATION_SENTENCES, indication_sentence


def test_every_indication_has_a_sentence() -> None:
    assert set(INDICATION_SENTENCES) == set(Indication)


@pytest.mark.parametrize("indication", list(Indication), ids=str)
def test_reading_grade_at_most_8_and_ease_at_least_60(indication: Indication) -> None:
    text = indication_sentence(indication)
    grade = textstat.flesch_kincaid_grade(text)
    ease = textstat.flesch_reading_ease(text)
    assert grade <= 8, f"{indication}: grade {grade}"
    assert ease >= 60, f"{indication}: reading ease {ease}"


def test_marrow_is_explained_where_it_is_used() -> None:
    for indication, text in INDICATION_SENTENCES.items():
        if "marrow" in text:
            assert "soft part inside your bones" in text, indication
