"""Saved cohorts: define (versioned), evaluate in SQL (each evaluation kept), list and show.

The definition (:class:`trephine.domain.cohort.CohortDefinition`) becomes ONE SQL query over the
patient table with correlated ``EXISTS`` sub-queries: the diagnosis criteria and the landmark
criteria share one diagnosis row (time zero), so "FLT3 at diagnosis and MRD-negative at day 90"
means day 90 of *that* diagnosis. Day arithmetic is the database's (SQLite ``julianday``,
PostgreSQL date subtraction). Genetics are matched inside the stored JSON list (SQLite
``json_each``, PostgreSQL ``jsonb_array_elements``), never as text. The response and MRD
criteria are then checked on the query's members against the calls the pages call current
(:func:`_on_current_calls`), so that a cohort selects on what ``cohort analyse`` reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, or_, select, true
from sqlalchemy.orm import aliased

from trephine.domain.cohort import MRD_CATEGORIES, CohortDefinition, check_name
from trephine.errors import ValidationError
from trephine.services import audit
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    AlertRow,
    AssessmentRow,
    CohortEvaluationRow,
    CohortRow,
    DiagnosisRow,
    PatientRow,
    StudyArmRow,
    StudyEnrolmentRow,
    StudyRow,
    TherapyLineRow,
)


@dataclass(frozen=True)
class Cohort:
    name: str
    version: int
    definition: CohortDefinition
    description: str | None
    created_by: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Evaluation:
    cohort: Cohort
    evaluated_by: str
    evaluated_at: dt.datetime
    #: Patient ids (the record's own pseudonymous ids, as the research view shows them).
    members: tuple[str, ...]
    #: Each member's time zero: the date of the diagnosis that matched.
    time_zero: dict[str, dt.date]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.cohort.name,
            "version": self.cohort.version,
            "definition": self.cohort.definition.to_json(),
            "described": self.cohort.definition.describe(),
            "description": self.cohort.description,
            "created_by": self.cohort.created_by,
            "created_at": self.cohort.created_at.isoformat(),
            "evaluated_by": self.evaluated_by,
            "evaluated_at": self.evaluated_at.isoformat(),
            "size": len(self.members),
            "members": list(self.members),
        }


def _cohort(row: CohortRow) -> Cohort:
    return Cohort(
        row.name,
        row.version,
        CohortDefinition.from_json(row.definition),
        row.description,
        row.created_by,
        row.created_at,
    )


def define(
    uow: UnitOfWork, name: str, definition: CohortDefinition, description: str | None = None
) -> tuple[Cohort, bool]:
    """Save ``definition`` as the newest version of ``name``; ``(cohort, created)``. The same
    criteria as the newest version add nothing (``created`` False)."""
    check_name(name)
    if definition.study is not None:
        _check_study(uow, definition.study, definition.arms)
    latest = _latest_row(uow, name)
    stored = definition.to_json()
    if latest is not None and latest.definition == stored and latest.description == description:
        return _cohort(latest), False
    row = CohortRow(
        name=name,
        version=1 if latest is None else latest.version + 1,
        definition=stored,
        description=description,
        created_by=uow.actor,
        created_at=uow.now(),
    )
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry("create", "cohort", f"{name} v{row.version}", {"definition": stored}),
    )
    return _cohort(row), True


def _check_study(uow: UnitOfWork, study: str, arms: tuple[str, ...]) -> None:
    """A cohort may name only a study and arms that exist (a typo would select nobody)."""
    row = uow.session.scalars(select(StudyRow).where(StudyRow.name == study)).first()
    if row is None:
        names = list(uow.session.scalars(select(StudyRow.name).order_by(StudyRow.name)))
        raise ValidationError("study", study, names or "no study is defined yet")
    known = set(uow.session.scalars(select(StudyArmRow.name).where(StudyArmRow.study_id == row.id)))
    for a in arms:
        if a not in known:
            raise ValidationError("arms", a, sorted(known) or f"no arm of {study} yet")


def _latest_row(uow: UnitOfWork, name: str, version: int | None = None) -> CohortRow | None:
    q = select(CohortRow).where(CohortRow.name == name)
    if version is not None:
        q = q.where(CohortRow.version == version)
    return uow.session.scalars(q.order_by(CohortRow.version.desc()).limit(1)).first()


def get(uow: UnitOfWork, name: str, version: int | None = None) -> Cohort:
    row = _latest_row(uow, name, version)
    if row is None:
        known = list_cohorts(uow)
        if version is not None and any(c.name == name for c in known):
            raise ValidationError("version", version, "a saved version of the cohort")
        raise ValidationError("cohort", name, [c.name for c in known] or "no cohort is saved yet")
    return _cohort(row)


def list_cohorts(uow: UnitOfWork) -> list[Cohort]:
    """The newest version of every saved cohort, by name."""
    newest = (
        select(CohortRow.name, func.max(CohortRow.version).label("v"))
        .group_by(CohortRow.name)
        .subquery()
    )
    rows = uow.session.scalars(
        select(CohortRow)
        .join(newest, and_(CohortRow.name == newest.c.name, CohortRow.version == newest.c.v))
        .order_by(CohortRow.name)
    ).all()
    return [_cohort(r) for r in rows]


def _days_after(uow: UnitOfWork, later: Any, earlier: Any) -> ColumnElement[Any]:
    if uow.session.get_bind().dialect.name == "postgresql":
        return later - earlier  # type: ignore[no-any-return,unused-ignore]
    return func.julianday(later) - func.julianday(earlier)


def _marker_match(
    uow: UnitOfWork, diagnosis: Any, genes: tuple[str, ...], markers: tuple[str, ...]
) -> ColumnElement[bool]:
    """A detected finding in the diagnosis's genetics list whose marker is one of ``markers`` or
    is a gene of ``genes`` (``FLT3`` or ``FLT3-...``)."""
    if uow.session.get_bind().dialect.name == "postgresql":
        elem = func.jsonb_array_elements(diagnosis.genetics).table_valued("value").alias("g")
        marker: Any = elem.c.value.op("->>")("marker")
        status: Any = elem.c.value.op("->>")("status")
        source: Any = elem
    else:
        elem = func.json_each(diagnosis.genetics).table_valued("value").alias("g")
        marker = func.json_extract(elem.c.value, "$.marker")
        status = func.json_extract(elem.c.value, "$.status")
        source = elem
    options: list[ColumnElement[bool]] = [marker == m for m in markers]
    for g in genes:
        options += [marker == g, marker.like(f"{g}-%")]
    return exists(
        select(literal_column("1"))
        .select_from(source)
        .where(and_(status == "detected", or_(*options)))
    )


def _query(uow: UnitOfWork, d: CohortDefinition) -> Any:
    dx = aliased(DiagnosisRow)
    conds: list[ColumnElement[bool]] = [dx.patient_id == PatientRow.id]
    if d.diseases:
        conds.append(dx.disease.in_(d.diseases))
    if d.subtype:
        conds.append(func.lower(dx.subtype).contains(d.subtype.lower(), autoescape=True))
    if d.genes or d.markers:
        conds.append(_marker_match(uow, dx, d.genes, d.markers))
    if d.diagnosed_from:
        conds.append(dx.diagnosed_on >= d.diagnosed_from)
    if d.diagnosed_to:
        conds.append(dx.diagnosed_on <= d.diagnosed_to)
    if d.response:
        a = aliased(AssessmentRow)
        rc = [a.patient_id == dx.patient_id, a.call_kind == "response", a.category.in_(d.response)]
        rc.append(a.assessed_on >= dx.diagnosed_on)
        if d.response_by_day is not None:
            rc.append(_days_after(uow, a.assessed_on, dx.diagnosed_on) <= d.response_by_day)
        conds.append(exists(select(a.id).where(*rc)))
    if d.mrd is not None and d.mrd_day is not None:
        m = aliased(AssessmentRow)
        offset = _days_after(uow, m.assessed_on, dx.diagnosed_on)
        conds.append(
            exists(
                select(m.id).where(
                    m.patient_id == dx.patient_id,
                    m.call_kind == "mrd",
                    m.category.in_(MRD_CATEGORIES[d.mrd]),
                    offset >= d.mrd_day - d.mrd_window,
                    offset <= d.mrd_day + d.mrd_window,
                )
            )
        )
    where: list[ColumnElement[bool]] = [true()]
    if d.regimen:
        t = aliased(TherapyLineRow)
        where.append(
            exists(
                select(t.id).where(
                    t.patient_id == PatientRow.id,
                    func.lower(t.regimen).contains(d.regimen.lower(), autoescape=True),
                )
            )
        )
    if d.study:
        en, arm, st = aliased(StudyEnrolmentRow), aliased(StudyArmRow), aliased(StudyRow)
        sc = [en.patient_id == PatientRow.id, st.name == d.study]
        if d.arms:
            sc.append(arm.name.in_(d.arms))
        where.append(
            exists(
                select(en.id)
                .join(st, st.id == en.study_id)
                .join(arm, arm.id == en.arm_id)
                .where(*sc)
            )
        )
    if d.alerts:
        al = aliased(AlertRow)
        where.append(
            exists(select(al.id).where(al.patient_id == PatientRow.id, al.code.in_(d.alerts)))
        )
    first_dx = (
        select(func.min(dx.diagnosed_on)).where(*conds).correlate(PatientRow).scalar_subquery()
    )
    return (
        select(PatientRow.external_id, first_dx.label("zero"))
        .where(*where, first_dx.is_not(None))
        .order_by(PatientRow.external_id)
    )


def evaluate(uow: UnitOfWork, name: str, version: int | None = None) -> Evaluation:
    """Run the cohort's query now and keep the member list it found (with who and when)."""
    cohort = get(uow, name, version)
    rows = uow.session.execute(_query(uow, cohort.definition)).all()
    zero = _on_current_calls(uow, cohort.definition, {r[0]: _as_date(r[1]) for r in rows})
    members = tuple(zero)
    row = _latest_row(uow, cohort.name, cohort.version)
    assert row is not None
    uow.session.add(
        CohortEvaluationRow(
            cohort_id=row.id,
            evaluated_by=uow.actor,
            evaluated_at=uow.now(),
            members=list(members),
            size=len(members),
        )
    )
    audit.append(
        uow,
        audit.Entry(
            "query",
            "patient",
            len(members),
            {
                "what": f"cohort {cohort.name} v{cohort.version}",
                "view": "pseudonymised",  # members are record ids: never a name or an MRN
                "patients": list(members),
            },
        ),
    )
    return Evaluation(cohort, uow.actor, uow.now(), members, zero)


def _on_current_calls(
    uow: UnitOfWork, d: CohortDefinition, zero: dict[str, dt.date]
) -> dict[str, dt.date]:
    """The query's members (with their time zero) whose response and MRD criteria hold on the
    calls the pages and the analysis call current (one home: :mod:`trephine.assess.current`;
    the query's ``EXISTS`` reads every stored row, history and superseded calls too, so it only
    narrows the candidates): a response call of the categories asked for, on or after time zero
    (and by the day asked for); the MRD status at the day asked for as ``cohort analyse`` reads
    it (:func:`trephine.analysis.cohort.outcomes.mrd_at_landmark`: the nearest date, the worse
    status of a date's marrow and blood calls). Days count from time zero."""
    if not d.response and d.mrd is None:
        return zero
    from trephine.analysis.cohort.outcomes import Course, Event, mrd_at_landmark
    from trephine.services.assessments import current_call_rows

    members = list(zero)
    ids: dict[int, str] = {}
    for i in range(0, len(members), 500):
        for pid, ext in uow.session.execute(
            select(PatientRow.id, PatientRow.external_id).where(
                PatientRow.external_id.in_(members[i : i + 500])
            )
        ):
            ids[pid] = ext
    calls: dict[str, list[Any]] = {ext: [] for ext in zero}
    kinds = ("response",) * bool(d.response) + ("mrd",) * (d.mrd is not None)
    for r in current_call_rows(uow, list(ids), kinds):
        calls[ids[r.patient_id]].append(r)
    out: dict[str, dt.date] = {}
    for ext, start in zero.items():
        mine = calls[ext]
        if d.response and not any(
            r.call_kind == "response"
            and r.category in d.response
            and r.assessed_on >= start
            and (d.response_by_day is None or (r.assessed_on - start).days <= d.response_by_day)
            for r in mine
        ):
            continue
        if d.mrd is not None and d.mrd_day is not None:
            events = tuple(Event(r.assessed_on, r.call_kind, r.category) for r in mine)
            course = Course(ext, start, events, start)
            if mrd_at_landmark(course, d.mrd_day, d.mrd_window) != d.mrd:
                continue
        out[ext] = start
    return out


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def evaluations(uow: UnitOfWork, name: str) -> list[Evaluation]:
    """Every kept evaluation of every version of ``name``, newest first."""
    get(uow, name)
    rows = uow.session.execute(
        select(CohortEvaluationRow, CohortRow)
        .join(CohortRow, CohortRow.id == CohortEvaluationRow.cohort_id)
        .where(CohortRow.name == name)
        .order_by(CohortEvaluationRow.id.desc())
    ).all()
    return [
        Evaluation(_cohort(c), e.evaluated_by, e.evaluated_at, tuple(e.members), {})
        for e, c in rows
    ]


#: Public names for the notebook API (``trephine.notebook``): a date cell as a date, and the
#: member query of a definition.
as_date = _as_date
member_query = _query
