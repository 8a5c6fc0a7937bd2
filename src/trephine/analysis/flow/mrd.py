"""Flow-cytometry MRD quantification: MRD %, LOD/LLOQ, sensitivity reached, call and flags.

Given the event counts of a denominator population (e.g. viable CD45+ leukocytes) and an
abnormal population (LAIP / different-from-normal), :func:`quantify_mrd` reports the MRD level,
the assay limits in events and as fractions of the denominator, the sensitivity the acquisition
reached, an MRD call and flags. Every threshold is a :class:`CitedThreshold` carrying the rule id,
source and evidence tag of ``shared/spec/clinical-criteria.md`` (tags: [V] verified, [R] recalled,
[I] our implementation choice - configurable, must be signed off).

Arithmetic is exact: comparisons use integer cross-multiplication of the counts against the
threshold's decimal value (never a float, never a rounded percentage), so "exactly 0.1 %" is
exactly 0.1 %. Reported levels are :class:`~decimal.Decimal`.

The result is a plain frozen dataclass; storing it as a flow MRD result on a specimen is the
services layer's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext
from enum import StrEnum
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from trephine.criteria.model import Comparator
from trephine.errors import ValidationError
from trephine.present.numbers import format_value


@dataclass(frozen=True)
class CitedThreshold:
    """A threshold as written in the criteria document, with where it comes from."""

    value: Decimal
    #: The inequality as written (the one :class:`~trephine.criteria.model.Comparator`).
    comparator: Comparator
    rule: str  #: rule id in clinical-criteria.md, e.g. "M5"
    source: str  #: source key and locator, e.g. "S4 Heuser 2021, MFC table"
    tag: str  #: evidence tag: "[V]", "[R]", "[I]" (or a combination as the document writes)

    def holds(self, value: Fraction) -> bool:
        return self.comparator.test(value, Fraction(self.value))

    def describe(self) -> str:
        return f"{self.bound()} ({self.rule}, {self.source} {self.tag})"

    def bound(self, scale: int = 1, unit: str = "") -> str:
        """The inequality for a sentence: ``> 500,000``; ``scale=100, unit=" %"`` gives a
        fraction as a percentage (``>= 0.1 %``). A flag's message uses it: the flag carries its
        citation (rule, source, tag) in fields of its own."""
        return f"{self.comparator} {_shown(self.value * scale)}{unit}"


@dataclass(frozen=True)
class MrdCriteria:
    """How one disease's flow MRD is called (one instance per criteria set and edition)."""

    name: str
    #: MRD level (as a fraction of the denominator, e.g. 0.001 = 0.1 %) at which MRD is positive.
    positivity: CitedThreshold
    #: Denominator events needed before a negative result may be reported.
    negative_requires_events: CitedThreshold
    #: Smallest abnormal cluster that counts as a population (events).
    lod_events: CitedThreshold
    #: Smallest abnormal cluster that can be quantified (events).
    lloq_events: CitedThreshold
    #: Sensitivity (LLOQ events / denominator events) the assay is meant to reach.
    target_sensitivity: CitedThreshold


_S4 = "S4 Heuser et al., Blood 2021;138:2753, MFC recommendations"
_S18 = "S18 ASH Education Program 2021, Table 1 (adult ALL)"
_S8 = "S8 Kumar et al., Lancet Oncol 2016 (IMWG), flow MRD-negative"


def eln2021_parameters(params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ELN 2021 MRD rule set's parameters (its documented defaults, overridden by
    ``params``): the one source of the M4 event minimum, the M5 threshold and the M6 LOD/LLOQ.

    ``criteria/sets/eln2021_mrd.py`` declares them for the criteria engine; flow MRD reads the
    same declaration, so a site that changes the M6 limit there changes ``flow mrd`` too."""
    from trephine.criteria.engine import resolve_params
    from trephine.criteria.sets import eln2021_mrd

    return resolve_params(eln2021_mrd.MRD, params)


def _events(value: object) -> Decimal:
    return Decimal(int(Decimal(str(value))))


def criteria_sets(params: Mapping[str, Any] | None = None) -> dict[str, MrdCriteria]:
    """The flow MRD criteria sets by name (AML, ALL, CLL, MM), built from the ELN 2021 MRD rule
    set's parameters (:func:`eln2021_parameters`; ``params`` overrides them by name).

    The M6 LOD/LLOQ apply to every set (the other diseases' MFC-MRD documents do not define
    their own; [R]/[I]); the event minimum of a negative in ALL and myeloma is derived from them
    (LLOQ events at the target sensitivity)."""
    p = eln2021_parameters(params)
    lod, lloq = _events(p["mfc_lod_events"]), _events(p["mfc_lloq_events"])
    min_cd45 = _events(p["mfc_min_cd45_events"])

    def m6(source: str, tag: str) -> tuple[CitedThreshold, CitedThreshold]:
        return (
            CitedThreshold(lod, Comparator.GE, "M6", source, tag),
            CitedThreshold(lloq, Comparator.GE, "M6", source, tag),
        )

    def needed(target: Decimal) -> Decimal:
        # LLOQ events at the target sensitivity: derived from the M6 definition.
        return Decimal(int(lloq / target))

    # AML, ELN 2021 MRD recommendations (clinical-criteria.md §1.4, rules M4-M6).
    aml_lod, aml_lloq = m6("S4/S5", "[R]")
    aml = MrdCriteria(
        name="AML ELN 2021 MFC-MRD",
        positivity=CitedThreshold(
            Decimal(str(p["mfc_threshold_pct"])) / 100,
            Comparator.GE,
            "M5",
            _S4,
            "[R] value; exactly 0.1 % positive [I]",
        ),
        negative_requires_events=CitedThreshold(
            min_cd45, Comparator.GT, "M4", _S4, f"[V] (> {int(min_cd45):,} CD45+ events)"
        ),
        lod_events=aml_lod,
        lloq_events=aml_lloq,
        target_sensitivity=CitedThreshold(
            lloq / min_cd45,
            Comparator.LE,
            "M6",
            f"S4/S5 ({int(lloq)} / {int(min_cd45):,} = {format(lloq / min_cd45, '.0E').lower()})",
            "[R]",
        ),
    )
    # ALL (clinical-criteria.md §5): MRD failure >= 0.01 %; MRD CR needs sensitivity 1e-4.
    all_target = Decimal("0.0001")
    all_lod, all_lloq = m6("S4/S5 applied to ALL", "[R]/[I]")
    all_ = MrdCriteria(
        name="ALL MFC-MRD (ASH 2021 / Short 2019)",
        positivity=CitedThreshold(Decimal("0.0001"), Comparator.GE, "ALL MRD failure", _S18, "[V]"),
        negative_requires_events=CitedThreshold(
            needed(all_target),
            Comparator.GE,
            "ALL MRD CR",
            f"{_S18} with M6 sensitivity",
            "[V]/[I]",
        ),
        lod_events=all_lod,
        lloq_events=all_lloq,
        target_sensitivity=CitedThreshold(all_target, Comparator.LE, "ALL MRD CR", _S18, "[V]"),
    )
    # CLL (clinical-criteria.md §4.3): uMRD4 < 1e-4; >= 200,000 leukocytes analysed.
    cll_lod, cll_lloq = m6("S4/S5 applied to CLL", "[R]/[I]")
    cll = MrdCriteria(
        name="CLL iwCLL 2018 uMRD4",
        positivity=CitedThreshold(
            Decimal("0.0001"),
            Comparator.GE,
            "CLL uMRD4",
            "S17 Ringelstein-Harlev 2014",
            "[V]; exactly 1e-4 positive [I]",
        ),
        negative_requires_events=CitedThreshold(
            Decimal(200000), Comparator.GE, "CLL minimum sample", "S16 iwCLL 2018", "[R]"
        ),
        lod_events=cll_lod,
        lloq_events=cll_lloq,
        target_sensitivity=CitedThreshold(
            Decimal("0.0001"), Comparator.LE, "CLL uMRD4", "S17", "[V]"
        ),
    )
    # Myeloma (clinical-criteria.md §2.3): flow MRD-negative needs sensitivity 1 in 10^5; any
    # clonal plasma-cell population at or above the LOD is MRD-positive.
    mm_target = Decimal("0.00001")
    mm_lod, mm_lloq = m6("S4/S5 applied to MM", "[R]/[I]")
    mm = MrdCriteria(
        name="Myeloma IMWG 2016 NGF-MRD",
        positivity=CitedThreshold(
            Decimal(0), Comparator.GT, "IMWG MRD-positive", _S8, "[I] (any population >= LOD)"
        ),
        negative_requires_events=CitedThreshold(
            needed(mm_target), Comparator.GE, "IMWG flow MRD-negative", f"{_S8} with M6", "[V]/[I]"
        ),
        lod_events=mm_lod,
        lloq_events=mm_lloq,
        target_sensitivity=CitedThreshold(mm_target, Comparator.LE, "IMWG", _S8, "[V]"),
    )
    return {"AML": aml, "ALL": all_, "CLL": cll, "MM": mm}


#: The sets with the rule set's documented defaults (what a site that changed nothing gets).
CRITERIA: Mapping[str, MrdCriteria] = criteria_sets()
AML_ELN2021 = CRITERIA["AML"]
ALL_MRD = CRITERIA["ALL"]
CLL_IWCLL2018 = CRITERIA["CLL"]
MM_IMWG2016 = CRITERIA["MM"]


class MrdCall(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    #: Too few denominator events to call a negative (M4): "MRD not evaluable".
    INSUFFICIENT_SENSITIVITY = "insufficient_sensitivity"
    #: Haemodilute specimen: a negative cannot be called (§8 rule [I]); positives still report.
    NOT_EVALUABLE = "not_evaluable"


class FlagCode(StrEnum):
    TOO_FEW_EVENTS = "too_few_events"
    BELOW_TARGET_SENSITIVITY = "below_target_sensitivity"
    BELOW_LOD = "below_lod"
    BETWEEN_LOD_AND_LLOQ = "between_lod_and_lloq"
    DETECTABLE_BELOW_THRESHOLD = "detectable_below_threshold"
    HEMODILUTION = "hemodilution"
    ABNORMAL_OUTSIDE_DENOMINATOR = "abnormal_outside_denominator"


@dataclass(frozen=True)
class MrdFlag:
    code: FlagCode
    message: str
    rule: str
    source: str
    tag: str


@dataclass(frozen=True)
class Hemodilution:
    """Haemodilution indicators available for the specimen (clinical-criteria.md §8).

    ``spicules_present`` (morphology) and ``index_flag`` (an external PB-contamination index,
    e.g. Delgado 2017) are the document's rule; ``marrow_events`` is the count of a
    marrow-restricted population in the same tube (e.g. CD117+ or CD34+ progenitors, nearly
    absent from blood) and ``min_marrow_fraction`` the site's threshold for it (no published
    number in the document: [I], configurable, must be signed off).
    """

    spicules_present: bool | None = None
    index_flag: bool | None = None
    marrow_events: int | None = None
    min_marrow_fraction: Decimal | None = None


@dataclass(frozen=True)
class MrdResult:
    """One flow MRD quantification (Decimal-friendly, no floats in the reported levels)."""

    criteria: str
    abnormal_gate: str | None
    denominator_gate: str | None
    abnormal_events: int
    denominator_events: int
    #: abnormal / denominator (exact to 28 significant digits)
    mrd_fraction: Decimal
    #: the same in percent
    mrd_percent: Decimal
    lod_events: int
    lloq_events: int
    #: LOD and LLOQ as fractions of this acquisition's denominator
    lod_fraction: Decimal
    #: = sensitivity reached (M6: LLOQ events / denominator events)
    lloq_fraction: Decimal
    sensitivity_reached: Decimal
    target_sensitivity: Decimal
    #: denominator events needed to call a negative (M4 and its equivalents)
    required_denominator_events: int
    detected: bool
    quantifiable: bool
    call: MrdCall
    flags: tuple[MrdFlag, ...]
    thresholds: tuple[CitedThreshold, ...]

    @property
    def flag_codes(self) -> tuple[str, ...]:
        return tuple(f.code.value for f in self.flags)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready view; Decimals as strings so no precision is lost."""
        return {
            "criteria": self.criteria,
            "abnormal_gate": self.abnormal_gate,
            "denominator_gate": self.denominator_gate,
            "abnormal_events": self.abnormal_events,
            "denominator_events": self.denominator_events,
            "mrd_fraction": str(self.mrd_fraction),
            "mrd_percent": str(self.mrd_percent),
            "lod_events": self.lod_events,
            "lloq_events": self.lloq_events,
            "lod_fraction": str(self.lod_fraction),
            "lloq_fraction": str(self.lloq_fraction),
            "sensitivity_reached": str(self.sensitivity_reached),
            "target_sensitivity": str(self.target_sensitivity),
            "required_denominator_events": self.required_denominator_events,
            "detected": self.detected,
            "quantifiable": self.quantifiable,
            "call": self.call.value,
            "flags": [
                {
                    "code": f.code.value,
                    "message": f.message,
                    "rule": f.rule,
                    "source": f.source,
                    "tag": f.tag,
                }
                for f in self.flags
            ],
            "thresholds": [
                {
                    "rule": t.rule,
                    "comparator": t.comparator.value,
                    "value": str(t.value),
                    "source": t.source,
                    "tag": t.tag,
                }
                for t in self.thresholds
            ],
        }


def _dec(fr: Fraction) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 28
        return Decimal(fr.numerator) / Decimal(fr.denominator)


def _shown(value: Fraction | Decimal | int) -> str:
    """A number in a flag's sentence: counts with thousands separators, computed values to
    the one number rule's four significant digits (``0.003206``, not 28 digits)."""
    if isinstance(value, int) or (isinstance(value, Decimal) and value == value.to_integral()):
        return f"{int(value):,}"
    number = _dec(value) if isinstance(value, Fraction) else value
    return format_value(number)


def _flag(code: FlagCode, message: str, t: CitedThreshold) -> MrdFlag:
    return MrdFlag(code, message, t.rule, t.source, t.tag)


def quantify_mrd(
    abnormal_events: int,
    denominator_events: int,
    criteria: MrdCriteria = AML_ELN2021,
    *,
    hemodilution: Hemodilution | None = None,
    abnormal_gate: str | None = None,
    denominator_gate: str | None = None,
    abnormal_outside_denominator: int = 0,
) -> MrdResult:
    """Quantify MRD from event counts. ``abnormal_events`` must lie within the denominator."""
    for name, v in (
        ("abnormal_events", abnormal_events),
        ("denominator_events", denominator_events),
    ):
        if isinstance(v, bool) or int(v) != v or v < 0:
            raise ValidationError(name, v, "a whole number of events >= 0")
    if denominator_events == 0:
        raise ValidationError(
            "denominator_events",
            0,
            "> 0",
            reason=f"gate {denominator_gate!r} holds no events"
            if denominator_gate
            else "the denominator population is empty",
        )
    if abnormal_events > denominator_events:
        raise ValidationError(
            "abnormal_events", abnormal_events, f"<= denominator events ({denominator_events})"
        )
    c = criteria
    level = Fraction(abnormal_events, denominator_events)
    lod = int(c.lod_events.value)
    lloq = int(c.lloq_events.value)
    sensitivity = Fraction(lloq, denominator_events)
    flags: list[MrdFlag] = []

    detected = c.lod_events.holds(Fraction(abnormal_events))
    quantifiable = c.lloq_events.holds(Fraction(abnormal_events))
    if not detected:
        flags.append(
            _flag(
                FlagCode.BELOW_LOD,
                f"{abnormal_events:,} abnormal events: below the LOD cluster of "
                f"{c.lod_events.bound()} events; not a population",
                c.lod_events,
            )
        )
    elif not quantifiable:
        flags.append(
            _flag(
                FlagCode.BETWEEN_LOD_AND_LLOQ,
                f"{abnormal_events} abnormal events: detected (LOD {lod}) but below the LLOQ of "
                f"{lloq} events; report as detected, not quantifiable",
                c.lloq_events,
            )
        )

    enough_events = c.negative_requires_events.holds(Fraction(denominator_events))
    if not enough_events:
        flags.append(
            _flag(
                FlagCode.TOO_FEW_EVENTS,
                f"{denominator_events:,} denominator events; a negative result needs "
                f"{c.negative_requires_events.bound()}",
                c.negative_requires_events,
            )
        )
    if not c.target_sensitivity.holds(sensitivity):
        flags.append(
            _flag(
                FlagCode.BELOW_TARGET_SENSITIVITY,
                f"sensitivity reached {_shown(sensitivity)} (LLOQ {lloq} / "
                f"{denominator_events:,}) does not meet the target "
                f"{c.target_sensitivity.bound()}",
                c.target_sensitivity,
            )
        )
    if abnormal_outside_denominator:
        flags.append(
            MrdFlag(
                FlagCode.ABNORMAL_OUTSIDE_DENOMINATOR,
                f"{abnormal_outside_denominator} abnormal events lie outside the denominator "
                "population and were not counted",
                "strategy",
                "gating strategy",
                "[I]",
            )
        )

    hemodilute, hemo_reason = _hemodilute(hemodilution, denominator_events)
    if hemodilute:
        flags.append(
            MrdFlag(
                FlagCode.HEMODILUTION,
                f"haemodilution indicated: {hemo_reason}",
                "§8 haemodilution rule",
                "S30-S32 (ICSH 2008; Delgado 2017)",
                "[I]",
            )
        )

    positive = detected and c.positivity.holds(level)
    if positive:
        call = MrdCall.POSITIVE
    elif not enough_events:
        call = MrdCall.INSUFFICIENT_SENSITIVITY
    elif hemodilute:
        call = MrdCall.NOT_EVALUABLE
    else:
        call = MrdCall.NEGATIVE
        if detected:
            flags.append(
                _flag(
                    FlagCode.DETECTABLE_BELOW_THRESHOLD,
                    f"abnormal population detected at {_shown(level * 100)} % (below the "
                    f"positivity threshold {c.positivity.bound(100, ' %')}); report as "
                    "detectable below threshold",
                    c.positivity,
                )
            )

    required = _required_events(c.negative_requires_events)
    return MrdResult(
        criteria=c.name,
        abnormal_gate=abnormal_gate,
        denominator_gate=denominator_gate,
        abnormal_events=int(abnormal_events),
        denominator_events=int(denominator_events),
        mrd_fraction=_dec(level),
        mrd_percent=_dec(level * 100),
        lod_events=lod,
        lloq_events=lloq,
        lod_fraction=_dec(Fraction(lod, denominator_events)),
        lloq_fraction=_dec(sensitivity),
        sensitivity_reached=_dec(sensitivity),
        target_sensitivity=c.target_sensitivity.value,
        required_denominator_events=required,
        detected=detected,
        quantifiable=quantifiable,
        call=call,
        flags=tuple(flags),
        thresholds=(
            c.positivity,
            c.negative_requires_events,
            c.lod_events,
            c.lloq_events,
            c.target_sensitivity,
        ),
    )


def _required_events(t: CitedThreshold) -> int:
    v = int(t.value)
    return v + 1 if t.comparator is Comparator.GT else v


def _hemodilute(h: Hemodilution | None, denominator_events: int) -> tuple[bool, str]:
    if h is None:
        return False, ""
    reasons: list[str] = []
    if h.spicules_present is False:
        reasons.append("no spicules/particles in the aspirate")
    if h.index_flag:
        reasons.append("peripheral-blood contamination index flagged")
    if h.marrow_events is not None and h.min_marrow_fraction is not None:
        frac = Fraction(h.marrow_events, denominator_events)
        if frac < Fraction(h.min_marrow_fraction):
            reasons.append(
                f"marrow-restricted population {_dec(frac * 100)} % of the denominator, below "
                f"the site threshold {h.min_marrow_fraction * 100} %"
            )
    return bool(reasons), "; ".join(reasons)


def quantify_from_masks(
    memberships: Mapping[str, npt.NDArray[np.bool_]],
    denominator: str,
    abnormal: str,
    criteria: MrdCriteria = AML_ELN2021,
    *,
    hemodilution: Hemodilution | None = None,
) -> MrdResult:
    """Quantify from gate memberships (e.g. ``GatingResult.memberships``) by gate id."""
    for role, gid in (("denominator", denominator), ("abnormal", abnormal)):
        if gid not in memberships:
            raise ValidationError(f"{role} gate", gid, sorted(memberships))
    den = memberships[denominator]
    abn = memberships[abnormal]
    inside = int(np.count_nonzero(abn & den))
    outside = int(np.count_nonzero(abn)) - inside
    return quantify_mrd(
        inside,
        int(np.count_nonzero(den)),
        criteria,
        hemodilution=hemodilution,
        abnormal_gate=abnormal,
        denominator_gate=denominator,
        abnormal_outside_denominator=outside,
    )


def with_limits(criteria: MrdCriteria, *, lod_events: int, lloq_events: int) -> MrdCriteria:
    """A copy of ``criteria`` with a laboratory's own validated LOD/LLOQ (tagged [I])."""
    if not 0 < lod_events <= lloq_events:
        raise ValidationError(
            "lod_events/lloq_events", (lod_events, lloq_events), "0 < LOD <= LLOQ"
        )
    return replace(
        criteria,
        lod_events=CitedThreshold(Decimal(lod_events), Comparator.GE, "M6", "laboratory", "[I]"),
        lloq_events=CitedThreshold(Decimal(lloq_events), Comparator.GE, "M6", "laboratory", "[I]"),
    )
