"""Lab orders and specimen tracking: order studies for a procedure, move each through its
lifecycle (``domain/orders.STUDY_TRANSITIONS``), the work lists and the turnaround times.

Every step records who and when on the study row and appends an audit event (entity
``lab_study``, action = the step). A study is *reported* when a result of one of its kinds is
signed out on its specimen (:func:`report_signed_out`, called by the result services on
sign-out), or by hand with the ``report`` action once such a result exists.

**Final report times.** Turnaround runs from collection to the *final report*: the issue of the
first version of the procedure's integrated marrow report past ``preliminary`` (final, or an
amended/corrected/addended version for a study added later) that reports one of the study's
results (:func:`final_report_times`). A study whose procedure has no such version yet — results
sent without the integrated report, histories entered after the fact — counts at the sign-out of
its results (``lab_study.reported_at``; :func:`signed_out_times`). :func:`turnaround` takes the
source as ``final_times`` (``{study id: final time}`` from the reported study rows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from trephine.analysis.turnaround import Interval, TurnaroundGroup, summarise
from trephine.domain.orders import (
    PENDING_STATES,
    STEP_COLUMNS,
    STUDIES,
    OrderRecord,
    Section,
    StudyAction,
    StudyState,
    allowed_actions,
    next_study_state,
    study_type,
)
from trephine.domain.report import ReportStatus
from trephine.errors import ConcurrentChange, NotFound, TrephineError, ValidationError
from trephine.services import audit
from trephine.services._batch import Answer, Events, Outcome, chunks, insert_rows
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    LabOrderRow,
    LabStudyRow,
    PatientRow,
    ProcedureRow,
    ReportVersionRow,
    ResultRow,
    SpecimenRow,
)
from trephine.workflow import REPORTED_STATES

_REPORTED = [str(s) for s in REPORTED_STATES]


@dataclass(frozen=True)
class Step:
    state: str
    at: dt.datetime
    by: str


@dataclass(frozen=True)
class StudyView:
    id: int
    order_id: int
    procedure_id: int
    patient: str
    study: str
    name: str
    section: str
    state: str
    specimen: str | None
    #: Every step taken so far, in lifecycle order (who and when).
    steps: tuple[Step, ...]
    cancel_reason: str | None
    #: The actions the lifecycle allows from the current state.
    allowed: tuple[str, ...]
    #: The result kinds that report this study.
    kinds: tuple[str, ...]

    def at(self, state: StudyState) -> dt.datetime | None:
        return next((s.at for s in self.steps if s.state == state), None)

    @property
    def waiting_since(self) -> dt.datetime:
        """Since when the study waits: the later of its order and its collection, since the lab
        can start neither before the sample is taken nor before it is asked for (an add-on on a
        sample stored since 2020, ordered ten days ago, waits ten days)."""
        times = [t for t in (self.at(StudyState.ORDERED), self.at(StudyState.COLLECTED)) if t]
        return max(times)


@dataclass(frozen=True)
class OrderView:
    id: int
    procedure_id: int
    patient: str
    performed_at: dt.datetime
    ordered_at: dt.datetime
    ordered_by: str
    indication: str | None
    studies: tuple[StudyView, ...] = field(default_factory=tuple)


def _entity(row: LabStudyRow) -> str:
    return f"study {row.id} ({row.study})"


def _study_view(
    row: LabStudyRow, procedure_id: int, patient: str, accession: str | None
) -> StudyView:
    steps = []
    for state, column in STEP_COLUMNS.items():
        at = getattr(row, f"{column}_at")
        if at is not None:
            steps.append(Step(str(state), at, getattr(row, f"{column}_by")))
    kind = STUDIES.get(row.study)
    return StudyView(
        id=row.id,
        order_id=row.order_id,
        procedure_id=procedure_id,
        patient=patient,
        study=row.study,
        name=kind.name if kind else row.study,
        section=row.section,
        state=row.state,
        specimen=accession,
        steps=tuple(steps),
        cancel_reason=row.cancel_reason,
        allowed=tuple(a.value for a in allowed_actions(StudyState(row.state))),
        kinds=tuple(sorted(k.value for k in kind.kinds)) if kind else (),
    )


def _study_query():  # type: ignore[no-untyped-def]
    return (
        select(LabStudyRow, LabOrderRow.procedure_id, PatientRow.external_id, SpecimenRow.accession)
        .join(LabOrderRow, LabOrderRow.id == LabStudyRow.order_id)
        .join(ProcedureRow, ProcedureRow.id == LabOrderRow.procedure_id)
        .join(PatientRow, PatientRow.id == ProcedureRow.patient_id)
        .outerjoin(SpecimenRow, SpecimenRow.id == LabStudyRow.specimen_id)
    )


def _views(uow: UnitOfWork, query) -> list[StudyView]:  # type: ignore[no-untyped-def]
    return [
        _study_view(row, procedure_id, patient, accession)
        for row, procedure_id, patient, accession in uow.session.execute(query)
    ]


def _procedure(uow: UnitOfWork, procedure_id: int) -> tuple[ProcedureRow, str]:
    found = uow.session.execute(
        select(ProcedureRow, PatientRow.external_id)
        .join(PatientRow, PatientRow.id == ProcedureRow.patient_id)
        .where(ProcedureRow.id == procedure_id)
    ).first()
    if found is None:
        raise NotFound("procedure", procedure_id)
    return found[0], found[1]


def _order_view(uow: UnitOfWork, order: LabOrderRow) -> OrderView:
    procedure, patient = _procedure(uow, order.procedure_id)
    studies = _views(
        uow, _study_query().where(LabStudyRow.order_id == order.id).order_by(LabStudyRow.id)
    )
    return OrderView(
        id=order.id,
        procedure_id=order.procedure_id,
        patient=patient,
        performed_at=procedure.performed_at,
        ordered_at=order.ordered_at,
        ordered_by=order.ordered_by,
        indication=order.indication,
        studies=tuple(studies),
    )


def order_studies(
    uow: UnitOfWork,
    procedure_id: int,
    studies: Sequence[str],
    *,
    indication: str | None = None,
    at: dt.datetime | None = None,
) -> OrderView:
    """Order ``studies`` (codes of :data:`~trephine.domain.orders.STUDIES`) for a procedure.

    The procedure's order is created on first use; studies already on it are kept as they are
    (ordering one again changes nothing), new ones are added as ``ordered``.
    """
    if not studies:
        raise ValidationError("study", "", sorted(STUDIES), reason="order at least one study")
    kinds = [study_type(code) for code in studies]
    _procedure(uow, procedure_id)
    when = _when(uow, at, "ordered_at")
    order = uow.session.scalar(select(LabOrderRow).where(LabOrderRow.procedure_id == procedure_id))
    if order is None:
        order = LabOrderRow(
            procedure_id=procedure_id,
            ordered_at=when,
            ordered_by=uow.actor,
            indication=(indication or "").strip() or None,
        )
        uow.session.add(order)
        uow.session.flush()
        audit.append(
            uow,
            audit.Entry(
                "create",
                "lab_order",
                order.id,
                {"procedure": procedure_id, "indication": order.indication},
            ),
        )
    have = set(
        uow.session.scalars(select(LabStudyRow.study).where(LabStudyRow.order_id == order.id))
    )
    for kind in kinds:
        if kind.code in have:
            continue
        have.add(kind.code)
        row = LabStudyRow(
            order_id=order.id,
            study=kind.code,
            section=str(kind.section),
            state=str(StudyState.ORDERED),
            ordered_at=when,
            ordered_by=uow.actor,
        )
        uow.session.add(row)
        uow.session.flush()
        audit.append(
            uow,
            audit.Entry(
                "order",
                "lab_study",
                row.id,
                {"order": order.id, "study": kind.code, "at": when.isoformat()},
            ),
        )
    return _order_view(uow, order)


def _when(uow: UnitOfWork, at: dt.datetime | None, field_name: str) -> dt.datetime:
    now = uow.now()
    if at is None:
        return now
    if at.tzinfo is None:
        raise ValidationError(field_name, at.isoformat(), "a date-time with its UTC offset")
    if at > now:
        raise ValidationError(
            field_name,
            at.isoformat(),
            f"a time not after now ({now.isoformat(timespec='seconds')})",
        )
    return at.astimezone(dt.UTC)


def get_order(uow: UnitOfWork, order_id: int) -> OrderView:
    order = uow.session.get(LabOrderRow, order_id)
    if order is None:
        raise NotFound("order", order_id)
    return _order_view(uow, order)


def order_of_procedure(uow: UnitOfWork, procedure_id: int) -> OrderView | None:
    order = uow.session.scalar(select(LabOrderRow).where(LabOrderRow.procedure_id == procedure_id))
    return None if order is None else _order_view(uow, order)


def list_orders(uow: UnitOfWork, *, patient: str | None = None) -> list[OrderView]:
    """Orders (oldest first), optionally one patient's."""
    query = (
        select(LabOrderRow)
        .join(ProcedureRow, ProcedureRow.id == LabOrderRow.procedure_id)
        .join(PatientRow, PatientRow.id == ProcedureRow.patient_id)
        .order_by(LabOrderRow.ordered_at, LabOrderRow.id)
    )
    if patient is not None:
        if (
            uow.session.scalar(select(PatientRow.id).where(PatientRow.external_id == patient))
            is None
        ):
            raise NotFound("patient", patient)
        query = query.where(PatientRow.external_id == patient)
    return [_order_view(uow, o) for o in uow.session.scalars(query)]


def get_study(uow: UnitOfWork, study_id: int) -> StudyView:
    found = _views(uow, _study_query().where(LabStudyRow.id == study_id))
    if not found:
        raise NotFound("study", study_id)
    return found[0]


def _study_row(uow: UnitOfWork, study_id: int) -> LabStudyRow:
    row = uow.session.get(LabStudyRow, study_id)
    if row is None:
        raise NotFound("study", study_id)
    return row


def _last_step_at(row: LabStudyRow) -> dt.datetime | None:
    """The latest step from collection on. The order time is left out: an add-on study is often
    ordered after the marrow was taken, so collection may precede the order."""
    times = [getattr(row, f"{c}_at") for s, c in STEP_COLUMNS.items() if s != StudyState.ORDERED]
    return max((t for t in times if t is not None), default=None)


def _pick_specimen(uow: UnitOfWork, row: LabStudyRow, accession: str | None) -> SpecimenRow:
    order = uow.session.get(LabOrderRow, row.order_id)
    assert order is not None  # foreign key
    specimens = list(
        uow.session.scalars(
            select(SpecimenRow)
            .where(SpecimenRow.procedure_id == order.procedure_id)
            .order_by(SpecimenRow.accession)
        )
    )
    if accession is not None:
        chosen = next((s for s in specimens if s.accession == accession.strip()), None)
        if chosen is None:
            raise ValidationError(
                "specimen",
                accession,
                [s.accession for s in specimens] or "a specimen of this procedure (none recorded)",
                reason=f"not a specimen of procedure {order.procedure_id}",
            )
        return chosen
    wanted = str(STUDIES[row.study].specimen) if row.study in STUDIES else None
    matching = [s for s in specimens if s.type == wanted]
    if len(matching) == 1:
        return matching[0]
    raise ValidationError(
        "specimen",
        None,
        [s.accession for s in specimens] or "a specimen of this procedure (none recorded)",
        reason=f"say which specimen the {row.study} study is done on",
    )


def _signed_out_results(uow: UnitOfWork, row: LabStudyRow) -> list[ResultRow]:
    kinds = [str(k) for k in STUDIES[row.study].kinds] if row.study in STUDIES else []
    if row.specimen_id is None or not kinds:
        return []
    return list(
        uow.session.scalars(
            select(ResultRow).where(
                ResultRow.specimen_id == row.specimen_id,
                ResultRow.kind.in_(kinds),
                ResultRow.state.in_(_REPORTED),
            )
        )
    )


def advance(
    uow: UnitOfWork,
    study_id: int,
    action: StudyAction,
    *,
    specimen: str | None = None,
    at: dt.datetime | None = None,
    reason: str | None = None,
) -> StudyView:
    """Take one step of a study's lifecycle as the unit of work's actor.

    ``collect`` links the study to a specimen of its procedure (``specimen``, or the one
    specimen of the study's usual type) and takes the specimen's collection time unless ``at``
    is given. ``at`` (a step done earlier, entered now) may not be in the future nor before the
    previous step. ``cancel`` needs a ``reason``; ``report`` needs a signed-out result of the
    study's kinds on its specimen (the final time is when the last of them was signed out, or
    the previous step if that was later).
    """
    row = _study_row(uow, study_id)
    seen = StudyState(row.state)
    target = next_study_state(_entity(row), seen, action)
    column = STEP_COLUMNS[target]
    detail: dict[str, object] = {"from": str(seen), "to": str(target)}
    changes: dict[str, object] = {}
    if action is StudyAction.COLLECT:
        chosen = _pick_specimen(uow, row, specimen)
        changes["specimen_id"] = chosen.id
        when = _when(uow, at, "collected_at") if at is not None else chosen.collected_at
        detail["specimen"] = chosen.accession
    elif action is StudyAction.REPORT:
        signed = _signed_out_results(uow, row)
        if not signed:
            raise ValidationError(
                "study",
                f"{row.study} (study {row.id})",
                f"a signed-out {' or '.join(sorted(k.value for k in STUDIES[row.study].kinds))} "
                "result on its specimen first",
                reason="nothing signed out to report",
            )
        if at is not None:
            when = _when(uow, at, "reported_at")
        else:
            # When the last of its results was signed out; results imported already signed out
            # before the specimen was received report at the last step instead.
            last_signed = max(r.verified_at for r in signed if r.verified_at is not None)
            when = max(last_signed, _last_step_at(row) or last_signed)
        detail["results"] = sorted(r.id for r in signed)
    else:
        when = _when(uow, at, f"{column}_at")
    if action is StudyAction.CANCEL:
        if not reason or not reason.strip():
            raise ValidationError("reason", reason, "a non-empty reason for cancelling the study")
        changes["cancel_reason"] = reason.strip()
        detail["reason"] = reason.strip()
    elif reason:
        raise ValidationError("reason", reason, "nothing: only cancel takes a reason")
    if specimen is not None and action is not StudyAction.COLLECT:
        raise ValidationError(
            "specimen", specimen, "nothing: the specimen is given when collecting"
        )
    previous = _last_step_at(row)
    if previous is not None and when < previous:
        raise ValidationError(
            f"{column}_at",
            when.isoformat(),
            f"a time not before the previous step ({previous.isoformat()})",
        )
    changes[f"{column}_at"] = when
    changes[f"{column}_by"] = uow.actor
    _move(uow, row, seen, target, changes)
    detail["at"] = when.isoformat()
    audit.append(uow, audit.Entry(str(action), "lab_study", row.id, detail))
    return get_study(uow, row.id)


def _move(
    uow: UnitOfWork,
    row: LabStudyRow,
    seen: StudyState,
    target: StudyState,
    changes: Mapping[str, object],
) -> None:
    """``UPDATE … WHERE state = seen``: two people moving the same study at once cannot both win."""
    from sqlalchemy import update

    done = uow.session.execute(
        update(LabStudyRow)
        .where(LabStudyRow.id == row.id, LabStudyRow.state == str(seen))
        .values(state=str(target), **changes)
        .execution_options(synchronize_session=False)
    )
    uow.session.refresh(row)
    if getattr(done, "rowcount", 1) != 1:
        raise ConcurrentChange(_entity(row), "move", str(seen), row.state, str(target))


def report_signed_out(uow: UnitOfWork, result_id: int) -> list[int]:
    """A result was signed out: report every received or in-progress study it belongs to (same
    specimen, one of the study's kinds). Answers the studies reported."""
    result = uow.session.get(ResultRow, result_id)
    if result is None or result.verified_at is None:
        return []
    studies = [
        code for code, kind in STUDIES.items() if any(str(k) == result.kind for k in kind.kinds)
    ]
    if not studies:
        return []
    rows = list(
        uow.session.scalars(
            select(LabStudyRow).where(
                LabStudyRow.specimen_id == result.specimen_id,
                LabStudyRow.study.in_(studies),
                LabStudyRow.state.in_([str(StudyState.RECEIVED), str(StudyState.IN_PROGRESS)]),
            )
        )
    )
    done = []
    for row in rows:
        seen = StudyState(row.state)
        target = next_study_state(_entity(row), seen, StudyAction.REPORT)
        when = max(result.verified_at, _last_step_at(row) or result.verified_at)
        _move(uow, row, seen, target, {"reported_at": when, "reported_by": uow.actor})
        audit.append(
            uow,
            audit.Entry(
                "report",
                "lab_study",
                row.id,
                {
                    "from": str(seen),
                    "to": str(target),
                    "at": when.isoformat(),
                    "results": [result_id],
                },
            ),
        )
        done.append(row.id)
    return done


def worklist(uow: UnitOfWork, section: Section | None = None) -> list[StudyView]:
    """Pending studies (not reported, not cancelled), the longest waiting first: the collected
    ones by :attr:`StudyView.waiting_since` (the later of order and collection: an add-on asked
    for last week on a sample from 2020 has waited a week), then studies not yet collected by
    order time."""
    query = _study_query().where(LabStudyRow.state.in_([str(s) for s in PENDING_STATES]))
    if section is not None:
        query = query.where(LabStudyRow.section == str(section))
    views = _views(uow, query)

    def age(view: StudyView) -> tuple[int, dt.datetime, int]:
        return (view.at(StudyState.COLLECTED) is None, view.waiting_since, view.id)

    return sorted(views, key=age)


#: Where a reported study's final time comes from: ``{study id: final report time}``.
FinalTimes = Callable[[UnitOfWork, Sequence[LabStudyRow]], Mapping[int, dt.datetime]]


def signed_out_times(uow: UnitOfWork, rows: Sequence[LabStudyRow]) -> Mapping[int, dt.datetime]:
    """When the study's results were signed out."""
    return {r.id: r.reported_at for r in rows if r.reported_at is not None}


def final_report_times(uow: UnitOfWork, rows: Sequence[LabStudyRow]) -> Mapping[int, dt.datetime]:
    """The issue of the first final (or later) version of the marrow report that reports the
    study's results; the sign-out time while the procedure has no such version."""
    return {**signed_out_times(uow, rows), **_report_finals(uow, rows)}


def _report_finals(uow: UnitOfWork, rows: Sequence[LabStudyRow]) -> dict[int, dt.datetime]:
    """Study id → the issue of the first report version past preliminary that reports one of
    its results (studies without one are left out)."""
    out: dict[int, dt.datetime] = {}
    procedure_of: dict[int, int] = {}
    for batch in chunks(sorted({r.order_id for r in rows})):
        procedure_of.update(
            dict(
                uow.session.execute(
                    select(LabOrderRow.id, LabOrderRow.procedure_id).where(
                        LabOrderRow.id.in_(batch)
                    )
                ).all()
            )
        )
    versions: dict[int, list[tuple[dt.datetime, list[int]]]] = {}
    for batch in chunks(sorted(set(procedure_of.values()))):
        for procedure_id, issued_at, result_ids in uow.session.execute(
            select(
                ReportVersionRow.procedure_id,
                ReportVersionRow.issued_at,
                ReportVersionRow.result_ids,
            )
            .where(
                ReportVersionRow.procedure_id.in_(batch),
                ReportVersionRow.status != str(ReportStatus.PRELIMINARY),
            )
            .order_by(ReportVersionRow.version)
        ):
            versions.setdefault(procedure_id, []).append((issued_at, [int(i) for i in result_ids]))
    if not versions:
        return out
    reported: dict[int, tuple[int | None, str]] = {}
    wanted = sorted({i for vs in versions.values() for _, ids in vs for i in ids})
    for batch in chunks(wanted):
        for rid, specimen_id, kind in uow.session.execute(
            select(ResultRow.id, ResultRow.specimen_id, ResultRow.kind).where(
                ResultRow.id.in_(batch)
            )
        ):
            reported[rid] = (specimen_id, kind)
    for row in rows:
        kinds = {str(k) for k in STUDIES[row.study].kinds} if row.study in STUDIES else set()
        for issued_at, ids in versions.get(procedure_of.get(row.order_id, -1), []):
            if any(reported.get(i) in {(row.specimen_id, k) for k in kinds} for i in ids):
                out[row.id] = issued_at
                break
    return out


@dataclass(frozen=True)
class FinalTime:
    """A reported study's final time and where it came from (for its page)."""

    at: dt.datetime
    #: "marrow report" (a final or later version reports it) or "sign-out".
    source: str
    #: Collection → final, in hours (None without a collection time).
    hours: float | None


def final_time_of(uow: UnitOfWork, study_id: int) -> FinalTime | None:
    """The final time turnaround counts for one study (None while it is not reported)."""
    row = _study_row(uow, study_id)
    if row.state != str(StudyState.REPORTED) or row.reported_at is None:
        return None
    report = _report_finals(uow, [row]).get(row.id)
    at = report or row.reported_at
    hours = None if row.collected_at is None else (at - row.collected_at).total_seconds() / 3600
    return FinalTime(at, "marrow report" if report is not None else "sign-out", hours)


@dataclass(frozen=True)
class Turnaround:
    groups: tuple[TurnaroundGroup, ...]
    #: Reported studies counted (those with a collection and a final time).
    studies: int
    #: What "final" meant for these figures.
    final_time: str


def turnaround(
    uow: UnitOfWork,
    *,
    final_times: FinalTimes = final_report_times,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> Turnaround:
    """Collection → final report, per study, section and month (see :mod:`analysis.turnaround`).

    ``since``/``until`` keep studies whose final report falls on those days (inclusive, UTC)."""
    rows = list(
        uow.session.scalars(
            select(LabStudyRow).where(
                LabStudyRow.state == str(StudyState.REPORTED), LabStudyRow.collected_at.is_not(None)
            )
        )
    )
    finals = final_times(uow, rows)
    intervals: list[Interval] = []
    for row in rows:
        final = finals.get(row.id)
        if final is None or row.collected_at is None:
            continue
        day = final.astimezone(dt.UTC).date()
        if (since is not None and day < since) or (until is not None and day > until):
            continue
        intervals.append(Interval(row.study, row.section, row.collected_at, final))
    # The docstring's first paragraph says what "final" meant.
    doc = " ".join((final_times.__doc__ or final_times.__name__).strip().split("\n\n")[0].split())
    return Turnaround(tuple(summarise(intervals)), len(intervals), doc)


def studies_of_specimen(uow: UnitOfWork, accession: str) -> list[StudyView]:
    return _views(
        uow, _study_query().where(SpecimenRow.accession == accession).order_by(LabStudyRow.id)
    )


def patients_of(views: Iterable[StudyView]) -> list[str]:
    return list(dict.fromkeys(v.patient for v in views))


@dataclass(frozen=True)
class ProcedureLine:
    """A patient's procedure as the order pages and ``orders procedures`` list it."""

    id: int
    patient: str
    performed_at: dt.datetime
    specimens: tuple[tuple[str, str], ...]  # (accession, type)
    order_id: int | None


def procedures_of(uow: UnitOfWork, patient: str) -> list[ProcedureLine]:
    """A patient's procedures, oldest first, with their specimens and order (if any)."""
    found = uow.session.scalar(select(PatientRow).where(PatientRow.external_id == patient))
    if found is None:
        raise NotFound("patient", patient)
    procs = list(
        uow.session.scalars(
            select(ProcedureRow)
            .where(ProcedureRow.patient_id == found.id)
            .order_by(ProcedureRow.performed_at)
        )
    )
    ids = [p.id for p in procs]
    specimens: dict[int, list[tuple[str, str]]] = {}
    for s in uow.session.scalars(
        select(SpecimenRow).where(SpecimenRow.procedure_id.in_(ids)).order_by(SpecimenRow.accession)
    ):
        assert s.procedure_id is not None
        specimens.setdefault(s.procedure_id, []).append((s.accession, s.type))
    ordered: dict[int, int] = {}
    for order in uow.session.scalars(select(LabOrderRow).where(LabOrderRow.procedure_id.in_(ids))):
        ordered[order.procedure_id] = order.id
    return [
        ProcedureLine(
            p.id, patient, p.performed_at, tuple(specimens.get(p.id, ())), ordered.get(p.id)
        )
        for p in procs
    ]


# --------------------------------------------------------------------------- orders with history


@dataclass(frozen=True)
class _Again:
    """A procedure given twice in one batch: the answer is the order its first item wrote."""

    position: int


def record_orders(uow: UnitOfWork, items: Sequence[tuple[int, OrderRecord]]) -> list[Answer]:
    """Batch writer of orders entered after the fact, each study with the steps it has taken
    (a lab system's history; the demo cohort). Per item ``(order id, outcome)``, or the error
    refusing it: a procedure that already has an order is left as it is (``unchanged``).

    Every study's steps must follow the lifecycle from ``ordered`` with the same rules as
    :func:`advance`: ``collect`` names a specimen of the procedure, steps from collection on
    never go back in time and none is in the future, ``cancel`` has a reason, ``report`` needs a
    signed-out result of the study's kinds on its specimen. One audit event per order
    (``create lab_order``) and per study (``record lab_study``, its steps in the detail).
    """
    session = uow.session
    session.flush()
    procedure_ids = sorted({p for p, _ in items})
    have: dict[int, int] = {}
    specimens: dict[int | None, dict[str, int]] = {}
    for batch in chunks(procedure_ids):
        for order_id, procedure_id in session.execute(
            select(LabOrderRow.id, LabOrderRow.procedure_id).where(
                LabOrderRow.procedure_id.in_(batch)
            )
        ):
            have[procedure_id] = order_id
        for sid, accession, owner in session.execute(
            select(SpecimenRow.id, SpecimenRow.accession, SpecimenRow.procedure_id).where(
                SpecimenRow.procedure_id.in_(batch)
            )
        ):
            specimens.setdefault(owner, {})[accession] = sid
    known = set()
    for batch in chunks(procedure_ids):
        known |= set(session.scalars(select(ProcedureRow.id).where(ProcedureRow.id.in_(batch))))
    signed: set[tuple[int, str]] = set()
    all_specimens = sorted({i for m in specimens.values() for i in m.values()})
    for batch in chunks(all_specimens):
        signed |= {
            (sid, kind)
            for sid, kind in session.execute(
                select(ResultRow.specimen_id, ResultRow.kind)
                .where(ResultRow.specimen_id.in_(batch), ResultRow.state.in_(_REPORTED))
                .distinct()
            )
        }
    now = uow.now()
    answers: list[Answer | int | _Again] = []
    made: dict[int, int] = {}  # procedure id -> position among the new orders
    orders_new: list[dict[str, object]] = []
    studies_new: list[tuple[int, dict[str, object], dict[str, object]]] = []
    order_events = Events()
    for procedure_id, record in items:
        if procedure_id in have:
            answers.append((have[procedure_id], Outcome.UNCHANGED))
            continue
        if procedure_id in made:
            # Given twice in one batch: the first is written, the second finds it (as it would
            # one at a time).
            answers.append(_Again(made[procedure_id]))
            continue
        try:
            if procedure_id not in known:
                raise NotFound("procedure", procedure_id)
            rows = _study_history(
                record, specimens.get(procedure_id, {}), signed, now, procedure_id
            )
        except TrephineError as exc:
            answers.append(exc)
            continue
        position = len(orders_new)
        made[procedure_id] = position
        order_events.add_new(
            "create",
            "lab_order",
            position,
            {"procedure": procedure_id, "indication": record.indication, "recorded": True},
        )
        answers.append(position)
        orders_new.append(
            {
                "procedure_id": procedure_id,
                "ordered_at": record.ordered_at,
                "ordered_by": record.ordered_by,
                "indication": (record.indication or "").strip() or None,
            }
        )
        studies_new += [(position, row, detail) for row, detail in rows]
    order_ids = insert_rows(uow, LabOrderRow, orders_new)
    order_events.append(uow, order_ids)
    study_events = Events()
    study_rows = []
    for n, (position, row, detail) in enumerate(studies_new):
        study_rows.append({**row, "order_id": order_ids[position]})
        study_events.add_new("record", "lab_study", n, {**detail, "order": order_ids[position]})
    study_ids = insert_rows(uow, LabStudyRow, study_rows)
    study_events.append(uow, study_ids)
    out: list[Answer] = []
    for a in answers:
        if isinstance(a, int):
            out.append((order_ids[a], Outcome.CREATED))
        elif isinstance(a, _Again):
            out.append((order_ids[a.position], Outcome.UNCHANGED))
        else:
            out.append(a)
    return out


def _study_history(
    record: OrderRecord,
    specimens: Mapping[str, int],
    signed: set[tuple[int, str]],
    now: dt.datetime,
    procedure_id: int,
) -> list[tuple[dict[str, object], dict[str, object]]]:
    """The lab_study rows (and audit details) of one order record; raises what refuses it."""
    if record.ordered_at.tzinfo is None or record.ordered_at > now:
        raise ValidationError(
            "ordered_at", record.ordered_at.isoformat(), "a past date-time with its UTC offset"
        )
    if not record.studies:
        raise ValidationError("study", "", sorted(STUDIES), reason="order at least one study")
    out = []
    seen: set[str] = set()
    for study in record.studies:
        kind = study_type(study.code)
        if kind.code in seen:
            raise ValidationError("study", kind.code, "each study once per order")
        seen.add(kind.code)
        entity = f"procedure {procedure_id}, study {kind.code}"
        row: dict[str, object] = {
            "study": kind.code,
            "section": str(kind.section),
            "specimen_id": None,
            "cancel_reason": None,
        }
        for column in STEP_COLUMNS.values():
            row[f"{column}_at"] = None
            row[f"{column}_by"] = None
        ordered_at = study.ordered_at or record.ordered_at
        if ordered_at.tzinfo is None or ordered_at > now:
            raise ValidationError(
                "ordered_at", ordered_at.isoformat(), "a past date-time with its UTC offset"
            )
        row["ordered_at"], row["ordered_by"] = ordered_at.astimezone(dt.UTC), record.ordered_by
        state = StudyState.ORDERED
        previous: dt.datetime | None = None
        steps = []
        for step in study.steps:
            state = next_study_state(entity, state, step.action)
            column = STEP_COLUMNS[state]
            if step.at.tzinfo is None or step.at > now:
                raise ValidationError(
                    f"{column}_at", step.at.isoformat(), "a past date-time with its UTC offset"
                )
            if previous is not None and step.at < previous:
                raise ValidationError(
                    f"{column}_at",
                    step.at.isoformat(),
                    f"a time not before the previous step ({previous.isoformat()})",
                )
            previous = step.at
            if step.action is StudyAction.COLLECT:
                if study.specimen is None or study.specimen not in specimens:
                    raise ValidationError(
                        "specimen",
                        study.specimen,
                        sorted(specimens) or "a specimen of this procedure (none recorded)",
                        reason=f"not a specimen of procedure {procedure_id}",
                    )
                row["specimen_id"] = specimens[study.specimen]
            if step.action is StudyAction.REPORT and not any(
                (row["specimen_id"], str(k)) in signed for k in kind.kinds
            ):
                raise ValidationError(
                    "study",
                    entity,
                    f"a signed-out {' or '.join(sorted(k.value for k in kind.kinds))} "
                    "result on its specimen first",
                    reason="nothing signed out to report",
                )
            if step.action is StudyAction.CANCEL:
                if not (study.cancel_reason or "").strip():
                    raise ValidationError(
                        "reason", study.cancel_reason, "a non-empty reason for cancelling"
                    )
                row["cancel_reason"] = (study.cancel_reason or "").strip()
            row[f"{column}_at"], row[f"{column}_by"] = step.at.astimezone(dt.UTC), step.by
            steps.append({"step": str(step.action), "at": step.at.isoformat(), "by": step.by})
        row["state"] = str(state)
        detail: dict[str, object] = {"study": kind.code, "state": str(state), "steps": steps}
        if study.specimen is not None:
            detail["specimen"] = study.specimen
        if row["cancel_reason"]:
            detail["reason"] = row["cancel_reason"]
        out.append((row, detail))
    return out
