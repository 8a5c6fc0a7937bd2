"""The §10 safety rule on a stored pre-procedure checklist, and the §8 adequacy call of a
specimen. Pure: domain objects in, explained calls out.

The decision is the engine's (:data:`trephine.criteria.sets.diagnostics.SAFETY`, first
matching row: ``REVIEW_REQUIRED`` > ``PROCEED_WITH_CAUTION`` > ``PROCEED``). The *reasons* are
every condition of the review and caution rows that holds, so an operator sees all of them
(apixaban **and** platelets 18 ×10⁹/L), not only the one that decided. Advisory only: nothing
here blocks a procedure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trephine import __version__
from trephine.criteria.engine import evaluate, resolve_params
from trephine.criteria.model import AllOf, AnyOf, Condition, Evidence, Fact, ParamIs, Threshold
from trephine.criteria.sets import diagnostics
from trephine.domain.planning import Checklist, DrugClass, Medication
from trephine.domain.specimen import Hemodilution, Specimen, SpecimenType

SAFETY = diagnostics.SAFETY
ADEQUACY = diagnostics.ICSH

BLEEDING_DISORDER_CITATION = (
    "Bain 2005 (J Clin Pathol 58:406), risk factors: other platelet dysfunction [V]; "
    "its level is the site parameter bleeding_disorder_level [I]"
)

#: Reason levels, most serious first.
REVIEW = "REVIEW_REQUIRED"
CAUTION = "PROCEED_WITH_CAUTION"


@dataclass(frozen=True)
class Reason:
    """One finding behind a safety decision: a code, the level it raises, a sentence with the
    reported value and the threshold, and the rule's citation with its evidence tag."""

    code: str
    level: str
    text: str
    citation: str

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "level": self.level,
            "text": self.text,
            "citation": self.citation,
        }


#: §10 P6 hold intervals, as cited data: generic name → (drug group, the SAFETY parameter that
#: holds its interval in hours, citation with tag). A drug not listed has no interval in the
#: rule set (warfarin: the INR decides, P4; aspirin and the other antiplatelets: local policy):
#: the reason says so rather than guess one.
P6 = "SIR 2019 / BM-biopsy reviews, §10 P6"
HOLD_INTERVALS: Mapping[str, tuple[str, str, str]] = {
    "heparin": ("unfractionated heparin", "hold_ufh_hours", f"{P6}: 4–6 h [V] (secondary)"),
    **dict.fromkeys(
        ("enoxaparin", "dalteparin", "tinzaparin"),
        ("LMWH", "hold_lmwh_hours", f"{P6}: 12 h prophylactic / 24 h therapeutic [V] (secondary)"),
    ),
    "fondaparinux": (
        "fondaparinux",
        "hold_fondaparinux_hours",
        f"{P6}: 2–3 d (CrCl > 50), 3–5 d (lower CrCl) [V] (secondary)",
    ),
    **dict.fromkeys(
        ("apixaban", "rivaroxaban"),
        ("DOAC", "hold_doac_hours", f"{P6}: per local policy, commonly 1–2 d [I]"),
    ),
    "clopidogrel": ("clopidogrel", "hold_clopidogrel_hours", f"{P6}: per local policy, 5 d [I]"),
}


@dataclass(frozen=True)
class HoldCheck:
    """One antithrombotic's last dose against the site's hold interval (§10 P6), advisory.

    ``status``: ``HELD`` (at least the interval before the planned time), ``SHORT`` (less),
    ``LAST_DOSE_NOT_RECORDED``, ``NO_INTERVAL`` (none in the rule set for this drug)."""

    drug: str
    group: str | None
    interval_hours: int | None
    hours_before: Decimal | None
    status: str
    text: str
    citation: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "drug": self.drug,
            "group": self.group,
            "interval_hours": self.interval_hours,
            "hours_before": None if self.hours_before is None else str(self.hours_before),
            "status": self.status,
            "text": self.text,
            "citation": self.citation,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HoldCheck:
        hours = data.get("hours_before")
        return cls(
            drug=data["drug"],
            group=data.get("group"),
            interval_hours=data.get("interval_hours"),
            hours_before=None if hours is None else Decimal(hours),
            status=data["status"],
            text=data["text"],
            citation=data.get("citation"),
        )


def hold_checks(
    checklist: Checklist, planned_for: dt.datetime, params: Mapping[str, Any]
) -> tuple[HoldCheck, ...]:
    """Each antithrombotic's last dose against its P6 interval before ``planned_for`` (UTC).
    ``params`` are the SAFETY rule set's resolved parameters. Never blocking: a short interval
    is a sentence for the operator, and P5 says holding is not routinely required."""
    if params["hold_check"] == "off":
        return ()
    out: list[HoldCheck] = []
    for m in (
        *checklist.of_class(DrugClass.ANTICOAGULANT),
        *checklist.of_class(DrugClass.ANTIPLATELET),
    ):
        out.append(_hold(m, planned_for, params))
    return tuple(out)


def _hold(m: Medication, planned_for: dt.datetime, params: Mapping[str, Any]) -> HoldCheck:
    known = HOLD_INTERVALS.get(m.name.strip().lower())
    if known is None:
        return HoldCheck(
            m.name, None, None, None, "NO_INTERVAL",
            f"{m.name}: no hold interval in the rule set; follow local policy.", None,
        )  # fmt: skip
    group, param, citation = known
    interval = int(params[param])
    if m.last_dose_at is None:
        return HoldCheck(
            m.name, group, interval, None, "LAST_DOSE_NOT_RECORDED",
            f"{m.name}: last dose not recorded, so the {interval} h hold interval for "
            f"{group} cannot be checked.",
            citation,
        )  # fmt: skip
    hours = Decimal((planned_for - m.last_dose_at).total_seconds()) / Decimal(3600)
    hours = hours.quantize(Decimal("0.1"))
    if hours >= interval:
        status, verb = "HELD", "at least"
    else:
        status, verb = "SHORT", "less than"
    return HoldCheck(
        m.name, group, interval, hours, status,
        f"{m.name}: last dose {hours.normalize():f} h before the planned time, {verb} the "
        f"{interval} h a centre that holds {group} usually allows (holding is not routinely "
        "required for a marrow biopsy).",
        citation,
    )  # fmt: skip


@dataclass(frozen=True)
class SafetyCall:
    """The stored §10 decision: category, reasons, what was not reported, rule set, edition,
    parameters used and software version."""

    decision: str
    reasons: tuple[Reason, ...]
    missing: tuple[str, ...]
    flags: tuple[str, ...]
    ruleset: str
    edition: str
    rule: str | None
    params: Mapping[str, Any]
    software_version: str
    evidence: tuple[dict[str, Any], ...] = field(default=())
    #: §10 P6: each antithrombotic's last dose against the site's hold interval (empty when
    #: the planned time was not given or the site turned the check off).
    holds: tuple[HoldCheck, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "holds": [h.as_dict() for h in self.holds],
            "decision": self.decision,
            "reasons": [r.as_dict() for r in self.reasons],
            "missing": list(self.missing),
            "flags": list(self.flags),
            "ruleset": self.ruleset,
            "edition": self.edition,
            "rule": self.rule,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "software_version": self.software_version,
            "evidence": list(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SafetyCall:
        return cls(
            decision=data["decision"],
            reasons=tuple(Reason(**r) for r in data["reasons"]),
            missing=tuple(data["missing"]),
            flags=tuple(data["flags"]),
            ruleset=data["ruleset"],
            edition=data["edition"],
            rule=data["rule"],
            params=dict(data["params"]),
            software_version=data["software_version"],
            evidence=tuple(data.get("evidence", ())),
            holds=tuple(HoldCheck.from_dict(h) for h in data.get("holds", ())),
        )


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def checklist_facts(checklist: Checklist) -> dict[str, Fact | None]:
    """The SAFETY rule set's inputs from a checklist. An unreported count stays None (P2: a
    low-risk procedure does not need one); the booleans are what the checklist records."""
    antiplatelets = checklist.of_class(DrugClass.ANTIPLATELET)
    return {
        "plt": checklist.platelets,
        "inr": checklist.inr,
        "on_anticoagulant": bool(checklist.of_class(DrugClass.ANTICOAGULANT)),
        "on_antiplatelet": bool(antiplatelets),
        "on_aspirin": any(m.name.lower() == "aspirin" for m in antiplatelets),
        "mpn": checklist.mpn,
        "bleeding_disorder": checklist.bleeding_disorder,
    }


def _parts(cond: Condition) -> tuple[Condition, ...]:
    return cond.parts if isinstance(cond, AnyOf) else (cond,)


def _input_of(cond: Condition) -> str | None:
    if isinstance(cond, Threshold):
        return cond.input
    if isinstance(cond, AllOf):
        for part in cond.parts:
            if not isinstance(part, ParamIs):
                return _input_of(part)
    return None


def _sentence(name: str, checklist: Checklist, evidence: list[Evidence]) -> tuple[str, str]:
    """(code, sentence) for one finding, with the reported value and the threshold."""
    threshold = next((e.threshold for e in evidence if e.input == name), None)
    if name == "plt":
        return (
            "PLATELETS_LOW",
            f"Platelets {checklist.platelets} ×10⁹/L are below {threshold} ×10⁹/L: "
            "consider a platelet transfusion (SIR 2019 P3).",
        )
    if name == "inr":
        return (
            "INR_HIGH",
            f"INR {checklist.inr} is above {threshold}.",
        )
    if name == "on_anticoagulant":
        return "ANTICOAGULANT", "On an anticoagulant: " + _drugs(checklist, DrugClass.ANTICOAGULANT)
    if name == "on_antiplatelet":
        return "ANTIPLATELET", "On an antiplatelet drug: " + _drugs(
            checklist, DrugClass.ANTIPLATELET
        )
    if name == "mpn":
        return (
            "MPN",
            "Myeloproliferative neoplasm (bleeding risk; consider acquired von Willebrand).",
        )
    if name == "bleeding_disorder":
        return "BLEEDING_DISORDER", "Known bleeding disorder."
    return name.upper(), name


def _drugs(checklist: Checklist, drug_class: DrugClass) -> str:
    parts = []
    for m in checklist.of_class(drug_class):
        last = (
            "last dose not recorded"
            if m.last_dose_at is None
            else f"last dose {m.last_dose_at.strftime('%Y-%m-%d %H:%M')} UTC"
        )
        parts.append(f"{m.name} ({last})")
    return "; ".join(parts) + "."


def evaluate_checklist(
    checklist: Checklist,
    params: Mapping[str, Any] | None = None,
    planned_for: dt.datetime | None = None,
) -> SafetyCall:
    """The §10 decision on ``checklist`` under the site's parameter overrides ``params``;
    with the planned time, each antithrombotic's hold interval (P6) is checked and said in its
    reason (advisory: it never changes the decision)."""
    full = resolve_params(SAFETY, params)
    holds = () if planned_for is None else hold_checks(checklist, planned_for, full)
    facts = checklist_facts(checklist)
    call = evaluate(SAFETY, facts, full, resolved=True)
    reasons: list[Reason] = []
    seen: set[str] = set()
    for rule in SAFETY.rules:
        if rule.category not in (REVIEW, CAUTION):
            continue
        for part in _parts(rule.when):
            recorded: list[Evidence] = []
            if part.check(facts, full, recorded, set()) is not True:
                continue
            name = _input_of(part)
            if name is None or name in seen:
                continue  # INR above both edges: the review reason already says it
            seen.add(name)
            code, text = _sentence(name, checklist, recorded)
            if name in ("on_anticoagulant", "on_antiplatelet"):
                drug_class = (
                    DrugClass.ANTICOAGULANT
                    if name == "on_anticoagulant"
                    else DrugClass.ANTIPLATELET
                )
                names = {m.name for m in checklist.of_class(drug_class)}
                text = " ".join((text, *(h.text for h in holds if h.drug in names)))
            citation = rule.citation_text
            if name == "bleeding_disorder":
                citation = BLEEDING_DISORDER_CITATION
            reasons.append(Reason(code, rule.category, text, citation))
    return SafetyCall(
        decision=call.category,
        reasons=tuple(reasons),
        missing=tuple(n for n in ("plt", "inr") if facts[n] is None),
        flags=call.flags,
        ruleset=call.ruleset,
        edition=call.edition,
        rule=call.rule_id,
        params=full,
        software_version=__version__,
        evidence=tuple(e.as_dict() for e in call.evidence),
        holds=holds,
    )


# --------------------------------------------------------------------------------------------
#: The §8 [I] haemodilution rule's site parameter: from which grade an aspirate is haemodilute.
HEMODILUTE_FROM_DEFAULT = Hemodilution.MODERATE
_GRADES = tuple(Hemodilution)


@dataclass(frozen=True)
class AdequacyCall:
    """The §8 adequacy call of one specimen.

    ``category`` is the ICSH 2008 rule set's (``ADEQUATE``, ``APARTICULATE``,
    ``SUBOPTIMAL_CORE_LENGTH``) or ``NOT_EVALUABLE`` when the specimen's quality was not
    recorded; ``flags`` add ``NOT_FIRST_PULL`` (ELN 2021 M2: not for MRD) and ``HEMODILUTE``
    (§8 [I]: no MRD-negative or < 5 % blast remission call from it). ``adequate`` is what the
    adequacy rate counts: ADEQUATE and not haemodilute.
    """

    category: str
    flags: tuple[str, ...]
    reasons: tuple[str, ...]
    missing: tuple[str, ...]
    ruleset: str
    edition: str
    params: Mapping[str, Any]
    software_version: str

    @property
    def adequate(self) -> bool:
        return self.category == "ADEQUATE" and "HEMODILUTE" not in self.flags

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "adequate": self.adequate,
            "flags": list(self.flags),
            "reasons": list(self.reasons),
            "missing": list(self.missing),
            "ruleset": self.ruleset,
            "edition": self.edition,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "software_version": self.software_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdequacyCall:
        return cls(
            category=data["category"],
            flags=tuple(data["flags"]),
            reasons=tuple(data["reasons"]),
            missing=tuple(data["missing"]),
            ruleset=data["ruleset"],
            edition=data["edition"],
            params=dict(data["params"]),
            software_version=data["software_version"],
        )


def specimen_adequacy(
    specimen: Specimen, params: Mapping[str, Any] | None = None
) -> AdequacyCall | None:
    """The adequacy call of an aspirate or a trephine core (None for other specimen types).

    ``params``: the ICSH 2008 rule set's (``min_core_cm``, …) plus ``hemodilute_from`` (a
    :class:`Hemodilution` grade, default moderate).
    """
    if specimen.type not in (SpecimenType.ASPIRATE, SpecimenType.TREPHINE_CORE):
        return None
    overrides = dict(params or {})
    hemodilute_from = Hemodilution(overrides.pop("hemodilute_from", HEMODILUTE_FROM_DEFAULT))
    full = resolve_params(ADEQUACY, overrides)
    recorded_params = {**full, "hemodilute_from": str(hemodilute_from)}
    flags: list[str] = []
    reasons: list[str] = []
    missing: list[str] = []
    if specimen.type is SpecimenType.ASPIRATE:
        facts: dict[str, Fact | None] = {
            "spicules_present": specimen.spicules,
            "first_pull": specimen.first_pull,
        }
        if specimen.spicules is None:
            missing.append("spicules")
        if specimen.first_pull is None:
            missing.append("first_pull")
        elif not specimen.first_pull:
            flags.append("NOT_FIRST_PULL")
            reasons.append("Not the first pull: not suitable for MRD (ELN 2021 M2).")
        diluted = specimen.hemodilution is not None and _GRADES.index(
            specimen.hemodilution
        ) >= _GRADES.index(hemodilute_from)
        if diluted or specimen.spicules is False:
            flags.append("HEMODILUTE")
            reasons.append(
                "Haemodilute ("
                + ("no spicules" if specimen.spicules is False else f"{specimen.hemodilution}")
                + "): no MRD-negative or remission call from this aspirate (§8)."
            )
        if specimen.spicules is False:
            reasons.insert(0, "No spicules (aparticulate aspirate; ICSH Q2).")
    else:
        length = specimen.core_length_mm
        facts = {"trephine_length_cm": None if length is None else length / 10}
        if length is None:
            missing.append("core_length_mm")
        elif length / 10 < full["min_core_cm"]:
            reasons.append(
                f"Core {length} mm is shorter than {full['min_core_cm'] * 10} mm (ICSH Q4)."
            )
    category = "NOT_EVALUABLE"
    if not (specimen.type is SpecimenType.ASPIRATE and specimen.spicules is None) and not (
        specimen.type is SpecimenType.TREPHINE_CORE and specimen.core_length_mm is None
    ):
        category = evaluate(ADEQUACY, facts, full, resolved=True).category
    else:
        reasons.insert(0, "Quality not recorded: " + ", ".join(missing[:1]) + ".")
    return AdequacyCall(
        category=category,
        flags=tuple(flags),
        reasons=tuple(reasons),
        missing=tuple(missing),
        ruleset=ADEQUACY.key,
        edition=ADEQUACY.edition,
        params=recorded_params,
        software_version=__version__,
    )
