"""Write the synthetic cohort of :mod:`trephine.demo.cohort` through the services.

Patients are written :data:`PATIENTS_PER_TRANSACTION` at a time, each group in one transaction
through the services' batch writers (natural keys read in bulk, rows inserted with executemany,
one audit event per recorded fact): a group is loaded whole or not at all, and a patient already
in the database is skipped — so ``trephine demo`` can be re-run (or resumed after an
interruption) without duplicating anything or tripping over results that were amended on the
first run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from trephine.collector import collector_paused
from trephine.demo.model import ID_PREFIX, SyntheticPatient
from trephine.errors import TrephineError
from trephine.services import patients, procedures, results
from trephine.services._batch import Answer, Outcome, chunks
from trephine.store.database import Database, UnitOfWork

#: Audit actors of the demo: results are entered and signed out by the "lab", and corrected by
#: a second person, as a real amendment would be.
LAB_ACTOR = "demo-lab"
REVIEWER_ACTOR = "demo-reviewer"


@dataclass
class LoadReport:
    patients_created: int = 0
    patients_skipped: int = 0
    procedures: int = 0
    specimens: int = 0
    results: int = 0
    amendments: int = 0


#: Patients per transaction: large enough that the batch writers pay off, small enough that an
#: interrupted demo loses little and the progress bar moves.
PATIENTS_PER_TRANSACTION = 100


def _written(answers: Sequence[Answer]) -> list[int]:
    """Row ids of a batch the demo wrote; its data is generated valid, so a refusal is a bug."""
    ids = []
    for answer in answers:
        if isinstance(answer, TrephineError):
            raise answer
        ids.append(answer[0])
    return ids


def write_patient(uow: UnitOfWork, sp: SyntheticPatient, report: LoadReport) -> bool:
    """Write one synthetic patient in ``uow``; False (and nothing written) if already there."""
    return write_patients(uow, [sp], report)[0]


def write_patients(
    uow: UnitOfWork, group: Sequence[SyntheticPatient], report: LoadReport
) -> list[bool]:
    """Write the patients of ``group`` that are not recorded yet, in ``uow``; per patient,
    whether it was written (False: already there, nothing written for it)."""
    answers = patients.register_patients(uow, [(sp.patient, sp.identity) for sp in group])
    _written(answers)
    created = [not isinstance(a, TrephineError) and a[1] is Outcome.CREATED for a in answers]
    new = [sp for sp, was_created in zip(group, created, strict=True) if was_created]
    report.patients_skipped += len(group) - len(new)
    _written(
        patients.add_diagnoses(
            uow, [(sp.patient.external_id, dx) for sp in new for dx in sp.diagnoses]
        )
    )
    _written(
        patients.record_therapy_lines(
            uow, [(sp.patient.external_id, line) for sp in new for line in sp.therapy_lines]
        )
    )
    _written(
        patients.add_cellular_therapies(
            uow, [(sp.patient.external_id, e) for sp in new for e in sp.cellular_therapies]
        )
    )
    visits = [(sp.patient.external_id, visit) for sp in new for visit in sp.visits]
    with_procedure = [(pid, v, v.procedure) for pid, v in visits if v.procedure is not None]
    procedure_ids = _written(
        procedures.record_procedures(uow, [(pid, proc) for pid, _, proc in with_procedure])
    )
    at = {id(v): i for (_, v, _), i in zip(with_procedure, procedure_ids, strict=True)}
    report.procedures += len(procedure_ids)
    shift = {sp.patient.external_id: sp.shift_days for sp in new}
    _plan_records(uow, [(pid, proc, shift[pid]) for pid, _, proc in with_procedure], procedure_ids)
    specimens: list[tuple[str, Any, int | None]] = [
        (pid, specimen, at.get(id(visit))) for pid, visit in visits for specimen in visit.specimens
    ]
    report.specimens += len(_written(procedures.add_specimens(uow, specimens)))
    recorded = [res for _, visit in visits for res in visit.results]
    result_ids = _written(
        results.record_results(uow, [(res.specimen, res.value, True) for res in recorded])
    )
    report.results += len(result_ids)
    amendments = [
        (result_id, res.amendment)
        for result_id, res in zip(result_ids, recorded, strict=True)
        if res.amendment is not None
    ]
    if amendments:
        # Same transaction (the group stays all-or-nothing), signed by the second person.
        uow.actor = REVIEWER_ACTOR
        try:
            amended = results.amend_results(
                uow, [(result_id, a.value, a.reason) for result_id, a in amendments]
            )
            report.amendments += len(_written(amended))
        finally:
            uow.actor = LAB_ACTOR
    _order_records(uow, [(pid, v, shift[pid]) for pid, v, _ in with_procedure], procedure_ids)
    report.patients_created += len(new)
    return created


def _order_records(
    uow: UnitOfWork, visits: Sequence[tuple[str, Any, int]], procedure_ids: Sequence[int]
) -> None:
    """Each demo procedure's lab order, its studies taken through their steps (demo/lab.py),
    written by the batch writer after the results they report."""
    from trephine.demo.lab import order_for
    from trephine.services import orders

    last = {pid: i for i, (pid, _, _) in enumerate(visits)}
    items = []
    for i, ((pid, visit, shift), procedure_id) in enumerate(
        zip(visits, procedure_ids, strict=True)
    ):
        record = order_for(pid, visit, latest=last[pid] == i, shift_days=shift)
        if record is not None:
            items.append((procedure_id, record))
    _written(orders.record_orders(uow, items))


def _plan_records(
    uow: UnitOfWork, items: Sequence[tuple[str, Any, int]], procedure_ids: Sequence[int]
) -> None:
    """Each demo procedure's checklist (with its §10 decision) and consent, as a done plan,
    recorded by the clinic (demo/planning.py: its own RNG stream)."""
    from trephine.demo.planning import CLINIC_ACTOR, planning_for
    from trephine.services import procedure_plans

    planned = []
    for (pid, procedure, shift), procedure_id in zip(items, procedure_ids, strict=True):
        checklist, consent, emergency = planning_for(pid, procedure, shift)
        planned.append(
            procedure_plans.ImportedPlanning(procedure_id, procedure, checklist, consent, emergency)
        )
    actor = uow.actor
    uow.actor = CLINIC_ACTOR
    try:
        _written(procedure_plans.record_imported_many(uow, planned, params={}))
    finally:
        uow.actor = actor


def load_cohort(
    database: Database,
    cohort: Iterable[SyntheticPatient],
    *,
    on_patient: Callable[[SyntheticPatient, bool], None] | None = None,
) -> LoadReport:
    """Write every patient of ``cohort`` (a transaction per group of patients); returns what was
    written. ``on_patient`` is called for each patient once its group is committed."""
    report = LoadReport()
    with collector_paused():
        for group in chunks(cohort, PATIENTS_PER_TRANSACTION):
            with database.unit_of_work(LAB_ACTOR) as uow:
                created = write_patients(uow, group, report)
            if on_patient is not None:
                for sp, was_created in zip(group, created, strict=True):
                    on_patient(sp, was_created)
    return report


def loaded_shift(database: Database, seed: int) -> int | None:
    """The calendar shift of the demo patients already in ``database`` (None when it holds none,
    or when they were drawn with another seed): so that a re-run on another day, or with more
    patients, keeps one calendar in the database."""
    from sqlalchemy import func, select

    from trephine.demo.cohort import synthetic_patient
    from trephine.store.tables import DiagnosisRow, PatientRow

    with database.unit_of_work(LAB_ACTOR) as uow:
        row = uow.session.execute(
            select(PatientRow.external_id, func.min(DiagnosisRow.diagnosed_on))
            .join(DiagnosisRow, DiagnosisRow.patient_id == PatientRow.id)
            .where(PatientRow.external_id.like(f"{ID_PREFIX}%"))
            .group_by(PatientRow.external_id)
            .order_by(PatientRow.external_id)
            .limit(1)
        ).first()
    if row is None:
        return None
    external_id, stored = row
    number = external_id.removeprefix(ID_PREFIX)
    if not number.isdigit() or int(number) < 1:
        return None
    reference = synthetic_patient(int(number) - 1, seed)
    if reference.patient.external_id != external_id or not reference.diagnoses:
        return None
    gap = (stored - min(d.diagnosed_on for d in reference.diagnoses)).days
    return None if gap % 7 else gap


def book_upcoming(database: Database, patients: Iterable[SyntheticPatient]) -> int:
    """Book the next marrow of the demo patients that get one (demo/planning.py
    ``upcoming_plan``: planned procedures in the weeks after the as-of day), recorded by the
    clinic in one transaction; how many were booked."""
    from trephine.demo.planning import CLINIC_ACTOR, upcoming_plan
    from trephine.services import procedure_plans

    booked = [(sp.patient.external_id, upcoming_plan(sp)) for sp in patients]
    plans = [(pid, plan) for pid, plan in booked if plan is not None]
    if plans:
        with database.unit_of_work(CLINIC_ACTOR) as uow:
            for pid, plan in plans:
                procedure_plans.plan_procedure(uow, pid, plan)
    return len(plans)
