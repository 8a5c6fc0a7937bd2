"""Cohort analyses from the stored record: each member's course (time zero, stored calls, end of
follow-up) read in a few queries, then the pure analyses of :mod:`trephine.analysis.cohort.outcomes`
and :mod:`trephine.analysis.stats.survival`.

Follow-up ends at the last date anything was recorded for the patient (a specimen, a result, a
procedure, a therapy line's start or end, a stored call). Trephine records no death yet, so
overall survival cannot be estimated and "relapse-free" survival here counts relapse only
(death is not an event the record holds); the report says so.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select

from trephine.analysis.cohort.outcomes import (
    Course,
    Event,
    TimeRow,
    duration_of_response,
    landmark_rows,
    relapse_incidence_rows,
    response_rates,
    time_to_first_cr,
)
from trephine.errors import ValidationError, option
from trephine.services.assessments import current_call_rows, mrd_samples
from trephine.services.cohorts import Evaluation
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    CellularTherapyRow,
    PatientRow,
    ProcedureRow,
    ResultRow,
    SpecimenRow,
    TherapyLineRow,
)

if TYPE_CHECKING:
    from trephine.analysis.cohort.paired import SpecimenChange

GroupBy = Literal["none", "regimen", "disease", "arm"]
GROUP_BY: tuple[str, ...] = ("none", "regimen", "disease", "arm")
CALL_KINDS = ("response", "relapse", "progression", "mrd", "mrd_event", "landmark")


def _chunks(items: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def courses(uow: UnitOfWork, evaluation: Evaluation, *, group_by: str = "none") -> list[Course]:
    """Every member's course: time zero from the cohort's matching diagnosis."""
    if group_by not in GROUP_BY:
        raise ValidationError("group_by", group_by, GROUP_BY)
    members = list(evaluation.members)
    if not members:
        return []
    ids: dict[int, str] = {}
    for chunk in _chunks(members):
        for pid, ext in uow.session.execute(
            select(PatientRow.id, PatientRow.external_id).where(PatientRow.external_id.in_(chunk))
        ):
            ids[pid] = ext
    pids = list(ids)
    last: dict[int, dt.date] = {}
    lines: dict[int, list[tuple[dt.date, dt.date | None, str]]] = defaultdict(list)
    cellular: dict[int, list[tuple[dt.date, str]]] = defaultdict(list)

    def seen(pid: int, d: Any) -> None:
        if d is None:
            return
        day = d.date() if isinstance(d, dt.datetime) else d
        if pid not in last or day > last[pid]:
            last[pid] = day

    for ids_chunk in [pids[i : i + 500] for i in range(0, len(pids), 500)]:
        for pid, d in uow.session.execute(
            select(ResultRow.patient_id, func.max(ResultRow.collected_on))
            .where(ResultRow.patient_id.in_(ids_chunk))
            .group_by(ResultRow.patient_id)
        ):
            seen(pid, d)
        for pid, d in uow.session.execute(
            select(SpecimenRow.patient_id, func.max(SpecimenRow.collected_at))
            .where(SpecimenRow.patient_id.in_(ids_chunk))
            .group_by(SpecimenRow.patient_id)
        ):
            seen(pid, d)
        for pid, d in uow.session.execute(
            select(ProcedureRow.patient_id, func.max(ProcedureRow.performed_at))
            .where(ProcedureRow.patient_id.in_(ids_chunk))
            .group_by(ProcedureRow.patient_id)
        ):
            seen(pid, d)
        for pid, start, end, regimen in uow.session.execute(
            select(
                TherapyLineRow.patient_id,
                TherapyLineRow.start,
                TherapyLineRow.end,
                TherapyLineRow.regimen,
            ).where(TherapyLineRow.patient_id.in_(ids_chunk))
        ):
            seen(pid, start)
            seen(pid, end)
            lines[pid].append((start, end, regimen))
        for pid, given, kind in uow.session.execute(
            select(
                CellularTherapyRow.patient_id, CellularTherapyRow.given_on, CellularTherapyRow.kind
            ).where(CellularTherapyRow.patient_id.in_(ids_chunk))
        ):
            seen(pid, given)
            cellular[pid].append((given, kind))
    # The calls the pages call current (one home: trephine.assess.current): every row of each
    # call's latest revision, none superseded — a day's marrow and blood MRD calls are both kept.
    current = current_call_rows(uow, pids, CALL_KINDS)
    for r in current:
        seen(r.patient_id, r.assessed_on)
    samples = mrd_samples(uow, [r.id for r in current if r.call_kind == "mrd"])
    events: dict[int, list[Event]] = defaultdict(list)
    for r in current:
        events[r.patient_id].append(
            Event(r.assessed_on, r.call_kind, r.category, samples.get(r.id))
        )
    groups = _groups(uow, pids, ids, evaluation, group_by)
    out = []
    for pid, ext in sorted(ids.items(), key=lambda kv: kv[1]):
        zero = evaluation.time_zero[ext]
        out.append(
            Course(
                patient=ext,
                start=zero,
                events=tuple(sorted(events[pid], key=lambda e: e.date)),
                last_seen=max(last.get(pid, zero), zero),
                group=groups.get(pid),
                lines=tuple(sorted(ln for ln in lines[pid] if ln[0] >= zero)),
                cellular=tuple(sorted(c for c in cellular[pid] if c[0] >= zero)),
            )
        )
    return out


def _groups(
    uow: UnitOfWork, pids: list[int], ids: dict[int, str], ev: Evaluation, group_by: str
) -> dict[int, str]:
    if group_by == "none":
        return {}
    out: dict[int, str] = {}
    if group_by == "regimen":
        # The first therapy line started on or after time zero.
        rows = uow.session.execute(
            select(TherapyLineRow.patient_id, TherapyLineRow.start, TherapyLineRow.regimen)
            .where(TherapyLineRow.patient_id.in_(pids))
            .order_by(TherapyLineRow.patient_id, TherapyLineRow.start)
        ).all()
        for pid, start, regimen in rows:
            if pid not in out and start >= ev.time_zero[ids[pid]]:
                out[pid] = regimen
        return {p: out.get(p, "no therapy recorded") for p in pids}
    if group_by == "arm":
        # The arm of the study the cohort selects on (issue 12 §1): response rates per arm.
        from trephine.store.tables import StudyArmRow, StudyEnrolmentRow, StudyRow

        study = ev.cohort.definition.study
        if study is None:
            raise ValidationError("group_by", "arm", "a cohort that selects on a study")
        for pid, arm in uow.session.execute(
            select(StudyEnrolmentRow.patient_id, StudyArmRow.name)
            .join(StudyArmRow, StudyArmRow.id == StudyEnrolmentRow.arm_id)
            .join(StudyRow, StudyRow.id == StudyEnrolmentRow.study_id)
            .where(StudyRow.name == study, StudyEnrolmentRow.patient_id.in_(pids))
        ):
            out[pid] = arm
        return {p: out.get(p, "not enrolled") for p in pids}
    from trephine.store.tables import DiagnosisRow

    for pid, disease, on in uow.session.execute(
        select(DiagnosisRow.patient_id, DiagnosisRow.disease, DiagnosisRow.diagnosed_on).where(
            DiagnosisRow.patient_id.in_(pids)
        )
    ):
        if on == ev.time_zero[ids[pid]]:
            out[pid] = disease
    return out


def _rows_json(rows: Sequence[TimeRow]) -> list[dict[str, Any]]:
    return [r.__dict__ for r in rows]


def analyse(
    uow: UnitOfWork,
    evaluation: Evaluation,
    *,
    landmark_day: int,
    window: int,
    at: Sequence[float] = (),
    group_by: str = "none",
) -> dict[str, Any]:
    """The cohort report: response rates, time to first CR, duration of response, relapse-free
    survival by MRD at the landmark (KM, at-risk table, log-rank), cumulative incidence of
    relapse. Times in days."""
    from trephine.analysis.stats.survival import by_group, cumulative_incidence

    cs = courses(uow, evaluation, group_by=group_by)
    if not cs:
        raise ValidationError(
            "cohort", evaluation.cohort.name, "a cohort with members", reason="empty"
        )

    def km(rows: Sequence[TimeRow], grouped: bool) -> dict[str, Any] | None:
        if not rows:
            return None
        return by_group(
            [r.time for r in rows],
            [r.event for r in rows],
            [r.group for r in rows] if grouped else None,
            at=at,
        )

    ttc = time_to_first_cr(cs)
    dor = duration_of_response(cs)
    lm = landmark_rows(cs, day=landmark_day, window=window)
    cir = relapse_incidence_rows(cs)
    grouped = group_by != "none"
    incidence = cumulative_incidence(
        [r.time for r in cir], [r.cause for r in cir], cause=1, at=at
    ).to_json()
    return {
        "cohort": evaluation.cohort.name,
        "version": evaluation.cohort.version,
        "size": len(cs),
        "time_unit": "days",
        "time_zero": "date of the matching diagnosis",
        "response_rates": [r.to_json() for r in response_rates(cs)],
        "time_to_first_cr": km(ttc, grouped),
        "duration_of_response": km(dor, grouped),
        "landmark": {
            "day": landmark_day,
            "window": window,
            "n": len(lm),
            "relapse_free_survival_by_mrd": km(lm, True),
            "rows": _rows_json(lm),
        },
        "relapse_incidence": incidence,
        "overall_survival": None,
        "limitations": [
            "no death is recorded in Trephine yet: overall survival is not estimated, relapse-free "
            "survival counts relapse only and the incidence of relapse has no competing death",
        ],
    }


def paired_visits(
    uow: UnitOfWork, evaluation: Evaluation, deid: Any, *, before: str, after: str
) -> tuple[list[Any], list[str]]:
    """Paired before/after tests of every stored numeric measurement across a cohort that
    selects on a study: for each result field, the members with a value at both visits (the
    biopsy that counts for each visit, by window or by hand) form the pairs; one paired
    Wilcoxon signed-rank test per field with the rank-biserial effect size, Benjamini–Hochberg
    q-values across the fields tested (:mod:`trephine.analysis.stats`, through the same
    ``compare`` the microenvironment comparison uses). Returns the comparisons and the members
    read (record ids, for the caller's audit)."""
    from trephine.analysis.microenvironment.paired import Pair, compare
    from trephine.services import exports, studies

    study = evaluation.cohort.definition.study
    if study is None:
        raise ValidationError(
            "cohort",
            evaluation.cohort.name,
            f"a cohort that selects on a study (its {option('study')} criterion)",
        )
    view = studies.view(uow, study, deid.patient)
    names = [v.name for v in view.schedule]
    for field, visit in (("before", before), ("after", after)):
        if visit not in names:
            raise ValidationError(field, visit, names)
    if before == after:
        raise ValidationError("after", after, f"a visit other than {before}")
    members = {deid.patient(m): m for m in evaluation.members}
    values = exports.visit_values(uow, view, exports.build(uow, evaluation, deid), deid)
    features: dict[str, tuple[str, list[Pair]]] = {}
    read: set[str] = set()
    for e in view.enrolments:
        if e.patient not in members:
            continue
        first, second = values.get((e.patient, before), {}), values.get((e.patient, after), {})
        for key in sorted(set(first) & set(second)):
            (a, unit), (b, _) = first[key], second[key]
            if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b)):
                continue
            name = f"{key[0]} {key[1]}"
            features.setdefault(name, (unit or "", []))[1].append(
                Pair(e.patient, float(a), float(b))
            )
            read.add(members[e.patient])
    return compare(dict(sorted(features.items()))), sorted(read)


@dataclass(frozen=True)
class PairedSpecimens:
    """One member's clonal comparison between their first and last sequenced specimens."""

    #: The patient as the caller's view names them (record id or pseudonym).
    patient: str
    #: The specimens as the view names them (accession or keyed-hash pseudonym).
    before: str
    after: str
    #: Days from the patient's first diagnosis (no date: the same for every view).
    before_day: float
    after_day: float
    changes: tuple[SpecimenChange, ...]


def paired_specimens(
    uow: UnitOfWork, evaluation: Evaluation, deid: Any, *, lod: float = 0.01
) -> tuple[list[PairedSpecimens], list[str]]:
    """The clonal comparison of ``clonal compare --patient`` for every member with signed-out
    sequencing variants in two or more specimens: the first and the last sequenced specimen
    (diagnosis and the latest — a relapse, or a sample after therapy), every mutation's VAF in
    each and whether it persisted, cleared or emerged at the ``lod`` detection limit
    (:func:`trephine.analysis.cohort.paired.compare_specimens`). Returns the comparisons and
    the members read (record ids, for the caller's audit)."""
    from trephine.analysis.cohort.paired import compare_specimens
    from trephine.services.variants import patient_observations

    out: list[PairedSpecimens] = []
    read: list[str] = []
    for ext in sorted(evaluation.members):
        obs = patient_observations(uow, ext)
        if not obs:
            continue
        read.append(ext)
        days = sorted({(o.day, o.sample_id) for o in obs})
        if len(days) < 2:
            continue
        (first_day, first), (last_day, last) = days[0], days[-1]
        changes = compare_specimens(obs, first, last, lod=lod)
        out.append(
            PairedSpecimens(
                deid.patient(ext),
                deid.specimen(first) or first,
                deid.specimen(last) or last,
                first_day,
                last_day,
                tuple(changes),
            )
        )
    return sorted(out, key=lambda p: p.patient), read
