"""Studies (issue 12 §1): define a study, its arms and visit schedule; enrol patients; map
procedures to visits (by window, or by hand — audited, and overriding the window); read a study.

Every write appends an audit event. Reading a study's enrolments and visits (:func:`view`) shows
patients' records and is audited by the caller's edge as a query of those patients; the view
names patients by the id a function given by the caller returns (the record's id for roles that
see identity, a keyed-hash pseudonym for researchers — ``present/deidentify.py``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from trephine.domain.study import Anchor, Enrolment, Visit, check_name, due, nearest
from trephine.errors import Conflict, NotFound, TrephineError, ValidationError
from trephine.services import audit
from trephine.services._batch import Answer, Outcome
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    CellularTherapyRow,
    DiagnosisRow,
    PatientRow,
    ProcedureRow,
    StudyArmRow,
    StudyEnrolmentRow,
    StudyRow,
    StudyVisitMappingRow,
    StudyVisitRow,
    TherapyLineRow,
)

# --------------------------------------------------------------------------- writes


def _study_row(uow: UnitOfWork, name: str) -> StudyRow:
    row = uow.session.scalars(select(StudyRow).where(StudyRow.name == name)).first()
    if row is None:
        known = list(uow.session.scalars(select(StudyRow.name).order_by(StudyRow.name)))
        raise ValidationError("study", name, known or "no study is defined yet")
    return row


def define(
    uow: UnitOfWork, name: str, title: str, description: str | None = None
) -> tuple[int, Outcome]:
    """Create a study, or change its title/description (audited with the old words)."""
    check_name("study", name)
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise ValidationError("title", title, "1–200 characters")
    row = uow.session.scalars(select(StudyRow).where(StudyRow.name == name)).first()
    if row is None:
        row = StudyRow(
            name=name,
            title=title.strip(),
            description=description,
            created_by=uow.actor,
            created_at=uow.now(),
        )
        uow.session.add(row)
        uow.session.flush()
        audit.append(uow, audit.Entry("create", "study", name, {"title": row.title}))
        return row.id, Outcome.CREATED
    if (row.title, row.description) == (title.strip(), description):
        return row.id, Outcome.UNCHANGED
    before = {"title": row.title, "description": row.description}
    row.title, row.description = title.strip(), description
    audit.append(
        uow,
        audit.Entry("update", "study", name, {"before": before, "title": row.title}),
    )
    return row.id, Outcome.UPDATED


def add_arm(
    uow: UnitOfWork, study: str, arm: str, description: str | None = None
) -> tuple[int, Outcome]:
    check_name("arm", arm)
    s = _study_row(uow, study)
    row = uow.session.scalars(
        select(StudyArmRow).where(StudyArmRow.study_id == s.id, StudyArmRow.name == arm)
    ).first()
    if row is not None:
        if row.description == description or description is None:
            return row.id, Outcome.UNCHANGED
        before = row.description
        row.description = description
        audit.append(uow, audit.Entry("update", "study arm", f"{study}/{arm}", {"before": before}))
        return row.id, Outcome.UPDATED
    row = StudyArmRow(study_id=s.id, name=arm, description=description)
    uow.session.add(row)
    uow.session.flush()
    audit.append(uow, audit.Entry("create", "study arm", f"{study}/{arm}", {}))
    return row.id, Outcome.CREATED


def _visit_json(v: Visit) -> dict[str, Any]:
    return {"label": v.label, "anchor": str(v.anchor), "day": v.day, "window": v.window}


def set_visit(uow: UnitOfWork, study: str, visit: Visit) -> tuple[int, Outcome]:
    """Add a visit to the schedule, or change it (a protocol amendment: audited with the old
    schedule entry). Window mappings follow the new schedule at once; hand mappings stand."""
    s = _study_row(uow, study)
    row = uow.session.scalars(
        select(StudyVisitRow).where(
            StudyVisitRow.study_id == s.id, StudyVisitRow.name == visit.name
        )
    ).first()
    new = _visit_json(visit)
    if row is None:
        row = StudyVisitRow(study_id=s.id, name=visit.name, **new)
        uow.session.add(row)
        uow.session.flush()
        audit.append(uow, audit.Entry("create", "study visit", f"{study}/{visit.name}", new))
        return row.id, Outcome.CREATED
    old = {"label": row.label, "anchor": row.anchor, "day": row.day, "window": row.window}
    if old == new:
        return row.id, Outcome.UNCHANGED
    for k, v in new.items():
        setattr(row, k, v)
    audit.append(
        uow,
        audit.Entry("update", "study visit", f"{study}/{visit.name}", {**new, "before": old}),
    )
    return row.id, Outcome.UPDATED


def enrol(uow: UnitOfWork, study: str, enrolment: Enrolment) -> tuple[int, Outcome]:
    """Enrol a patient on an arm (once per study; the same enrolment again changes nothing)."""
    s = _study_row(uow, study)
    pid = uow.session.scalars(
        select(PatientRow.id).where(PatientRow.external_id == enrolment.patient)
    ).first()
    if pid is None:
        raise NotFound("patient", enrolment.patient)
    arms = dict(
        uow.session.execute(
            select(StudyArmRow.name, StudyArmRow.id).where(StudyArmRow.study_id == s.id)
        ).all()
    )
    if enrolment.arm not in arms:
        raise ValidationError("arm", enrolment.arm, sorted(arms) or f"no arm of {study} yet")
    row = uow.session.scalars(
        select(StudyEnrolmentRow).where(
            StudyEnrolmentRow.study_id == s.id, StudyEnrolmentRow.patient_id == pid
        )
    ).first()
    fields = {
        "arm_id": arms[enrolment.arm],
        "enrolled_on": enrolment.enrolled_on,
        "research_consent": enrolment.research_consent,
        "consent_on": enrolment.consent_on,
    }
    if row is not None:
        for k, v in fields.items():
            if getattr(row, k) != v:
                raise Conflict(
                    "enrolment", f"{enrolment.patient} on {study}", k, getattr(row, k), v
                )
        return row.id, Outcome.UNCHANGED
    row = StudyEnrolmentRow(
        study_id=s.id, patient_id=pid, created_by=uow.actor, created_at=uow.now(), **fields
    )
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "create",
            "study enrolment",
            f"{study}/{enrolment.patient}",
            {
                "patient": enrolment.patient,
                "arm": enrolment.arm,
                "enrolled_on": enrolment.enrolled_on.isoformat(),
                "research_consent": enrolment.research_consent,
            },
        ),
    )
    return row.id, Outcome.CREATED


def _enrolment_row(uow: UnitOfWork, study: str, patient: str) -> tuple[StudyRow, StudyEnrolmentRow]:
    s = _study_row(uow, study)
    row = uow.session.scalars(
        select(StudyEnrolmentRow)
        .join(PatientRow, PatientRow.id == StudyEnrolmentRow.patient_id)
        .where(StudyEnrolmentRow.study_id == s.id, PatientRow.external_id == patient)
    ).first()
    if row is None:
        raise NotFound("enrolment", f"{patient} on {study}")
    return s, row


def map_visit(
    uow: UnitOfWork,
    study: str,
    patient: str,
    visit: str,
    procedure_id: int | None,
    reason: str,
) -> int:
    """Map one enrolment's visit to a procedure by hand (``None``: no procedure counts for
    it), with a reason; overrides the window mapping; audited. Returns the mapping's id."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("reason", reason, "why the visit is mapped by hand (required)")
    s, enrolment = _enrolment_row(uow, study, patient)
    visits = dict(
        uow.session.execute(
            select(StudyVisitRow.name, StudyVisitRow.id).where(StudyVisitRow.study_id == s.id)
        ).all()
    )
    if visit not in visits:
        raise ValidationError("visit", visit, sorted(visits) or f"no visit of {study} yet")
    if procedure_id is not None:
        owner = uow.session.scalars(
            select(ProcedureRow.patient_id).where(ProcedureRow.id == procedure_id)
        ).first()
        if owner != enrolment.patient_id:
            raise ValidationError(
                "procedure", procedure_id, f"a procedure of patient {patient}", reason="not found"
            )
    row = StudyVisitMappingRow(
        enrolment_id=enrolment.id,
        visit_id=visits[visit],
        procedure_id=procedure_id,
        reason=reason.strip(),
        mapped_by=uow.actor,
        mapped_at=uow.now(),
    )
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "map",
            "study visit",
            f"{study}/{patient}/{visit}",
            {"patient": patient, "procedure": procedure_id, "reason": row.reason},
        ),
    )
    return row.id


# --------------------------------------------------------------------------- batch (imports)


def _each(call: Callable[[Any], tuple[int, Outcome]], items: Sequence[Any]) -> list[Answer]:
    out: list[Answer] = []
    for item in items:
        try:
            out.append(call(item))
        except TrephineError as exc:
            out.append(exc)
    return out


def define_many(uow: UnitOfWork, items: Sequence[tuple[str, str, str | None]]) -> list[Answer]:
    return _each(lambda x: define(uow, *x), items)


def add_arms(uow: UnitOfWork, items: Sequence[tuple[str, str, str | None]]) -> list[Answer]:
    return _each(lambda x: add_arm(uow, *x), items)


def set_visits(uow: UnitOfWork, items: Sequence[tuple[str, Visit]]) -> list[Answer]:
    return _each(lambda x: set_visit(uow, *x), items)


def enrol_many(uow: UnitOfWork, items: Sequence[tuple[str, Enrolment]]) -> list[Answer]:
    return _each(lambda x: enrol(uow, *x), items)


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    description: str | None
    created_by: str
    created_at: dt.datetime


@dataclass(frozen=True)
class VisitStatus:
    """One visit of one enrolment: when it is due, and which procedure counts for it."""

    visit: str
    label: str
    #: None when the anchor event is not recorded for the patient (no transplant yet, ...).
    due_on: dt.date | None
    window_from: dt.date | None
    window_to: dt.date | None
    procedure_id: int | None
    performed_on: dt.date | None
    #: "window" (automatic), "hand" (overrides the window) or "none" (nothing in the window).
    how: str
    reason: str | None = None
    anchor_missing: str | None = None


@dataclass(frozen=True)
class EnrolmentView:
    #: The patient as the caller's ``shown_as`` names them (record id or pseudonym).
    patient: str
    arm: str
    enrolled_on: dt.date
    research_consent: bool
    consent_on: dt.date | None
    visits: tuple[VisitStatus, ...]
    #: The record's id: for de-identifying dates (``present/studies.py``), never shown.
    record: str = field(default="", repr=False)
    #: The diagnosis the visits count from (latest on or before enrolment), if recorded: the
    #: time zero of de-identified dates.
    time_zero: dt.date | None = None


@dataclass(frozen=True)
class StudyView:
    study: Study
    arms: tuple[tuple[str, str | None, int], ...]
    schedule: tuple[Visit, ...]
    enrolments: tuple[EnrolmentView, ...]
    #: The record ids of the patients shown (for the caller's read audit).
    patients: tuple[str, ...] = field(default=())


def list_studies(uow: UnitOfWork) -> list[tuple[Study, int]]:
    """Every study with its number of enrolments."""
    counts: dict[int, int] = defaultdict(int)
    for sid in uow.session.scalars(select(StudyEnrolmentRow.study_id)):
        counts[sid] += 1
    return [
        (_study(r), counts[r.id])
        for r in uow.session.scalars(select(StudyRow).order_by(StudyRow.name))
    ]


def _study(r: StudyRow) -> Study:
    return Study(r.name, r.title, r.description, r.created_by, r.created_at)


def describe(uow: UnitOfWork, study: str) -> tuple[Study, list[str]]:
    """The study and its arm names (no patient is read)."""
    s = _study_row(uow, study)
    arms = uow.session.scalars(
        select(StudyArmRow.name).where(StudyArmRow.study_id == s.id).order_by(StudyArmRow.id)
    )
    return _study(s), list(arms)


def schedule(uow: UnitOfWork, study: str) -> tuple[Visit, ...]:
    s = _study_row(uow, study)
    rows = uow.session.scalars(
        select(StudyVisitRow).where(StudyVisitRow.study_id == s.id).order_by(StudyVisitRow.id)
    ).all()
    visits = [Visit(r.name, r.label, Anchor(r.anchor), r.day, r.window) for r in rows]
    # The schedule in time order where anchors agree; anchors keep their own order.
    order = {a: i for i, a in enumerate(Anchor)}
    return tuple(sorted(visits, key=lambda v: (order[v.anchor], v.day)))


def _anchors(
    uow: UnitOfWork, enrolments: Sequence[StudyEnrolmentRow]
) -> dict[int, dict[Anchor, dt.date]]:
    """Each enrolment's anchor dates: enrolment; the diagnosis (latest on or before enrolment,
    else the first); the first therapy line / transplant / CAR-T on or after enrolment."""
    by_patient: dict[int, list[StudyEnrolmentRow]] = defaultdict(list)
    for e in enrolments:
        by_patient[e.patient_id].append(e)
    pids = list(by_patient)
    out: dict[int, dict[Anchor, dt.date]] = {
        e.id: {Anchor.ENROLMENT: e.enrolled_on} for e in enrolments
    }
    if not pids:
        return out
    dx: dict[int, list[dt.date]] = defaultdict(list)
    for pid, on in uow.session.execute(
        select(DiagnosisRow.patient_id, DiagnosisRow.diagnosed_on).where(
            DiagnosisRow.patient_id.in_(pids)
        )
    ):
        dx[pid].append(on)
    later: dict[tuple[int, Anchor], list[dt.date]] = defaultdict(list)
    for pid, start in uow.session.execute(
        select(TherapyLineRow.patient_id, TherapyLineRow.start).where(
            TherapyLineRow.patient_id.in_(pids)
        )
    ):
        later[(pid, Anchor.THERAPY)].append(start)
    for pid, kind, given in uow.session.execute(
        select(
            CellularTherapyRow.patient_id, CellularTherapyRow.kind, CellularTherapyRow.given_on
        ).where(CellularTherapyRow.patient_id.in_(pids))
    ):
        later[(pid, Anchor.TRANSPLANT if kind == "transplant" else Anchor.CAR_T)].append(given)
    for pid, rows in by_patient.items():
        for e in rows:
            dates = sorted(dx[pid])
            before = [d for d in dates if d <= e.enrolled_on]
            if dates:
                out[e.id][Anchor.DIAGNOSIS] = before[-1] if before else dates[0]
            for anchor in (Anchor.THERAPY, Anchor.TRANSPLANT, Anchor.CAR_T):
                after = sorted(d for d in later[(pid, anchor)] if d >= e.enrolled_on)
                if after:
                    out[e.id][anchor] = after[0]
    return out


def _missing(anchor: Anchor) -> str:
    if anchor in (Anchor.ENROLMENT, Anchor.DIAGNOSIS):
        return f"no {anchor} recorded"
    return f"no {anchor} recorded on or after enrolment"


def view(
    uow: UnitOfWork, study: str, shown_as: Callable[[str], str] = lambda ext: ext
) -> StudyView:
    """The study: arms with counts, the schedule, and every enrolment with each visit's due day,
    window and the procedure that counts for it (hand mapping, else nearest in the window)."""
    s = _study_row(uow, study)
    sched = schedule(uow, study)
    arm_rows = uow.session.scalars(
        select(StudyArmRow).where(StudyArmRow.study_id == s.id).order_by(StudyArmRow.id)
    ).all()
    arm_name = {a.id: a.name for a in arm_rows}
    enrol_rows = uow.session.scalars(
        select(StudyEnrolmentRow).where(StudyEnrolmentRow.study_id == s.id)
    ).all()
    pids = sorted({e.patient_id for e in enrol_rows})
    ext = dict(
        uow.session.execute(
            select(PatientRow.id, PatientRow.external_id).where(PatientRow.id.in_(pids))
        ).all()
    )
    procs: dict[int, list[tuple[int, dt.date]]] = defaultdict(list)
    performed: dict[int, dt.date] = {}
    for proc_id, pid, at in uow.session.execute(
        select(ProcedureRow.id, ProcedureRow.patient_id, ProcedureRow.performed_at)
        .where(ProcedureRow.patient_id.in_(pids))
        .order_by(ProcedureRow.performed_at)
    ):
        day = at.date() if isinstance(at, dt.datetime) else at
        procs[pid].append((proc_id, day))
        performed[proc_id] = day
    visit_ids = dict(
        uow.session.execute(
            select(StudyVisitRow.id, StudyVisitRow.name).where(StudyVisitRow.study_id == s.id)
        ).all()
    )
    hand: dict[tuple[int, str], StudyVisitMappingRow] = {}
    if enrol_rows:
        for m in uow.session.scalars(
            select(StudyVisitMappingRow)
            .where(StudyVisitMappingRow.enrolment_id.in_([e.id for e in enrol_rows]))
            .order_by(StudyVisitMappingRow.id)
        ):
            hand[(m.enrolment_id, visit_ids[m.visit_id])] = m  # the newest stands
    anchors = _anchors(uow, enrol_rows)
    views = []
    for e in sorted(enrol_rows, key=lambda e: shown_as(ext[e.patient_id])):
        statuses = []
        for v in sched:
            anchored = anchors[e.id].get(v.anchor)
            target: dt.date | None = None
            low: dt.date | None = None
            high: dt.date | None = None
            if anchored is not None:
                target, low, high = due(anchored, v)
            mapped = hand.get((e.id, v.name))
            proc: int | None
            if mapped is not None:
                proc, how, reason = mapped.procedure_id, "hand", mapped.reason
            elif target is not None and low is not None and high is not None:
                proc = nearest(target, low, high, procs[e.patient_id])
                how, reason = ("window" if proc is not None else "none"), None
            else:
                proc, how, reason = None, "none", None
            statuses.append(
                VisitStatus(
                    v.name,
                    v.label,
                    target,
                    low,
                    high,
                    proc,
                    None if proc is None else performed.get(proc),
                    how,
                    reason,
                    _missing(v.anchor) if anchored is None else None,
                )
            )
        views.append(
            EnrolmentView(
                shown_as(ext[e.patient_id]),
                arm_name[e.arm_id],
                e.enrolled_on,
                e.research_consent,
                e.consent_on,
                tuple(statuses),
                ext[e.patient_id],
                anchors[e.id].get(Anchor.DIAGNOSIS),
            )
        )
    counts: dict[int, int] = defaultdict(int)
    for e in enrol_rows:
        counts[e.arm_id] += 1
    return StudyView(
        _study(s),
        tuple((a.name, a.description, counts[a.id]) for a in arm_rows),
        sched,
        tuple(views),
        tuple(sorted(ext.values())),
    )


def arm_members(uow: UnitOfWork, study: str, arms: Sequence[str] = ()) -> list[str]:
    """Record ids of the patients enrolled on ``study`` (on one of ``arms`` when given)."""
    s = _study_row(uow, study)
    q = (
        select(PatientRow.external_id)
        .join(StudyEnrolmentRow, StudyEnrolmentRow.patient_id == PatientRow.id)
        .join(StudyArmRow, StudyArmRow.id == StudyEnrolmentRow.arm_id)
        .where(StudyEnrolmentRow.study_id == s.id)
    )
    if arms:
        q = q.where(StudyArmRow.name.in_(arms))
    return list(uow.session.scalars(q.order_by(PatientRow.external_id)))


@dataclass(frozen=True)
class Biopsy:
    """One procedure of an enrolled patient, as the hand-mapping form offers it."""

    procedure_id: int
    performed_on: dt.date
    site: str
    indication: str


@dataclass(frozen=True)
class HandMapping:
    """One hand mapping (append-only; the newest per visit stands): who, when and why."""

    visit: str
    procedure_id: int | None
    reason: str
    mapped_by: str
    mapped_at: dt.datetime


def enrolment_biopsies(uow: UnitOfWork, study: str, patient: str) -> list[Biopsy]:
    """The procedures of a patient enrolled on ``study``, oldest first (NotFound when the
    patient is not enrolled on it)."""
    _, enrolment = _enrolment_row(uow, study, patient)
    return [
        Biopsy(pid, at.date() if isinstance(at, dt.datetime) else at, site, indication)
        for pid, at, site, indication in uow.session.execute(
            select(
                ProcedureRow.id,
                ProcedureRow.performed_at,
                ProcedureRow.site,
                ProcedureRow.indication,
            )
            .where(ProcedureRow.patient_id == enrolment.patient_id)
            .order_by(ProcedureRow.performed_at)
        )
    ]


def hand_mappings(uow: UnitOfWork, study: str, patient: str) -> list[HandMapping]:
    """Every hand mapping of the enrolment, newest first."""
    _, enrolment = _enrolment_row(uow, study, patient)
    return [
        HandMapping(visit, m.procedure_id, m.reason, m.mapped_by, m.mapped_at)
        for m, visit in uow.session.execute(
            select(StudyVisitMappingRow, StudyVisitRow.name)
            .join(StudyVisitRow, StudyVisitRow.id == StudyVisitMappingRow.visit_id)
            .where(StudyVisitMappingRow.enrolment_id == enrolment.id)
            .order_by(StudyVisitMappingRow.id.desc())
        )
    ]
