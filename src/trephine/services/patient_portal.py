"""The patient pages' use cases: link a ``patient`` account to its one record, release a
procedure's results to the patient, and load what a signed-in patient may read.

A patient reads only their own record. Asking for anything else (another patient's procedure,
a plan that is not theirs) finds nothing — the edges answer 404, the same as an id that does not
exist — and the attempt is audited (``refused`` on the asked-for entity). Every page a patient
opens is an audited read of their own record. Results are shown only once a clinician has
released them (:func:`release`); a release is recorded once and never undone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from trephine.access import Role
from trephine.criteria.procedure import SafetyCall
from trephine.domain.planning import Checklist
from trephine.domain.procedure import Procedure
from trephine.errors import AlreadyDone, NotFound, ValidationError
from trephine.services import _rows, audit
from trephine.services.procedure_plans import StoredPlan, get_plan, list_plans
from trephine.services.views import StoredAssessment, StoredResult
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    PatientAccountRow,
    PatientRow,
    ProcedurePlanRow,
    ProcedureRow,
    ResultReleaseRow,
    UserRow,
)
from trephine.workflow import ResultState

SIGNED_OUT = (ResultState.VERIFIED, ResultState.AMENDED)


@dataclass(frozen=True)
class Release:
    procedure_id: int
    released_at: dt.datetime
    released_by: str
    note: str | None = None


@dataclass(frozen=True)
class PortalProcedure:
    """One biopsy as the patient's pages see it."""

    id: int
    procedure: Procedure
    plan: StoredPlan | None
    release: Release | None


@dataclass(frozen=True)
class PortalHome:
    patient_id: str
    upcoming: tuple[StoredPlan, ...]
    past: tuple[PortalProcedure, ...]


@dataclass(frozen=True)
class PortalResults:
    """A released procedure's signed-out results and the current calls dated on its day."""

    procedure: PortalProcedure
    results: tuple[StoredResult, ...]
    calls: tuple[StoredAssessment, ...]


# -- linking accounts ---------------------------------------------------------------------------
def link_account(uow: UnitOfWork, name: str, patient_external_id: str) -> None:
    """Give the ``patient`` account ``name`` its one patient record (re-linking is refused)."""
    user = uow.session.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()
    if user is None:
        raise NotFound("user", name)
    if user.role != Role.PATIENT:
        raise ValidationError(
            "role", user.role, "patient", reason="only a patient account is linked to a record"
        )
    patient = _rows.patient_row(uow, patient_external_id)
    existing = uow.session.get(PatientAccountRow, user.id)
    if existing is not None:
        if existing.patient_id == patient.id:
            return
        raise AlreadyDone("patient account", name, "linked", existing.linked_by, existing.linked_at)
    uow.session.add(
        PatientAccountRow(
            user_id=user.id, patient_id=patient.id, linked_at=uow.now(), linked_by=uow.actor
        )
    )
    audit.append(
        uow,
        audit.Entry("link", "patient_account", name, {"patient": patient_external_id}),
    )


def patient_of(uow: UnitOfWork, name: str) -> str:
    """The external id of the record the patient account ``name`` may read."""
    row = uow.session.execute(
        select(PatientRow.external_id)
        .join(PatientAccountRow, PatientAccountRow.patient_id == PatientRow.id)
        .join(UserRow, UserRow.id == PatientAccountRow.user_id)
        .where(UserRow.name == name)
    ).one_or_none()
    if row is None:
        raise NotFound("patient record of account", name)
    return str(row[0])


def linked_accounts(uow: UnitOfWork) -> dict[str, str]:
    """Account name → patient id, for every linked patient account."""
    rows = uow.session.execute(
        select(UserRow.name, PatientRow.external_id)
        .join(PatientAccountRow, PatientAccountRow.user_id == UserRow.id)
        .join(PatientRow, PatientRow.id == PatientAccountRow.patient_id)
    )
    return {str(n): str(p) for n, p in rows}


# -- release ------------------------------------------------------------------------------------
def _release(row: ResultReleaseRow) -> Release:
    return Release(row.procedure_id, row.released_at, row.released_by, row.note)


def release(uow: UnitOfWork, procedure_id: int, note: str | None = None) -> Release:
    """Release a procedure's signed-out results to the patient (recorded once, audited)."""
    procedure = uow.session.get(ProcedureRow, procedure_id)
    if procedure is None:
        raise NotFound("procedure", procedure_id)
    if note is not None and len(note) > 1000:
        raise ValidationError("note", f"{len(note)} characters", "at most 1000 characters")
    existing = uow.session.scalars(
        select(ResultReleaseRow).where(ResultReleaseRow.procedure_id == procedure_id)
    ).one_or_none()
    if existing is not None:
        raise AlreadyDone(
            "procedure results",
            procedure_id,
            "released",
            existing.released_by,
            existing.released_at,
        )
    row = ResultReleaseRow(
        procedure_id=procedure_id, released_at=uow.now(), released_by=uow.actor, note=note
    )
    uow.session.add(row)
    uow.session.flush()
    patient = uow.session.get(PatientRow, procedure.patient_id)
    audit.append(
        uow,
        audit.Entry(
            "release",
            "procedure",
            procedure_id,
            {"patient": patient.external_id if patient else None, "note": note},
        ),
    )
    return _release(row)


def releases(uow: UnitOfWork, procedure_ids: list[int]) -> dict[int, Release]:
    if not procedure_ids:
        return {}
    rows = uow.session.scalars(
        select(ResultReleaseRow).where(ResultReleaseRow.procedure_id.in_(procedure_ids))
    )
    return {r.procedure_id: _release(r) for r in rows}


# -- what a patient reads -------------------------------------------------------------------------
def refuse(uow: UnitOfWork, name: str, entity: str, key: object) -> None:
    """Audit a patient's attempt to open something that is not theirs (answered 404)."""
    audit.append(uow, audit.Entry("refused", entity, key, {"what": "patient pages", "user": name}))


def home(uow: UnitOfWork, name: str) -> PortalHome:
    from trephine.services.patients import patient_record

    patient_id = patient_of(uow, name)
    plans = list_plans(uow, patient_id)
    record = patient_record(uow, patient_id)
    ids = [p.id for p in record.procedures]
    released = releases(uow, ids)
    by_procedure = {p.procedure_id: p for p in plans if p.procedure_id is not None}
    past = tuple(
        PortalProcedure(p.id, p.procedure, by_procedure.get(p.id), released.get(p.id))
        for p in sorted(record.procedures, key=lambda p: p.procedure.performed_at, reverse=True)
    )
    upcoming = tuple(p for p in plans if str(p.status) == "planned")
    return PortalHome(patient_id, upcoming, past)


def own_plan(uow: UnitOfWork, name: str, plan_id: int) -> StoredPlan | None:
    """The patient's own planned procedure, or None (not theirs, or no such plan)."""
    patient_id = patient_of(uow, name)
    row = uow.session.get(ProcedurePlanRow, plan_id)
    if row is None:
        return None
    plan = get_plan(uow, plan_id)
    return plan if plan.patient_id == patient_id else None


def own_procedure(uow: UnitOfWork, name: str, procedure_id: int) -> PortalProcedure | None:
    """The patient's own procedure, or None (not theirs, or no such procedure)."""
    patient_id = patient_of(uow, name)
    row = uow.session.get(ProcedureRow, procedure_id)
    patient = None if row is None else uow.session.get(PatientRow, row.patient_id)
    if row is None or patient is None or patient.external_id != patient_id:
        return None
    for item in home(uow, name).past:
        if item.id == procedure_id:
            return item
    return None


def checklist_of(
    item: PortalProcedure | StoredPlan | None,
) -> tuple[Checklist | None, SafetyCall | None]:
    """The stored checklist and its §10 decision behind a procedure or plan (if one was kept)."""
    plan = item.plan if isinstance(item, PortalProcedure) else item
    if plan is None or plan.checklist is None:
        return None, None
    return plan.checklist.checklist, plan.checklist.call


def released_results(uow: UnitOfWork, item: PortalProcedure) -> PortalResults | None:
    """The procedure's signed-out results and current calls of its day — None before release."""
    from trephine.services.assessments import current_assessments, patient_assessments
    from trephine.services.patients import patient_record

    if item.release is None:
        return None
    patient_id = patient_of_procedure(uow, item.id)
    record = patient_record(uow, patient_id)
    stored = next(p for p in record.procedures if p.id == item.id)
    accessions = {s.specimen.accession for s in stored.specimens}
    results = tuple(
        r for r in record.results if r.accession in accessions and r.state in SIGNED_OUT
    )
    day = item.procedure.performed_at.date()
    calls = tuple(
        a
        for a in current_assessments(patient_assessments(uow, patient_id))
        if a.assessment.assessed_on == day
    )
    return PortalResults(item, results, calls)


def patient_of_procedure(uow: UnitOfWork, procedure_id: int) -> str:
    row = uow.session.get(ProcedureRow, procedure_id)
    if row is None:
        raise NotFound("procedure", procedure_id)
    patient = uow.session.get(PatientRow, row.patient_id)
    assert patient is not None
    return patient.external_id


def ensure_demo_patient(uow: UnitOfWork, name: str = "demo-patient") -> str | None:
    """Link the demo patient account to the first demo patient and release the results of all
    but that patient's latest procedure (so the pages show both states). Returns the patient id
    (None when the database holds no patient)."""
    first = uow.session.scalars(select(PatientRow).order_by(PatientRow.external_id)).first()
    if first is None:
        return None
    link_account(uow, name, first.external_id)
    procedures = list(
        uow.session.scalars(
            select(ProcedureRow.id)
            .where(ProcedureRow.patient_id == first.id)
            .order_by(ProcedureRow.performed_at)
        )
    )
    done = releases(uow, procedures)
    for procedure_id in procedures[:-1]:
        if procedure_id not in done:
            release(uow, procedure_id, "demo: discussed in clinic")
    return first.external_id
