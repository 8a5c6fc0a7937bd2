"""``assess_patient`` for aplastic anaemia (Camitta / BSH 2016 severity per marrow), on SQLite
and PostgreSQL, plus the reticulocyte fields of a blood count."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from assess_case import D0, biopsy, diff
from trephine.assess.registry import choose
from trephine.domain import Patient, Sex
from trephine.domain import quantity as q
from trephine.domain.patient import Diagnosis, Disease
from trephine.domain.results import CELLULARITY, BloodCount, CoreFindings, ReticulocyteMethod
from trephine.domain.results import RESIDUAL_HEMATOPOIETIC as RESIDUAL
from trephine.errors import ValidationError
from trephine.services import assessments
from trephine.services import patients as patient_service
from trephine.store.database import Database


def counts(anc: str, plt: str, retic: str | None, method: str | None = "automated") -> BloodCount:
    return BloodCount(
        anc=q.ANC.parse(anc),
        platelets=q.PLATELETS.parse(plt),
        reticulocytes=None if retic is None else q.RETICULOCYTES_ABS.parse(retic),
        reticulocyte_method=None if method is None else ReticulocyteMethod(method),
    )


def core(cellularity: str, residual: str | None = None) -> CoreFindings:
    return CoreFindings(
        cellularity=CELLULARITY.parse(cellularity),
        residual_hematopoietic_cells=None if residual is None else RESIDUAL.parse(residual),
    )


def aa_patient(db: Database) -> None:
    with db.unit_of_work("seed") as uow:
        patient_service.register_patient(uow, Patient("P1", Sex.FEMALE, 1990))
        patient_service.add_diagnosis(uow, "P1", Diagnosis(Disease.APLASTIC_ANEMIA, D0))


def run(db: Database) -> assessments.AssessRun:
    with db.unit_of_work("t") as uow:
        return assessments.assess_patient(uow, "P1")


def test_severity_per_marrow_with_evidence_and_missing_inputs(database: Database) -> None:
    aa_patient(database)
    # VSAA: cellularity 10 %, ANC 0.1, platelets 8, reticulocytes 15 (automated: < 60).
    biopsy(database, 0, 0, [("A", diff(1)), ("C", core("10")), ("B", counts("0.1", "8", "15"))])
    # SAA: ANC 0.3 (≥ 0.2, not very severe), platelets 12; reticulocytes 40 < 60 (automated)
    # but ≥ 20 (manual threshold would not count it) — two of three are met either way.
    biopsy(database, 90, 1, [("A", diff(1)), ("C", core("20")), ("B", counts("0.3", "12", "40"))])
    # Non-severe: counts recovered.
    biopsy(database, 180, 2, [("A", diff(1)), ("C", core("40")), ("B", counts("1.6", "90", "85"))])
    # A marrow without a same-day blood count: not evaluable, naming the counts.
    biopsy(database, 270, 3, [("A", diff(1)), ("C", core("15"))])
    # A blood count alone is not a marrow: no call for that day.
    biopsy(database, 300, 4, [("B", counts("2.0", "150", "90"))])
    r = run(database)
    assert r.ruleset == "AA-Camitta/BSH"
    calls = [
        (s.assessment.assessed_on, s.call_kind, s.assessment.category, s.assessment.matched_rule)
        for s in r.assessments
    ]
    day = lambda n: D0 + dt.timedelta(days=n)  # noqa: E731
    assert calls == [
        (day(0), "severity", "VSAA", "AA-VSAA"),
        (day(90), "severity", "SAA", "AA-SAA"),
        (day(180), "severity", "NON_SEVERE", "AA-NS"),
        (day(270), "severity", "NOT_EVALUABLE", None),
    ]
    vsaa, saa, non_severe, no_counts = (s.assessment for s in r.assessments)
    assert {s.assessment.criteria_edition for s in r.assessments} == {"BSH2016"}
    evidence = {e["input"]: (e["value"], e["threshold"]) for e in vsaa.evidence}
    assert evidence["biopsy_cellularity_pct"] == ("10", "25")
    assert evidence["anc"][0] == "0.1" and evidence["plt"] == ("8", "20")
    assert evidence["retic_abs"] == ("15", "60")  # automated method → 60 x10^9/L
    assert vsaa.missing_inputs == () and saa.missing_inputs == ()
    # The non-severe call shows the values that kept it out of SAA.
    shown = {e["input"]: (e["value"], e["outcome"]) for e in non_severe.evidence}
    assert shown["anc"] == ("1.6", False) and shown["plt"] == ("90", False)
    assert shown["retic_abs"] == ("85", False)
    # ... each as what keeps it out (role), not as "does not meet the NON SEVERE criterion".
    roles = {e["input"]: e.get("role") for e in non_severe.evidence}
    assert roles["anc"] == roles["plt"] == roles["retic_abs"] == "supports"
    assert {"anc", "plt"} <= set(no_counts.missing_inputs)
    assert r.alerts == () and r.computed.best_response is None
    assert run(database).new_assessments == 0  # idempotent


def test_manual_count_uses_the_20_threshold_and_cellularity_25_to_50_needs_residual_cells(
    database: Database,
) -> None:
    aa_patient(database)
    # Manual reticulocytes 40: not < 20, so only platelets < 20 counts → not severe.
    biopsy(
        database,
        0,
        0,
        [("A", diff(1)), ("C", core("10")), ("B", counts("0.8", "12", "40", "manual"))],
    )
    # Cellularity 30 % with two of three low counts: SAA only if residual haematopoietic cells
    # are < 30 %; without the core's estimate → not evaluable, named (never guessed).
    low = counts("0.3", "12", "15")
    biopsy(database, 60, 1, [("A", diff(1)), ("C", core("30")), ("B", low)])
    biopsy(database, 90, 2, [("A", diff(1)), ("C", core("30", "20")), ("B", low)])
    biopsy(database, 120, 3, [("A", diff(1)), ("C", core("30", "45")), ("B", low)])
    first, unknown, saa, not_severe = (s.assessment for s in run(database).assessments)
    assert first.category == "NON_SEVERE"
    assert {e["input"]: e["threshold"] for e in first.evidence}["retic_abs"] == "20"
    assert (unknown.category, unknown.missing_inputs) == (
        "NOT_EVALUABLE",
        ("residual_hematopoietic_cells_pct",),
    )
    assert (saa.category, saa.missing_inputs) == ("SAA", ())
    residual = {e["input"]: e["value"] for e in saa.evidence}["residual_hematopoietic_cells_pct"]
    assert residual == "20"
    assert not_severe.category == "NON_SEVERE"


def test_ruleset_alias_and_reticulocyte_validation() -> None:
    assert choose((), "AA").name == "AA-Camitta/BSH"
    assert counts("0.1", "8", "12").reticulocytes == q.RETICULOCYTES_ABS.parse("12")
    # 12 000 /µL is 12 x10^9/L: converted at ingestion like the other counts.
    assert q.RETICULOCYTES_ABS.parse("12000", "/uL").value == Decimal("12.000")
    with pytest.raises(ValidationError, match="reticulocyte_method"):
        BloodCount(anc=q.ANC.parse("1"), reticulocyte_method=ReticulocyteMethod.MANUAL)
    with pytest.raises(ValidationError, match="reticulocytes"):
        q.RETICULOCYTES_ABS.parse("5000")


def test_reticulocytes_and_residual_cells_are_shown() -> None:
    from trephine.present.results import components, summary

    count = counts("0.1", "8", "15")
    assert "retic 15 ×10⁹/L (automated)" in summary(count)
    assert ("reticulocytes", "15 ×10⁹/L") in {(c.name, c.value.display) for c in components(count)}
    assert "residual haematopoietic cells 20 %" in summary(core("30", "20"))
