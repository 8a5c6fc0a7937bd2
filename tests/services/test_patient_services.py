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
