"""AML on the stored timeline: ELN 2022 response, relapse and landmark, ELN 2021 MRD, chimerism.

The evaluator sorts the patient's time points (:mod:`trephine.assess.timepoints`) by date and
returns dated calls — baseline blasts from the diagnostic marrow, ELN 2022 response per marrow,
best response, refractory disease at the landmark, haematologic relapse after remission, MRD
status and MRD relapse (conversion negative → positive, ≥ 1 log10 rise), donor chimerism — plus
the alerts a clinician must see. Each call carries its edition and the software version, so the
store adds a new call instead of overwriting an old one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from trephine import __version__
from trephine.assess.call import SAMPLE_OF_TISSUE, Alert, Call, Calls, digest_of, on_sample
from trephine.assess.inputs import PatientInputs
from trephine.assess.timepoints import (
    ObservationKind,
    TherapyContext,
    TimePoint,
    in_order,
    timepoints,
)
from trephine.criteria.adapters.aml import (
    AML_SPECS,
    AML_STRUCT,
    mrd_status,
    negative_reach,
    with_mrd,
)
from trephine.criteria.engine import evaluate, resolve_params
from trephine.criteria.facts import build_facts, convert, specs_of, to_decimal
from trephine.criteria.model import Evaluation
from trephine.criteria.series import MrdSample, chimerism_trend, mrd_relapse_states
from trephine.criteria.sets import diagnostics, eln2021_mrd, eln2022_aml
from trephine.errors import ValidationError

# Module constants: in Python 3.11 each ``ObservationKind.X`` is a descriptor call, and the
# loop below compares every observation's kind several times.
_MRD, _MARROW, _BLOOD, _CHIMERISM = (
    ObservationKind.MRD,
    ObservationKind.MARROW,
    ObservationKind.BLOOD,
    ObservationKind.CHIMERISM,
)


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    """The registry's evaluator: the patient's stored results → time points → calls."""
    return assess_points(timepoints(inputs), params)


def _dated(date: dt.date, kind: str, a: Evaluation, category: str | None = None) -> Call:
    return Call.from_evaluation(date, kind, a, category)


def _with_evidence(call: Call, item: Mapping[str, Any]) -> Call:
    """``call`` with one more (worded) evidence item; its digest covers the item."""
    return replace(
        call,
        evidence=(*call.evidence, item),
        digest=digest_of({"call": call.digest, "evidence": item}),
    )


_RESPONSE_RANK = {c: i for i, c in enumerate(eln2022_aml.RESPONSE.categories)}


def assess_points(points: Iterable[TimePoint], params: Mapping[str, Any] | None = None) -> Calls:
    """Assess one patient's observations in date order (the order given does not matter)."""
    params = dict(params or {})
    ordered = in_order(points)
    # Each rule set's parameters are resolved (defaults + the caller's overrides, validated)
    # once per timeline, not once per evaluation.
    p_response = _resolved(eln2022_aml.RESPONSE, params)
    p_relapse = _resolved(eln2022_aml.RELAPSE, params)
    p_landmark = _resolved(eln2022_aml.LANDMARK, params)
    p_chimerism = _resolved(diagnostics.CHIMERISM, params)
    p_mrd = _own(eln2021_mrd.MRD, params)
    out: list[Call] = []
    alerts: list[Alert] = []
    baseline: Decimal | None = None
    best: str | None = None  # best response since the last relapse
    best_overall: str | None = None
    refractory_alerted = False
    pb_positive_dates: list[dt.date] = []
    mrd_samples: list[MrdSample] = []
    mrd_status_by_date: dict[dt.date, str] = {}
    chimerism: list[tuple[dt.date, Decimal, str]] = []

    diagnostic = next((p for p in ordered if p.kind is _MARROW and p.diagnostic), None)
    if diagnostic is not None:
        value = diagnostic.values.get("bm_blasts_pct")
        baseline = convert(AML_SPECS["bm_blasts_pct"], value, "bm_blasts_pct")  # type: ignore[assignment]
        out.append(
            Call.of(
                diagnostic.date,
                "baseline",
                {
                    "rule": "baseline = blasts of the diagnostic marrow",
                    "evidence": [{"input": "bm_blasts_pct", "value": str(baseline)}],
                },
                category="BASELINE",
                edition="ELN2022",
                software_version=__version__,
            )
        )

    for point in ordered:
        where = f"{point.date.isoformat()} {point.kind.value}"
        if point.kind is _MARROW and point is not diagnostic:
            facts = build_facts(point.values, AML_SPECS, where, AML_STRUCT)
            if facts.get("baseline_bm_blasts_pct") is None:
                facts["baseline_bm_blasts_pct"] = baseline
            response = evaluate(eln2022_aml.RESPONSE, facts, p_response, resolved=True)
            label = with_mrd(
                response.category,
                mrd_status_by_date.get(point.date, "UNKNOWN"),
                ("CR", "CRh", "CRi"),
            )
            out.append(_dated(point.date, "response", response, label))
            in_remission = best in eln2022_aml.CR_FAMILY
            if in_remission:
                facts["pb_positive_samples"] = Decimal(len(pb_positive_dates))
                facts["pb_positive_span_days"] = _span(pb_positive_dates)
                relapse = evaluate(eln2022_aml.RELAPSE, facts, p_relapse, resolved=True)
                out.append(_dated(point.date, "relapse", relapse))
                if relapse.category == "HEMATOLOGIC_RELAPSE":
                    alerts.append(
                        Alert(
                            point.date,
                            "HEMATOLOGIC_RELAPSE",
                            f"haematologic relapse after {best} ({relapse.rule_id})",
                        )
                    )
                    # A new remission must be reached before another relapse can be called.
                    best, pb_positive_dates = None, []
                    continue
            if response.category != "NON_EVALUABLE" and (
                best is None or _RESPONSE_RANK[response.category] < _RESPONSE_RANK[best]
            ):
                best = response.category
                if best_overall is None or _RESPONSE_RANK[best] < _RESPONSE_RANK[best_overall]:
                    best_overall = best
            if point.therapy is not None:
                lm = _landmark(
                    point.therapy,
                    _cr_achieved(best_overall, response.category),
                    p_landmark,
                )
                out.append(_dated(point.date, "landmark", lm))
                if lm.category == "REFRACTORY" and not refractory_alerted:
                    refractory_alerted = True
                    alerts.append(
                        Alert(point.date, "REFRACTORY", "no CR/CRh/CRi at the response landmark")
                    )
        elif point.kind is _BLOOD:
            present = point.values.get("circulating_blasts")
            if not isinstance(present, bool):
                raise ValidationError(f"{where}.circulating_blasts", present, "true, false")
            if present and best in eln2022_aml.CR_FAMILY:
                pb_positive_dates.append(point.date)
                facts2: dict[str, Any] = {
                    "pb_positive_samples": Decimal(len(pb_positive_dates)),
                    "pb_positive_span_days": _span(pb_positive_dates),
                }
                relapse = evaluate(eln2022_aml.RELAPSE, facts2, p_relapse, resolved=True)
                out.append(_dated(point.date, "relapse", relapse))
                if relapse.category == "HEMATOLOGIC_RELAPSE":
                    alerts.append(
                        Alert(
                            point.date,
                            "HEMATOLOGIC_RELAPSE",
                            "blasts in ≥2 blood samples ≥1 week apart",
                        )
                    )
                    best, pb_positive_dates = None, []
        elif point.kind is _MRD:
            status, assessments = mrd_status(dict(point.values), where, p_mrd, None)
            mrd_status_by_date[point.date] = status
            for a in assessments:
                call = _dated(point.date, "mrd", a)
                if a.category == "NEGATIVE":
                    # ELN 2021: a negative result states the sensitivity it reached.
                    call = _with_evidence(call, negative_reach(point.values, where, p_mrd))
                # Which sample (a day's marrow and blood MRD results are two calls).
                measured_on = None if point.tissue is None else SAMPLE_OF_TISSUE[point.tissue]
                out.append(on_sample(call, measured_on))
            level = point.values.get("level_pct", point.values.get("pct"))
            mrd_samples.append(
                MrdSample(
                    point.date,
                    status,
                    None if level is None else to_decimal(level, f"{where}.level_pct"),
                    point.tissue,
                    str(point.values.get("method")),
                )
            )
        elif point.kind is _CHIMERISM:
            spec = specs_of(diagnostics.CHIMERISM)["donor_pct"]
            donor = convert(spec, point.values.get("donor_pct"), f"{where}.donor_pct")
            if not isinstance(donor, Decimal):
                raise ValidationError(f"{where}.donor_pct", None, "0–100 % donor", reason="missing")
            a = evaluate(diagnostics.CHIMERISM, {"donor_pct": donor}, p_chimerism, resolved=True)
            out.append(_dated(point.date, "chimerism", a))
            if chimerism and chimerism[-1][2] == "FULL_DONOR" and a.category != "FULL_DONOR":
                alerts.append(
                    Alert(
                        point.date,
                        "LOSS_OF_DONOR_CHIMERISM",
                        f"donor chimerism fell from full donor to {a.category}",
                    )
                )
            chimerism.append((point.date, donor, a.category))

    # One sample, one alert: where the same day's marrow or blood is a haematologic relapse,
    # its MRD event is not alerted too (ELN 2021's MRD relapse is a warning in CR, and the
    # haematologic relapse alert already says more). The MRD event call is kept, explained.
    relapsed_on = {a.date for a in alerts if a.code == "HEMATOLOGIC_RELAPSE"}
    for sample, step in zip(mrd_samples, mrd_relapse_states(mrd_samples), strict=True):
        if step.rule in ("MRD-CONVERSION", "MRD-LOG-RISE", "MRD-CONFIRM"):
            assert sample.date is not None
            out.append(
                Call.of(
                    sample.date,
                    "mrd_event",
                    step.explanation("ELN2021", "ELN2021"),
                    category=step.state,
                    edition="ELN2021",
                    software_version=__version__,
                )
            )
            code = {
                "MRD-CONVERSION": "MRD_CONVERSION",
                "MRD-LOG-RISE": "MRD_LOG_RISE",
                "MRD-CONFIRM": "MRD_RELAPSE_CONFIRMED",
            }[step.rule]
            if sample.date not in relapsed_on:
                alerts.append(Alert(sample.date, code, step.state))
    if len(chimerism) >= 3:
        trend = chimerism_trend([Decimal(100) - d for _, d, _ in chimerism], "STR", Decimal(5))
        if trend.state == "INCREASING_MIXED_RECIPIENT_CHIMERISM":
            alerts.append(Alert(chimerism[-1][0], "INCREASING_RECIPIENT_CHIMERISM", trend.state))

    out.sort(key=lambda a: (a.date, a.kind, a.category))
    alerts.sort(key=lambda a: (a.date, a.code))
    return Calls(tuple(out), tuple(alerts), baseline, best_overall, params)


def _own(rs: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    names = {p.name for p in rs.params}
    return {k: v for k, v in params.items() if k in names}


def _resolved(rs: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    return resolve_params(rs, _own(rs, params))


def _span(dates: list[dt.date]) -> Decimal:
    return Decimal((max(dates) - min(dates)).days) if dates else Decimal(0)


def _cr_achieved(best_overall: str | None, current: str) -> bool | None:
    """Three-valued: has CR/CRh/CRi been reached by this marrow?

    True once any marrow (since diagnosis, relapses included: refractoriness is about the
    first remission) was in the CR family. False only when *this* marrow was evaluable and not
    in the CR family. When this marrow is NON_EVALUABLE and no remission was seen, the answer
    is unknown (None), so the landmark call is NOT_EVALUABLE naming ``cr_achieved`` — an
    incomplete report must never be read as "no remission" (ELN 2022: non-evaluable when no
    adequate response evaluation), which would raise a false REFRACTORY alert.
    """
    if best_overall in eln2022_aml.CR_FAMILY:
        return True
    if current == "NON_EVALUABLE":
        return None
    return False


def _landmark(
    therapy: TherapyContext, cr_achieved: bool | None, params: Mapping[str, Any]
) -> Evaluation:
    """The landmark call; ``params`` are the LANDMARK rule set's resolved parameters."""
    facts: dict[str, Any] = {
        "therapy_intensity": None if therapy.intensity is None else therapy.intensity.value,
        "courses_completed": None
        if therapy.courses_completed is None
        else Decimal(therapy.courses_completed),
        "days_since_start": None
        if therapy.days_since_start is None
        else Decimal(therapy.days_since_start),
        "cr_achieved": cr_achieved,
    }
    return evaluate(eln2022_aml.LANDMARK, facts, params, resolved=True)
