"""iwCLL changes from the start of treatment on the stored timeline (issue 13 §2).

The iwCLL table (clinical-criteria.md §4.1 [V]) judges a partial response and progression by
changes of ≥ 50 %; ``assess/cll.py`` derives them from the stored pre-treatment values (module
docstring: what is compared with what, and which directions are withheld). Pure: in-memory
patients, no database. Expected categories are worked out by hand from the table.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from result_records import Result
from trephine.assess import cll
from trephine.assess.call import Call
from trephine.assess.inputs import PatientInputs, SpecimenFacts
from trephine.domain.patient import Diagnosis, Disease
from trephine.domain.quantity import Quantity
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    ClinicalExam,
    CoreFindings,
    FlowMRD,
    ResultValue,
)
from trephine.domain.specimen import SpecimenType
from trephine.domain.therapy import Intensity, TherapyIntent, TherapyLine

D = dt.date
START, END = D(2024, 1, 10), D(2024, 6, 30)
BEFORE = D(2024, 1, 3)  # the pre-treatment work-up
FIRST, SECOND = D(2024, 9, 30), D(2025, 3, 31)  # marrows 3 and 9 months after the end


def q(value: str, unit: str) -> Quantity:
    return Quantity(Decimal(value), unit)


def blood(plt: str, alc: str = "30", anc: str = "1.2", hb: str = "10.0") -> BloodCount:
    return BloodCount(
        anc=q(anc, "10^9/L"), alc=q(alc, "10^9/L"), platelets=q(plt, "10^9/L"),
        hemoglobin=q(hb, "g/dL"),
    )  # fmt: skip


def exam(node_cm: str) -> ClinicalExam:
    # Liver/spleen enlarged and symptoms present: neither CR nor a group-A criterion on its own.
    return ClinicalExam(
        largest_node=q(node_cm, "cm"), liver_spleen_normal=False, constitutional_symptoms=True
    )


def marrow(lymphocytes: int) -> list[ResultValue]:
    counts = {
        CellClass.BLAST: 2, CellClass.LYMPHOCYTE: lymphocytes,
        CellClass.NEUTROPHIL: 300 - lymphocytes, CellClass.ERYTHROBLAST: 198,
    }  # fmt: skip
    return [
        AspirateDifferential(counts, 500),
        CoreFindings(cellularity=q("40", "%"), lymphoid_nodules=True),
    ]


def patient(days: dict[dt.date, list[ResultValue]]) -> PatientInputs:
    results, specimens = [], {}
    for n, (on, values) in enumerate(sorted(days.items())):
        for kind, type_ in (("M", SpecimenType.ASPIRATE), ("B", SpecimenType.PERIPHERAL_BLOOD)):
            specimens[f"{kind}{n}"] = SpecimenFacts(f"{kind}{n}", type_)
        for v in values:
            on_blood = isinstance(v, BloodCount | ClinicalExam | FlowMRD)
            results.append(Result(len(results) + 1, f"{'B' if on_blood else 'M'}{n}", on, v))
    return PatientInputs(
        patient_id="P-CLL",
        diagnoses=(Diagnosis(Disease.CLL, D(2023, 12, 1)),),
        therapy_lines=(
            TherapyLine(
                1, "ibrutinib", TherapyIntent.CURATIVE, Intensity.LESS_INTENSIVE, START, END
            ),
        ),
        specimens=specimens,
        results=tuple(results),
        birth_year=1960,
    )


def responses(days: dict[dt.date, list[ResultValue]]) -> dict[dt.date, Call]:
    return {c.date: c for c in cll.responses(patient(days), {})}


def evidence(c: Call, name: str) -> Any:
    (item,) = [e for e in c.evidence if e["input"] == name]
    return item["value"]


def test_a_node_halved_with_platelets_up_by_half_is_a_partial_response() -> None:
    calls = responses({
        BEFORE: [blood("60"), exam("5.0")],
        FIRST: [*marrow(100), blood("95"), exam("2.5")],  # node −50.0 %, platelets +58.3 %
    })  # fmt: skip
    c = calls[FIRST]
    assert c.category == "PR"
    assert Decimal(evidence(c, "node_change_pct")) == Decimal("-50.0")
    assert Decimal(evidence(c, "plt_change_pct")) == Decimal("58.3")


def test_without_a_pre_treatment_value_nothing_is_derived() -> None:
    # The same marrow as above: without the baseline no group-A or group-B criterion holds.
    c = responses({FIRST: [*marrow(100), blood("95"), exam("2.5")]})[FIRST]
    assert c.category not in ("PR", "PD")
    assert "node_change_pct" in c.missing and "plt_change_pct" in c.missing


def test_a_node_one_and_a_half_times_its_pre_treatment_size_is_progression() -> None:
    c = responses(
        {BEFORE: [blood("60"), exam("4.0")], FIRST: [*marrow(100), blood("95"), exam("6.0")]}
    )[FIRST]
    assert c.category == "PD"
    assert Decimal(evidence(c, "node_change_pct")) == Decimal("50.0")


def test_a_node_just_under_half_again_is_not_progression() -> None:
    c = responses(
        {BEFORE: [blood("60"), exam("4.0")], FIRST: [*marrow(100), blood("95"), exam("5.9")]}
    )[FIRST]
    assert c.category != "PD"
    assert Decimal(evidence(c, "node_change_pct")) == Decimal("47.5")


def test_a_fall_in_platelets_is_not_read_as_progression_due_to_cll() -> None:
    # 150 → 50 is −66.7 %: progression only when due to CLL, which the store does not record.
    c = responses(
        {BEFORE: [blood("150"), exam("3.0")], FIRST: [*marrow(100), blood("50"), exam("3.0")]}
    )[FIRST]
    assert c.category != "PD"
    assert "plt_change_pct" in c.missing


def test_lymphocytes_halved_count_but_a_rise_on_ibrutinib_is_not_progression() -> None:
    halved = responses(
        {
            BEFORE: [blood("60", alc="40"), exam("3.0")],
            FIRST: [*marrow(100), blood("120", alc="20"), exam("3.0")],
        }
    )[FIRST]
    assert halved.category == "PR"  # group A: lymphocytes −50.0 %; group B: platelets > 100
    assert Decimal(evidence(halved, "clonal_b_change_pct")) == Decimal("-50.0")
    doubled = responses(
        {
            BEFORE: [blood("60", alc="40"), exam("3.0")],
            FIRST: [*marrow(100), blood("120", alc="80"), exam("3.0")],
        }
    )[FIRST]
    assert doubled.category != "PD" and "clonal_b_change_pct" in doubled.missing


def test_marrow_lymphocytes_up_by_half_on_the_next_marrow_is_progression() -> None:
    days = {BEFORE: [blood("60"), exam("3.0")], FIRST: [*marrow(100), blood("95"), exam("3.0")]}
    first = responses(days)[FIRST]
    # No earlier marrow to compare with: not derived, so not among the evidence.
    assert "marrow_cll_cells_change_pct" not in {e["input"] for e in first.evidence}
    # 100/500 = 20 % → 160/500 = 32 % (+60.0 %): CLL cells up ≥ 50 % on successive biopsies.
    c = responses({**days, SECOND: [*marrow(160), blood("95"), exam("3.0")]})[SECOND]
    assert c.category == "PD"
    assert Decimal(evidence(c, "marrow_cll_cells_change_pct")) == Decimal("60.0")
    # The 2008 "rise to > 30 %" is not a 2018 criterion: neither derived nor read.
    assert "marrow_lymphocytes_rise_to_gt30" not in {e["input"] for e in c.evidence}
    assert "marrow_lymphocytes_rise_to_gt30" not in c.missing
    # 20 % → 28 % (+40.0 %): CLL cells not up by half.
    steady = responses({**days, SECOND: [*marrow(140), blood("95"), exam("3.0")]})[SECOND]
    assert steady.category != "PD"


def test_marrow_cll_cells_up_by_half_on_successive_marrows_is_progression_under_2018() -> None:
    # 160/500 = 32 % → 260/500 = 52 %: already above 30 % (no 2008 "rise to > 30 %"), +62.5 %.
    days = {BEFORE: [blood("60"), exam("3.0")], FIRST: [*marrow(160), blood("95"), exam("3.0")]}
    c = responses({**days, SECOND: [*marrow(260), blood("95"), exam("3.0")]})[SECOND]
    assert c.category == "PD"
    assert Decimal(evidence(c, "marrow_cll_cells_change_pct")) == Decimal("62.5")
