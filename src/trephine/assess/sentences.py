"""Alert messages as sentences: the supporting evidence with its value, threshold and source
("Marrow blasts 39 % — at least 5 %: haematological relapse after CR (NCCN ALL [R])").

The stored calls keep their evidence as data; pages turn that into sentences in
:mod:`trephine.present`. An alert is stored as one message, so it is worded here, once, in the
words (label, unit and relation) of their one home, :mod:`trephine.criteria.input_words`, which
the pages read too. A stored message is history: it keeps the words it was raised with.
"""

from __future__ import annotations

from trephine.criteria.input_words import RELATION_WORDS, input_label, input_unit
from trephine.criteria.model import SUPPORTS, Comparator, Evaluation


def sentence(evaluation: Evaluation, what: str, source: str) -> str:
    """The comparisons that support the call, then what it means and the source.

    Picked by :attr:`~trephine.criteria.model.Evidence.role`, not by outcome: a comparison the
    matched rule did not need (an either/or branch another branch carried, or a part of it) is
    never quoted, even when it held; one that supports the call by *not* holding (under
    ``Not``) is worded as its opposite holding ("Marrow blasts 3 % — below 5 %").
    """
    parts = []
    for e in evaluation.evidence:
        if e.role != SUPPORTS or e.comparator is None:
            continue
        comparator = e.comparator if e.outcome is not False else e.comparator.inverse
        label, unit = input_label(e.input), input_unit(e.input)
        if isinstance(e.value, bool):
            parts.append(f"{label}: {'yes' if e.value else 'no'}")
        elif comparator is Comparator.EQ:
            parts.append(f"{label}: {e.value}")
        else:
            relation = RELATION_WORDS[comparator].holds
            parts.append(f"{label} {e.value}{unit} — {relation} {e.threshold}{unit}")
    return f"{'; '.join(parts) or what.capitalize()}: {what} ({source})"
