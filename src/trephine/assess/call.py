"""The one typed call object: what an evaluator returns, the store keeps and presenters show.

A :class:`Call` is made once, from the criteria engine's explained result, and carried unchanged
to the store (one row) and to the presenters. Its :attr:`Call.digest` is the one hash of the
evidence the call was made on: the store compares it with the call's latest stored revision,
so the same call on the same evidence by the same edition and software version is not stored
again, and any difference (new edition, new version, amended inputs) is stored as a new row,
never as an update.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json.encoder
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from trephine.assess.intervals import COUNT_FLAG, interval_evidence
from trephine.criteria.model import Evaluation
from trephine.jsontext import dumps_with


def digest_of(explanation: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON text of an explanation (the stored ``inputs_digest``).

    An evidence item's ``role`` (what the comparison did for the matched rule, added after the
    first calls were stored) is left out: it follows from the rule and the comparisons, so it
    adds nothing to the identity, and with it every call stored before would look new.
    """
    evidence = explanation.get("evidence")
    if evidence and any("role" in e for e in evidence):
        explanation = {**explanation, "evidence": _without_roles(evidence)}
    return hashlib.sha256(_canonical(explanation).encode("utf-8")).hexdigest()


def _without_roles(evidence: Any) -> list[Any]:
    return [{k: v for k, v in e.items() if k != "role"} if "role" in e else e for e in evidence]


#: ``json.dumps(…, sort_keys=True, default=str)`` made once (the same text: the stored digests
#: must not change).
_canonical = dumps_with(sort_keys=True, default=str)
_string: Callable[[str], str] = json.encoder.encode_basestring_ascii


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
        ``COUNT_CANNOT_SEPARATE`` flag and a worded evidence item (:mod:`.intervals`).

        The same call as ``Call.of(…, evaluation.explanation() + interval items)``, field for
        field and digest for digest, built without the intermediate explanation: the canonical
        JSON text is put together from the parts that change from call to call (evidence,
        missing inputs, flags) and the parts encoded once (parameters, the rows not met).
        """
        e = evaluation
        texts = (e.ruleset, e.edition, e.category, e.citation, e.software_version, e.note)
        if not all(t.__class__ is str for t in texts) or (
            e.rule_id is not None and e.rule_id.__class__ is not str
        ):
            return cls._from_explanation(date, kind, e, category)
        params = _plain_params(e.params)
        if params is None:  # a parameter value that is not plain data: the general path
            return cls._from_explanation(date, kind, e, category)
        plain, params_text = params
        evidence = [item.as_dict(role=False) for item in e.evidence]
        flags = e.flags
        extra = interval_evidence(evidence, e.facts)
        if extra:
            evidence.extend(extra)
            flags = (*flags, COUNT_FLAG)
        evidence_text = _canonical(evidence)  # as digest_of: without the roles, added next
        for stored, item in zip(evidence, e.evidence, strict=False):
            if item.role is not None:
                stored["role"] = item.role
        missing, flags_text = _strings(e.missing), _strings(flags)
        not_met = _strings(e.rules_not_met)
        if missing is None or flags_text is None or not_met is None:
            return cls._from_explanation(date, kind, e, category)
        text = "".join(
            (
                '{"category": ',
                _string(e.category),
                ', "citation": ',
                _string(e.citation),
                ', "edition": ',
                _string(e.edition),
                ', "evidence": ',
                evidence_text,
                ', "flags": ',
                flags_text,
                ', "missing": ',
                missing,
                f', "note": {_string(e.note)}' if e.note else "",
                ', "params": ',
                params_text,
                ', "rule": ',
                "null" if e.rule_id is None else _string(e.rule_id),
                ', "rules_not_met": ',
                not_met,
                ', "ruleset": ',
                _string(e.ruleset),
                ', "software_version": ',
                _string(e.software_version),
                "}",
            )
        )
        return cls(
            date=date,
            kind=kind,
            category=category or e.category,
            ruleset=e.ruleset or e.edition,
            edition=e.edition,
            software_version=e.software_version,
            rule=e.rule_id,
            evidence=tuple(evidence),
            missing=e.missing,
            citation=e.citation,
            flags=flags,
            params=dict(plain),
            digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        )

    @classmethod
    def _from_explanation(
        cls, date: dt.date, kind: str, evaluation: Evaluation, category: str | None = None
    ) -> Call:
        """:meth:`from_evaluation` by way of the explanation dict (the reference the fast path
        is tested against, and the path for values that are not plain data)."""
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

    @property
    def sample(self) -> str | None:
        """The sample the call rests on (:data:`BONE_MARROW` or :data:`PERIPHERAL_BLOOD`) when
        it rests on one result (an MRD call), from its :func:`on_sample` evidence item; None
        for a call of a whole time point (a response reads the marrow and the blood count) and
        for one stored before calls named their sample."""
        for item in self.evidence:
            if item.get("input") == SAMPLE:
                return str(item.get("value"))
        return None

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


#: The evidence item of a call that rests on one sample: which (a day's marrow and blood MRD
#: results are two calls of one date and kind; each says which sample it is).
SAMPLE = "sample"
BONE_MARROW = "bone marrow"
PERIPHERAL_BLOOD = "peripheral blood"
#: The time points' tissue codes (``TimePoint.tissue``) as the sample item names them.
SAMPLE_OF_TISSUE = {"BM": BONE_MARROW, "PB": PERIPHERAL_BLOOD}


def on_sample(made: Call, sample: str | None) -> Call:
    """``made`` with the evidence item naming the sample it rests on (:attr:`Call.sample`) and
    the digest of both, or as it is when the sample is not known (a result on no stored
    specimen). Two calls of one day that differ only by their sample are two calls."""
    if sample is None:
        return made
    item = {"input": SAMPLE, "value": sample, "comparator": None, "threshold": None}
    return replace(
        made,
        evidence=(*made.evidence, item),
        digest=digest_of({"call": made.digest, SAMPLE: sample}),
    )


#: Encoded once: a rule set's parameters as stored (``{name: value}``, decimals as text) and
#: their canonical JSON, keyed by the names and the *identity* of the values (a resolved
#: parameter set is reused across a timeline's evaluations; the values are immutable).
_PARAMS: dict[
    tuple[tuple[str, ...], tuple[int, ...]], tuple[tuple[Any, ...], dict[str, Any], str]
] = {}
#: Canonical JSON of tuples of text (missing inputs, flags, rows not met), by value.
_STRINGS: dict[tuple[str, ...], str] = {}
_CACHE_MAX = 4096
_IMMUTABLE = frozenset((str, int, bool, float, Decimal, type(None)))


def _plain_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The stored form of ``params`` and its canonical JSON, or None when a value is not of an
    immutable plain type (then it cannot be keyed by identity)."""
    values = tuple(params.values())
    key = (tuple(params), tuple(map(id, values)))
    found = _PARAMS.get(key)
    if found is not None:
        return found[1], found[2]
    if not all(v.__class__ in _IMMUTABLE for v in values) or not all(
        k.__class__ is str for k in key[0]
    ):
        return None
    plain = {k: str(v) if isinstance(v, Decimal) else v for k, v in params.items()}
    if len(_PARAMS) >= _CACHE_MAX:
        _PARAMS.clear()
    # The values are kept with the entry so that their ids cannot be reused while it exists.
    _PARAMS[key] = (values, plain, _canonical(plain))
    return plain, _PARAMS[key][2]


def _strings(items: tuple[str, ...]) -> str | None:
    """Canonical JSON of a tuple of text, or None when an item is not text."""
    found = _STRINGS.get(items)
    if found is None:
        if not all(isinstance(i, str) for i in items):
            return None
        if len(_STRINGS) >= _CACHE_MAX:
            _STRINGS.clear()
        found = _STRINGS[items] = _canonical(list(items))
    return found


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
