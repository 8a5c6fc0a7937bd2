"""Inputs shared by the MDS response sets."""

from __future__ import annotations

from trephine.criteria.engine import num, pct_increase, pct_reduction
from trephine.criteria.model import (
    ANC_MAX,
    PLT_MAX,
    AllOf,
    Citation,
    Condition,
    D,
    Fact,
    InputKind,
    InputSpec,
    Not,
    ParamIs,
    Params,
    Rule,
    Tag,
    Threshold,
    is_,
)
from trephine.criteria.sets._aml_common import SPEC8

HUNDRED = D(100)

MDS_INPUTS: tuple[InputSpec, ...] = (
    InputSpec("bm_blasts_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("baseline_bm_blasts_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("pb_blasts_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("hb", InputKind.NUMBER, "g/dL", maximum=D(25)),
    InputSpec("plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
    InputSpec("anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
    InputSpec("baseline_hb", InputKind.NUMBER, "g/dL", maximum=D(25)),
    InputSpec("baseline_plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
    InputSpec("baseline_anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
    InputSpec(
        "duration_weeks", InputKind.NUMBER, "weeks", description="how long the response has lasted"
    ),
    InputSpec("transfused", InputKind.BOOL),
    InputSpec(
        "rbc_units_reduction_per_8wk",
        InputKind.NUMBER,
        "units/8 weeks",
        description="fewer RBC units (given for Hb ≤ 9.0) vs the previous 8 weeks",
    ),
    InputSpec(
        "pre_8wk_rbc_units",
        InputKind.NUMBER,
        "units/8 weeks",
        description="RBC units (given for Hb ≤ 9.0) in the 8 weeks before treatment",
    ),
    InputSpec("on_treatment_8wk_rbc_units", InputKind.NUMBER, "units/8 weeks"),
    InputSpec("days_since_transfusion_or_gf", InputKind.NUMBER, "days"),
    InputSpec("complete_cytogenetic_response", InputKind.BOOL),
    InputSpec("normal_maturation", InputKind.BOOL),
    # Progression / relapse rows of IWG 2006 (§3.1): counts against the best value reached on
    # treatment, and a new need for red-cell transfusions.
    InputSpec(
        "best_anc",
        InputKind.NUMBER,
        "x10^9/L",
        maximum=ANC_MAX,
        description="best (maximum) neutrophil count reached during the response",
    ),
    InputSpec(
        "best_plt",
        InputKind.NUMBER,
        "x10^9/L",
        maximum=PLT_MAX,
        description="best (maximum) platelet count reached during the response",
    ),
    InputSpec(
        "best_hb",
        InputKind.NUMBER,
        "g/dL",
        maximum=D(25),
        description="best haemoglobin reached during the response",
    ),
    InputSpec(
        "transfusion_dependence",
        InputKind.BOOL,
        description="patient has become red-cell transfusion dependent (new since baseline)",
    ),
    InputSpec(
        "prior_response",
        InputKind.TEXT,
        allowed=("CR", "PR", "mCR", "HI", "SD", "PD"),
        description="response previously reached (relapse applies after CR/PR, or after HI)",
    ),
    InputSpec(
        "hemodilute",
        InputKind.BOOL,
        description="the laboratory flagged the aspirate as haemodilute",
    ),
)


def hemodilute_rule(
    rule_id: str, remission_blasts: Threshold, unless: Condition | None = None
) -> Rule:
    """§8 [I]: a haemodilute aspirate cannot support the edition's remission blast call
    (IWG 2006 ≤ 5 %, IWG 2023 < 5 %); higher counts remain reportable, and so does a
    progression shown by the blood (``unless``), which dilution of the marrow cannot fake."""
    return Rule(
        rule_id,
        "NOT_EVALUABLE",
        AllOf(
            ParamIs("hemodilution_blocks_remission", True),
            is_("hemodilute", True, when_missing=False),
            remission_blasts,
            *(() if unless is None else (Not(unless),)),
        ),
        Citation(SPEC8, "haemodilute sample: no remission blast call", Tag.INTERPRETATION),
        "haemodilute aspirate: a remission-level blast count may reflect dilution",
    )


#: Derived facts → the inputs they need (named when "not evaluable").
DERIVED_FROM = {
    "bm_blast_reduction_pct": ("baseline_bm_blasts_pct", "bm_blasts_pct"),
    **{
        f"{marker}_{kind}": (f"baseline_{marker}", marker)
        for marker in ("hb", "plt", "anc")
        for kind in ("rise", "increase_pct")
    },
    "bm_blast_rise_points": ("baseline_bm_blasts_pct", "bm_blasts_pct"),
    "hb_fall_from_baseline": ("baseline_hb", "hb"),
    "hb_fall_from_best": ("best_hb", "hb"),
    "anc_fall_from_best_pct": ("best_anc", "anc"),
    "plt_fall_from_best_pct": ("best_plt", "plt"),
}


def derive(facts: dict[str, Fact | None], params: Params) -> None:
    facts["bm_blast_reduction_pct"] = pct_reduction(
        num(facts, "baseline_bm_blasts_pct"), num(facts, "bm_blasts_pct")
    )
    pre, on = num(facts, "pre_8wk_rbc_units"), num(facts, "on_treatment_8wk_rbc_units")
    if facts.get("rbc_units_reduction_per_8wk") is None and pre is not None and on is not None:
        facts["rbc_units_reduction_per_8wk"] = pre - on
    for marker in ("hb", "plt", "anc"):
        base, cur = num(facts, f"baseline_{marker}"), num(facts, marker)
        facts[f"{marker}_rise"] = None if base is None or cur is None else cur - base
        facts[f"{marker}_increase_pct"] = pct_increase(base, cur)
    base_blasts, blasts = num(facts, "baseline_bm_blasts_pct"), num(facts, "bm_blasts_pct")
    facts["bm_blast_rise_points"] = (
        None if base_blasts is None or blasts is None else blasts - base_blasts
    )
    hb = num(facts, "hb")
    for name, ref in (("hb_fall_from_baseline", "baseline_hb"), ("hb_fall_from_best", "best_hb")):
        reference = num(facts, ref)
        facts[name] = None if reference is None or hb is None else reference - hb
    # "≥ 50 % decrement from maximum remission/response levels" (G4 percentage reduction).
    for marker in ("anc", "plt"):
        facts[f"{marker}_fall_from_best_pct"] = pct_reduction(
            num(facts, f"best_{marker}"), num(facts, marker)
        )
