"""Haematopoietic cell transplant: engraftment days, graft failure and poor graft function.

Sources read in this pass (see ``docs/criteria/verification.md``):

* ASTCT consensus (Kharfan-Dabaja et al. 2021) as tabulated in Bone Marrow Transplant
  2024;59:832, Table 1 [V]: neutrophil recovery = first of 3 successive days with ANC ≥ 500/µL
  after the nadir; platelet recovery = first of 3 consecutive days with platelets ≥ 20,000/µL
  without a platelet transfusion for 7 consecutive days; primary graft failure = no ANC
  ≥ 500/µL by day +30 (peripheral blood or marrow graft) or day +42 (cord blood); secondary
  graft failure = a decline of haematopoietic function after recovery.
* CIBMTR Forms Instruction Manual, platelet recovery [V]: the same 20 ×10⁹/L, 3 days on
  different days, 7 transfusion-free days.
* Spec §9 C4 [V]: no detectable donor cells in marrow and blood at day +56 (one protocol).
* Poor graft function [R]: two or three cytopenias (Hb < 7 g/dL, ANC < 0.5, platelets < 20)
  on 3 consecutive days from day +28 with full donor chimerism (review, secondary source).

The day counting lives in :mod:`trephine.criteria.engraftment`; this module holds the rule
tables and thresholds it reads.
"""

from __future__ import annotations

from trephine.criteria.model import (
    ANC_MAX,
    PLT_MAX,
    AllOf,
    AtLeast,
    Citation,
    D,
    InputKind,
    InputSpec,
    Not,
    Parameter,
    ParamRef,
    Rule,
    RuleSet,
    Tag,
    ge,
    gt,
    is_,
    lt,
)

ASTCT = "ASTCT consensus (Kharfan-Dabaja 2021) via Bone Marrow Transplant 2024;59:832, Table 1"
CIBMTR_PLT = "CIBMTR Forms Instruction Manual, initial platelet recovery (S7)"
C4 = "Spec §9 C4 (S33)"
PGF = "Poor graft function review (EBMT usage), secondary source"

#: Thresholds of the daily-count rules (read by trephine.criteria.engraftment).
NEUTROPHIL_ANC = D("0.5")  # ×10⁹/L, ≥ [V] ASTCT
PLATELET_COUNT = D(20)  # ×10⁹/L, ≥ [V] ASTCT, CIBMTR
CONSECUTIVE_DAYS = 3  # [V] ASTCT, CIBMTR
PLATELET_TRANSFUSION_FREE_DAYS = 7  # [V] ASTCT, CIBMTR

#: One day's counts: is it a recovery day? (documents the thresholds; the series runs them)
RECOVERY_DAY = RuleSet(
    key="HCT-RECOVERY-DAY",
    docs_page="transplant",
    title="Transplant: a day counting towards neutrophil / platelet recovery",
    edition="ASTCT2021",
    citation=Citation(ASTCT, "neutrophil and platelet recovery"),
    categories=("RECOVERY_DAY", "NOT_RECOVERED", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("count_kind", InputKind.TEXT, allowed=("anc", "plt")),
        InputSpec("anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
        InputSpec("plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
        InputSpec(
            "days_since_platelet_transfusion",
            InputKind.NUMBER,
            "days",
            description="days since the last platelet transfusion (≥ 7 = none in the 7 days)",
        ),
    ),
    rules=(
        Rule(
            "HCT-ANC-DAY",
            "RECOVERY_DAY",
            AllOf(is_("count_kind", "anc"), ge("anc", "0.5")),
            Citation(ASTCT, "neutrophil recovery: ANC ≥ 0.5 ×10⁹/L (first of 3 days)"),
        ),
        Rule(
            "HCT-PLT-DAY",
            "RECOVERY_DAY",
            AllOf(
                is_("count_kind", "plt"),
                ge("plt", 20),
                ge("days_since_platelet_transfusion", 7),
            ),
            Citation(
                ASTCT,
                "platelet recovery: ≥ 20 ×10⁹/L, no platelet transfusion for 7 days "
                "(first of 3 days; CIBMTR the same)",
            ),
        ),
        Rule("HCT-NOT-DAY", "NOT_RECOVERED", AllOf(), Citation(ASTCT, "not a recovery day")),
    ),
)

#: Graft function at one assessment after the transplant.
GRAFT = RuleSet(
    key="HCT-GRAFT",
    docs_page="transplant",
    title="Transplant: graft failure and poor graft function",
    edition="ASTCT2021",
    citation=Citation(ASTCT, "graft failure definitions"),
    categories=(
        "ENGRAFTED",
        "AWAITING_ENGRAFTMENT",
        "POOR_GRAFT_FUNCTION",
        "SECONDARY_GRAFT_FAILURE",
        "PRIMARY_GRAFT_FAILURE",
        "NOT_EVALUABLE",
    ),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("days_since_transplant", InputKind.NUMBER, "days"),
        InputSpec("graft_source", InputKind.TEXT, allowed=("PBSC", "BM", "UCB")),
        InputSpec("neutrophil_engrafted", InputKind.BOOL, description="3-day ANC rule met"),
        InputSpec(
            "anc_lost_after_engraftment",
            InputKind.BOOL,
            description="ANC < 0.5 on 3 consecutive days after neutrophil recovery",
        ),
        InputSpec("donor_cells_detected", InputKind.BOOL),
        InputSpec("donor_pct", InputKind.NUMBER, "%", maximum=D(100)),
        InputSpec("hb", InputKind.NUMBER, "g/dL", maximum=D(25)),
        InputSpec("anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
        InputSpec("plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
        InputSpec(
            "cytopenic_days",
            InputKind.NUMBER,
            "days",
            description="consecutive days (after day +28) with ≥ 2 of the PGF cytopenias",
        ),
    ),
    params=(
        Parameter(
            "primary_gf_day",
            D(30),
            None,
            "Day by which ANC ≥ 0.5 must be reached (ASTCT: +30 for PBSC/BM grafts; +42 for "
            "cord blood, used when graft_source is UCB).",
            Tag.VERIFIED,
        ),
        Parameter(
            "primary_gf_day_ucb",
            D(42),
            None,
            "Day by which ANC ≥ 0.5 must be reached after a cord-blood graft (ASTCT).",
            Tag.VERIFIED,
        ),
        Parameter(
            "secondary_gf_days_below",
            3,
            None,
            "Consecutive days with ANC < 0.5 after recovery that count as the decline of "
            "secondary graft failure (ASTCT gives no number: our mirror of the 3-day recovery "
            "rule).",
        ),
    ),
    rules=(
        Rule(
            "HCT-GF-CHIM",
            "PRIMARY_GRAFT_FAILURE",
            AllOf(
                is_("neutrophil_engrafted", False),
                is_("donor_cells_detected", False),
                ge("days_since_transplant", 56),
            ),
            Citation(C4, "C4: no detectable donor cells at day +56"),
            missing="skip",
        ),
        Rule(
            "HCT-GF-PRIMARY-UCB",
            "PRIMARY_GRAFT_FAILURE",
            AllOf(
                is_("graft_source", "UCB"),
                is_("neutrophil_engrafted", False),
                gt("days_since_transplant", ParamRef("primary_gf_day_ucb")),
            ),
            Citation(ASTCT, "primary graft failure: no ANC ≥ 0.5 by day +42 (cord blood)"),
            missing="skip",
        ),
        Rule(
            "HCT-GF-PRIMARY",
            "PRIMARY_GRAFT_FAILURE",
            AllOf(
                Not(is_("graft_source", "UCB", when_missing=False)),
                is_("neutrophil_engrafted", False),
                gt("days_since_transplant", ParamRef("primary_gf_day")),
            ),
            Citation(ASTCT, "primary graft failure: no ANC ≥ 0.5 by day +30 (PBSC / marrow)"),
            note="A graft without a recorded source is read as PBSC / marrow (day +30) [I].",
            missing="skip",
        ),
        Rule(
            "HCT-GF-SECONDARY",
            "SECONDARY_GRAFT_FAILURE",
            AllOf(is_("neutrophil_engrafted", True), is_("anc_lost_after_engraftment", True)),
            Citation(ASTCT, "secondary graft failure: decline after recovery"),
            missing="skip",
        ),
        Rule(
            "HCT-GF-SECONDARY-CHIM",
            "SECONDARY_GRAFT_FAILURE",
            AllOf(is_("neutrophil_engrafted", True), is_("donor_cells_detected", False)),
            Citation(C4, "C4: donor cells no longer detectable after engraftment"),
            missing="skip",
        ),
        Rule(
            "HCT-PGF",
            "POOR_GRAFT_FUNCTION",
            AllOf(
                is_("neutrophil_engrafted", True),
                gt("days_since_transplant", 28),
                ge("donor_pct", 95),
                AtLeast(2, lt("hb", 7), lt("anc", "0.5"), lt("plt", 20)),
                ge("cytopenic_days", 3),
            ),
            Citation(
                PGF,
                "poor graft function: ≥ 2 of Hb < 7 g/dL, ANC < 0.5, platelets < 20 on 3 "
                "consecutive days after day +28, full donor chimerism (≥ 95 %)",
                Tag.RECALLED,
            ),
            missing="skip",
        ),
        Rule(
            "HCT-ENGRAFTED",
            "ENGRAFTED",
            is_("neutrophil_engrafted", True),
            Citation(ASTCT, "neutrophil recovery reached"),
        ),
        Rule(
            "HCT-AWAITING",
            "AWAITING_ENGRAFTMENT",
            AllOf(),
            Citation(ASTCT, "before the graft-failure day, recovery not yet reached"),
        ),
    ),
)
