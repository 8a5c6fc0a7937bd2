"""Every threshold tested at the boundary and just across it.

The first test is generated from the rule tables themselves (so a new rule is covered the day it
is written); the second is a hand-written table of the clinically important boundaries, run end
to end through the case evaluator, where the expected side of each boundary comes from
``clinical-criteria.md`` rather than from the code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from trephine.criteria.cases import evaluate_case
from trephine.criteria.model import (
    AllOf,
    AnyOf,
    AtLeast,
    Comparator,
    Condition,
    Exactly,
    FirstAvailable,
    Not,
    ParamRef,
    Threshold,
)
from trephine.criteria.registry import rulesets

from .helpers import aml


def _thresholds(cond: Condition) -> list[Threshold]:
    if isinstance(cond, Threshold):
        return [cond]
    if isinstance(cond, AllOf | AnyOf | AtLeast | Exactly | FirstAvailable):
        return [t for part in cond.parts for t in _thresholds(part)]
    if isinstance(cond, Not):
        return _thresholds(cond.part)
    return []


def _numeric_thresholds() -> list[tuple[str, Threshold, dict[str, Any]]]:
    """Every numeric threshold with the parameters it needs (defaults for ``ParamRef``s)."""
    found: dict[tuple[str, str, Comparator, str], tuple[str, Threshold, dict[str, Any]]] = {}
    for key, rs in rulesets().items():
        defaults = rs.default_params()
        for rule in rs.rules:
            for t in _thresholds(rule.when):
                value = t.value
                if isinstance(value, ParamRef):
                    default = defaults[value.name]
                    if isinstance(default, bool) or not isinstance(default, int | Decimal):
                        continue
                elif not isinstance(value, Decimal):
                    continue
                found[(key, t.input, t.comparator, str(value))] = (
                    f"{rule.id}:{t.describe()}",
                    t,
                    defaults,
                )
    return list(found.values())


EXPECT = {  # outcome (below, at, above) for each comparator
    Comparator.LT: (True, False, False),
    Comparator.LE: (True, True, False),
    Comparator.GE: (False, True, True),
    Comparator.GT: (False, False, True),
    Comparator.EQ: (False, True, False),
    Comparator.NE: (True, False, True),
}


@pytest.mark.parametrize(
    ("label", "threshold", "params"),
    _numeric_thresholds(),
    ids=[label for label, _, _ in _numeric_thresholds()],
)
def test_every_numeric_threshold_at_and_across(
    label: str, threshold: Threshold, params: dict[str, Any]
) -> None:
    value = threshold.value
    if isinstance(value, ParamRef):
        value = Decimal(params[value.name])
    assert isinstance(value, Decimal)
    # "Just across" = one unit in the 6th decimal place: far below any reported precision, so
    # a comparison that rounded or went through binary floats would get it wrong.
    eps = Decimal("0.000001")
    got = tuple(
        threshold.check({threshold.input: v}, params, None, set())
        for v in (value - eps, value, value + eps)
    )
    assert got == EXPECT[threshold.comparator], label


def test_generated_boundaries_cover_every_rule_set() -> None:
    covered = {label.split(":")[0].split("-")[0] for label, _, _ in _numeric_thresholds()}
    assert len(_numeric_thresholds()) > 100
    assert {
        "ELN22",
        "ELN21",
        "IMWG16",
        "IWG06",
        "IWG23",
        "iwCLL2008",
        "CLL",
        "ALL",
        "AA",
        "SAFE",
        "CH",
        "ICSH",
    } <= covered


def _case(
    ruleset: str, input_: dict[str, Any], params: dict[str, Any] | None = None
) -> dict[str, Any]:
    case: dict[str, Any] = {"id": "b", "ruleset": ruleset, "input": input_}
    if params:
        case["params"] = params
    return evaluate_case(case)


D = Decimal
MM_BASE = {
    "disease": "MM",
    "baseline": {"serum_m_g_dl": 3, "urine_m_mg_24h": 800},
    "serum_ife": "positive",
    "urine_ife": "positive",
}

# (ruleset, input, output key, expected) — at and just across each clinically important edge.
IMPORTANT: list[tuple[str, str, dict[str, Any], str, Any]] = [
    ("ELN22 CR blasts <5: 4.99", "ELN2022", aml(bm_blasts_pct=D("4.99")), "response", "CR"),
    (
        "ELN22 CR blasts <5: 5",
        "ELN2022",
        aml(bm_blasts_pct=5, baseline_bm_blasts_pct=6),
        "response",
        "NO_RESPONSE",
    ),
    ("ELN22 CR ANC ≥1.0: 1.0", "ELN2022", aml(anc=D("1.0")), "response", "CR"),
    ("ELN22 CR ANC ≥1.0: 0.99", "ELN2022", aml(anc=D("0.99")), "response", "CRh"),
    ("ELN22 CR plt ≥100: 100", "ELN2022", aml(plt=100), "response", "CR"),
    ("ELN22 CR plt ≥100: 99.9", "ELN2022", aml(plt=D("99.9")), "response", "CRh"),
    ("ELN22 CRh ANC ≥0.5: 0.5", "ELN2022", aml(anc=D("0.5"), plt=50), "response", "CRh"),
    ("ELN22 CRh ANC ≥0.5: 0.49 → MLFS", "ELN2022", aml(anc=D("0.49"), plt=50), "response", "MLFS"),
    ("ELN22 CRh plt ≥50: 49 → CRi", "ELN2022", aml(anc=D("1.0"), plt=49), "response", "CRi"),
    (
        "ELN22 adequacy 200 cells",
        "ELN2022",
        aml(cells_counted=200, biopsy_cellularity_pct=5),
        "response",
        "CR",
    ),
    (
        "ELN22 adequacy 199 cells",
        "ELN2022",
        aml(cells_counted=199, biopsy_cellularity_pct=D("9.9")),
        "response",
        "NON_EVALUABLE",
    ),
    (
        "ELN22 PR upper 25",
        "ELN2022",
        aml(bm_blasts_pct=25, baseline_bm_blasts_pct=50),
        "response",
        "PR",
    ),
    (
        "ELN22 PR upper 25.01",
        "ELN2022",
        aml(bm_blasts_pct=D("25.01"), baseline_bm_blasts_pct=60),
        "response",
        "NO_RESPONSE",
    ),
    (
        "ELN22 PR reduction exactly 50 %",
        "ELN2022",
        aml(bm_blasts_pct=10, baseline_bm_blasts_pct=20),
        "response",
        "PR",
    ),
    (
        "ELN22 PR reduction 49.99 %",
        "ELN2022",
        aml(bm_blasts_pct=D("10.002"), baseline_bm_blasts_pct=20),
        "response",
        "NO_RESPONSE",
    ),
    (
        "ELN21 MFC 0.1 positive",
        "ELN2022+ELN2021",
        aml(mrd={"method": "MFC", "pct": D("0.1"), "cd45_events": 600000}),
        "mrd_status",
        "POSITIVE",
    ),
    (
        "ELN21 MFC 0.0999 negative",
        "ELN2022+ELN2021",
        aml(mrd={"method": "MFC", "pct": D("0.0999"), "cd45_events": 600000}),
        "response",
        "CR_MRD-",
    ),
    (
        "ELN21 MFC 500,000 events insufficient",
        "ELN2022+ELN2021",
        aml(mrd={"method": "MFC", "pct": 0, "cd45_events": 500000}),
        "mrd_status",
        "INSUFFICIENT_SENSITIVITY",
    ),
    (
        "ELN21 MFC 500,001 events negative",
        "ELN2022+ELN2021",
        aml(mrd={"method": "MFC", "pct": 0, "cd45_events": 500001}),
        "mrd_status",
        "NEGATIVE",
    ),
    (
        "ELN21 qPCR 2 % positive",
        "ELN2022+ELN2021",
        aml(mrd={"method": "qPCR", "target": "NPM1", "detected": True, "level_pct": 2}),
        "mrd_status",
        "POSITIVE",
    ),
    (
        "ELN21 qPCR 1.99 % low level",
        "ELN2022+ELN2021",
        aml(mrd={"method": "qPCR", "target": "NPM1", "detected": True, "level_pct": D("1.99")}),
        "mrd_status",
        "LOW_LEVEL",
    ),
    (
        "IWG03 ANC exactly 1.0 not CR",
        "IWG2003",
        aml(anc=D("1.0"), rbc_transfusion_independent=True),
        "response",
        "CRi",
    ),
    (
        "IWG03 ANC 1.01 CR",
        "IWG2003",
        aml(anc=D("1.01"), plt=101, rbc_transfusion_independent=True),
        "response",
        "CR",
    ),
    (
        "IMWG VGPR urine 99",
        "IMWG2016",
        {**MM_BASE, "serum_m_g_dl": D("0.3"), "urine_m_mg_24h": 99},
        "response",
        "VGPR",
    ),
    (
        "IMWG VGPR urine 100 → PR",
        "IMWG2016",
        {**MM_BASE, "serum_m_g_dl": D("0.3"), "urine_m_mg_24h": 100},
        "response",
        "PR",
    ),
    (
        "IMWG PR serum −50 % exactly",
        "IMWG2016",
        {**MM_BASE, "serum_m_g_dl": D("1.5"), "urine_m_mg_24h": 150},
        "response",
        "PR",
    ),
    (
        "IMWG MR serum −49.x %",
        "IMWG2016",
        {**MM_BASE, "serum_m_g_dl": D("1.51"), "urine_m_mg_24h": 300},
        "response",
        "MR",
    ),
    (
        "IMWG MR serum −25 % exactly",
        "IMWG2016",
        {**MM_BASE, "serum_m_g_dl": D("2.25"), "urine_m_mg_24h": 400},
        "response",
        "MR",
    ),
    (
        "IMWG SD serum −24.9 %",
        "IMWG2016",
        {**MM_BASE, "serum_m_g_dl": D("2.26"), "urine_m_mg_24h": 400},
        "response",
        "SD",
    ),
    (
        "IWG06 CR blasts ≤5: 5",
        "IWG2006",
        {
            "baseline_bm_blasts_pct": 12,
            "bm_blasts_pct": 5,
            "hb": 11,
            "plt": 100,
            "anc": 1,
            "pb_blasts_pct": 0,
        },
        "response",
        "CR",
    ),
    (
        "IWG23 CR blasts <5: 5 → PR",
        "IWG2023",
        {
            "baseline_bm_blasts_pct": 12,
            "bm_blasts_pct": 5,
            "hb": 10,
            "plt": 100,
            "anc": 1,
            "pb_blasts_pct": 0,
        },
        "response",
        "PR",
    ),
    (
        "IWG06 HI-N absolute rise exactly 0.5 is not HI-N",
        "IWG2006",
        {"baseline_anc": D("0.4"), "anc": D("0.9"), "duration_weeks": 8},
        "HI_N",
        False,
    ),
    (
        "IWG06 HI-N absolute rise 0.51",
        "IWG2006",
        {"baseline_anc": D("0.4"), "anc": D("0.91"), "duration_weeks": 8},
        "HI_N",
        True,
    ),
    (
        "IWG06 HI-E rise 1.5",
        "IWG2006",
        {"baseline_hb": D("8.5"), "hb": 10, "duration_weeks": 8},
        "HI_E",
        True,
    ),
    (
        "IWG06 HI-E rise 1.49",
        "IWG2006",
        {"baseline_hb": D("8.5"), "hb": D("9.99"), "duration_weeks": 8},
        "HI_E",
        False,
    ),
    (
        "IWG06 HI-E duration 7.9 weeks",
        "IWG2006",
        {"baseline_hb": D("8.5"), "hb": 10, "duration_weeks": D("7.9")},
        "HI_E",
        False,
    ),
    (
        "CLL uMRD 10^-4 exactly positive",
        "iwCLL2018",
        {"leukocytes_analysed": 200000, "cll_events": 20},
        "mrd_status",
        "MRD_POSITIVE",
    ),
    (
        "CLL uMRD 19/200000",
        "iwCLL2018",
        {"leukocytes_analysed": 200000, "cll_events": 19},
        "mrd_status",
        "UNDETECTABLE_MRD4",
    ),
    (
        "CLL 199,999 leukocytes insufficient",
        "iwCLL2018",
        {"leukocytes_analysed": 199999, "cll_events": 0},
        "mrd_status",
        "INSUFFICIENT_SAMPLE",
    ),
    (
        "ALL MRD 0.01 % failure",
        "ALL-MRD",
        {
            "hematologic_cr": True,
            "mrd": {"method": "MFC", "pct": D("0.01"), "sensitivity_pct": D("0.01")},
        },
        "mrd_response",
        "MRD_FAILURE",
    ),
    (
        "ALL MRD 0.0099 % intermediate",
        "ALL-MRD",
        {
            "hematologic_cr": True,
            "mrd": {"method": "MFC", "pct": D("0.0099"), "sensitivity_pct": D("0.01")},
        },
        "mrd_response",
        "MRD_INTERMEDIATE",
    ),
    ("Chimerism 95 full donor", "Chimerism", {"donor_pct": 95}, "status", "FULL_DONOR"),
    ("Chimerism 94.99 mixed", "Chimerism", {"donor_pct": D("94.99")}, "status", "MIXED"),
    ("SIR platelets 20 proceed", "SIR2019", {"plt": 20}, "decision", "PROCEED"),
    ("SIR platelets 19.9 review", "SIR2019", {"plt": D("19.9")}, "decision", "REVIEW_REQUIRED"),
    ("SIR INR 2.0 proceed", "SIR2019", {"inr": D("2.0")}, "decision", "PROCEED"),
    ("SIR INR 3.0 caution", "SIR2019", {"inr": D("3.0")}, "decision", "PROCEED_WITH_CAUTION"),
    ("SIR INR 3.01 review", "SIR2019", {"inr": D("3.01")}, "decision", "REVIEW_REQUIRED"),
    (
        "AA cellularity 25 with 30 % residual → non-severe",
        "AA-Camitta/BSH",
        {
            "biopsy_cellularity_pct": 25,
            "residual_hematopoietic_cells_pct": 30,
            "anc": D("0.4"),
            "plt": 15,
            "retic_abs": 10,
            "retic_method": "manual",
        },
        "severity",
        "NON_SEVERE",
    ),
    (
        "AA VSAA ANC 0.19",
        "AA-Camitta/BSH",
        {
            "biopsy_cellularity_pct": 10,
            "anc": D("0.19"),
            "plt": 15,
            "retic_abs": 10,
            "retic_method": "manual",
        },
        "severity",
        "VSAA",
    ),
    (
        "AA ANC 0.2 → SAA not VSAA",
        "AA-Camitta/BSH",
        {
            "biopsy_cellularity_pct": 10,
            "anc": D("0.2"),
            "plt": 15,
            "retic_abs": 10,
            "retic_method": "manual",
        },
        "severity",
        "SAA",
    ),
    (
        "WHO5 IB1 upper 9.9",
        "WHO5",
        {"bm_blasts_pct": D("9.9"), "pb_blasts_pct": 0, "genetics": []},
        "WHO5",
        "MDS-IB1",
    ),
    (
        "WHO5 IB2 at 10",
        "WHO5",
        {"bm_blasts_pct": 10, "pb_blasts_pct": 0, "genetics": []},
        "WHO5",
        "MDS-IB2",
    ),
    (
        "WHO5 AML at 20",
        "WHO5",
        {"bm_blasts_pct": 20, "pb_blasts_pct": 0, "genetics": []},
        "WHO5",
        "AML, defined by differentiation or myelodysplasia-related",
    ),
    (
        "ICC MDS/AML at 10",
        "ICC2022",
        {"bm_blasts_pct": 10, "pb_blasts_pct": 0, "genetics": []},
        "ICC2022",
        "MDS/AML",
    ),
    (
        "ICC NPM1 at 9.99 not AML",
        "ICC2022",
        {"bm_blasts_pct": D("9.99"), "pb_blasts_pct": 0, "genetics": ["NPM1"]},
        "ICC2022",
        "NOT_AML",
    ),
    (
        "ICC NPM1 at 10 via PB",
        "ICC2022",
        {"bm_blasts_pct": 5, "pb_blasts_pct": 10, "genetics": ["NPM1"]},
        "ICC2022",
        "AML with mutated NPM1",
    ),
    (
        "Cellularity band edge 40 at age 70",
        "Cellularity",
        {"age_years": 70, "biopsy_cellularity_pct": 40},
        "100_minus_age",
        "NORMOCELLULAR",
    ),
    (
        "Cellularity 40.1 at age 70",
        "Cellularity",
        {"age_years": 70, "biopsy_cellularity_pct": D("40.1")},
        "100_minus_age",
        "HYPERCELLULAR",
    ),
    (
        "Wong age 60 belongs to 40–60",
        "Cellularity",
        {"age_years": 60, "biopsy_cellularity_pct": 34},
        "wong2024_groups",
        "HYPOCELLULAR",
    ),
]


@pytest.mark.parametrize(
    ("label", "ruleset", "input_", "key", "expected"), IMPORTANT, ids=[row[0] for row in IMPORTANT]
)
def test_important_boundary(
    label: str, ruleset: str, input_: dict[str, Any], key: str, expected: Any
) -> None:
    assert _case(ruleset, input_)[key] == expected
