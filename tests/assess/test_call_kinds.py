"""Every call kind the story stores has its words (:mod:`trephine.assess.call_kinds`), and the
pages, the marrow report and ``trephine assess`` say them rather than the kind's code."""

from __future__ import annotations

from pathlib import Path

from trephine.assess.call_kinds import CALL_KIND_WORDS, call_kind_words
from trephine.testing.fixtures import assess_demo


def test_every_stored_call_kind_has_words_and_every_word_a_kind(tmp_path: Path) -> None:
    assessed = assess_demo(f"sqlite:///{tmp_path / 'demo.db'}", 240)
    kinds = {c.kind for calls in assessed.values() for c in calls.calls}
    assert len(kinds) >= 15  # response, relapse, MRD … and the aplastic, CAR-T and HCT calls
    assert sorted(kinds - CALL_KIND_WORDS.keys()) == []
    assert sorted(CALL_KIND_WORDS.keys() - kinds) == []


def test_words_of_a_kind() -> None:
    assert call_kind_words("mrd") == "MRD"
    assert call_kind_words("anaemia_workup") == "Anaemia work-up"
    assert call_kind_words("cart_relapse") == "Relapse after CAR-T"
    # A kind without words still reads as words, not as a code; no kind at all is a "Call".
    assert call_kind_words("some_new_kind") == "Some new kind"
    assert call_kind_words(None) == call_kind_words("") == "Call"
