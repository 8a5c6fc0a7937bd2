"""Planned procedures: plan → checklist (with its §10 decision) → consent → done / cancelled;
complications recorded after the procedure. Every write is audited.

The checklist is stored as versions: recording a changed checklist adds a version and
re-evaluates the §10 rule on it (the site's parameters from ``settings``); an unchanged one is
a no-op. The decision is advisory: nothing here refuses a procedure because of it. What *is*
refused: marking a procedure done without a consent record unless an emergency reason is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from trephine.criteria.procedure import SafetyCall, evaluate_checklist
from trephine.domain.planning import (
    Checklist,
    Consent,
    ConsentGiver,
    DrugClass,
    Fasting,
    Medication,
    PlannedProcedure,
    PlanStatus,
    Risk,
    SignatureMethod,
    check_cancel_reason,
    check_done,
    check_transition,
)
from trephine.domain.procedure import Anesthesia, Complication, Indication, Procedure, Site
from trephine.errors import Conflict, NotFound, TrephineError, ValidationError
from trephine.services import _batch, _rows, audit
from trephine.services.procedures import complication_columns, record_procedure
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    ComplicationRow,
    PatientRow,
    ProcedureChecklistRow,
    ProcedureConsentRow,
    ProcedurePlanRow,
    ProcedureRow,
)


# -- read models ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredChecklist:
    version: int
    checklist: Checklist
    call: SafetyCall
    recorded_at: dt.datetime
    recorded_by: str


@dataclass(frozen=True)
class StoredConsent:
    consent: Consent
    recorded_at: dt.datetime
    recorded_by: str


@dataclass(frozen=True)
class StoredPlan:
    """A planned procedure with its current checklist (and decision), consent and, once done,
    the procedure record's id and timings."""

    id: int
    patient_id: str
    plan: PlannedProcedure
    status: PlanStatus
    created_at: dt.datetime
    created_by: str
    checklist: StoredChecklist | None = None
    checklist_versions: int = 0
    consent: StoredConsent | None = None
    cancel_reason: str | None = None
    emergency_reason: str | None = None
    procedure_id: int | None = None
    procedure: Procedure | None = None
    closed_at: dt.datetime | None = None
    closed_by: str | None = None


# -- JSON forms of the checklist ---------------------------------------------------------------
def checklist_to_json(checklist: Checklist) -> dict[str, Any]:
    return {
        "medications": [
            {
                "name": m.name,
                "class": str(m.drug_class),
                "last_dose_at": None if m.last_dose_at is None else m.last_dose_at.isoformat(),
            }
            for m in checklist.medications
        ],
        "platelets": None if checklist.platelets is None else str(checklist.platelets),
        "inr": None if checklist.inr is None else str(checklist.inr),
        "allergies": list(checklist.allergies),
        "sedation": str(checklist.sedation),
        "escort": checklist.escort,
        "fasting": None if checklist.fasting is None else str(checklist.fasting),
        "mpn": checklist.mpn,
        "bleeding_disorder": checklist.bleeding_disorder,
    }


def checklist_from_json(data: Mapping[str, Any]) -> Checklist:
    return Checklist(
        medications=tuple(
            Medication(
                m["name"],
                DrugClass(m["class"]),
                None if m["last_dose_at"] is None else dt.datetime.fromisoformat(m["last_dose_at"]),
            )
            for m in data["medications"]
        ),
        platelets=None if data["platelets"] is None else Decimal(data["platelets"]),
        inr=None if data["inr"] is None else Decimal(data["inr"]),
        allergies=tuple(data["allergies"]),
        sedation=Anesthesia(data["sedation"]),
        escort=data["escort"],
        fasting=None if data["fasting"] is None else Fasting(data["fasting"]),
        mpn=data["mpn"],
        bleeding_disorder=data["bleeding_disorder"],
    )


def _consent(row: ProcedureConsentRow) -> StoredConsent:
    return StoredConsent(
        Consent(
            given_by=ConsentGiver(row.given_by),
            taken_by=row.taken_by,
            consented_at=row.consented_at,
            leaflet_version=row.leaflet_version,
            risks_discussed=tuple(Risk(r) for r in row.risks_discussed),
            signature=SignatureMethod(row.signature),
            giver_name=row.giver_name,
            interpreter=row.interpreter,
        ),
        row.recorded_at,
        row.recorded_by,
    )


def _latest_checklist(uow: UnitOfWork, plan_id: int) -> ProcedureChecklistRow | None:
    return uow.session.scalar(
        select(ProcedureChecklistRow)
        .where(ProcedureChecklistRow.plan_id == plan_id)
        .order_by(ProcedureChecklistRow.version.desc())
        .limit(1)
    )


def _view(uow: UnitOfWork, row: ProcedurePlanRow, patient_id: str | None = None) -> StoredPlan:
    if patient_id is None:
        patient_id = uow.session.get_one(PatientRow, row.patient_id).external_id
    latest = _latest_checklist(uow, row.id)
    consent = uow.session.scalar(
        select(ProcedureConsentRow).where(ProcedureConsentRow.plan_id == row.id)
    )
    procedure = None
    if row.procedure_id is not None:
        procedure = _rows.to_procedure(uow.session.get_one(ProcedureRow, row.procedure_id))
    return StoredPlan(
        id=row.id,
        patient_id=patient_id,
        plan=PlannedProcedure(
            planned_for=row.planned_for,
            indication=Indication(row.indication),
            site=Site(row.site),
            operator=row.operator,
        ),
        status=PlanStatus(row.status),
        created_at=row.created_at,
        created_by=row.created_by,
        checklist=None
        if latest is None
        else StoredChecklist(
            latest.version,
            checklist_from_json(latest.checklist),
            SafetyCall.from_dict(latest.evaluation),
            latest.recorded_at,
            latest.recorded_by,
        ),
        checklist_versions=0 if latest is None else latest.version,
        consent=None if consent is None else _consent(consent),
        cancel_reason=row.cancel_reason,
        emergency_reason=row.emergency_reason,
        procedure_id=row.procedure_id,
        procedure=procedure,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
    )


def _plan_row(uow: UnitOfWork, plan_id: int) -> ProcedurePlanRow:
    row = uow.session.get(ProcedurePlanRow, plan_id)
    if row is None:
        raise NotFound("procedure plan", plan_id)
    return row


# -- use cases ---------------------------------------------------------------------------------
def plan_procedure(uow: UnitOfWork, external_id: str, plan: PlannedProcedure) -> StoredPlan:
    """Book a procedure for a patient (status ``planned``)."""
    patient = _rows.patient_row(uow, external_id)
    row = ProcedurePlanRow(
        patient_id=patient.id,
        planned_for=plan.planned_for,
        indication=str(plan.indication),
        site=str(plan.site),
        operator=plan.operator,
        status=str(PlanStatus.PLANNED),
        created_at=uow.now(),
        created_by=uow.actor,
    )
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "create",
            "procedure_plan",
            row.id,
            {"patient": external_id, "indication": str(plan.indication)},
        ),
    )
    return _view(uow, row, external_id)


def get_plan(uow: UnitOfWork, plan_id: int) -> StoredPlan:
    return _view(uow, _plan_row(uow, plan_id))


def list_plans(
    uow: UnitOfWork, external_id: str | None = None, status: PlanStatus | None = None
) -> list[StoredPlan]:
    """Plans, soonest first; of one patient and/or in one status."""
    query = select(ProcedurePlanRow, PatientRow.external_id).join(
        PatientRow, PatientRow.id == ProcedurePlanRow.patient_id
    )
    if external_id is not None:
        query = query.where(PatientRow.id == _rows.patient_row(uow, external_id).id)
    if status is not None:
        query = query.where(ProcedurePlanRow.status == str(status))
    rows = uow.session.execute(query.order_by(ProcedurePlanRow.planned_for, ProcedurePlanRow.id))
    return [_view(uow, row, pid) for row, pid in rows]


def record_checklist(
    uow: UnitOfWork,
    plan_id: int,
    checklist: Checklist,
    params: Mapping[str, Any] | None = None,
) -> tuple[StoredPlan, bool]:
    """Store ``checklist`` as the plan's current version with the §10 decision made on it.

    ``params`` are the site's overrides of the SIR 2019 rule set's parameters (default:
    ``TREPHINE_PROCEDURE_SAFETY_PARAMS``). An identical
    checklist is not stored again (``False``); a changed one adds a version, re-evaluated.
    Only a planned procedure's checklist can change.
    """
    row = _plan_row(uow, plan_id)
    if row.status != PlanStatus.PLANNED:
        raise ValidationError(
            "checklist", plan_id, "a planned procedure", reason=f"the procedure is {row.status}"
        )
    data = checklist_to_json(checklist)
    latest = _latest_checklist(uow, plan_id)
    if latest is not None and latest.checklist == data:
        return _view(uow, row), False
    if params is None:
        from trephine.settings import get_settings

        params = get_settings().procedure_safety_params
    call = evaluate_checklist(checklist, params, row.planned_for)
    version = 1 if latest is None else latest.version + 1
    uow.session.add(
        ProcedureChecklistRow(
            plan_id=plan_id,
            version=version,
            checklist=data,
            decision=call.decision,
            evaluation=call.as_dict(),
            recorded_at=uow.now(),
            recorded_by=uow.actor,
        )
    )
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "checklist",
            "procedure_plan",
            plan_id,
            {
                "version": version,
                "decision": call.decision,
                "reasons": [r.code for r in call.reasons],
                "ruleset": call.ruleset,
                "software_version": call.software_version,
            },
        ),
    )
    return _view(uow, row), True


def record_consent(uow: UnitOfWork, plan_id: int, consent: Consent) -> StoredPlan:
    """Record the plan's consent. Once recorded it stands: a second, different consent is a
    :class:`Conflict` (the same one again is a no-op)."""
    row = _plan_row(uow, plan_id)
    if row.status == PlanStatus.CANCELLED:
        raise ValidationError("consent", plan_id, "a planned procedure", reason="cancelled")
    existing = uow.session.scalar(
        select(ProcedureConsentRow).where(ProcedureConsentRow.plan_id == plan_id)
    )
    if existing is not None:
        recorded = _consent(existing).consent
        changed = next(
            (n for n in vars(consent) if getattr(recorded, n) != getattr(consent, n)), None
        )
        if changed is None:
            return _view(uow, row)
        raise Conflict(
            "consent", plan_id, changed, getattr(recorded, changed), getattr(consent, changed)
        )
    uow.session.add(ProcedureConsentRow(**_consent_columns(consent, plan_id, uow.now(), uow.actor)))
    uow.session.flush()
    audit.append(uow, _consent_event(plan_id, consent))
    return _view(uow, row)


def _consent_columns(
    consent: Consent, plan_id: int, now: dt.datetime, actor: str
) -> dict[str, Any]:
    return {
        "plan_id": plan_id,
        "given_by": str(consent.given_by),
        "giver_name": consent.giver_name,
        "taken_by": consent.taken_by,
        "consented_at": consent.consented_at,
        "leaflet_version": consent.leaflet_version,
        "risks_discussed": [str(r) for r in consent.risks_discussed],
        "interpreter": consent.interpreter,
        "signature": str(consent.signature),
        "recorded_at": now,
        "recorded_by": actor,
    }


def _consent_event(plan_id: int, consent: Consent) -> audit.Entry:
    return audit.Entry(
        "consent",
        "procedure_plan",
        plan_id,
        {
            "leaflet_version": consent.leaflet_version,
            "given_by": str(consent.given_by),
            "interpreter": consent.interpreter is not None,
        },
    )


def mark_done(
    uow: UnitOfWork,
    plan_id: int,
    procedure: Procedure,
    emergency_reason: str | None = None,
) -> StoredPlan:
    """Record the procedure (the existing procedure record) and close the plan as done.

    Refused without a consent record unless ``emergency_reason`` is given; the procedure's
    indication must be the plan's.
    """
    row = _plan_row(uow, plan_id)
    check_transition(PlanStatus(row.status), PlanStatus.DONE)
    consent = uow.session.scalar(
        select(ProcedureConsentRow).where(ProcedureConsentRow.plan_id == plan_id)
    )
    check_done(None if consent is None else _consent(consent).consent, emergency_reason)
    if str(procedure.indication) != row.indication:
        raise ValidationError("indication", str(procedure.indication), row.indication)
    patient = uow.session.get_one(PatientRow, row.patient_id)
    procedure_id, _ = record_procedure(uow, patient.external_id, procedure)
    taken = uow.session.scalar(
        select(ProcedurePlanRow.id).where(ProcedurePlanRow.procedure_id == procedure_id)
    )
    if taken is not None:
        raise Conflict("procedure", procedure_id, "plan", taken, plan_id)
    row.status = str(PlanStatus.DONE)
    row.procedure_id = procedure_id
    row.emergency_reason = emergency_reason
    row.closed_at = uow.now()
    row.closed_by = uow.actor
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "done",
            "procedure_plan",
            plan_id,
            {
                "procedure": procedure_id,
                "consent": consent is not None,
                **({"emergency_reason": emergency_reason} if emergency_reason else {}),
            },
        ),
    )
    return _view(uow, row, patient.external_id)


def record_imported(
    uow: UnitOfWork,
    procedure_id: int,
    procedure: Procedure,
    checklist: Checklist | None,
    consent: Consent | None,
    emergency_reason: str | None,
    params: Mapping[str, Any] | None = None,
) -> int:
    """The done plan of an imported procedure with its checklist and consent (the importer's
    ``procedures`` sheet); importing the same again changes nothing, different values are a
    :class:`Conflict`. Returns the plan id."""
    check_done(consent, emergency_reason)
    existing = uow.session.scalar(
        select(ProcedurePlanRow).where(ProcedurePlanRow.procedure_id == procedure_id)
    )
    if existing is not None:
        view = _view(uow, existing)
        recorded = (
            None if view.checklist is None else checklist_to_json(view.checklist.checklist),
            None if view.consent is None else view.consent.consent,
            view.emergency_reason,
        )
        new = (
            None if checklist is None else checklist_to_json(checklist),
            consent,
            emergency_reason,
        )
        for name, old_value, new_value in zip(
            ("checklist", "consent", "emergency_reason"), recorded, new, strict=True
        ):
            if old_value != new_value:
                raise Conflict("procedure plan", existing.id, name, old_value, new_value)
        return existing.id
    procedure_row = uow.session.get_one(ProcedureRow, procedure_id)
    patient = uow.session.get_one(PatientRow, procedure_row.patient_id)
    plan = plan_procedure(
        uow,
        patient.external_id,
        PlannedProcedure(
            procedure.performed_at, procedure.indication, procedure.site, procedure.operator
        ),
    )
    if checklist is not None:
        record_checklist(uow, plan.id, checklist, params)
    if consent is not None:
        record_consent(uow, plan.id, consent)
    row = _plan_row(uow, plan.id)
    row.status = str(PlanStatus.DONE)
    row.procedure_id = procedure_id
    row.emergency_reason = emergency_reason
    row.closed_at = uow.now()
    row.closed_by = uow.actor
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "done",
            "procedure_plan",
            plan.id,
            {"procedure": procedure_id, "consent": consent is not None, "imported": True},
        ),
    )
    return plan.id


@dataclass(frozen=True)
class ImportedPlanning:
    """What :func:`record_imported_many` records for one imported, done procedure."""

    procedure_id: int
    procedure: Procedure
    checklist: Checklist | None
    consent: Consent | None
    emergency_reason: str | None


def record_imported_many(
    uow: UnitOfWork,
    items: Sequence[ImportedPlanning],
    params: Mapping[str, Any] | None = None,
) -> list[_batch.Answer]:
    """:func:`record_imported` for many procedures at once (the importer and the demo loader):
    per item, in order, ``(plan id, Outcome)`` or the error that refuses it, as the one-fact
    writer would answer. New plans are written with one insert per table and their audit
    events (create, checklist, consent, done — the one-fact writer's events, in its order) in
    one append; a procedure that already has a plan, or that comes again in the batch, goes
    through :func:`record_imported` (same → unchanged, different → :class:`Conflict`)."""
    if params is None:
        from trephine.settings import get_settings

        params = get_settings().procedure_safety_params
    answers: list[_batch.Answer | None] = [None] * len(items)
    existing: dict[int, int] = {}
    for batch in _batch.chunks(sorted({x.procedure_id for x in items})):
        planned = select(ProcedurePlanRow.procedure_id, ProcedurePlanRow.id).where(
            ProcedurePlanRow.procedure_id.in_(batch)
        )
        existing.update({int(pid): plan for pid, plan in uow.session.execute(planned) if pid})
    patients: dict[int, tuple[int, str]] = {}
    for batch in _batch.chunks(sorted({x.procedure_id for x in items})):
        owners = (
            select(ProcedureRow.id, PatientRow.id, PatientRow.external_id)
            .join(PatientRow, PatientRow.id == ProcedureRow.patient_id)
            .where(ProcedureRow.id.in_(batch))
        )
        patients.update({pid: (patient, ext) for pid, patient, ext in uow.session.execute(owners)})
    fresh: list[int] = []  # positions of the items that get a new plan
    again: list[int] = []  # positions of procedures planned before, or earlier in this batch
    seen: set[int] = set()
    for position, x in enumerate(items):
        if x.procedure_id in existing or x.procedure_id in seen:
            again.append(position)
            continue
        try:
            check_done(x.consent, x.emergency_reason)
            if x.procedure_id not in patients:
                raise NotFound("procedure", x.procedure_id)
        except TrephineError as exc:
            answers[position] = exc
            continue
        seen.add(x.procedure_id)
        fresh.append(position)
    if fresh:
        now, actor = uow.now(), uow.actor
        plan_ids = _batch.insert_rows(
            uow,
            ProcedurePlanRow,
            [
                {
                    "patient_id": patients[items[i].procedure_id][0],
                    "planned_for": items[i].procedure.performed_at,
                    "indication": str(items[i].procedure.indication),
                    "site": str(items[i].procedure.site),
                    "operator": items[i].procedure.operator,
                    "status": str(PlanStatus.DONE),
                    "cancel_reason": None,
                    "emergency_reason": items[i].emergency_reason,
                    "procedure_id": items[i].procedure_id,
                    "created_at": now,
                    "created_by": actor,
                    "closed_at": now,
                    "closed_by": actor,
                }
                for i in fresh
            ],
        )
        checklists: list[dict[str, Any]] = []
        consents: list[dict[str, Any]] = []
        events: list[audit.Entry] = []
        for i, plan_id in zip(fresh, plan_ids, strict=True):
            x = items[i]
            events.append(
                audit.Entry(
                    "create",
                    "procedure_plan",
                    plan_id,
                    {
                        "patient": patients[x.procedure_id][1],
                        "indication": str(x.procedure.indication),
                    },
                )
            )
            if x.checklist is not None:
                call = evaluate_checklist(x.checklist, params, x.procedure.performed_at)
                checklists.append(
                    {
                        "plan_id": plan_id,
                        "version": 1,
                        "checklist": checklist_to_json(x.checklist),
                        "decision": call.decision,
                        "evaluation": call.as_dict(),
                        "recorded_at": now,
                        "recorded_by": actor,
                    }
                )
                events.append(
                    audit.Entry(
                        "checklist",
                        "procedure_plan",
                        plan_id,
                        {
                            "version": 1,
                            "decision": call.decision,
                            "reasons": [r.code for r in call.reasons],
                            "ruleset": call.ruleset,
                            "software_version": call.software_version,
                        },
                    )
                )
            if x.consent is not None:
                consents.append(_consent_columns(x.consent, plan_id, now, actor))
                events.append(_consent_event(plan_id, x.consent))
            events.append(
                audit.Entry(
                    "done",
                    "procedure_plan",
                    plan_id,
                    {
                        "procedure": x.procedure_id,
                        "consent": x.consent is not None,
                        "imported": True,
                    },
                )
            )
            answers[i] = (plan_id, _batch.Outcome.CREATED)
        _batch.insert_rows(uow, ProcedureChecklistRow, checklists)
        _batch.insert_rows(uow, ProcedureConsentRow, consents)
        audit.append(uow, events)
    for position in again:
        x = items[position]
        try:
            plan_id = record_imported(
                uow, x.procedure_id, x.procedure, x.checklist, x.consent,
                x.emergency_reason, params,
            )  # fmt: skip
        except TrephineError as exc:
            answers[position] = exc
        else:
            answers[position] = (plan_id, _batch.Outcome.UNCHANGED)
    return [a for a in answers if a is not None]


def cancel(uow: UnitOfWork, plan_id: int, reason: str | None) -> StoredPlan:
    row = _plan_row(uow, plan_id)
    check_transition(PlanStatus(row.status), PlanStatus.CANCELLED)
    row.cancel_reason = check_cancel_reason(reason)
    row.status = str(PlanStatus.CANCELLED)
    row.closed_at = uow.now()
    row.closed_by = uow.actor
    uow.session.flush()
    audit.append(uow, audit.Entry("cancel", "procedure_plan", plan_id, {"reason": reason}))
    return _view(uow, row)


def add_complication(uow: UnitOfWork, procedure_id: int, complication: Complication) -> int:
    """Record a complication of a recorded procedure (onset on or after the procedure)."""
    procedure = uow.session.get(ProcedureRow, procedure_id)
    if procedure is None:
        raise NotFound("procedure", procedure_id)
    if complication.onset_at is not None and complication.onset_at < procedure.performed_at:
        raise ValidationError(
            "onset_at",
            complication.onset_at.isoformat(),
            f"on or after the procedure ({procedure.performed_at.isoformat()})",
        )
    row = ComplicationRow(procedure_id=procedure_id, **complication_columns(complication))
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "create",
            "complication",
            row.id,
            {
                "procedure": procedure_id,
                "kind": str(complication.kind),
                "severity": str(complication.severity),
            },
        ),
    )
    return row.id


def plan_counts(uow: UnitOfWork) -> dict[str, int]:
    """How many plans in each status (for dashboards)."""
    rows = uow.session.execute(
        select(ProcedurePlanRow.status, func.count()).group_by(ProcedurePlanRow.status)
    )
    return {status: n for status, n in rows}


__all__: Sequence[str] = (
    "StoredChecklist",
    "StoredConsent",
    "StoredPlan",
    "add_complication",
    "cancel",
    "checklist_from_json",
    "checklist_to_json",
    "get_plan",
    "list_plans",
    "mark_done",
    "plan_counts",
    "plan_procedure",
    "record_checklist",
    "record_consent",
)
