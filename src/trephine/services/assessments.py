"""Assessments computed by the criteria engine, stored append-only.

A stored assessment is never recomputed in place: the key (patient, date, rule set, edition,
software version) identifies it, the same assessment recorded again is a no-op, and a different
outcome under the same key is a :class:`Conflict` — run a new edition or engine version instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from trephine.criteria.timeline import (
    DatedAssessment,
    TimelineResult,
    TimepointInput,
    assess_timeline,
)
from trephine.domain.assessment import Assessment
from trephine.domain.patient import Diagnosis
from trephine.errors import Conflict, CriteriaNotApplicable, TrephineError, ValidationError
from trephine.services import _rows, alerts
from trephine.services.assess_mapping import load_inputs, timepoints
from trephine.services.assess_rulesets import (
    AA_RULESET,
    ALL_RULESET,
    CLL_RULESET,
    EVALUATORS,
    MDS_RULESET,
    MM_RULESET,
)
from trephine.services.views import StoredAlert, StoredAssessment
from trephine.store.database import Database, UnitOfWork
from trephine.store.tables import AssessmentRow


def _new_row(
    uow: UnitOfWork,
    patient_id: int,
    assessment: Assessment,
    *,
    call_kind: str = "",
    inputs_digest: str = "",
) -> AssessmentRow:
    """The row for a new stored assessment, added and flushed so it has its id.

    The empty ``call_kind``/``inputs_digest`` are the table defaults: an assessment recorded
    directly (not a stored-timeline call) has neither.
    """
    row = AssessmentRow(
        patient_id=patient_id,
        assessed_on=assessment.assessed_on,
        category=assessment.category,
        ruleset=assessment.ruleset,
        criteria_edition=assessment.criteria_edition,
        matched_rule=assessment.matched_rule,
        evidence=[dict(e) for e in assessment.evidence],
        missing_inputs=list(assessment.missing_inputs),
        citation=assessment.citation,
        flags=list(assessment.flags),
        params=dict(assessment.params),
        software_version=assessment.software_version,
        computed_at=assessment.computed_at,
        recorded_by=uow.actor,
        call_kind=call_kind,
        inputs_digest=inputs_digest,
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def record_assessment(
    uow: UnitOfWork, external_id: str, assessment: Assessment
) -> tuple[StoredAssessment, bool]:
    patient = _rows.patient_row(uow, external_id)
    row = uow.session.scalar(
        select(AssessmentRow).where(
            AssessmentRow.patient_id == patient.id,
            AssessmentRow.assessed_on == assessment.assessed_on,
            AssessmentRow.ruleset == assessment.ruleset,
            AssessmentRow.criteria_edition == assessment.criteria_edition,
            AssessmentRow.software_version == assessment.software_version,
        )
    )
    key = (
        f"{external_id} {assessment.assessed_on} {assessment.ruleset} "
        f"{assessment.criteria_edition} {assessment.software_version}"
    )
    if row is not None:
        existing = _rows.to_assessment(row, external_id)
        for name in ("category", "matched_rule"):
            old, new = getattr(existing.assessment, name), getattr(assessment, name)
            if old != new:
                # Same rule set, edition and software must give the same answer; a different
                # one means the inputs changed — record it under a new date or version.
                raise Conflict("assessment", key, name, old, new)
        return existing, False
    row = _new_row(uow, patient.id, assessment)
    uow.audit("create", "assessment", row.id, {"patient": external_id, "key": key})
    return _rows.to_assessment(row, external_id), True


def patient_assessments(uow: UnitOfWork, external_id: str) -> list[StoredAssessment]:
    patient = _rows.patient_row(uow, external_id)
    rows = uow.session.scalars(
        select(AssessmentRow)
        .where(AssessmentRow.patient_id == patient.id)
        .order_by(AssessmentRow.assessed_on, AssessmentRow.id)
    )
    return [_rows.to_assessment(r, external_id) for r in rows]


# ----------------------------------------------------------------- trephine assess (timeline)

#: Stored-timeline rule sets by diagnosis. AML runs the ELN 2022 + ELN 2021 timeline of
#: :mod:`trephine.criteria.timeline`; ALL, CLL and MDS run per-date calls
#: (:mod:`trephine.services.assess_rulesets`), and so does myeloma (IMWG 2016, from the
#: stored paraprotein results: M-protein, free light chains, immunofixation) and aplastic
#: anaemia (Camitta / BSH 2016 severity per marrow).
AML_TIMELINE = "ELN2022+ELN2021"
TIMELINE_RULESETS: dict[str, str] = {
    "AML": AML_TIMELINE,
    "ALL": ALL_RULESET,
    "CLL": CLL_RULESET,
    "MDS": MDS_RULESET,
    "myeloma": MM_RULESET,
    "aplastic anemia": AA_RULESET,
}
PLANNED_RULESETS: dict[str, str] = {}
RULESET_ALIASES = {
    "ELN2022": AML_TIMELINE,
    "AML": AML_TIMELINE,
    AML_TIMELINE: AML_TIMELINE,
    ALL_RULESET: ALL_RULESET,
    "ALL": ALL_RULESET,
    CLL_RULESET: CLL_RULESET,
    "iwCLL2018": CLL_RULESET,
    MDS_RULESET: MDS_RULESET,
    MM_RULESET: MM_RULESET,
    "IMWG": MM_RULESET,
    AA_RULESET: AA_RULESET,
    "AA": AA_RULESET,
}

Evaluator = Callable[[list[TimepointInput], Mapping[str, Any]], TimelineResult]


@dataclass(frozen=True)
class AssessRun:
    """What one ``assess_patient`` call computed and what it added to the store."""

    patient_id: str
    ruleset: str
    timeline: TimelineResult
    #: Every assessment of this run (new or already stored) with its stored id.
    assessments: tuple[StoredAssessment, ...]
    alerts: tuple[StoredAlert, ...]
    new_assessments: int
    new_alerts: int
    results_used: tuple[int, ...]
    #: Open alerts this run no longer raises (e.g. after an amendment), now withdrawn.
    withdrawn_alerts: tuple[StoredAlert, ...] = ()


def choose_ruleset(diagnoses: Sequence[Diagnosis], requested: str | None) -> str:
    if requested is not None:
        if requested not in RULESET_ALIASES:
            raise ValidationError("ruleset", requested, sorted(RULESET_ALIASES))
        return RULESET_ALIASES[requested]
    if not diagnoses:
        raise CriteriaNotApplicable(
            "no diagnosis recorded: the rule set is chosen by diagnosis (or name a rule set)"
        )
    disease = str(diagnoses[-1].disease)
    if disease in TIMELINE_RULESETS:
        return TIMELINE_RULESETS[disease]
    planned = PLANNED_RULESETS.get(disease)
    raise CriteriaNotApplicable(
        f"stored-timeline assessment for {disease}"
        + (f" ({planned})" if planned else "")
        + " is not available yet; available: "
        + ", ".join(f"{d} ({r})" for d, r in TIMELINE_RULESETS.items())
        + "; or name a rule set: "
        + ", ".join(sorted(RULESET_ALIASES))
    )


def _digest(explanation: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(explanation, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()


def _to_assessment(a: DatedAssessment, computed_at: dt.datetime) -> Assessment:
    ex = a.explanation
    evidence = tuple(dict(e) for e in ex.get("evidence", ()))
    return Assessment(
        category=a.category,
        ruleset=str(ex.get("ruleset") or a.edition),
        criteria_edition=a.edition,
        assessed_on=a.date,
        software_version=a.software_version,
        computed_at=computed_at,
        matched_rule=None if ex.get("rule") is None else str(ex["rule"]),
        evidence=evidence,
        missing_inputs=tuple(str(m) for m in ex.get("missing", ())),
        citation=None if ex.get("citation") is None else str(ex["citation"]),
        flags=tuple(str(f) for f in ex.get("flags", ())),
        params=dict(ex.get("params", {})),
    )


def _store_call(
    uow: UnitOfWork, patient_id: int, external_id: str, a: DatedAssessment
) -> tuple[StoredAssessment, bool]:
    assessment = _to_assessment(a, uow.now())
    digest = _digest(a.explanation)
    row = uow.session.scalar(
        select(AssessmentRow).where(
            AssessmentRow.patient_id == patient_id,
            AssessmentRow.assessed_on == assessment.assessed_on,
            AssessmentRow.ruleset == assessment.ruleset,
            AssessmentRow.call_kind == a.kind,
            AssessmentRow.criteria_edition == assessment.criteria_edition,
            AssessmentRow.software_version == assessment.software_version,
            AssessmentRow.inputs_digest == digest,
        )
    )
    if row is not None:
        # Same call on the same evidence by the same edition and version: already stored.
        return _rows.to_assessment(row, external_id), False
    row = _new_row(uow, patient_id, assessment, call_kind=a.kind, inputs_digest=digest)
    uow.audit(
        "create",
        "assessment",
        row.id,
        {
            "patient": external_id,
            "date": a.date.isoformat(),
            "call": a.kind,
            "category": a.category,
            "edition": a.edition,
            "software_version": a.software_version,
        },
    )
    return _rows.to_assessment(row, external_id), True


def assess_patient(
    uow: UnitOfWork,
    external_id: str,
    *,
    ruleset: str | None = None,
    params: Mapping[str, Any] | None = None,
    evaluator: Evaluator | None = None,
) -> AssessRun:
    """Assess the patient's signed-out results in date order and store the calls and alerts.

    Append-only and idempotent: a call already stored under the same (date, call, rule set,
    edition, software version, evidence hash) is not stored again; a new edition, engine
    version or amended input adds a row and keeps the old one. ``evaluator`` replaces the pure
    timeline function (tests use it to simulate a new edition).
    """
    inputs = load_inputs(uow, external_id)
    chosen = choose_ruleset(inputs.diagnoses, ruleset)
    if chosen == AML_TIMELINE:
        run = (evaluator or assess_timeline)(timepoints(inputs), dict(params or {}))
    else:
        run = EVALUATORS[chosen](inputs)
    patient = _rows.patient_row(uow, external_id)
    stored: list[StoredAssessment] = []
    new_assessments = 0
    seen: set[tuple[str, ...]] = set()
    for a in run.assessments:
        if a.key() in seen:
            continue  # two identical calls of one day (e.g. duplicate MRD rows) count once
        seen.add(a.key())
        view, created = _store_call(uow, patient.id, external_id, a)
        stored.append(view)
        new_assessments += created
    raised: list[StoredAlert] = []
    new_alerts = 0
    version = next((a.software_version for a in run.assessments), None) or _version()
    for alert in run.alerts:
        view_alert, created = alerts.raise_alert(
            uow, external_id, alert.date, alert.code, alert.message, chosen, version
        )
        raised.append(view_alert)
        new_alerts += created
    withdrawn = alerts.withdraw_missing(
        uow,
        external_id,
        chosen,
        {a.id for a in raised},
        f"not raised by the assessment of {uow.now():%Y-%m-%d %H:%M} UTC "
        f"(signed-out results {', '.join(map(str, inputs.result_ids)) or 'none'})",
    )
    uow.audit(
        "assess",
        "patient",
        external_id,
        {
            "ruleset": chosen,
            "results": list(inputs.result_ids),
            "assessments": len(stored),
            "new_assessments": new_assessments,
            "alerts": len(raised),
            "new_alerts": new_alerts,
            "withdrawn_alerts": [a.id for a in withdrawn],
        },
    )
    return AssessRun(
        external_id,
        chosen,
        run,
        tuple(stored),
        tuple(raised),
        new_assessments,
        new_alerts,
        inputs.result_ids,
        tuple(withdrawn),
    )


def _version() -> str:
    from trephine import __version__

    return __version__


def current_assessments(items: Sequence[StoredAssessment]) -> list[StoredAssessment]:
    """The latest stored row per (date, call, rule set, edition): what the newest evidence
    says. Older rows (before an amendment) stay in the store as history."""
    latest: dict[tuple[object, ...], StoredAssessment] = {}
    for item in items:
        a = item.assessment
        key = (a.assessed_on, item.call_kind, a.ruleset, a.criteria_edition)
        if key not in latest or latest[key].id < item.id:
            latest[key] = item
    return sorted(latest.values(), key=lambda s: (s.assessment.assessed_on, s.id))


def assessment_dict(item: StoredAssessment, *, current: bool | None = None) -> dict[str, Any]:
    """The JSON shape of a stored assessment (CLI ``--json`` and the API share it)."""
    a = item.assessment
    data: dict[str, Any] = {
        "id": item.id,
        "date": a.assessed_on.isoformat(),
        "call": item.call_kind,
        "category": a.category,
        "ruleset": a.ruleset,
        "edition": a.criteria_edition,
        "rule": a.matched_rule,
        "evidence": [dict(e) for e in a.evidence],
        "missing": list(a.missing_inputs),
        "citation": a.citation,
        "flags": list(a.flags),
        "software_version": a.software_version,
        "computed_at": a.computed_at.isoformat(),
        "recorded_by": item.recorded_by,
    }
    if current is not None:
        data["current"] = current
    return data


def alert_dict(alert: StoredAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "patient": alert.patient_id,
        "date": alert.raised_on.isoformat(),
        "code": alert.code,
        "message": alert.message,
        "ruleset": alert.ruleset,
        "software_version": alert.software_version,
        "raised_at": alert.raised_at.isoformat(),
        "acknowledged_at": None
        if alert.acknowledged_at is None
        else alert.acknowledged_at.isoformat(),
        "acknowledged_by": alert.acknowledged_by,
        "note": alert.acknowledgement_note,
        "withdrawn_at": None if alert.withdrawn_at is None else alert.withdrawn_at.isoformat(),
        "withdrawn_reason": alert.withdrawn_reason,
    }


@dataclass(frozen=True)
class CohortOutcome:
    """One patient's outcome in :func:`assess_all`: assessed, skipped (no timeline rule set for
    the diagnosis) or error (bad stored data; the other patients still run)."""

    patient_id: str
    status: str
    run: AssessRun | None = None
    reason: str | None = None


def assess_all(
    database: Database,
    actor: str,
    *,
    ruleset: str | None = None,
    on_patient: Callable[[CohortOutcome, int], None] | None = None,
) -> list[CohortOutcome]:
    """Assess every patient, one transaction each (one patient's bad data undoes nothing
    else). ``on_patient(outcome, total)`` reports progress."""
    from trephine.services.patients import list_patients

    with database.unit_of_work(actor) as uow:
        ids = [p.patient_id for p in list_patients(uow)]
    outcomes: list[CohortOutcome] = []
    for pid in ids:
        try:
            with database.unit_of_work(actor) as uow:
                outcome = CohortOutcome(pid, "assessed", assess_patient(uow, pid, ruleset=ruleset))
        except CriteriaNotApplicable as exc:
            outcome = CohortOutcome(pid, "skipped", reason=str(exc))
        except TrephineError as exc:
            outcome = CohortOutcome(pid, "error", reason=str(exc))
        outcomes.append(outcome)
        if on_patient is not None:
            on_patient(outcome, len(ids))
    return outcomes
