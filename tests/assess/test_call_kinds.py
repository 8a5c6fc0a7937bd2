"""Every call kind the story stores has its words (:mod:`trephine.assess.call_kinds`), and the
pages, the marrow report and ``trephine assess`` say them rather than the kind's code."""

from __future__ import annotations

from pathlib import Path

from trephine.assess.call_kinds import CALL_KIND_WORDS, call_kind_words


def _stored_kinds(folder: Path, patients: int) -> set[str]:
    """The call kinds of a demo cohort of ``patients``, assessed as ``trephine assess --all``
    does (the default 240 hold every kind; 80 still lack the CAR-T relapse and the aplastic
    anaemia's clonal evolution)."""
    from trephine.assess.registry import choose
    from trephine.errors import CriteriaNotApplicable
    from trephine.services.assessments import load_all_inputs
    from trephine.store.database import Database
    from trephine.testing.fixtures import load_demo_database

    url = f"sqlite:///{folder / 'demo.db'}"
    load_demo_database(url, patients)
    db = Database(url)
    try:
        with db.unit_of_work("test") as uow:
            inputs = load_all_inputs(uow)
    finally:
        db.dispose()
    kinds: set[str] = set()
    for found in inputs.values():
        try:
            assessor = choose(found.diagnoses)
        except CriteriaNotApplicable:
            continue
        kinds.update(c.kind for c in assessor.run(found, {}).calls)
    return kinds


def test_every_stored_call_kind_has_words_and_every_word_a_kind(tmp_path: Path) -> None:
    kinds = _stored_kinds(tmp_path, 240)
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
