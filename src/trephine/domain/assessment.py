"""The stored shape of a criteria assessment (computed by :mod:`trephine.criteria`).

An assessment explains itself: the category, which rule set and edition, the rule that matched,
the evidence (each input with value and provenance) and the inputs that were missing, plus the
software version that computed it. Stored assessments are never recomputed in place — a new
edition or engine version makes a new assessment (DESIGN §3.3).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trephine.domain._checks import require_text, require_utc


@dataclass(frozen=True)
class Assessment:
    category: str
    ruleset: str
    criteria_edition: str
    assessed_on: dt.date
    software_version: str
    computed_at: dt.datetime
    matched_rule: str | None = None
    #: JSON-serialisable evidence: input name → {"value": …, "unit": …, "source": …}.
    evidence: Mapping[str, Any] = field(default_factory=dict)
    missing_inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require_text("category", self.category, 64)
        require_text("ruleset", self.ruleset, 64)
        require_text("criteria_edition", self.criteria_edition, 64)
        require_text("software_version", self.software_version, 64)
        require_utc("computed_at", self.computed_at)
        object.__setattr__(self, "evidence", dict(self.evidence))
        object.__setattr__(self, "missing_inputs", tuple(self.missing_inputs))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Assessment):
            return NotImplemented
        return {**vars(self), "evidence": dict(self.evidence)} == {
            **vars(other),
            "evidence": dict(other.evidence),
        }

    def __hash__(self) -> int:
        return hash((self.category, self.ruleset, self.criteria_edition, self.computed_at))
