"""The stored shape of a criteria assessment (computed by :mod:`trephine.criteria`).

An assessment explains itself: the category, which rule set and edition, the rule that matched
and its citation, the evidence (each comparison the engine made: input, value, comparator,
threshold, outcome, and where the value came from) and the inputs that were missing, plus the
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
    #: The clinical date assessed (the time point), not when it was computed.
    assessed_on: dt.date
    software_version: str
    computed_at: dt.datetime
    matched_rule: str | None = None
    #: JSON-serialisable items, e.g. {"input": "blasts", "value": "3.2", "comparator": "LT",
    #: "threshold": "5", "outcome": true, "source": "result 17"}.
    evidence: tuple[Mapping[str, Any], ...] = ()
    missing_inputs: tuple[str, ...] = ()
    #: Where the matched rule comes from, e.g. "Döhner 2022, Table 7".
    citation: str | None = None
    #: Caveats such as "needs confirmation".
    flags: tuple[str, ...] = ()
    #: Parameters the criteria set was evaluated with (site choices, version switches).
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_text("category", self.category, 64)
        require_text("ruleset", self.ruleset, 64)
        require_text("criteria_edition", self.criteria_edition, 64)
        require_text("software_version", self.software_version, 64)
        require_utc("computed_at", self.computed_at)
        object.__setattr__(self, "evidence", tuple(dict(e) for e in self.evidence))
        object.__setattr__(self, "missing_inputs", tuple(self.missing_inputs))
        object.__setattr__(self, "flags", tuple(self.flags))
        object.__setattr__(self, "params", dict(self.params))

    def __hash__(self) -> int:
        # Evidence and params are JSON-like dicts (unhashable); the key fields identify it.
        return hash((self.category, self.ruleset, self.criteria_edition, self.computed_at))
