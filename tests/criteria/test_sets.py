"""Scenario tests per criteria set for rows the worked cases do not reach."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from trephine.criteria.cases import evaluate_case

from .helpers import aml

D = Decimal


def ev(
    ruleset: str, input_: dict[str, Any], params: dict[str, Any] | None = None
) -> dict[str, Any]:
    case: dict[str, Any] = {"id": "s", "ruleset": ruleset, "input": input_}
    if params:
        case["params"] = params
    return evaluate_case(case)


def test_eln2022_circulating_blasts_or_emd_block_every_remission() -> None:
    assert ev("ELN2022", aml(circulating_blasts=True))["response"] == "NO_RESPONSE"
    assert ev("ELN2022", aml(extramedullary=True))["response"] == "NO_RESPONSE"
    # A3 alternative: PR with blood blasts is allowed when the parameter says so.
    pr = aml(bm_blasts_pct=10, baseline_bm_blasts_pct=40, circulating_blasts=True)
    assert ev("ELN2022", pr)["response"] == "NO_RESPONSE"
    assert ev("ELN2022", pr, {"pr_requires_no_pb_blasts": False})["response"] == "PR"


def test_eln2022_mrd_suffixes_only_for_cr_family() -> None:
    neg = {"method": "MFC", "pct": 0, "cd45_events": 900000}
    assert ev("ELN2022", aml(anc=D("0.7"), plt=60, mrd=neg))["response"] == "CRh_MRD-"
    assert ev("ELN2022", aml(anc=D("0.7"), plt=120, mrd=neg))["response"] == "CRh_MRD-"
    pr = aml(bm_blasts_pct=10, baseline_bm_blasts_pct=40, mrd=neg)
    assert ev("ELN2022", pr)["response"] == "PR"


def test_eln2022_refractory_after_two_intensive_courses_without_history() -> None:
    marrow = aml(bm_blasts_pct=30, baseline_bm_blasts_pct=45)
    for courses, status in ((1, "BEFORE_LANDMARK"), (2, "REFRACTORY")):
        out = ev(
            "ELN2022",
            {**marrow, "therapy": {"intensity": "intensive", "courses_completed": courses}},
        )
        assert out["landmark_status"] == status
    cr = ev("ELN2022", {**aml(), "therapy": {"intensity": "intensive", "courses": 2}})
    assert cr["landmark_status"] == "NOT_REFRACTORY"


def test_eln2021_combines_methods_and_excludes_germline() -> None:
    results = [
        {"method": "MFC", "pct": 0, "cd45_events": 900000},
        {"method": "qPCR", "target": "NPM1", "detected": True, "level_pct": 3},
    ]
    assert ev("ELN2022", aml(mrd=results))["mrd_status"] == "POSITIVE"
    germline = {
        "method": "NGS",
        "variants": [{"gene": "RUNX1", "vaf": 48, "germline": True}, {"gene": "TET2", "vaf": 12}],
    }
    assert ev("ELN2022", aml(mrd=germline))["mrd_status"] == "NEGATIVE_NGS_ONLY"
    somatic = {"method": "NGS", "variants": [{"gene": "IDH1", "vaf": D("0.1")}]}
    assert ev("ELN2022", aml(mrd=somatic))["mrd_status"] == "POSITIVE"


def test_eln2017_progression_needs_fifteen_points_below_30() -> None:
    assert ev("ELN2017", aml(bm_blasts_pct=36, baseline_bm_blasts_pct=20))["response"] == "PD"
    assert ev("ELN2017", aml(bm_blasts_pct=34, baseline_bm_blasts_pct=20))["response"] == "SD"


def test_iwg2003_resistant_disease() -> None:
    out = ev("IWG2003", aml(bm_blasts_pct=40, rbc_transfusion_independent=True))
    assert out["response"] == "RESISTANT_DISEASE"


MM = {"disease": "MM", "baseline": {"serum_m_g_dl": 3, "urine_m_mg_24h": 800}}


def test_imwg_flc_only_and_progression_and_mrd() -> None:
    flc = ev(
        "IMWG2016", {"measurable_by": "FLC_only", "baseline": {"dflc_mg_dl": 40}, "dflc_mg_dl": 20}
    )
    assert flc["response"] == "PR"
    pd = ev(
        "IMWG2016",
        {
            **MM,
            "serum_ife": "positive",
            "urine_ife": "positive",
            "serum_m_g_dl": D("1.5"),
            "urine_m_mg_24h": 100,
            "nadir": {"serum_m_g_dl": 1},
        },
    )
    assert pd["progression"] == "PD_UNCONFIRMED"
    not_pd = ev(
        "IMWG2016",
        {
            **MM,
            "serum_ife": "positive",
            "urine_ife": "positive",
            "serum_m_g_dl": D("1.49"),
            "urine_m_mg_24h": 100,
            "nadir": {"serum_m_g_dl": 1},
        },
    )
    assert not_pd["progression"] == "NOT_MET"
    big_nadir = ev(
        "IMWG2016",
        {
            "assessments": [{"serum_m_g_dl": D("5.9")}, {"serum_m_g_dl": D("6.3")}],
            "nadir": {"serum_m_g_dl": 5},
        },
    )
    assert [big_nadir["assessment_1"], big_nadir["assessment_2"]] == ["NOT_PD", "PD_UNCONFIRMED"]
    twice = ev(
        "IMWG2016",
        {"assessments": [{"dflc_mg_dl": 20}, {"dflc_mg_dl": 22}], "nadir": {"dflc_mg_dl": 5}},
    )
    assert twice["assessment_2"] == "PD_CONFIRMED"
    mrd = ev(
        "IMWG2016",
        {
            "response_base": "CR",
            "mrd": {"method": "NGF", "result": "negative", "sensitivity": D("0.00001")},
        },
    )
    assert mrd["mrd_category"] == "FLOW_MRD_NEGATIVE"
    img = ev(
        "IMWG2016",
        {
            "response_base": "CR",
            "pet": "negative",
            "mrd": {"method": "NGS", "result": "negative", "sensitivity": D("0.000001")},
        },
    )
    assert img["mrd_category"] == "IMAGING_PLUS_MRD_NEGATIVE"


def test_iwg2006_hi_p_high_branch_and_transfusion() -> None:
    assert ev("IWG2006", {"baseline_plt": 40, "plt": 70, "duration_weeks": 8})["HI_P"] is True
    assert ev("IWG2006", {"baseline_plt": 40, "plt": 69, "duration_weeks": 8})["HI_P"] is False
    transfused = ev(
        "IWG2006", {"baseline_hb": 8, "hb": 10, "transfused": True, "duration_weeks": 8}
    )
    assert transfused["HI_E"] is False
    units = ev(
        "IWG2006",
        {
            "baseline_hb": 8,
            "hb": 8,
            "pre_8wk_rbc_units": 6,
            "on_treatment_8wk_rbc_units": 2,
            "duration_weeks": 8,
        },
    )
    assert units["HI_E"] is True
    ineligible = ev("IWG2006", {"baseline_anc": D("1.2"), "anc": 3, "duration_weeks": 8})
    assert ineligible["HI_N"] is False
    assert "HI_N_NOT_ELIGIBLE" in ineligible["flags"]


@pytest.mark.parametrize(
    ("hb", "plt", "anc", "expected"),
    [
        (10, 100, 1, "CR"),
        (10, 100, D("0.9"), "CRbi"),
        (10, 40, D("0.4"), "CRuni"),
        (9, 60, D("0.6"), "CRh"),
        (9, 40, D("0.6"), "NO_RESPONSE"),
    ],
)
def test_iwg2023_precedence(hb: Any, plt: Any, anc: Any, expected: str) -> None:
    out = ev(
        "IWG2023",
        {
            "baseline_bm_blasts_pct": 12,
            "bm_blasts_pct": 2,
            "hb": hb,
            "plt": plt,
            "anc": anc,
            "pb_blasts_pct": 0,
        },
    )
    assert out["response"] == expected


def test_iwg2018_high_transfusion_burden() -> None:
    out = ev(
        "IWG2018",
        {
            "pre_16wk_rbc_units": 9,
            "pre_transfusion_episodes": 5,
            "max_units_in_any_8wk": 5,
            "on_treatment_observation_weeks": 16,
            "longest_transfusion_free_weeks": 4,
            "on_treatment_16wk_rbc_units": 4,
        },
    )
    assert out["tb_group"] == "HTB"
    assert out["HI_E"] is False
    assert out["HI_E_minor"] is True


CLL = {
    "largest_node_cm": 1,
    "liver_spleen_normal": True,
    "constitutional_symptoms": False,
    "anc": 2,
    "plt": 150,
    "hb": 13,
    "circulating_clonal_b": False,
    "marrow_cellularity": "normocellular",
    "marrow_lymphocytes_pct": 10,
    "marrow_b_nodules": False,
    "months_after_end_of_therapy": 3,
}


def test_iwcll_cri_pd_and_2018_infiltrate_flag() -> None:
    assert ev("iwCLL2008", {**CLL, "marrow_cellularity": "hypocellular"})["response"] == "CRi"
    assert ev("iwCLL2008", {**CLL, "node_change_pct": 60})["response"] == "PD"
    assert ev("iwCLL2018", {**CLL, "cll_infiltrate_present": True})["response"] == "PR"
    early = ev("iwCLL2008", {**CLL, "months_after_end_of_therapy": 1})
    assert early["response"] == "PR"


def test_all_mrd_failure() -> None:
    out = ev(
        "ALL-MRD",
        {
            "hematologic_cr": True,
            "mrd": {"method": "MFC", "pct": D("0.05"), "sensitivity_pct": D("0.01")},
        },
    )
    assert out["mrd_response"] == "MRD_FAILURE"


@pytest.mark.parametrize(
    ("ruleset", "input_", "key", "expected"),
    [
        (
            "ICC2022",
            {"bm_blasts_pct": 22, "pb_blasts_pct": 0, "genetics": ["TP53"], "tp53_vaf_pct": 12},
            "ICC2022",
            "AML with mutated TP53",
        ),
        (
            "ICC2022",
            {"bm_blasts_pct": 12, "pb_blasts_pct": 0, "genetics": ["TP53"], "tp53_vaf_pct": 12},
            "ICC2022",
            "MDS/AML with mutated TP53",
        ),
        (
            "WHO5",
            {
                "bm_blasts_pct": 2,
                "pb_blasts_pct": 0,
                "genetics": ["del(5q)"],
                "karyotype": "46,XX,del(5q)",
            },
            "WHO5",
            "MDS-5q",
        ),
        (
            "WHO5",
            {"bm_blasts_pct": 12, "pb_blasts_pct": 0, "genetics": ["TP53_multihit"]},
            "WHO5",
            "MDS-biTP53",
        ),
        (
            "WHO5",
            {"bm_blasts_pct": 3, "pb_blasts_pct": 1, "genetics": [], "auer_rods": True},
            "WHO5",
            "MDS-IB2",
        ),
        (
            "WHO5",
            {
                "bm_blasts_pct": 2,
                "pb_blasts_pct": 0,
                "genetics": [],
                "karyotype": "normal",
                "ring_sideroblasts_pct": 0,
                "biopsy_cellularity_pct": 20,
            },
            "WHO5",
            "MDS-h",
        ),
        (
            "WHO2016",
            {"bm_blasts_pct": 2, "pb_blasts_pct": 0, "genetics": [], "ring_sideroblasts_pct": 14},
            "WHO2016",
            "MDS, other WHO 2016 subtype",
        ),
        ("Thiele2005", {"reticulin_pattern": "diffuse dense", "collagen": True}, "grade", "MF-3"),
        ("Gale1963", {"perls_gale_grade": 3}, "iron_stores", "NORMAL"),
        (
            "ICSH2008",
            {"cells_counted": 500, "spicules_present": True, "trephine_length_cm": 2},
            "icsh_quality",
            "ADEQUATE",
        ),
        ("Chimerism", {"donor_pct": 0}, "status", "NO_DONOR_CELLS"),
        ("Chimerism", {"recipient_pct": 3}, "status", "FULL_DONOR"),
        ("IMWG2014", {"clonal_bmpc_pct": 20, "hb": 13}, "diagnosis", "SMOLDERING_MYELOMA"),
        ("Reference", {"myeloid_cells": 300, "erythroid_cells": 100}, "interpretation", "NORMAL"),
    ],
)
def test_diagnostic_rows(ruleset: str, input_: dict[str, Any], key: str, expected: str) -> None:
    assert ev(ruleset, input_)[key] == expected


def test_chimerism_trend_below_reproducibility_is_not_a_rise() -> None:
    out = ev("Chimerism", {"assay": "STR", "series_recipient_pct": [2, 6, 10]})
    assert out["status"] == "NO_SIGNIFICANT_INCREASE"
    assert "ALERT_RELAPSE_OR_GRAFT_LOSS" not in out["flags"]


@pytest.mark.parametrize(
    ("cts", "status"),
    [
        ([D("38.5"), D("39.9"), None], "LOW_LEVEL"),  # 2 of 3 replicates with Ct < 40
        ([D("38.5"), 40, None], "NEGATIVE"),  # Ct exactly 40 is not < 40
    ],
)
def test_qpcr_replicate_rule(cts: list[Any], status: str) -> None:
    out = ev(
        "ELN2021",
        {
            "spicules_present": True,
            "mrd": {"method": "qPCR", "target": "NPM1", "ct_values": cts, "level_pct": D("0.01")},
        },
    )
    assert out["mrd_status"] == status


def test_single_new_mrd_result_after_cr_mrd_negative_is_a_conversion() -> None:
    history = {"best_response": "CR_MRD-"}
    pos = {"method": "MFC", "pct": D("0.2"), "cd45_events": 700000}
    out = ev("ELN2022+ELN2021", {**aml(), "history": history, "mrd": pos})
    assert out["mrd_event"] == "MRD_RELAPSE_UNCONFIRMED"
    neg = {"method": "MFC", "pct": 0, "cd45_events": 700000}
    assert ev("ELN2022+ELN2021", {**aml(), "history": history, "mrd": neg})["mrd_event"] == "NONE"


def test_emd_after_remission_is_relapse() -> None:
    out = ev("ELN2022", {**aml(extramedullary=True), "history": {"best_response": "CRi"}})
    assert out["relapse"] == "HEMATOLOGIC_RELAPSE"


@pytest.mark.parametrize(
    ("base", "now", "expected"),
    [
        (8, 12, "PD"),
        (8, 11, "SD"),
        (4, D("6"), "PD"),
        (16, 23, "SD"),
        (16, 24, "PD"),
    ],
)
def test_iwg2006_blast_progression(base: int, now: Any, expected: str) -> None:
    out = ev(
        "IWG2006",
        {
            "baseline_bm_blasts_pct": base,
            "bm_blasts_pct": now,
            "hb": 9,
            "plt": 50,
            "anc": D("0.8"),
            "pb_blasts_pct": 0,
        },
    )
    assert out["response"] == expected


def test_dflc_from_involved_and_uninvolved_with_unit_conversion() -> None:
    out = ev(
        "IMWG2016",
        {
            "measurable_by": "FLC_only",
            "baseline": {"involved_flc_mg_dl": 50, "uninvolved_flc_mg_dl": 2},
            "involved_flc_mg_dl": {"value": 200, "unit": "mg/L"},
            "uninvolved_flc_mg_dl": 1,
        },
    )
    assert out["response"] == "PR"  # dFLC 48 → 19 mg/dL is a 60 % fall


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("NPM1 type A", "LOW_LEVEL"),
        ("RUNX1-RUNX1T1", "LOW_LEVEL"),
        ("CBFB::MYH11", "LOW_LEVEL"),
        ("PML::RARA", "POSITIVE"),  # MRD-LL is defined for NPM1 and CBF AML only (M10)
    ],
)
def test_low_level_mrd_targets(target: str, status: str) -> None:
    out = ev(
        "ELN2021",
        {
            "spicules_present": True,
            "mrd": {"method": "qPCR", "target": target, "detected": True, "level_pct": D("0.5")},
        },
    )
    assert out["mrd_status"] == status


@pytest.mark.parametrize(
    ("cd19", "expected"),
    [
        ({"cd19_pct_pb": 1, "cd19_abs_per_ul": 100}, "B_CELL_APLASIA"),
        ({"cd19_pct_pb": 1}, "NOT_EVALUABLE"),  # the absolute count could still exceed 100/µL
        ({"cd19_pct_pb": D("1.1")}, "LOSS_OF_B_CELL_APLASIA_UNCONFIRMED"),
        ({"cd19_abs_per_ul": 101}, "LOSS_OF_B_CELL_APLASIA_UNCONFIRMED"),
    ],
)
def test_b_cell_aplasia_after_car_t(cd19: dict[str, Any], expected: str) -> None:
    assert ev("ALL-MRD", cd19)["b_cell_aplasia"] == expected


def test_cml_blast_phase_who5_vs_eln() -> None:
    out = evaluate_case(
        {
            "id": "c",
            "ruleset": "CML-WHO5 vs CML-ELN",
            "input": {"bm_blasts_pct": 25, "pb_blasts_pct": 4},
        }
    )
    assert (out["CML-WHO5"], out["CML-ELN"]) == ("BLAST_PHASE", "NOT_BLAST_PHASE")


def test_relapse_from_blood_alone_and_not_met_needs_the_marrow() -> None:
    history = {"best_response": "CR"}
    samples = [
        {"date": "2025-03-01", "blasts_present": True},
        {"date": "2025-03-09", "blasts_present": True},
    ]
    blood = ev("ELN2022", {"disease": "AML", "history": history, "pb_blast_samples": samples})
    assert blood["relapse"] == "HEMATOLOGIC_RELAPSE"
    one = ev("ELN2022", {"disease": "AML", "history": history, "pb_blast_samples": samples[:1]})
    assert one["relapse"] == "NOT_EVALUABLE"
    assert "bm_blasts_pct" in one["explanation"]["relapse"]["missing"]
