"""The one typed call object: what an evaluator returns, the store keeps and presenters show.

A :class:`Call` is made once, from the criteria engine's explained result, and carried unchanged
to the store (one row) and to the presenters. Its :attr:`Call.digest` is the one hash of the
evidence the call was made on: the store keys on it, so the same call on the same evidence by
the same edition and software version is stored once, and any difference (new edition, new
version, amended inputs) is stored as a new row, never as an update.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trephine.assess.intervals import COUNT_FLAG, interval_evidence
from trephine.criteria.model import Evaluation


def digest_of(explanation: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON text of an explanation (the stored ``inputs_digest``)."""
    return hashlib.sha256(_DIGEST_JSON(explanation).encode("utf-8")).hexdigest()


#: ``json.dumps(…, sort_keys=True, default=str)`` without building an encoder per call (the
#: same text: the stored digests must not change).
_DIGEST_JSON = json.JSONEncoder(sort_keys=True, default=str).encode


@dataclass(frozen=True)
class Call:
    """One dated call on a patient's stored results.

    ``kind`` says which call of the disease it is (baseline, response, relapse, landmark, mrd,
    mrd_event, chimerism, progression, severity, …); ``ruleset`` is the key of the criteria rule
    set that made it and ``edition`` its edition.
    """

    date: dt.date
    kind: str
    category: str
    ruleset: str
    edition: str
    software_version: str
    rule: str | None = None
    evidence: tuple[Mapping[str, Any], ...] = ()
    missing: tuple[str, ...] = ()
    citation: str | None = None
    flags: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    #: :func:`digest_of` the full explanation the call was made from.
    digest: str = ""

    @classmethod
    def of(
        cls,
        date: dt.date,
        kind: str,
        explanation: Mapping[str, Any],
        *,
        category: str,
        edition: str,
        software_version: str,
    ) -> Call:
        """A call from an explanation (the engine's, a series step's or a hand-made one)."""
        ex = explanation
        return cls(
            date=date,
            kind=kind,
            category=category,
            ruleset=str(ex.get("ruleset") or edition),
            edition=edition,
            software_version=software_version,
            rule=None if ex.get("rule") is None else str(ex["rule"]),
            evidence=tuple(dict(e) for e in ex.get("evidence", ())),
            missing=tuple(str(m) for m in ex.get("missing", ())),
            citation=None if ex.get("citation") is None else str(ex["citation"]),
            flags=tuple(str(f) for f in ex.get("flags", ())),
            params=dict(ex.get("params", {})),
            digest=digest_of(ex),
        )

    @classmethod
    def from_evaluation(
        cls, date: dt.date, kind: str, evaluation: Evaluation, category: str | None = None
    ) -> Call:
        """The call of one engine evaluation (``category`` overrides, e.g. ``CR_MRD-``).

        A counted percentage compared with a threshold inside its 95 % interval adds the
        ``COUNT_CANNOT_SEPARATE`` flag and a worded evidence item (:mod:`.intervals`)."""
        explanation = evaluation.explanation()
        extra = interval_evidence(explanation["evidence"], evaluation.facts)
        if extra:
            explanation["evidence"] = [*explanation["evidence"], *extra]
            explanation["flags"] = [*explanation["flags"], COUNT_FLAG]
        return cls.of(
            date,
            kind,
            explanation,
            category=category or evaluation.category,
            edition=evaluation.edition,
            software_version=evaluation.software_version,
        )

    def key(self) -> tuple[str, str, str, str, str, str]:
        """Identity: the same key means the same call on the same evidence by the same rule
        set, edition and version."""
        return (
            self.date.isoformat(),
            self.kind,
            self.ruleset,
            self.edition,
            self.software_version,
            self.digest,
        )


@dataclass(frozen=True)
class Alert:
    date: dt.date
    code: str  # HEMATOLOGIC_RELAPSE, REFRACTORY, MRD_CONVERSION, MRD_LOG_RISE, ...
    message: str


@dataclass(frozen=True)
class Calls:
    """Everything one evaluator returns for one patient."""

    calls: tuple[Call, ...]
    alerts: tuple[Alert, ...]
    baseline_bm_blasts_pct: Decimal | None = None
    best_response: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
