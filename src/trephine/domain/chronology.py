"""A patient's chronology: diagnoses, therapy lines, cellular therapies and biopsies in date order.

(The *timeline* is the API/page view built from results and therapy lines, ``TimelinePublic``;
stored-results assessment is :mod:`trephine.assess`.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class EntryKind(StrEnum):
    DIAGNOSIS = "diagnosis"
    THERAPY = "therapy"
    TRANSPLANT = "transplant"
    CAR_T = "CAR-T"
    PROCEDURE = "biopsy"
    RESULT = "result"
    ASSESSMENT = "assessment"


@dataclass(frozen=True)
class ChronologyEntry:
    on: dt.date
    kind: EntryKind
    title: str
    detail: str = ""
    #: Last day for spans (therapy lines); None for point events or ongoing lines.
    until: dt.date | None = None


def ordered(entries: list[ChronologyEntry]) -> list[ChronologyEntry]:
    """Date order; on the same day a diagnosis comes before therapy, therapy before biopsies."""
    rank = {kind: i for i, kind in enumerate(EntryKind)}
    return sorted(entries, key=lambda e: (e.on, rank[e.kind]))
