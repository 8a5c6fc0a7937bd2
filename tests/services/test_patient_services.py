"""Patients, diagnoses, therapy and timeline through the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from trephine.domain import (
    AspirateDifferential,
    CarTInfusion,
    Cycle,
    Diagnosis,
    Disease,
    DonorType,
    EntryKind,
    Intensity,
    Patient,
    PatientIdentity,
    Sex,
    TherapyIntent,
    TherapyLine,
    Transplant,
)
from trephine.errors import Conflict, NotFound
from trephine.present.chronology import build_chronology
from trephine.services import audit, patients, results
from trephine.store.database import Database

D = dt.date


def test_register_is_idempotent_and_refuses_contradictions(seeded: Database) -> None:
    with seeded.unit_of_work("x") as uow:
        _, created = patients.register_patient(uow, Patient("P001", Sex.FEMALE, 1961))
    assert not created
    with seeded.unit_of_work("x") as uow, pytest.raises(Conflict, match="sex"):
        patients.register_patient(uow, Patient("P001", Sex.MALE, 1961))
    with seeded.unit_of_work("x") as uow, pytest.raises(Conflict) as caught:
        patients.register_patient(
            uow, Patient("P002", Sex.MALE), PatientIdentity("Other Person", "MRN-0001")
        )
    # Names the patient being written, not who holds the MRN, nor the MRN itself.
    assert str(caught.value) == (
        "patient identity of 'P002': mrn is already recorded for another patient (values not shown)"
    )


def test_identity_is_kept_out_of_research_views_and_reads_are_audited(
    seeded: Database,
) -> None:
    with seeded.unit_of_work("researcher") as uow:
        (summary,) = patients.list_patients(uow)
        record = patients.patient_record(uow, "P001")
    assert "Synthetic" not in repr(summary) + repr(record)
    assert "MRN-0001" not in repr(summary) + repr(record)
    with seeded.unit_of_work("clinician") as uow:
        identity = patients.patient_identity(uow, "P001")
    assert identity == PatientIdentity("Synthetic Person", "MRN-0001", D(1961, 5, 6))
    with seeded.unit_of_work("auditor") as uow:
        reads = [(e.actor, e.entity) for e in audit.events(uow) if e.action == "read"]
        created = [e for e in audit.events(uow, "patient_identity") if e.action == "create"]
    assert reads == [("researcher", "patient"), ("clinician", "patient_identity")]
    assert created[0].detail == {}  # no identifying data copied into the audit trail


def test_therapy_line_closing_and_cycles(seeded: Database) -> None:
    start = D(2024, 3, 10)
    line = TherapyLine(
        1,
        "aza",
        TherapyIntent.PALLIATIVE,
        Intensity.LESS_INTENSIVE,
        start,
        None,
        (Cycle(1, start),),
    )
    later = TherapyLine(
        1,
        "aza",
        TherapyIntent.PALLIATIVE,
        Intensity.LESS_INTENSIVE,
        start,
        D(2024, 5, 1),
        (Cycle(1, start), Cycle(2, D(2024, 4, 7))),
    )
    with seeded.unit_of_work("x") as uow:
        _, created = patients.add_therapy_line(uow, "P001", line)
        _, created_again = patients.add_therapy_line(uow, "P001", later)
    assert created and not created_again
    with seeded.unit_of_work("x") as uow:
        (stored,) = patients.patient_record(uow, "P001").therapy_lines
    assert stored == later
    changed = TherapyLine(1, "decitabine", line.intent, line.intensity, start)
    with seeded.unit_of_work("x") as uow, pytest.raises(Conflict, match="regimen"):
        patients.add_therapy_line(uow, "P001", changed)


def test_timeline_is_in_date_order_with_key_results(
    seeded: Database, make_differential: Callable[..., AspirateDifferential]
) -> None:
    with seeded.unit_of_work("x") as uow:
        patients.add_diagnosis(uow, "P001", Diagnosis(Disease.AML, D(2024, 1, 2)))
        patients.add_therapy_line(
            uow,
            "P001",
            TherapyLine(
                1, "7+3", TherapyIntent.INDUCTION, Intensity.INTENSIVE, D(2024, 1, 5), D(2024, 2, 1)
            ),
        )
        patients.add_cellular_therapy(
            uow, "P001", Transplant(D(2024, 6, 1), DonorType.MATCHED_UNRELATED)
        )
        patients.add_cellular_therapy(uow, "P001", CarTInfusion(D(2024, 9, 1), "synthetic-cel"))
        results.record_result(uow, "A-1", make_differential(40), verify=True)
    with seeded.unit_of_work("x") as uow:
        # The services return the read model; the chronology is presentation (trephine.present).
        assert patients.patient_record(uow, "P001").chronology == ()
        timeline = build_chronology(patients.patient_record(uow, "P001"))
    assert [e.kind for e in timeline] == [
        EntryKind.DIAGNOSIS,
        EntryKind.THERAPY,
        EntryKind.PROCEDURE,
        EntryKind.TRANSPLANT,
        EntryKind.CAR_T,
    ]
    biopsy = timeline[2]
    assert biopsy.on == D(2024, 3, 4) and "blasts 8.0 % of 500 cells" in biopsy.detail
    assert timeline[1].until == D(2024, 2, 1)


def test_unknown_patient(seeded: Database) -> None:
    with seeded.unit_of_work("x") as uow, pytest.raises(NotFound, match="P404"):
        patients.patient_record(uow, "P404")


def test_record_groups_cycles_and_complications_by_line_and_procedure(seeded: Database) -> None:
    """The record reads every cycle and complication of the patient in one query each and
    hands each line and procedure its own, in cycle-number and id order; another patient's
    rows (written in between, so ids interleave) stay out."""
    from trephine.domain import Complication, ComplicationKind, ComplicationSeverity, Procedure
    from trephine.domain.procedure import Site
    from trephine.services import procedure_plans, procedures
    from trephine.store.tables import TherapyCycleRow

    at = dt.datetime(2024, 5, 2, 9, 30, tzinfo=dt.UTC)
    with seeded.unit_of_work("x") as uow:
        patients.register_patient(uow, Patient("P002", Sex.MALE, 1950))
        made: dict[tuple[str, int], int] = {}
        for pid in ("P001", "P002", "P001"):
            n = sum(1 for key in made if key[0] == pid) + 1
            start = D(2024, n, 1)
            line_id, _ = patients.add_therapy_line(
                uow,
                pid,
                TherapyLine(
                    n, f"{pid}-line{n}", TherapyIntent.PALLIATIVE, Intensity.LESS_INTENSIVE, start
                ),
            )
            # Cycles stored out of number order: the record orders them.
            for number in (3, 1, 2):
                uow.session.add(
                    TherapyCycleRow(
                        therapy_line_id=line_id, number=number, start=start + dt.timedelta(number)
                    )
                )
            proc_id, _ = procedures.record_procedure(
                uow, pid, Procedure(at + dt.timedelta(days=30 * n), Site.POSTERIOR_ILIAC_CREST)
            )
            for severity in (ComplicationSeverity.MODERATE, ComplicationSeverity.MILD):
                procedure_plans.add_complication(
                    uow,
                    proc_id,
                    Complication(ComplicationKind.PAIN, severity, description=f"{pid}/{n}"),
                )
            made[pid, n] = proc_id
    with seeded.unit_of_work("x") as uow:
        record = patients.patient_record(uow, "P001")
        other = patients.patient_record(uow, "P002")
    assert [(line.regimen, [c.number for c in line.cycles]) for line in record.therapy_lines] == [
        ("P001-line1", [1, 2, 3]),
        ("P001-line2", [1, 2, 3]),
    ]
    assert [line.regimen for line in other.therapy_lines] == ["P002-line1"]
    added = [p for p in record.procedures if p.id in made.values()]
    assert [p.id for p in added] == [made["P001", 1], made["P001", 2]]
    for stored, n in zip(added, (1, 2), strict=True):
        assert [(c.severity, c.description) for c in stored.procedure.complications] == [
            (ComplicationSeverity.MODERATE, f"P001/{n}"),
            (ComplicationSeverity.MILD, f"P001/{n}"),
        ]
    others = [p for p in record.procedures if p.id not in made.values()]
    assert others and all(not p.procedure.complications for p in others)


def test_record_sees_changes_not_flushed_yet(seeded: Database) -> None:
    """A second read in the same unit of work (the patient's row is remembered then, so no
    query flushes the session on the way) still shows what was added since."""
    from trephine.store.tables import DiagnosisRow

    with seeded.unit_of_work("x") as uow:
        assert patients.patient_record(uow, "P001").diagnoses == ()
        patient_id = uow.patient_rows["P001"].id
        uow.session.add(
            DiagnosisRow(
                patient_id=patient_id,
                disease=str(Disease.AML),
                classification="WHO 5th",
                diagnosed_on=D(2024, 1, 2),
                genetics=[],
            )
        )
        (diagnosis,) = patients.patient_record(uow, "P001").diagnoses
    assert diagnosis.disease is Disease.AML


def test_patient_row_is_read_once_per_unit_of_work(seeded: Database) -> None:
    from sqlalchemy import event

    from trephine.services import _rows

    statements: list[str] = []

    def seen(_c: object, _cur: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(seeded.engine, "before_cursor_execute", seen)
    try:
        with seeded.unit_of_work("x") as uow:
            first = _rows.patient_row(uow, "P001")
            assert _rows.patient_row(uow, "P001") is first
            with pytest.raises(NotFound):
                _rows.patient_row(uow, "P404")
            with pytest.raises(NotFound):  # a miss is not remembered: asked again
                _rows.patient_row(uow, "P404")
        with seeded.unit_of_work("x") as uow:
            _rows.patient_row(uow, "P001")  # a new unit of work reads it again
    finally:
        event.remove(seeded.engine, "before_cursor_execute", seen)
    assert sum("FROM patient" in s for s in statements) == 4
