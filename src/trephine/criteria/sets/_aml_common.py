"""Inputs and conditions shared by the AML response sets (ELN 2022, ELN 2017, IWG 2003)."""

from __future__ import annotations

from decimal import Decimal

from trephine.criteria.engine import num, pct_reduction
from trephine.criteria.model import (
    ANC_MAX,
    PLT_MAX,
    AllOf,
    AnyOf,
    Citation,
    Fact,
    FlagRule,
    InputKind,
    InputSpec,
    Parameter,
    ParamIs,
    Params,
    Rule,
    Tag,
    ge,
    is_,
    lt,
)

HUNDRED = Decimal(100)

AML_INPUTS: tuple[InputSpec, ...] = (
    InputSpec(
        "bm_blasts_pct",
        InputKind.NUMBER,
        "%",
        maximum=HUNDRED,
        description="marrow blasts, % of nucleated cells on the aspirate differential",
    ),
    InputSpec(
        "baseline_bm_blasts_pct",
        InputKind.NUMBER,
        "%",
        maximum=HUNDRED,
        description="pre-treatment marrow blasts",
    ),
    # Upper bounds = the stored blood count's plausibility limits (domain.quantity ANC,
    # PLATELETS): a count given per µL without its unit (2000, 150000) is refused, not read as
    # an impossible 2000 x10^9/L that would satisfy every recovery threshold.
    InputSpec(
        "anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX, description="absolute neutrophil count"
    ),
    InputSpec("plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX, description="platelets"),
    InputSpec("circulating_blasts", InputKind.BOOL, description="blasts seen in blood"),
    InputSpec("extramedullary", InputKind.BOOL, description="extramedullary disease present"),
    InputSpec("auer_rods", InputKind.BOOL, description="blasts with Auer rods seen"),
    InputSpec("cells_counted", InputKind.NUMBER, "cells", description="aspirate cells counted"),
    InputSpec("spicules_present", InputKind.BOOL, description="spicules/particles on aspirate"),
    InputSpec("biopsy_cellularity_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("rbc_transfusion_independent", InputKind.BOOL),
    InputSpec("days_since_last_platelet_tx", InputKind.NUMBER, "days"),
    InputSpec("days_since_last_rbc_tx", InputKind.NUMBER, "days"),
    InputSpec("days_since_gcsf", InputKind.NUMBER, "days"),
    InputSpec("new_extramedullary", InputKind.BOOL, description="EMD not present at baseline"),
    InputSpec(
        "hemodilute",
        InputKind.BOOL,
        description="aspirate haemodilute: no spicules, or the laboratory's haemodilution flag",
    ),
)

# ------------------------------------------------------------------ haemodilution (spec §8 [I])
SPEC8 = "clinical-criteria.md §8 (ICSH 2008; haemodilution S32)"
HEMODILUTION_PARAM = Parameter(
    "hemodilution_blocks_remission",
    True,
    (True, False),
    "§8: a haemodilute aspirate cannot support a < 5 % blast remission call (blood dilutes "
    "the marrow blasts); higher blast counts remain reportable.",
)


def hemodilute_rule(rule_id: str, category: str) -> Rule:
    """First row of a marrow response table: a blast count below 5 % on a haemodilute
    aspirate is not evaluable (a dilute count is a floor, not a measurement)."""
    return Rule(
        rule_id,
        category,
        AllOf(
            ParamIs("hemodilution_blocks_remission", True),
            is_("hemodilute", True, when_missing=False),
            lt("bm_blasts_pct", 5),
        ),
        Citation(SPEC8, "haemodilute sample: no < 5 % blast remission call", Tag.INTERPRETATION),
        "haemodilute aspirate: blasts < 5 % may reflect dilution, repeat the marrow",
    )


HEMODILUTE_FLAG = FlagRule(
    "HEMODILUTE_SAMPLE",
    is_("hemodilute", True),
    Citation(SPEC8, "laboratories should assess and report haemodilution (ELN 2021 M3)"),
)


#: Derived blast-change facts → the inputs they need (named when "not evaluable").
BLAST_CHANGE_SOURCES = {
    name: ("baseline_bm_blasts_pct", "bm_blasts_pct")
    for name in ("bm_blast_reduction_pct", "bm_blast_increase_pct", "bm_blast_rise_points")
}


def derive_blast_change(facts: dict[str, Fact | None], params: Params) -> None:
    """Percentage change of marrow blasts against the pre-treatment value (G4, Decimal)."""
    base = num(facts, "baseline_bm_blasts_pct")
    cur = num(facts, "bm_blasts_pct")
    reduction = pct_reduction(base, cur)
    facts["bm_blast_reduction_pct"] = reduction
    # The increase is the negated reduction (same base): one exact division, not two.
    facts["bm_blast_increase_pct"] = None if reduction is None else -reduction
    facts["bm_blast_rise_points"] = None if base is None or cur is None else cur - base


# "Adequate" remission marrow (ELN 2022 MLFS comment, Q7): spicules present and
# (≥ 200 cells counted on the aspirate or biopsy cellularity ≥ 10 %).
ADEQUATE_2022 = AllOf(
    is_("spicules_present", True),
    AnyOf(ge("cells_counted", 200), ge("biopsy_cellularity_pct", 10)),
)
# ELN 2017 / IWG 2003 wording: not merely aplastic, ≥ 200 cells or cellularity ≥ 10 %.
ADEQUATE_2017 = AnyOf(ge("cells_counted", 200), ge("biopsy_cellularity_pct", 10))
