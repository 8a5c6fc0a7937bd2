"""``assess_patient`` for ALL (MRD), CLL (iwCLL 2018 MRD) and MDS (IWG 2023) stored
timelines, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trephine.domain import Patient, Sex
from trephine.domain import quantity as q
from trephine.domain.patient import Diagnosis, Disease
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import BloodCount, FlowMethod, FlowMRD
from trephine.errors import CriteriaNotApplicable
from trephine.services import assessments
from trephine.services import patients as patient_service
from trephine.store.database import Database
from trephine.testing.assess_case import D0, biopsy, blood, diff


def flow(events: int, abnormal: int | None, *, lloq: str = "0.005") -> FlowMRD:
    if abnormal is None:
        mrd = Quantity(None, "%", Qualifier.NOT_DETECTED, lod=Decimal("0.002"), lloq=Decimal(lloq))
    else:
        pct = Decimal(abnormal) * 100 / Decimal(events)
        mrd = Quantity(pct, "%", lod=Decimal("0.002"), lloq=Decimal(lloq))
    return FlowMRD(mrd, FlowMethod.DFN, events_acquired=events, abnormal_events=abnormal)


def patient(db: Database, disease: Disease) -> None:
    with db.unit_of_work("seed") as uow:
        patient_service.register_patient(uow, Patient("P1", Sex.MALE, 1980))
        patient_service.add_diagnosis(uow, "P1", Diagnosis(disease, D0))


def run(db: Database) -> assessments.AssessRun:
    with db.unit_of_work("t") as uow:
        return assessments.assess_patient(uow, "P1")


def test_all_mrd_negative_then_failure_raises_conversion(database: Database) -> None:
    patient(database, Disease.ALL)
    biopsy(database, 0, 0, [("A", diff(300))])
    biopsy(database, 30, 1, [("A", diff(5)), ("A", flow(1_000_000, None))])
    biopsy(database, 90, 2, [("A", diff(5)), ("A", flow(1_000_000, 500))])  # 0.05 %
    r = run(database)
    assert r.ruleset == "ALL-MRD-2021"
    calls = [(s.assessment.assessed_on, s.assessment.category) for s in r.assessments]
    assert calls == [
        (D0 + dt.timedelta(days=30), "MRD_CR"),
        (D0 + dt.timedelta(days=90), "MRD_FAILURE"),
    ]
    assert [(a.raised_on, a.code) for a in r.alerts] == [
        (D0 + dt.timedelta(days=90), "MRD_CONVERSION")
    ]
    assert run(database).new_assessments == 0


def test_cll_mrd_at_the_uMRD4_threshold(database: Database) -> None:
    patient(database, Disease.CLL)
    biopsy(database, 200, 1, [("A", flow(500_000, 49))])  # 0.98e-4: undetectable MRD4
    biopsy(database, 400, 2, [("A", flow(500_000, 50))])  # exactly 1e-4: positive
    r = run(database)
    assert [s.assessment.category for s in r.assessments] == [
        "UNDETECTABLE_MRD4",
        "MRD_POSITIVE",
    ]
    assert {s.assessment.criteria_edition for s in r.assessments} == {"iwCLL2018"}
    assert [a.code for a in r.alerts] == ["MRD_CONVERSION"]


def test_mds_response_names_what_is_missing(database: Database) -> None:
    patient(database, Disease.MDS)
    biopsy(database, 0, 0, [("A", diff(60)), ("B", blood(anc="0.8", plt="40"))])  # 12 %
    biopsy(database, 120, 1, [("A", diff(10)), ("B", blood(anc="2.0", plt="150"))])
    with_hb = BloodCount(
        anc=q.ANC.parse("2.0"),
        platelets=q.PLATELETS.parse("150"),
        hemoglobin=q.HEMOGLOBIN.parse("12.5"),
        circulating_blasts=q.percent("circulating_blasts").parse("0"),
    )
    biopsy(database, 240, 2, [("A", diff(10)), ("B", with_hb)])
    r = run(database)
    assert r.ruleset == "IWG2023"
    first, second = r.assessments
    assert (first.call_kind, first.assessment.category) == ("response", "NOT_EVALUABLE")
    assert first.assessment.missing_inputs == ("hb",)
    evidence = {e["input"]: e["value"] for e in first.assessment.evidence}
    assert evidence["baseline_bm_blasts_pct"] == "12" and evidence["bm_blasts_pct"] == "2"
    assert second.assessment.category == "CR" and second.assessment.missing_inputs == ()
    assert r.timeline.best_response == "CR"


def test_myeloma_is_refused_not_guessed(database: Database) -> None:
    patient(database, Disease.MYELOMA)
    with pytest.raises(CriteriaNotApplicable, match="IMWG2016"):
        run(database)
