"""Adult ALL MRD response (ASH Education 2021 Table 1; Short 2019; Pulsipher 2022)."""

from __future__ import annotations

from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    D,
    FirstAvailable,
    FlagRule,
    InputKind,
    InputSpec,
    Parameter,
    ParamRef,
    Rule,
    RuleSet,
    Tag,
    ge,
    gt,
    is_,
    le,
)

ASH = "ASH Education 2021 (hematology.2021000224), Table 1"

RESPONSE = RuleSet(
    key="ALL-MRD",
    docs_page="all-mrd",
    title="ALL MRD response",
    edition="ALL-MRD-2021",
    citation=Citation(ASH, "MRD response definitions"),
    categories=("MRD_CR", "MRD_INTERMEDIATE", "MRD_FAILURE", "NOT_APPLICABLE", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("hematologic_cr", InputKind.BOOL),
        InputSpec("bm_blasts_pct", InputKind.NUMBER, "%", maximum=D(100)),
        InputSpec("mrd_method", InputKind.TEXT, allowed=("MFC", "PCR", "qPCR", "NGS")),
        InputSpec("mrd_detected", InputKind.BOOL),
        InputSpec("mrd_level_pct", InputKind.NUMBER, "%", maximum=D(100)),
        InputSpec(
            "mrd_quantifiable",
            InputKind.BOOL,
            description="false = positive, not quantifiable (below the quantitative range)",
        ),
        InputSpec("sensitivity_pct", InputKind.NUMBER, "%", maximum=D(100)),
        InputSpec(
            "timepoint",
            InputKind.TEXT,
            allowed=(
                "end_of_induction",
                "end_of_consolidation",
                "car_t_day_28",
                "car_t_month_3",
                "other",
            ),
        ),
    ),
    params=(
        Parameter(
            "mrd_threshold_pct",
            D("0.01"),
            None,
            "MRD failure at ≥0.01 % (10^-4); MRD-CR needs that sensitivity.",
            Tag.VERIFIED,
        ),
    ),
    rules=(
        Rule(
            "ALL-NA",
            "NOT_APPLICABLE",
            FirstAvailable(is_("hematologic_cr", False), ge("bm_blasts_pct", 5)),
            Citation(ASH, "MRD interpreted only in haematologic CR (BM blasts <5 %)"),
        ),
        Rule(
            "ALL-FAIL",
            "MRD_FAILURE",
            AllOf(
                is_("mrd_detected", True),
                # "Positive, not quantifiable" is by definition below the 0.01 % range [V].
                is_("mrd_quantifiable", True, when_missing=True),
                ge("mrd_level_pct", ParamRef("mrd_threshold_pct")),
            ),
            Citation(ASH, "MRD failure ≥0.01 %"),
        ),
        Rule(
            "ALL-INT-POS",
            "MRD_INTERMEDIATE",
            is_("mrd_detected", True),
            Citation(ASH, "positive <0.01 % or not quantifiable"),
        ),
        Rule(
            "ALL-INT-SENS",
            "MRD_INTERMEDIATE",
            gt("sensitivity_pct", ParamRef("mrd_threshold_pct")),
            Citation(ASH, "negative with insufficient sensitivity"),
        ),
        Rule(
            "ALL-CR",
            "MRD_CR",
            le("sensitivity_pct", ParamRef("mrd_threshold_pct")),
            Citation(ASH, "MRD-negative at ≥10^-4 sensitivity"),
        ),
    ),
    flags=(
        FlagRule(
            "HIGH_RELAPSE_RISK_NGS_GT_0",
            AllOf(
                is_("mrd_method", "NGS"),
                is_("mrd_detected", True),
                AnyOf(is_("timepoint", "car_t_day_28"), is_("timepoint", "car_t_month_3")),
            ),
            Citation("Pulsipher 2022 (Blood Cancer Discov)", "any NGS-MRD after CAR-T"),
        ),
    ),
)

CART = "CAR-T B-cell aplasia (S36, one centre's definition)"
B_CELL_APLASIA = RuleSet(
    key="CAR-T-BCA",
    title="Loss of B-cell aplasia after CD19 CAR-T",
    edition="S36",
    citation=Citation(CART, "> 1 % CD19+ or > 100 CD19+ cells/µL in blood, confirmed later"),
    categories=("B_CELL_APLASIA", "LOSS_OF_B_CELL_APLASIA_UNCONFIRMED", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("cd19_pct_pb", InputKind.NUMBER, "% of lymphocytes", maximum=D(100)),
        InputSpec("cd19_abs_per_ul", InputKind.NUMBER, "cells/µL"),
    ),
    rules=(
        Rule(
            "BCA-LOSS",
            "LOSS_OF_B_CELL_APLASIA_UNCONFIRMED",
            AnyOf(gt("cd19_pct_pb", 1), gt("cd19_abs_per_ul", 100)),
            Citation(CART, "loss: > 1 % or > 100/µL CD19+ (confirm on a later sample)"),
        ),
        Rule("BCA-KEEP", "B_CELL_APLASIA", AllOf(), Citation(CART, "B-cell aplasia maintained")),
    ),
)
