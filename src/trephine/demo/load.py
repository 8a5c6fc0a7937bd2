"""Write the synthetic cohort of :mod:`trephine.demo.cohort` through the services.

One transaction per patient: a patient is loaded whole or not at all, and a patient already in
the database is skipped — so ``trephine demo`` can be re-run (or resumed after an interruption)
without duplicating anything or tripping over results that were amended on the first run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from trephine.demo.model import SyntheticPatient
from trephine.services import patients, procedures, results
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


def write_patient(uow: UnitOfWork, sp: SyntheticPatient, report: LoadReport) -> bool:
    """Write one synthetic patient in ``uow``; False (and nothing written) if already there."""
    pid = sp.patient.external_id
    _, created = patients.register_patient(uow, sp.patient, sp.identity)
    if not created:
        report.patients_skipped += 1
        return False
    for diagnosis in sp.diagnoses:
        patients.add_diagnosis(uow, pid, diagnosis)
    for line in sp.therapy_lines:
        patients.add_therapy_line(uow, pid, line)
    for event in sp.cellular_therapies:
        patients.add_cellular_therapy(uow, pid, event)
    amendments = []
    for visit in sp.visits:
        proc_id = None
        if visit.procedure is not None:
            proc_id, _ = procedures.record_procedure(uow, pid, visit.procedure)
            report.procedures += 1
        for specimen in visit.specimens:
            procedures.add_specimen(uow, pid, specimen, proc_id)
            report.specimens += 1
        for res in visit.results:
            stored, _ = results.record_result(uow, res.specimen, res.value, verify=True)
            report.results += 1
            if res.amendment is not None:
                amendments.append((stored.id, res.amendment))
    if amendments:
        # Same transaction (the patient stays all-or-nothing), signed by the second person.
        uow.actor = REVIEWER_ACTOR
        try:
            for result_id, amendment in amendments:
                results.amend_result(uow, result_id, amendment.value, amendment.reason)
                report.amendments += 1
        finally:
            uow.actor = LAB_ACTOR
    report.patients_created += 1
    return True


def load_cohort(
    database: Database,
    cohort: Iterable[SyntheticPatient],
    *,
    on_patient: Callable[[SyntheticPatient, bool], None] | None = None,
) -> LoadReport:
    """Write every patient of ``cohort`` (one transaction each); returns what was written."""
    report = LoadReport()
    for sp in cohort:
        with database.unit_of_work(LAB_ACTOR) as uow:
            created = write_patient(uow, sp, report)
        if on_patient is not None:
            on_patient(sp, created)
    return report
