"""iwCLL 2018 response on the stored timeline, with the clinical examination (issue 13 §2).

Crafted CLL patients go through the import template (``clinical_exam`` result kind) → assess.
Expected categories are worked out from the iwCLL table of clinical-criteria.md §4 and the 2018
table read in docs/criteria/verification.md (CR: no node ≥ 1.5 cm, liver and spleen normal,
spleen < 13 cm, no constitutional symptoms, no circulating clonal B cells, ANC ≥ 1.5, platelets
≥ 100, Hb ≥ 11 untransfused, normocellular marrow without CLL cells or nodules, ≥ 2 months after
therapy; PR: ≥ 1 group A and ≥ 1 group B criterion).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from assess.test_issue13_acceptance import Site, _load
from trephine.errors import ImportRejected
from trephine.importers.clinical import import_path
from trephine.store.database import Database

D = dt.date
PID = "P-CLL"
END = D(2024, 6, 30)
MARROW = D(2024, 9, 30)  # 3 months after the end of therapy


def _site(
    exam: dict[str, Any] | None,
    *,
    blood_flow: str | None = "not detected",
    marrow_lymphocytes: int = 50,  # of 500 cells: 10 %
) -> Site:
    site = Site()
    site.add("patients", PID, "female", 1960)  # 64 at the marrow: normocellular band 26–46 %
    site.add("diagnoses", PID, "CLL", D(2023, 6, 1))
    site.add(
        "therapies", PID, 1, "venetoclax + obinutuzumab", "curative", "less intensive",
        D(2023, 7, 1), END,
    )  # fmt: skip
    aspirate = site.specimen(PID, "aspirate", MARROW)
    site.result(
        aspirate,
        "differential",
        {
            "cells_counted": 500,
            "blasts": 2,
            "lymphocytes": marrow_lymphocytes,
            "neutrophils": 300 - marrow_lymphocytes,
            "erythroblasts": 198,
        },
    )
    core = site.specimen(PID, "trephine core", MARROW)
    site.result(core, "core", {"cellularity": ("40", "%"), "lymphoid_nodules": "no"})
    blood = site.specimen(PID, "peripheral blood", MARROW)
    site.result(
        blood,
        "blood_count",
        {
            "anc": ("1.5", "10^9/L"),
            "platelets": ("100", "10^9/L"),
            "hemoglobin": ("11.0", "g/dL"),
            "transfusion_dependence": "none",
        },
    )
    if blood_flow is not None:
        fields: dict[str, Any] = {"mrd": blood_flow, "method": "DfN", "events_acquired": 500000}
        site.result(blood, "flow_mrd", fields)
    if exam is not None:
        site.result(blood, "clinical_exam", exam)
    return site


NORMAL_EXAM = {
    "largest_node": ("1.4", "cm"),
    "liver_spleen_normal": "yes",
    "spleen_length": ("120", "mm"),
    "constitutional_symptoms": "no",
    "method": "physical examination and CT",
}


def _response(database: Database, tmp_path: Path, site: Site) -> tuple[str, list[str]]:
    stored, _alerts = _load(database, site, tmp_path, PID)
    (call,) = [s for s in stored if s.call_kind == "response"]
    assert call.assessment.assessed_on == MARROW
    assert call.assessment.ruleset == "iwCLL2018"
    return call.assessment.category, list(call.assessment.missing_inputs)


def test_a_normal_examination_with_cr_blood_and_marrow_is_cr(
    database: Database, tmp_path: Path
) -> None:
    # Every threshold at its CR boundary: node 1.4 cm (< 1.5), ANC 1.5, platelets 100, Hb 11.0.
    assert _response(database, tmp_path, _site(NORMAL_EXAM)) == ("CR", [])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"largest_node": ("1.5", "cm")}, "PR"),  # iwCLL 2018: no node ≥ 1.5 cm for CR
        ({"largest_node": ("14", "mm")}, "CR"),
        ({"spleen_length": ("13", "cm")}, "PR"),  # spleen not < 13 cm
        ({"spleen_length": ("12.9", "cm")}, "CR"),
        ({"constitutional_symptoms": "yes"}, "PR"),
    ],
)
def test_each_examination_element_at_its_boundary(
    database: Database, tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    category, _missing = _response(database, tmp_path, _site({**NORMAL_EXAM, **change}))
    assert category == expected


def test_without_an_examination_the_call_names_what_is_missing(
    database: Database, tmp_path: Path
) -> None:
    category, missing = _response(database, tmp_path, _site(None))
    assert category == "NOT_EVALUABLE"
    assert {"largest_node_cm", "liver_spleen_normal", "constitutional_symptoms"} <= set(missing)


def test_circulating_clonal_b_cells_come_from_blood_flow_and_are_named_when_absent(
    database: Database, tmp_path: Path
) -> None:
    category, missing = _response(database, tmp_path, _site(NORMAL_EXAM, blood_flow=None))
    assert category == "NOT_EVALUABLE" and "circulating_clonal_b" in missing


def test_detected_circulating_clonal_b_cells_leave_a_partial_response(
    database: Database, tmp_path: Path
) -> None:
    category, _missing = _response(database, tmp_path, _site(NORMAL_EXAM, blood_flow="0.5"))
    assert category == "PR"


def test_an_examination_without_any_finding_is_refused(database: Database, tmp_path: Path) -> None:
    site = _site({"method": "physical examination"})
    with pytest.raises(ImportRejected) as refused:
        import_path(database, site.write(tmp_path / "import"), "importer")
    text = str(refused.value)
    assert "results.csv, row" in text and "clinical_exam" in text
    assert "at least one of largest_node, liver_spleen_normal" in text
