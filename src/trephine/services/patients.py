"""Patient use cases: register, diagnoses, therapy, cellular therapy, list and full record.

Writers are idempotent on natural keys: recording the same fact twice returns the existing row
(``created=False``) and writes nothing; recording a *different* fact under the same key raises
:class:`~trephine.errors.Conflict` instead of overwriting.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.orm import selectinload

from trephine.domain.patient import Diagnosis, Patient, PatientIdentity
from trephine.domain.therapy import CarTInfusion, CellularTherapy, Cycle, TherapyLine, Transplant
from trephine.errors import Conflict, IdentityConflict, NotFound, TrephineError
from trephine.services import _rows, audit
from trephine.services._batch import (
    Answer,
    Events,
    Outcome,
    Written,
    chunks,
    in_runs,
    insert_rows,
    patient_ids,
    resolved,
)
from trephine.services.views import (
    PatientRecord,
    PatientSummary,
    StoredProcedure,
    StoredSpecimen,
)
from trephine.store.codec import encode_genetics
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    AssessmentRow,
    CellularTherapyRow,
    ComplicationRow,
    DiagnosisRow,
    PatientIdentityRow,
    PatientRow,
    ProcedureRow,
    ResultRow,
    SpecimenRow,
    TherapyCycleRow,
    TherapyLineRow,
)
from trephine.workflow import CURRENT_STATES


def _same(kind: str, key: object, pairs: dict[str, tuple[object, object]]) -> None:
    for name, (existing, new) in pairs.items():
        if existing != new:
            raise Conflict(kind, key, name, existing, new)


def _one(answer: Answer) -> Written:
    if isinstance(answer, TrephineError):
        raise answer
    return answer


def register_patient(
    uow: UnitOfWork, patient: Patient, identity: PatientIdentity | None = None
) -> tuple[int, bool]:
    """Add a patient (and optionally identity); returns (row id, created)."""
    row_id, outcome = _one(register_patients(uow, [(patient, identity)])[0])
    return row_id, outcome is Outcome.CREATED


def register_patients(
    uow: UnitOfWork, items: Sequence[tuple[Patient, PatientIdentity | None]]
) -> list[Answer]:
    """Batch :func:`register_patient`: per item ``(row id, outcome)`` or the error refusing it."""
    return in_runs(uow, items, lambda item: item[0].external_id, _register_run)


def _register_run(
    uow: UnitOfWork, items: Sequence[tuple[Patient, PatientIdentity | None]]
) -> list[Answer]:
    session = uow.session
    session.flush()
    patients = PatientRow.__table__
    identities = PatientIdentityRow.__table__
    existing: dict[str, Any] = {}
    for batch in chunks(p.external_id for p, _ in items):
        for found in session.execute(
            select(
                patients.c.id, patients.c.external_id, patients.c.sex, patients.c.birth_year
            ).where(patients.c.external_id.in_(batch))
        ):
            existing[found.external_id] = found
    known: dict[int, Any] = {}
    for batch in chunks(recorded.id for recorded in existing.values()):
        for found in session.execute(select(identities).where(identities.c.patient_id.in_(batch))):
            known[found.patient_id] = found
    # MRN → the external id holding it (a recorded identity, or one given earlier in the batch).
    holder: dict[str, str] = {}
    for batch in chunks({i.mrn for _, i in items if i is not None}):
        for mrn, external_id in session.execute(
            select(identities.c.mrn, patients.c.external_id)
            .join(patients, patients.c.id == identities.c.patient_id)
            .where(identities.c.mrn.in_(batch))
        ):
            holder[mrn] = external_id

    now = uow.now()
    new_patients: list[dict[str, Any]] = []
    # (True, position among the new patients | False, row id of a recorded patient, identity)
    new_identities: list[tuple[bool, int, PatientIdentity]] = []
    events = Events()
    answers: list[Answer | int] = []  # an int: the position of a patient inserted below
    for patient, identity in items:
        pid = patient.external_id
        row = existing.get(pid)
        try:
            if row is not None:
                _same(
                    "patient",
                    pid,
                    {
                        "sex": (row.sex, str(patient.sex)),
                        "birth_year": (row.birth_year, patient.birth_year),
                    },
                )
            if identity is not None:
                recorded = None if row is None else known.get(row.id)
                if recorded is not None:
                    for name, (old, new) in {
                        "name": (recorded.name, identity.name),
                        "mrn": (recorded.mrn, identity.mrn),
                        "birth_date": (recorded.birth_date, identity.birth_date),
                    }.items():
                        if old != new:
                            raise IdentityConflict(pid, name, "differs from the one recorded")
                elif holder.get(identity.mrn, pid) != pid:
                    # Which research id holds this MRN is identity too: not in the message.
                    raise IdentityConflict(pid, "mrn", "is already recorded for another patient")
        except TrephineError as exc:
            answers.append(exc)
            continue
        if row is None:
            position = len(new_patients)
            new_patients.append(
                {
                    "external_id": pid,
                    "sex": str(patient.sex),
                    "birth_year": patient.birth_year,
                    "created_at": now,
                }
            )
            events.add("create", "patient", pid, {"sex": str(patient.sex)})
            answers.append(position)
        else:
            answers.append((row.id, Outcome.UNCHANGED))
        if identity is not None and (row is None or row.id not in known):
            new_identities.append(
                (True, position, identity) if row is None else (False, row.id, identity)
            )
            holder[identity.mrn] = pid
            # The audit detail must not copy identifying data into a table researchers may read.
            events.add("create", "patient_identity", pid, {})
    ids = insert_rows(uow, PatientRow, new_patients)
    insert_rows(
        uow,
        PatientIdentityRow,
        [
            {
                "patient_id": ids[ref] if is_new else ref,
                "name": identity.name,
                "mrn": identity.mrn,
                "birth_date": identity.birth_date,
            }
            for is_new, ref, identity in new_identities
        ],
    )
    events.append(uow)
    return [(ids[a], Outcome.CREATED) if isinstance(a, int) else a for a in answers]


def patient_identity(uow: UnitOfWork, external_id: str) -> PatientIdentity | None:
    """Identifying data; the read itself is audited (BALP PatientRead, systems spec F2)."""
    patient = _rows.patient_row(uow, external_id)
    row = uow.session.scalar(
        select(PatientIdentityRow).where(PatientIdentityRow.patient_id == patient.id)
    )
    audit.append(uow, audit.Entry("read", "patient_identity", external_id, {}))
    return None if row is None else PatientIdentity(row.name, row.mrn, row.birth_date)


def _patients_of(uow: UnitOfWork, external_ids: Iterable[str]) -> dict[str, int]:
    return patient_ids(uow, external_ids)


def add_diagnosis(uow: UnitOfWork, external_id: str, diagnosis: Diagnosis) -> tuple[int, bool]:
    row_id, outcome = _one(add_diagnoses(uow, [(external_id, diagnosis)])[0])
    return row_id, outcome is Outcome.CREATED


def add_diagnoses(uow: UnitOfWork, items: Sequence[tuple[str, Diagnosis]]) -> list[Answer]:
    """Batch :func:`add_diagnosis` (key: patient + disease + date)."""
    return in_runs(uow, items, lambda i: (i[0], i[1].disease, i[1].diagnosed_on), _diagnoses_run)


def _diagnoses_run(uow: UnitOfWork, items: Sequence[tuple[str, Diagnosis]]) -> list[Answer]:
    uow.session.flush()
    ids = _patients_of(uow, (pid for pid, _ in items))
    existing: dict[tuple[int, str, dt.date], DiagnosisRow] = {}
    for batch in chunks(set(ids.values())):
        for found in uow.session.scalars(
            select(DiagnosisRow).where(DiagnosisRow.patient_id.in_(batch))
        ):
            existing[(found.patient_id, found.disease, found.diagnosed_on)] = found
    new: list[dict[str, Any]] = []
    events = Events()
    answers: list[Answer | int] = []
    for external_id, diagnosis in items:
        if external_id not in ids:
            answers.append(NotFound("patient", external_id))
            continue
        key = f"{external_id} {diagnosis.disease} {diagnosis.diagnosed_on}"
        row = existing.get((ids[external_id], str(diagnosis.disease), diagnosis.diagnosed_on))
        if row is not None:
            recorded = _rows.to_diagnosis(row)
            try:
                _same(
                    "diagnosis",
                    key,
                    {
                        name: (getattr(recorded, name), getattr(diagnosis, name))
                        for name in ("classification", "subtype", "genetics", "karyotype")
                    },
                )
            except Conflict as exc:
                answers.append(exc)
                continue
            answers.append((row.id, Outcome.UNCHANGED))
            continue
        events.add_new("create", "diagnosis", len(new), {"patient": external_id, "key": key})
        answers.append(len(new))
        new.append(
            {
                "patient_id": ids[external_id],
                "disease": str(diagnosis.disease),
                "classification": str(diagnosis.classification),
                "subtype": diagnosis.subtype,
                "diagnosed_on": diagnosis.diagnosed_on,
                "genetics": encode_genetics(diagnosis.genetics),
                "karyotype": diagnosis.karyotype,
            }
        )
    new_ids = insert_rows(uow, DiagnosisRow, new)
    events.append(uow, new_ids)
    return resolved(answers, new_ids)


def add_therapy_line(uow: UnitOfWork, external_id: str, line: TherapyLine) -> tuple[int, bool]:
    """Add a therapy line (key: patient + line number). Cycles given later are appended."""
    row_id, outcome = record_therapy_line(uow, external_id, line)
    return row_id, outcome is Outcome.CREATED


def record_therapy_line(
    uow: UnitOfWork, external_id: str, line: TherapyLine
) -> tuple[int, Outcome]:
    """Add a therapy line, or add to a recorded one: its end date once the line closes, and
    cycles not recorded yet. Each addition is an audited ``edit`` (an import reports it as
    updated), never a silent write."""
    return _one(record_therapy_lines(uow, [(external_id, line)])[0])


def record_therapy_lines(uow: UnitOfWork, items: Sequence[tuple[str, TherapyLine]]) -> list[Answer]:
    """Batch :func:`record_therapy_line` (key: patient + line number)."""
    return in_runs(uow, items, lambda i: (i[0], i[1].line), _therapy_run)


def _therapy_run(uow: UnitOfWork, items: Sequence[tuple[str, TherapyLine]]) -> list[Answer]:
    session = uow.session
    session.flush()
    ids = _patients_of(uow, (pid for pid, _ in items))
    existing: dict[tuple[int, int], TherapyLineRow] = {}
    for batch in chunks(set(ids.values())):
        for found in session.scalars(
            select(TherapyLineRow)
            .where(TherapyLineRow.patient_id.in_(batch))
            .options(selectinload(TherapyLineRow.cycles))
        ):
            existing[(found.patient_id, found.line)] = found
    new: list[dict[str, Any]] = []
    new_cycles: list[tuple[int, Cycle]] = []
    events = Events()
    answers: list[Answer | int] = []
    for external_id, line in items:
        if external_id not in ids:
            answers.append(NotFound("patient", external_id))
            continue
        key = f"{external_id} line {line.line}"
        row = existing.get((ids[external_id], line.line))
        if row is None:
            events.add_new("create", "therapy_line", len(new), {"patient": external_id, "key": key})
            new_cycles += [(len(new), cycle) for cycle in line.cycles]
            answers.append(len(new))
            new.append(
                {
                    "patient_id": ids[external_id],
                    "line": line.line,
                    "regimen": line.regimen,
                    "intent": str(line.intent),
                    "intensity": str(line.intensity),
                    "start": line.start,
                    "end": line.end,
                }
            )
            continue
        try:
            answers.append((row.id, _add_to_line(uow, row, external_id, key, line, events)))
        except Conflict as exc:
            answers.append(exc)
    new_ids = insert_rows(uow, TherapyLineRow, new)
    insert_rows(
        uow,
        TherapyCycleRow,
        [
            {"therapy_line_id": new_ids[at], "number": c.number, "start": c.start, "end": c.end}
            for at, c in new_cycles
        ],
    )
    events.append(uow, new_ids)
    return resolved(answers, new_ids)


def _add_to_line(
    uow: UnitOfWork,
    row: TherapyLineRow,
    external_id: str,
    key: str,
    line: TherapyLine,
    events: Events,
) -> Outcome:
    """Compare a recorded line with ``line``; append its end date and new cycles (audited)."""
    recorded = _rows.to_therapy_line(row)
    _same(
        "therapy line",
        key,
        {
            name: (getattr(recorded, name), getattr(line, name))
            for name in ("regimen", "intent", "intensity", "start")
        },
    )
    if recorded.end != line.end and line.end is not None and recorded.end is not None:
        raise Conflict("therapy line", key, "end", recorded.end, line.end)
    known = {c.number: c for c in row.cycles}
    for cycle in line.cycles:
        old = known.get(cycle.number)
        if old is not None:
            _same(
                "therapy cycle",
                f"{key} cycle {cycle.number}",
                {"start": (old.start, cycle.start), "end": (old.end, cycle.end)},
            )
    updated = False
    if recorded.end != line.end and line.end is not None:
        row.end = line.end  # closing an ongoing line is new information, not a change
        events.add("edit", "therapy_line", row.id, {"end": str(line.end)})
        updated = True
    added = [c for c in line.cycles if c.number not in known]
    if added:
        for cycle in added:
            row.cycles.append(
                TherapyCycleRow(number=cycle.number, start=cycle.start, end=cycle.end)
            )
        uow.session.flush()
        events.add(
            "edit",
            "therapy_line",
            row.id,
            {"patient": external_id, "cycles_added": [c.number for c in added]},
        )
        updated = True
    return Outcome.UPDATED if updated else Outcome.UNCHANGED


def add_cellular_therapy(
    uow: UnitOfWork, external_id: str, event: CellularTherapy
) -> tuple[int, bool]:
    row_id, outcome = _one(add_cellular_therapies(uow, [(external_id, event)])[0])
    return row_id, outcome is Outcome.CREATED


def add_cellular_therapies(
    uow: UnitOfWork, items: Sequence[tuple[str, CellularTherapy]]
) -> list[Answer]:
    """Batch :func:`add_cellular_therapy` (key: patient + kind + date)."""
    return in_runs(uow, items, lambda i: (i[0], i[1].kind, i[1].on), _cellular_run)


def _cellular_run(uow: UnitOfWork, items: Sequence[tuple[str, CellularTherapy]]) -> list[Answer]:
    uow.session.flush()
    ids = _patients_of(uow, (pid for pid, _ in items))
    existing: dict[tuple[int, str, dt.date], CellularTherapyRow] = {}
    for batch in chunks(set(ids.values())):
        for found in uow.session.scalars(
            select(CellularTherapyRow).where(CellularTherapyRow.patient_id.in_(batch))
        ):
            existing[(found.patient_id, found.kind, found.given_on)] = found
    new: list[dict[str, Any]] = []
    events = Events()
    answers: list[Answer | int] = []
    for external_id, event in items:
        if external_id not in ids:
            answers.append(NotFound("patient", external_id))
            continue
        key = f"{external_id} {event.kind} {event.on}"
        row = existing.get((ids[external_id], str(event.kind), event.on))
        if row is not None:
            try:
                _same("cellular therapy", key, {"event": (_rows.to_cellular_therapy(row), event)})
            except Conflict as exc:
                answers.append(exc)
                continue
            answers.append((row.id, Outcome.UNCHANGED))
            continue
        values: dict[str, Any] = {
            "patient_id": ids[external_id],
            "kind": str(event.kind),
            "given_on": event.on,
            "donor_type": None,
            "conditioning": None,
            "product": None,
            "target": None,
        }
        if isinstance(event, Transplant):
            values["donor_type"] = str(event.donor_type)
            values["conditioning"] = str(event.conditioning)
        elif isinstance(event, CarTInfusion):
            values["product"] = event.product
            values["target"] = event.target
        events.add_new("create", "cellular_therapy", len(new), {"patient": external_id, "key": key})
        answers.append(len(new))
        new.append(values)
    new_ids = insert_rows(uow, CellularTherapyRow, new)
    events.append(uow, new_ids)
    return resolved(answers, new_ids)


def list_patients(uow: UnitOfWork) -> list[PatientSummary]:
    """All patients, research view (no identity), ordered by id."""
    session = uow.session
    diseases: dict[int, list[tuple[str, dt.date]]] = {}
    for pid, disease, on in session.execute(
        select(DiagnosisRow.patient_id, DiagnosisRow.disease, DiagnosisRow.diagnosed_on).order_by(
            DiagnosisRow.diagnosed_on
        )
    ):
        diseases.setdefault(pid, []).append((disease, on))
    procedures = {
        pid: (n, last)
        for pid, n, last in session.execute(
            select(
                ProcedureRow.patient_id,
                func.count(ProcedureRow.id),
                func.max(ProcedureRow.performed_at),
            ).group_by(ProcedureRow.patient_id)
        )
    }
    results: dict[int, int] = {
        pid: n
        for pid, n in session.execute(
            select(ResultRow.patient_id, func.count(ResultRow.id))
            .where(ResultRow.state.in_([str(s) for s in CURRENT_STATES]))
            .group_by(ResultRow.patient_id)
        )
    }
    summaries = []
    for row in session.scalars(select(PatientRow).order_by(PatientRow.external_id)):
        dx = diseases.get(row.id, [])
        n_proc, last = procedures.get(row.id, (0, None))
        names = tuple(dict.fromkeys(d for d, _ in dx))
        summaries.append(
            PatientSummary(
                patient_id=row.external_id,
                sex=row.sex,
                birth_year=row.birth_year,
                diseases=names,
                first_diagnosis_on=dx[0][1] if dx else None,
                procedures=n_proc,
                last_procedure_on=None if last is None else _rows.day(last),
                results=results.get(row.id, 0),
            )
        )
    return summaries


def patient_record(uow: UnitOfWork, external_id: str) -> PatientRecord:
    """The patient's whole record (no identity) and chronology in date order.

    The read is audited (BALP PatientRead; clinical-systems.md §6.5 F2).

    Read with the record's queries built once (:func:`_record_queries`) and plain rows, not ORM
    objects: the converters read the same attributes from a row of the table, and building
    each statement and an ORM object per row cost more than half of the read (3.6-4.0 ms vs
    1.9 ms of CPU for a demo patient; the record of every demo patient compared equal).
    """
    session = uow.session
    patient = _rows.patient_row(uow, external_id)
    audit.append(uow, audit.Entry("read", "patient", external_id, {}))
    session.flush()  # plain statements do not flush the session's pending changes themselves
    queries = _record_queries()
    connection = session.connection()
    params = {"patient": patient.id}

    def rows(name: str) -> list[Any]:
        return list(connection.execute(queries[name], params))

    diagnoses = tuple(_rows.to_diagnosis(r) for r in rows("diagnoses"))
    cycles: dict[int, list[Any]] = defaultdict(list)
    for c in rows("cycles"):
        cycles[c.therapy_line_id].append(c)
    lines = tuple(_rows.to_therapy_line(r, cycles[r.id]) for r in rows("lines"))
    events = tuple(_rows.to_cellular_therapy(r) for r in rows("cellular_therapies"))
    specimens = rows("specimens")
    accession = {s.id: s.accession for s in specimens}
    complications: dict[int, list[Any]] = defaultdict(list)
    for c in rows("complications"):
        complications[c.procedure_id].append(c)
    procedures = tuple(
        StoredProcedure(
            id=r.id,
            procedure=_rows.to_procedure(r, complications[r.id]),
            specimens=tuple(
                StoredSpecimen(s.id, s.procedure_id, _rows.to_specimen(s))
                for s in specimens
                if s.procedure_id == r.id
            ),
        )
        for r in rows("procedures")
    )
    results = tuple(
        _rows.to_result(r, external_id, accession[r.specimen_id]) for r in rows("results")
    )
    assessments = tuple(_rows.to_assessment(r, external_id) for r in rows("assessments"))
    record = PatientRecord(
        patient=_rows.to_patient(patient),
        diagnoses=diagnoses,
        therapy_lines=lines,
        cellular_therapies=events,
        procedures=procedures,
        results=results,
        assessments=assessments,
    )
    return record


@functools.cache
def _record_queries() -> dict[str, Select[Any]]:
    """The statements of :func:`patient_record`, built once, on the tables (plain rows); the
    patient's row id is the parameter ``patient``. Cycles and complications come in one query
    each for all the patient's therapy lines and procedures, in the order of the ORM
    relationships (cycle number, complication id)."""
    patient: BindParameter[int] = bindparam("patient")
    diagnosis = DiagnosisRow.__table__
    line = TherapyLineRow.__table__
    cycle = TherapyCycleRow.__table__
    cellular = CellularTherapyRow.__table__
    specimen = SpecimenRow.__table__
    procedure = ProcedureRow.__table__
    complication = ComplicationRow.__table__
    result = ResultRow.__table__
    assessment = AssessmentRow.__table__
    patients_lines = select(line.c.id).where(line.c.patient_id == patient).scalar_subquery()
    patients_procedures = (
        select(procedure.c.id).where(procedure.c.patient_id == patient).scalar_subquery()
    )
    return {
        "diagnoses": select(diagnosis)
        .where(diagnosis.c.patient_id == patient)
        .order_by(diagnosis.c.diagnosed_on),
        "lines": select(line).where(line.c.patient_id == patient).order_by(line.c.line),
        "cycles": select(cycle)
        .where(cycle.c.therapy_line_id.in_(patients_lines))
        .order_by(cycle.c.number),
        "cellular_therapies": select(cellular)
        .where(cellular.c.patient_id == patient)
        .order_by(cellular.c.given_on),
        "specimens": select(specimen)
        .where(specimen.c.patient_id == patient)
        .order_by(specimen.c.collected_at),
        "procedures": select(procedure)
        .where(procedure.c.patient_id == patient)
        .order_by(procedure.c.performed_at),
        "complications": select(complication)
        .where(complication.c.procedure_id.in_(patients_procedures))
        .order_by(complication.c.id),
        "results": select(*_rows.value_as_text(result))
        .where(
            result.c.patient_id == patient,
            result.c.state.in_([str(s) for s in CURRENT_STATES]),
        )
        .order_by(result.c.collected_on, result.c.kind, result.c.analyte),
        "assessments": select(assessment)
        .where(assessment.c.patient_id == patient)
        .order_by(assessment.c.assessed_on, assessment.c.id),
    }
