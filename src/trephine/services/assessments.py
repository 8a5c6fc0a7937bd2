"""Assessments computed by the criteria engine, stored append-only.

A stored assessment is never recomputed in place: the key (patient, date, rule set, edition,
software version) identifies it, the same assessment recorded again is a no-op, and a different
outcome under the same key is a :class:`Conflict` — run a new edition or engine version instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from trephine.assess.call import Call, Calls
from trephine.assess.inputs import ASSESSED_STATES, PatientInputs, SpecimenFacts
from trephine.assess.registry import Evaluator, check_params, choose
from trephine.assess.story import SUPERSEDED
from trephine.domain.assessment import Assessment
from trephine.domain.patient import Diagnosis
from trephine.domain.specimen import SpecimenType
from trephine.domain.therapy import CellularTherapy, TherapyLine
from trephine.errors import Conflict, CriteriaNotApplicable, TrephineError
from trephine.services import _rows, alerts, audit
from trephine.services._batch import insert_rows
from trephine.services.views import StoredAlert, StoredAssessment, StoredResult
from trephine.store.database import Database, UnitOfWork
from trephine.store.tables import (
    AssessmentRow,
    CellularTherapyRow,
    DiagnosisRow,
    PatientRow,
    ResultRow,
    SpecimenRow,
    TherapyLineRow,
)


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
    audit.append(
        uow, audit.Entry("create", "assessment", row.id, {"patient": external_id, "key": key})
    )
    return _rows.to_assessment(row, external_id), True


def patient_assessments(uow: UnitOfWork, external_id: str) -> list[StoredAssessment]:
    patient = _rows.patient_row(uow, external_id)
    rows = uow.session.scalars(
        select(AssessmentRow)
        .where(AssessmentRow.patient_id == patient.id)
        .order_by(AssessmentRow.assessed_on, AssessmentRow.id)
    )
    return [_rows.to_assessment(r, external_id) for r in rows]


# ------------------------------------------------------- trephine assess (stored timeline)


def load_inputs(uow: UnitOfWork, external_id: str) -> PatientInputs:
    """Read one patient's diagnoses, therapy lines, specimens and signed-out results."""
    patient = _rows.patient_row(uow, external_id)
    session = uow.session
    diagnoses = tuple(
        _rows.to_diagnosis(r)
        for r in session.scalars(
            select(DiagnosisRow)
            .where(DiagnosisRow.patient_id == patient.id)
            .order_by(DiagnosisRow.diagnosed_on, DiagnosisRow.id)
        )
    )
    lines = tuple(
        _rows.to_therapy_line(r)
        for r in session.scalars(
            select(TherapyLineRow)
            .where(TherapyLineRow.patient_id == patient.id)
            .order_by(TherapyLineRow.line)
        )
    )
    specimen_rows = list(
        session.scalars(select(SpecimenRow).where(SpecimenRow.patient_id == patient.id))
    )
    specimens = {
        s.accession: SpecimenFacts(s.accession, SpecimenType(s.type), s.spicules)
        for s in specimen_rows
    }
    accession = {s.id: s.accession for s in specimen_rows}
    results = tuple(
        _rows.to_result(r, external_id, accession[r.specimen_id])
        for r in session.scalars(
            select(ResultRow)
            .where(
                ResultRow.patient_id == patient.id,
                ResultRow.state.in_([str(s) for s in ASSESSED_STATES]),
            )
            .order_by(ResultRow.collected_on, ResultRow.id)
        )
    )
    cellular = tuple(
        _rows.to_cellular_therapy(r)
        for r in session.scalars(
            select(CellularTherapyRow)
            .where(CellularTherapyRow.patient_id == patient.id)
            .order_by(CellularTherapyRow.given_on, CellularTherapyRow.id)
        )
    )
    return PatientInputs(
        external_id, diagnoses, lines, specimens, results, cellular, patient.birth_year, patient.sex
    )


def load_all_inputs(uow: UnitOfWork) -> dict[str, PatientInputs]:
    """Every patient's inputs in five queries (not five per patient): for cohort-wide runs and
    the benchmark. Same content as :func:`load_inputs` for each patient."""
    session = uow.session
    rows = list(session.scalars(select(PatientRow)))
    ids = {row.id: row.external_id for row in rows}
    born = {row.id: row.birth_year for row in rows}
    sexes = {row.id: row.sex for row in rows}
    diagnoses: dict[int, list[Diagnosis]] = defaultdict(list)
    for d in session.scalars(
        select(DiagnosisRow).order_by(DiagnosisRow.diagnosed_on, DiagnosisRow.id)
    ):
        diagnoses[d.patient_id].append(_rows.to_diagnosis(d))
    lines: dict[int, list[TherapyLine]] = defaultdict(list)
    for t in session.scalars(select(TherapyLineRow).order_by(TherapyLineRow.line)):
        lines[t.patient_id].append(_rows.to_therapy_line(t))
    specimens: dict[int, dict[str, SpecimenFacts]] = defaultdict(dict)
    accession: dict[int, str] = {}
    for s in session.scalars(select(SpecimenRow)):
        specimens[s.patient_id][s.accession] = SpecimenFacts(
            s.accession, SpecimenType(s.type), s.spicules
        )
        accession[s.id] = s.accession
    cellular: dict[int, list[CellularTherapy]] = defaultdict(list)
    for c in session.scalars(
        select(CellularTherapyRow).order_by(CellularTherapyRow.given_on, CellularTherapyRow.id)
    ):
        cellular[c.patient_id].append(_rows.to_cellular_therapy(c))
    found: dict[int, list[StoredResult]] = defaultdict(list)
    for r in session.scalars(
        select(ResultRow)
        .where(ResultRow.state.in_([str(s) for s in ASSESSED_STATES]))
        .order_by(ResultRow.collected_on, ResultRow.id)
    ):
        found[r.patient_id].append(_rows.to_result(r, ids[r.patient_id], accession[r.specimen_id]))
    return {
        external: PatientInputs(
            external,
            tuple(diagnoses[pid]),
            tuple(lines[pid]),
            specimens[pid],
            tuple(found[pid]),
            tuple(cellular[pid]),
            born[pid],
            sexes[pid],
        )
        for pid, external in sorted(ids.items(), key=lambda item: item[1])
    }


@dataclass(frozen=True)
class AssessRun:
    """What one ``assess_patient`` call computed and what it added to the store."""

    patient_id: str
    #: The assessor's one name (:mod:`trephine.assess.registry`), e.g. ``ELN2022+ELN2021``.
    ruleset: str
    computed: Calls
    #: Every call of this run (new or already stored) with its stored id.
    assessments: tuple[StoredAssessment, ...]
    alerts: tuple[StoredAlert, ...]
    new_assessments: int
    new_alerts: int
    results_used: tuple[int, ...]
    #: Open alerts this run no longer raises (e.g. after an amendment), now withdrawn.
    withdrawn_alerts: tuple[StoredAlert, ...] = ()


def _store_calls(
    uow: UnitOfWork, patient_id: int, external_id: str, calls: Sequence[Call]
) -> list[tuple[StoredAssessment, bool]]:
    """Store the calls not stored yet (in one executemany, their ``create`` events in one
    append, in order); per call its stored view and whether it is new.

    A call already stored on the same date, with the same rule set, kind, edition, software
    version and evidence digest is that row (append-only and idempotent). The patient's stored
    calls are read in one query, not one per call.
    """
    key_columns = (
        AssessmentRow.assessed_on,
        AssessmentRow.ruleset,
        AssessmentRow.call_kind,
        AssessmentRow.criteria_edition,
        AssessmentRow.software_version,
        AssessmentRow.inputs_digest,
    )
    wanted = {(c.date, c.ruleset, c.kind, c.edition, c.software_version, c.digest) for c in calls}
    stored: dict[tuple[Any, ...], AssessmentRow] = {}
    if wanted:
        for row in uow.session.scalars(
            select(AssessmentRow).where(
                AssessmentRow.patient_id == patient_id,
                AssessmentRow.assessed_on.in_(sorted({k[0] for k in wanted})),
            )
        ):
            key = tuple(getattr(row, column.key) for column in key_columns)
            stored.setdefault(key, row)
    now = uow.now()
    answers: list[tuple[AssessmentRow, bool, Call]] = []
    new: list[dict[str, Any]] = []
    for call in calls:
        key = (call.date, call.ruleset, call.kind, call.edition, call.software_version, call.digest)
        if key in stored:
            # Same call on the same evidence by the same edition and version: already stored.
            answers.append((stored[key], False, call))
            continue
        values: dict[str, Any] = {
            "patient_id": patient_id,
            "assessed_on": call.date,
            "category": call.category,
            "ruleset": call.ruleset,
            "criteria_edition": call.edition,
            "matched_rule": call.rule,
            "evidence": [dict(e) for e in call.evidence],
            "missing_inputs": list(call.missing),
            "citation": call.citation,
            "flags": list(call.flags),
            "params": dict(call.params),
            "software_version": call.software_version,
            "computed_at": now,
            "recorded_by": uow.actor,
            "call_kind": call.kind,
            "inputs_digest": call.digest,
        }
        new.append(values)
        row = AssessmentRow(**values)  # the view of the row, not added to the session
        stored[key] = row
        answers.append((row, True, call))
    ids = insert_rows(uow, AssessmentRow, new)
    fresh = [row for row, created, _call in answers if created]
    for row, row_id in zip(fresh, ids, strict=True):
        row.id = row_id
    audit.append(
        uow,
        [
            audit.Entry(
                "create",
                "assessment",
                row.id,
                {
                    "patient": external_id,
                    "date": row.assessed_on.isoformat(),
                    "call": row.call_kind,
                    "category": row.category,
                    "edition": row.criteria_edition,
                    "software_version": row.software_version,
                },
            )
            for row in fresh
        ],
    )
    # The engine's Call objects themselves go on to the presenters (one object, one digest).
    return [
        (_rows.to_assessment(row, external_id, call), created) for row, created, call in answers
    ]


def assess_patient(
    uow: UnitOfWork,
    external_id: str,
    *,
    ruleset: str | None = None,
    params: Mapping[str, Any] | None = None,
    evaluator: Evaluator | None = None,
) -> AssessRun:
    """Assess the patient's signed-out results in date order and store the calls and alerts.

    ``params`` are the rule sets' site parameters by name (default: the
    ``TREPHINE_ASSESS_PARAMS`` setting); each rule set takes the names it declares.

    The assessor (:mod:`trephine.assess.registry`) is chosen by the latest diagnosis, or named
    by ``ruleset``. Append-only and idempotent: a call already stored under the same (date,
    call, rule set, edition, software version, evidence digest) is not stored again; a new
    edition, engine version or amended input adds a row and keeps the old one. ``evaluator``
    replaces the assessor's (tests use it to simulate a new edition).
    """
    inputs = load_inputs(uow, external_id)
    assessor = choose(inputs.diagnoses, ruleset)
    if params is None:
        from trephine.settings import get_settings

        params = get_settings().assess_params
    check_params(params)
    computed = (evaluator or assessor.run)(inputs, dict(params or {}))
    patient = _rows.patient_row(uow, external_id)
    stored: list[StoredAssessment] = []
    new_assessments = 0
    seen: set[tuple[str, ...]] = set()
    distinct: list[Call] = []
    for call in computed.calls:
        if call.key() in seen:
            continue  # two identical calls of one day (e.g. duplicate MRD rows) count once
        seen.add(call.key())
        distinct.append(call)
    for view, created in _store_calls(uow, patient.id, external_id, distinct):
        stored.append(view)
        new_assessments += created
    raised: list[StoredAlert] = []
    new_alerts = 0
    version = next((c.software_version for c in computed.calls), None) or _version()
    for alert in computed.alerts:
        view_alert, created = alerts.raise_alert(
            uow, external_id, alert.date, alert.code, alert.message, assessor.name, version
        )
        raised.append(view_alert)
        new_alerts += created
    withdrawn = alerts.withdraw_missing(
        uow,
        external_id,
        assessor.name,
        {a.id for a in raised},
        f"not raised by the assessment of {uow.now():%Y-%m-%d %H:%M} UTC "
        f"(signed-out results {', '.join(map(str, inputs.result_ids)) or 'none'})",
    )
    audit.append(
        uow,
        audit.Entry(
            "assess",
            "patient",
            external_id,
            {
                "ruleset": assessor.name,
                "results": list(inputs.result_ids),
                "assessments": len(stored),
                "new_assessments": new_assessments,
                "alerts": len(raised),
                "new_alerts": new_alerts,
                "withdrawn_alerts": [a.id for a in withdrawn],
            },
        ),
    )
    return AssessRun(
        external_id,
        assessor.name,
        computed,
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
    # One marrow, one story: a response call superseded by the same marrow's relapse is kept
    # as history, never shown as current (trephine.assess.story).
    return sorted(
        (s for s in latest.values() if SUPERSEDED not in s.assessment.flags),
        key=lambda s: (s.assessment.assessed_on, s.id),
    )


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
