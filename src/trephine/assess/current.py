"""Which stored calls are current: the one home of the rule, read by the pages
(:func:`trephine.services.assessments.current_assessments`, over decoded calls) and by the
research view (:func:`trephine.services.research.courses`, over bare columns, so that a cohort of
10,000 patients is not decoded call by call).

A *call* is a patient's (date, call kind, rule set, edition). Its rows are append-only: a call
computed differently from its latest revision is stored again, whole, as the next revision
(migration 0031). Current are:

- every row of each call's latest revision — usually one row, several when one day has several
  calls of a kind (a marrow and a blood MRD result of one date are stored together, as one
  revision, and both are current); older revisions stay in the store as history;
- except a row flagged :data:`trephine.assess.story.SUPERSEDED` (one marrow, one story: a
  response call superseded by the same marrow's relapse or the same assessment's progression is
  kept as history, never current).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from trephine.assess.story import SUPERSEDED

T = TypeVar("T")


def current_rows(
    rows: Iterable[T],
    *,
    call: Callable[[T], Hashable],
    revision: Callable[[T], int],
    flags: Callable[[T], Iterable[str]],
) -> list[T]:
    """The current ``rows`` (module docstring), in the order given. ``call(row)`` is the row's
    call (date, call kind, rule set, edition — for one patient; add the patient to the key when
    ``rows`` hold several), ``revision(row)`` its revision and ``flags(row)`` its flags."""
    # Each row's call and revision read once; its flags only for a row of a latest revision.
    keyed = [(call(row), revision(row), row) for row in rows]
    latest: dict[Hashable, int] = {}
    for key, rev, _ in keyed:
        if latest.get(key, rev) <= rev:
            latest[key] = rev
    return [row for key, rev, row in keyed if rev == latest[key] and SUPERSEDED not in flags(row)]
