"""Assessments computed by the criteria engine, stored append-only.

A stored assessment is never recomputed in place: the key (patient, date, rule set, edition,
software version) identifies it, the same assessment recorded again is a no-op, and a different
outcome under the same key is a :class:`Conflict` — run a new edition or engine version instead.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import aliased

from trephine.assess.call import SAMPLE, Call, Calls
from trephine.assess.current import current_rows
from trephine.assess.inputs import ASSESSED_STATES, PatientInputs, RecordedExam, SpecimenFacts
from trephine.assess.registry import Evaluator, check_params, choose, names_stored_for
from trephine.collector import collector_paused
from trephine.domain.assessment import Assessment
from trephine.domain.patient import Diagnosis
from trephine.domain.results import ClinicalExam, ResultKind
from trephine.domain.specimen import SpecimenType
from trephine.domain.therapy import CellularTherapy, TherapyLine
from trephine.errors import Conflict, CriteriaNotApplicable, NotFound, TrephineError
from trephine.services import _rows, alerts, audit
from trephine.services._batch import chunks, insert_rows
from trephine.services._batch import patient_ids as _batch_patient_ids
from trephine.services.views import StoredAlert, StoredAssessment, StoredResult
from trephine.store.codec import decode_result
from trephine.store.database import Database, UnitOfWork
from trephine.store.tables import (
    AlertRow,
    AssessmentRow,
    CellularTherapyRow,
    ClinicalExamRow,
    DiagnosisRow,
    PatientRow,
    ResultRow,
    SpecimenRow,
    TherapyCycleRow,
    TherapyLineRow,
)


def _new_row(
    uow: UnitOfWork,
    patient_id: int,
    assessment: Assessment,
    *,
    call_kind: str = "",
    inputs_digest: str = "",
    revision: int = 1,
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
        revision=revision,
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
    # Another software version's row of the same call (rule set, edition, date): the next
    # revision of it (migration 0031).
    latest = uow.session.scalar(
        select(func.max(AssessmentRow.revision)).where(
            AssessmentRow.patient_id == patient.id,
            AssessmentRow.assessed_on == assessment.assessed_on,
            AssessmentRow.ruleset == assessment.ruleset,
            AssessmentRow.call_kind == "",
            AssessmentRow.criteria_edition == assessment.criteria_edition,
        )
    )
    row = _new_row(uow, patient.id, assessment, revision=(latest or 0) + 1)
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
    return _inputs_of(uow, [_rows.patient_row(uow, external_id)], narrow=True)[external_id]


def load_inputs_many(uow: UnitOfWork, external_ids: Sequence[str]) -> dict[str, PatientInputs]:
    """:func:`load_inputs` of several patients in a few ``IN`` queries (not five per patient);
    a patient not recorded raises :class:`~trephine.errors.NotFound` as :func:`load_inputs`
    does."""
    found: dict[str, PatientRow] = {}
    for batch in chunks(sorted(set(external_ids))):
        found.update(
            (row.external_id, row)
            for row in uow.session.scalars(
                select(PatientRow).where(PatientRow.external_id.in_(batch))
            )
        )
    for external_id in external_ids:
        if external_id not in found:
            raise NotFound("patient", external_id)
    return _inputs_of(uow, [found[e] for e in external_ids], narrow=True)


def load_all_inputs(uow: UnitOfWork) -> dict[str, PatientInputs]:
    """Every patient's inputs in five queries (not five per patient): for cohort-wide runs and
    the benchmark. Same content as :func:`load_inputs` for each patient."""
    rows = list(uow.session.scalars(select(PatientRow)))
    return _inputs_of(uow, sorted(rows, key=lambda row: row.external_id), narrow=False)


def _inputs_of(
    uow: UnitOfWork, patients: Sequence[PatientRow], *, narrow: bool
) -> dict[str, PatientInputs]:
    """The inputs of ``patients``, keyed by external id in their order. ``narrow``: read only
    their rows (``IN`` queries of at most :data:`~trephine.services._batch.CHUNK` ids), else
    every row of each table (all patients were asked for).

    Each table is read ordered as the one-patient reads were (diagnoses by date, therapy lines
    by number with their cycles, results by collection date then id, cellular therapies by
    date), so a patient's rows keep that order when split by patient.
    """
    session = uow.session
    ids = {row.id: row.external_id for row in patients}
    batches = list(chunks(sorted(ids))) if narrow else [None]

    def rows_of(model: Any, *order: str, where: tuple[Any, ...] = ()) -> list[Any]:
        # Plain rows of the table (no ORM objects: a cohort has hundreds of thousands), each
        # column through its own type as the ORM would read it.
        table = model.__table__
        found: list[Any] = []
        for batch in batches:
            query = select(table).where(*where).order_by(*(table.c[k] for k in order))
            if batch is not None:
                query = query.where(table.c.patient_id.in_(batch))
            found.extend(session.execute(query))
        if len(batches) > 1:  # each batch is ordered; the whole must be too
            found.sort(key=lambda row: tuple(getattr(row, k) for k in order))
        return found

    diagnoses: dict[int, list[Diagnosis]] = defaultdict(list)
    for d in rows_of(DiagnosisRow, "diagnosed_on", "id"):
        diagnoses[d.patient_id].append(_rows.to_diagnosis(d))
    line_rows = rows_of(TherapyLineRow, "line")
    cycles: dict[int, list[Any]] = defaultdict(list)
    cycle_table = TherapyCycleRow.__table__
    for batch in chunks(sorted(row.id for row in line_rows)):
        for c in session.execute(
            select(cycle_table)
            .where(cycle_table.c.therapy_line_id.in_(batch))
            .order_by(cycle_table.c.number)
        ):
            cycles[c.therapy_line_id].append(c)
    lines: dict[int, list[TherapyLine]] = defaultdict(list)
    for t in line_rows:
        lines[t.patient_id].append(_rows.to_therapy_line(t, cycles[t.id]))
    specimens: dict[int, dict[str, SpecimenFacts]] = defaultdict(dict)
    accession: dict[int, str] = {}
    for s in rows_of(SpecimenRow, "id"):
        specimens[s.patient_id][s.accession] = SpecimenFacts(
            s.accession, SpecimenType(s.type), s.spicules
        )
        accession[s.id] = s.accession
    cellular: dict[int, list[CellularTherapy]] = defaultdict(list)
    for c in rows_of(CellularTherapyRow, "given_on", "id"):
        cellular[c.patient_id].append(_rows.to_cellular_therapy(c))
    exam_rows = rows_of(ClinicalExamRow, "examined_on", "id")
    superseded = {e.supersedes_id for e in exam_rows if e.supersedes_id is not None}
    exams: dict[int, list[RecordedExam]] = defaultdict(list)
    for e in exam_rows:
        if e.id not in superseded:  # the current version of each examination
            value = decode_result(str(ResultKind.CLINICAL_EXAM), e.value)
            assert isinstance(value, ClinicalExam)
            exams[e.patient_id].append(RecordedExam(e.id, e.examined_on, value))
    found: dict[int, list[StoredResult]] = defaultdict(list)
    assessed = [str(s) for s in ASSESSED_STATES]
    for r in rows_of(
        ResultRow, "collected_on", "id", where=(ResultRow.__table__.c.state.in_(assessed),)
    ):
        if r.patient_id in ids:
            found[r.patient_id].append(
                _rows.to_result(r, ids[r.patient_id], accession[r.specimen_id])
            )
    return {
        row.external_id: PatientInputs(
            row.external_id,
            tuple(diagnoses[row.id]),
            tuple(lines[row.id]),
            specimens[row.id],
            tuple(found[row.id]),
            tuple(cellular[row.id]),
            row.birth_year,
            row.sex,
            tuple(exams[row.id]),
        )
        for row in patients
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
    by ``ruleset``. Append-only and idempotent: a call whose latest stored revision has the
    same software version and evidence digest is not stored again; a new edition, engine
    version or amended input — or evidence coming back to an earlier revision's — adds a row
    and keeps the old ones (see :func:`_store_runs`). ``evaluator``
    replaces the assessor's (tests use it to simulate a new edition).
    """
    inputs = load_inputs(uow, external_id)
    assessor, computed = _compute(inputs, ruleset, params, evaluator)
    return _store_runs(uow, [(inputs, assessor, computed)])[0]


def _site_params() -> Mapping[str, Any]:
    from trephine.settings import get_settings

    return get_settings().assess_params


def _compute(
    inputs: PatientInputs,
    ruleset: str | None,
    params: Mapping[str, Any] | None,
    evaluator: Evaluator | None = None,
) -> tuple[Any, Calls]:
    """The assessor and what it computes for ``inputs`` (pure: nothing is written)."""
    assessor = choose(inputs.diagnoses, ruleset)
    if params is None:
        params = _site_params()
    check_params(params)
    return assessor, (evaluator or assessor.run)(inputs, dict(params or {}))


_Plan = tuple[PatientInputs, Any, Calls]

#: Which call a stored row is of: its date, rule set, kind and edition (a patient's calls; the
#: current one is its latest row, :func:`current_assessments`).
_Slot = tuple[Any, str, str, str]


@dataclass
class _Revision:
    """A call's latest stored revision: its number and its rows by (software version, evidence
    digest); usually one row, two or more when one day has several calls of a kind (e.g. a
    blood and a marrow MRD result of one date)."""

    number: int
    rows: dict[tuple[str, str], Any]


def _latest_revisions(rows: Sequence[Any]) -> dict[_Slot, _Revision]:
    """The latest revision of each call of ``rows`` (one patient's stored rows)."""
    latest: dict[_Slot, _Revision] = {}
    for row in rows:
        slot = (row.assessed_on, row.ruleset, row.call_kind, row.criteria_edition)
        found = latest.get(slot)
        if found is None or found.number < row.revision:
            latest[slot] = found = _Revision(row.revision, {})
        if found.number == row.revision:
            found.rows.setdefault((row.software_version, row.inputs_digest), row)
    return latest


def _store_runs(uow: UnitOfWork, plans: Sequence[_Plan]) -> list[AssessRun]:
    """Store what was computed for each patient of ``plans`` (inputs, assessor, calls), in
    order, as one patient at a time would: per patient its new calls (``create`` events), its
    alerts raised or raised again (``raise``/``reraise``), the open alerts it no longer raises
    withdrawn (``withdraw``), and one ``assess`` event.

    A call (date, rule set, kind, edition) is compared with its latest stored revision, not
    with every row ever stored: when this run computes the same calls for it (software version
    and evidence digest, each), those rows are its answer and nothing is stored (append-only
    and idempotent); otherwise its calls are stored, whole, as the next revision — a new
    edition, engine version or amended input, and also evidence that comes back to what an
    earlier revision held (A, then B, then A again: A is current again). An alert already
    stored under (patient, date, code, rule set) is that alert. The patients' stored calls and
    alerts are read in one query each, the new rows of all of them inserted with one executemany
    per table (ids in the order one patient at a time would have given them) and the audit
    events appended in one call, in the one-at-a-time order.
    """
    if not plans:
        return []
    session = uow.session
    patient_ids = _batch_patient_ids(uow, [inputs.patient_id for inputs, _, _ in plans])
    stored_rows: dict[int, list[Any]] = defaultdict(list)
    stored_alerts: dict[int, list[Any]] = defaultdict(list)
    for batch in chunks(sorted(set(patient_ids.values()))):
        for stored_row in session.scalars(
            select(AssessmentRow)
            .where(AssessmentRow.patient_id.in_(batch))
            .order_by(AssessmentRow.id)
        ):
            stored_rows[stored_row.patient_id].append(stored_row)
        for alert_row in session.scalars(
            select(AlertRow).where(AlertRow.patient_id.in_(batch)).order_by(AlertRow.id)
        ):
            stored_alerts[alert_row.patient_id].append(alert_row)
    now = uow.now()
    new_calls: list[dict[str, Any]] = []
    new_call_rows: list[Any] = []
    new_alerts: list[dict[str, Any]] = []
    new_alert_rows: list[Any] = []
    # Per patient: stored views to make once ids are known, and audit events (an event about a
    # new row holds the row until its id is known).
    staged: list[tuple[Any, ...]] = []
    for inputs, assessor, computed in plans:
        external_id = inputs.patient_id
        patient_id = patient_ids[external_id]
        latest = _latest_revisions(stored_rows[patient_id])
        events: list[tuple[str, str, Any, dict[str, Any]]] = []
        answers: list[tuple[AssessmentRow, bool, Call]] = []
        seen: set[tuple[str, ...]] = set()
        calls: list[Call] = []
        computed_for: dict[_Slot, set[tuple[str, str]]] = defaultdict(set)
        for call in computed.calls:
            if call.key() in seen:
                continue  # two identical calls of one day (e.g. duplicate MRD rows) count once
            seen.add(call.key())
            calls.append(call)
            slot = (call.date, call.ruleset, call.kind, call.edition)
            computed_for[slot].add((call.software_version, call.digest))
        # The calls whose latest revision holds what was computed now: nothing new to store.
        unchanged = {
            slot
            for slot, found in computed_for.items()
            if slot in latest and latest[slot].rows.keys() == found
        }
        for call in calls:
            slot = (call.date, call.ruleset, call.kind, call.edition)
            if slot in unchanged:
                # The same calls on the same evidence by the same edition and version: stored.
                stored = latest[slot].rows[(call.software_version, call.digest)]
                answers.append((stored, False, call))
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
                "revision": 1 if slot not in latest else latest[slot].number + 1,
            }
            # The new row's view (no ORM object: inserted below with one executemany).
            row: Any = SimpleNamespace(**values)
            new_calls.append(values)
            new_call_rows.append(row)
            answers.append((row, True, call))
            events.append(
                (
                    "create",
                    "assessment",
                    row,
                    {
                        "patient": external_id,
                        "date": row.assessed_on.isoformat(),
                        "call": row.call_kind,
                        "category": row.category,
                        "edition": row.criteria_edition,
                        "software_version": row.software_version,
                    },
                )
            )
        version = next((c.software_version for c in computed.calls), None) or _version()
        names = set(names_stored_for(assessor.name))
        alerts_of = stored_alerts[patient_id]
        raised: list[tuple[Any, bool]] = []
        for alert in computed.alerts:
            existing = next(
                (
                    a
                    for a in alerts_of
                    if a.raised_on == alert.date and a.code == alert.code and a.ruleset in names
                ),
                None,
            )
            if existing is not None:
                if existing.withdrawn_at is not None:
                    # Raised again (e.g. an amendment was itself corrected): it stands again.
                    existing.withdrawn_at = None
                    existing.withdrawn_reason = None
                    existing.withdrawn_by = None
                    events.append(
                        (
                            "reraise",
                            "alert",
                            existing.id,
                            {"patient": external_id, "code": alert.code},
                        )
                    )
                raised.append((existing, False))
                continue
            values = {
                "patient_id": patient_id,
                "raised_on": alert.date,
                "code": alert.code,
                "message": alert.message,
                "ruleset": assessor.name,
                "software_version": version,
                "raised_at": uow.now(),
                "raised_by": uow.actor,
                "acknowledged_at": None,
                "acknowledged_by": None,
                "acknowledgement_note": None,
                "withdrawn_at": None,
                "withdrawn_reason": None,
                "withdrawn_by": None,
            }
            new_row: Any = SimpleNamespace(**values)  # inserted below, with the new calls
            new_alerts.append(values)
            new_alert_rows.append(new_row)
            alerts_of.append(new_row)
            raised.append((new_row, True))
            events.append(
                (
                    "raise",
                    "alert",
                    new_row,
                    {"patient": external_id, "code": alert.code, "date": str(alert.date)},
                )
            )
        keep = {id(a) for a, _ in raised}
        reason = (
            f"not raised by the assessment of {uow.now():%Y-%m-%d %H:%M} UTC "
            f"(signed-out results {', '.join(map(str, inputs.result_ids)) or 'none'})"
        )
        withdrawn: list[Any] = []
        for a in alerts_of:
            if (
                id(a) in keep
                or a.ruleset not in names
                or a.acknowledged_at is not None
                or a.withdrawn_at is not None
            ):
                continue
            a.withdrawn_at = uow.now()
            a.withdrawn_reason = reason
            a.withdrawn_by = uow.actor
            withdrawn.append(a)
            events.append(("withdraw", "alert", a.id, {"patient": external_id, "reason": reason}))
        staged.append((inputs, assessor, computed, answers, raised, withdrawn, events))
    for row, row_id in zip(new_call_rows, insert_rows(uow, AssessmentRow, new_calls), strict=True):
        row.id = row_id
    for alert_row, row_id in zip(
        new_alert_rows, insert_rows(uow, AlertRow, new_alerts), strict=True
    ):
        alert_row.id = row_id
    entries: list[audit.Entry] = []
    runs: list[AssessRun] = []
    for inputs, assessor, computed, answers, raised, withdrawn, events in staged:
        external_id = inputs.patient_id
        entries.extend(
            audit.Entry(action, entity, getattr(target, "id", target), detail)
            for action, entity, target, detail in events
        )
        raised_views = [alerts.view_of(a, external_id) for a, _ in raised]
        withdrawn_views = [alerts.view_of(a, external_id) for a in withdrawn]
        new_assessments = sum(created for _, created, _ in answers)
        new_raised = sum(created for _, created in raised)
        entries.append(
            audit.Entry(
                "assess",
                "patient",
                external_id,
                {
                    "ruleset": assessor.name,
                    "results": list(inputs.result_ids),
                    "exams": [e.id for e in inputs.exams],
                    "assessments": len(answers),
                    "new_assessments": new_assessments,
                    "alerts": len(raised),
                    "new_alerts": new_raised,
                    "withdrawn_alerts": [a.id for a in withdrawn],
                },
            )
        )
        runs.append(
            AssessRun(
                external_id,
                assessor.name,
                computed,
                # The engine's Call objects go on to the presenters (one object, one digest).
                tuple(_rows.to_assessment(row, external_id, call) for row, _, call in answers),
                tuple(raised_views),
                new_assessments,
                new_raised,
                inputs.result_ids,
                tuple(withdrawn_views),
            )
        )
    audit.append(uow, entries)
    return runs


def _version() -> str:
    from trephine import __version__

    return __version__


def current_assessments(items: Sequence[StoredAssessment]) -> list[StoredAssessment]:
    """Every row of each call's latest revision (a call: date, call kind, rule set, edition),
    none superseded: what the newest evidence says — usually one row, several when one day has
    several calls of a kind (a marrow and a blood MRD result of one date are stored together,
    as one revision, and are both current). Older revisions (before an amendment) stay in the
    store as history. The rule's one home is :func:`trephine.assess.current.current_rows`
    (the research view reads it too)."""
    return sorted(
        current_rows(
            items,
            call=lambda s: (
                s.patient_id,
                s.assessment.assessed_on,
                s.call_kind,
                s.assessment.ruleset,
                s.assessment.criteria_edition,
            ),
            revision=lambda s: s.revision,
            flags=lambda s: s.assessment.flags,
        ),
        key=lambda s: (s.assessment.assessed_on, s.id),
    )


def current_call_rows(
    uow: UnitOfWork, patient_ids: Sequence[int], kinds: Sequence[str]
) -> list[Any]:
    """The current calls (the rule of :func:`current_assessments`, one home:
    :func:`trephine.assess.current.current_rows`) of these patients (row ids) and call kinds,
    read as bare columns — ``id``, ``patient_id``, ``assessed_on``, ``call_kind``, ``ruleset``,
    ``criteria_edition``, ``revision``, ``flags`` (as stored, JSON text), ``category`` — with no
    call decoded (a row's flags only when it has any), so that the research view reads a cohort
    of 10,000 patients in a few queries."""
    rows: list[Any] = []
    for chunk in chunks(list(patient_ids), 500):
        rows += uow.session.execute(
            select(*CALL_ROW_COLUMNS).where(
                AssessmentRow.patient_id.in_(chunk), AssessmentRow.call_kind.in_(kinds)
            )
        ).all()
    return current_rows(rows, **CALL_ROW_KEYS)


def _stored_flags(row: Any) -> Sequence[str]:
    text = row.flags
    return () if not text or text == "[]" else tuple(json.loads(text))


#: The bare columns a call's row is read as where no call is decoded (:func:`current_call_rows`,
#: the research exports), in the order :data:`CALL_ROW_KEYS` reads them by position: ``id``,
#: ``patient_id``, ``assessed_on``, ``call_kind``, ``ruleset``, ``criteria_edition``,
#: ``revision``, ``flags`` (as stored, JSON text), ``category``. A reader may select more after
#: them.
CALL_ROW_COLUMNS = (
    AssessmentRow.id,
    AssessmentRow.patient_id,
    AssessmentRow.assessed_on,
    AssessmentRow.call_kind,
    AssessmentRow.ruleset,
    AssessmentRow.criteria_edition,
    AssessmentRow.revision,
    cast(AssessmentRow.flags, Text).label("flags"),
    AssessmentRow.category,
)
#: The keys :func:`trephine.assess.current.current_rows` reads a row of
#: :data:`CALL_ROW_COLUMNS` by: the research view and the exports mark the same rows current.
CALL_ROW_KEYS: Mapping[str, Callable[[Any], Any]] = {
    "call": itemgetter(1, 2, 3, 4, 5),  # patient, date, call kind, rule set, edition
    "revision": itemgetter(6),
    "flags": _stored_flags,
}


def call_sample(uow: UnitOfWork, row: Any = AssessmentRow) -> Any:
    """A column expression: the sample a stored call rests on (bone marrow or peripheral blood,
    its :func:`trephine.assess.call.on_sample` evidence item), NULL for a call with none (an
    MRD call stored before calls named their sample). ``row`` is :class:`AssessmentRow` or an
    alias of it in the caller's query. The item is found inside the stored JSON list by the
    database (SQLite ``json_each``, PostgreSQL ``jsonb_array_elements``): no evidence list is
    decoded in Python (the research view and the exports read 10,000 patients' calls)."""
    if uow.session.get_bind().dialect.name == "postgresql":
        item = func.jsonb_array_elements(row.evidence).table_valued("value").alias("item")
        name: Any = item.c.value.op("->>")("input")
        value: Any = item.c.value.op("->>")("value")
    else:
        item = func.json_each(row.evidence).table_valued("value").alias("item")
        name = func.json_extract(item.c.value, "$.input")
        value = func.json_extract(item.c.value, "$.value")
    return select(value).select_from(item).where(name == SAMPLE).limit(1).scalar_subquery()


def mrd_samples(uow: UnitOfWork, call_ids: Sequence[int]) -> dict[int, str]:
    """The sample (:func:`call_sample`) of each of these stored calls, by row id; a call with
    none is left out."""
    a = aliased(AssessmentRow)
    sample = call_sample(uow, a)
    out: dict[int, str] = {}
    for chunk in chunks(list(call_ids), 500):
        for rid, on in uow.session.execute(select(a.id, sample).where(a.id.in_(chunk))):
            if on is not None:
                out[rid] = str(on)
    return out


@dataclass(frozen=True)
class CohortOutcome:
    """One patient's outcome in :func:`assess_all`: assessed, skipped (no timeline rule set for
    the diagnosis) or error (bad stored data; the other patients still run)."""

    patient_id: str
    status: str
    run: AssessRun | None = None
    reason: str | None = None


#: Patients :func:`assess_all` assesses per transaction: their inputs read in a few queries,
#: their calls, alerts and audit events written in one batch (see :func:`_store_runs`).
ASSESS_GROUP = 100


def assess_all(
    database: Database,
    actor: str,
    *,
    ruleset: str | None = None,
    on_patient: Callable[[CohortOutcome, int], None] | None = None,
    group: int = ASSESS_GROUP,
) -> list[CohortOutcome]:
    """Assess every patient; one patient's bad data undoes nothing else. ``on_patient(outcome,
    total)`` reports progress.

    Patients are assessed ``group`` at a time in one transaction: their inputs are read
    together, each is computed on its own (a patient the rules do not apply to is skipped, one
    whose stored data the rules refuse is an error, and nothing is written for either), and
    the others' calls and alerts are stored together. If storing the group is refused, the
    group is rolled back and assessed again one patient per transaction, so the outcome of
    every patient is what one transaction each gives.
    """
    from trephine.services.patients import list_patients

    with database.unit_of_work(actor) as uow:
        ids = [p.patient_id for p in list_patients(uow)]
    params = _site_params()
    outcomes: list[CohortOutcome] = []
    with collector_paused():
        for members in chunks(ids, max(1, group)):
            try:
                with database.unit_of_work(actor) as uow:
                    done = _assess_group(uow, members, ruleset, params)
            except TrephineError:
                done = [_assess_alone(database, actor, pid, ruleset) for pid in members]
            for outcome in done:
                outcomes.append(outcome)
                if on_patient is not None:
                    on_patient(outcome, len(ids))
    return outcomes


def _assess_group(
    uow: UnitOfWork, members: Sequence[str], ruleset: str | None, params: Mapping[str, Any]
) -> list[CohortOutcome]:
    """:func:`assess_all`'s work for one group of patients, in ``uow``."""
    inputs = load_inputs_many(uow, members)
    outcomes: dict[str, CohortOutcome] = {}
    plans: list[_Plan] = []
    for pid in members:
        try:
            assessor, computed = _compute(inputs[pid], ruleset, params)
        except CriteriaNotApplicable as exc:
            outcomes[pid] = CohortOutcome(pid, "skipped", reason=str(exc))
        except TrephineError as exc:
            outcomes[pid] = CohortOutcome(pid, "error", reason=str(exc))
        else:
            plans.append((inputs[pid], assessor, computed))
    for run in _store_runs(uow, plans):
        outcomes[run.patient_id] = CohortOutcome(run.patient_id, "assessed", run)
    return [outcomes[pid] for pid in members]


def _assess_alone(database: Database, actor: str, pid: str, ruleset: str | None) -> CohortOutcome:
    """One patient in its own transaction (what :func:`assess_all` falls back to)."""
    try:
        with database.unit_of_work(actor) as uow:
            return CohortOutcome(pid, "assessed", assess_patient(uow, pid, ruleset=ruleset))
    except CriteriaNotApplicable as exc:
        return CohortOutcome(pid, "skipped", reason=str(exc))
    except TrephineError as exc:
        return CohortOutcome(pid, "error", reason=str(exc))
