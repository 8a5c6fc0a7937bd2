"""Inputs shared by the MDS response sets."""

from __future__ import annotations

from trephine.criteria.engine import num, pct_increase, pct_reduction
from trephine.criteria.model import ANC_MAX, PLT_MAX, D, Fact, InputKind, InputSpec, Params

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
)


#: Derived facts → the inputs they need (named when "not evaluable").
DERIVED_FROM = {
    "bm_blast_reduction_pct": ("baseline_bm_blasts_pct", "bm_blasts_pct"),
    **{
        f"{marker}_{kind}": (f"baseline_{marker}", marker)
        for marker in ("hb", "plt", "anc")
        for kind in ("rise", "increase_pct")
    },
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
