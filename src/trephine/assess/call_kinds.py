"""Which calls the stored-timeline story makes, and the words a page, the report and the command
line give each (the call's *kind*: what question it answers; its *category* is the answer, worded
by :func:`trephine.criteria.categories.category_words`).

One home: the patient page's call headings, the marrow report's criteria section and
``trephine assess``'s table read :func:`call_kind_words`; a test assesses a demo cohort holding
every scenario and fails when a stored kind has no words here.
"""

from __future__ import annotations

#: Every call kind the evaluators of :mod:`trephine.assess` store, with its words (sentence case,
#: as a heading starts). Kinds named after a published rule set keep that set's own terms.
CALL_KIND_WORDS: dict[str, str] = {
    "response": "Response",
    "relapse": "Relapse",
    "progression": "Progression",
    "mrd": "MRD",
    # ELN 2021 MRD: a conversion from negative, or a rise, confirmed on a second sample.
    "mrd_event": "MRD relapse or progression",
    # AML: the diagnostic marrow the later responses are measured against.
    "baseline": "Baseline before treatment",
    # ELN 2022 refractoriness and ALL's end of induction: a call at a fixed time point.
    "landmark": "Landmark",
    "anaemia_workup": "Anaemia work-up",
    "severity": "Severity",
    "iron": "Iron overload",
    "chimerism": "Chimerism",
    "engraftment": "Engraftment",
    "b_cell_aplasia": "B-cell aplasia",
    "cart_relapse": "Relapse after CAR-T",
    "clonal_evolution": "Clonal evolution",
}


def call_kind_words(kind: str | None) -> str:
    """The words of a call kind; a kind without words (none is stored today: a test holds it)
    reads as its name with spaces, so a new kind shows rather than fails; no kind: "Call"."""
    if not kind:
        return "Call"
    words = CALL_KIND_WORDS.get(kind)
    if words is not None:
        return words
    text = kind.replace("_", " ")
    return text[:1].upper() + text[1:]
