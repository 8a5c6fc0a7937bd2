"""AML response, ELN 2017 (Döhner et al., Blood 2017;129:424–447), Table 6 — for legacy trials."""

from __future__ import annotations

from trephine.criteria.engine import num, pct_increase
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
    Not,
    Parameter,
    ParamIs,
    Params,
    Rule,
    RuleSet,
    Tag,
    between,
    ge,
    gt,
    is_,
    lt,
)
from trephine.criteria.sets._aml_common import (
    ADEQUATE_2017,
    AML_INPUTS,
    BLAST_CHANGE_SOURCES,
    HEMODILUTE_FLAG,
    HEMODILUTION_PARAM,
    derive_blast_change,
    hemodilute_rule,
)

SOURCE = "Döhner 2017 (ELN, Blood 129:424)"


def _c(locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(SOURCE, locator, tag)


# Auer rods are reported by the morphologist when seen, so an unreported value counts as absent.
NO_AUER = is_("auer_rods", False, when_missing=True)
MARROW_FREE = AllOf(lt("bm_blasts_pct", 5), NO_AUER, is_("extramedullary", False))
LEUKEMIA_FREE = AllOf(MARROW_FREE, is_("circulating_blasts", False))

#: Inputs of the ELN 2017 progressive-disease rows that the later editions dropped.
PD_INPUTS: tuple[InputSpec, ...] = (
    InputSpec("baseline_anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
    InputSpec("baseline_plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
    InputSpec(
        "bm_blasts_gt70_months",
        InputKind.NUMBER,
        "months",
        description="how long marrow blasts have stayed above 70 %",
    ),
    InputSpec(
        "pb_blasts_abs",
        InputKind.NUMBER,
        "x10^9/L",
        maximum=ANC_MAX,
        description="peripheral blasts, WBC × % blasts",
    ),
    InputSpec("baseline_pb_blasts_abs", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
    InputSpec(
        "differentiation_syndrome",
        InputKind.BOOL,
        description="a differentiation syndrome explains rising blood blasts",
    ),
)

PD_SOURCES = {
    **BLAST_CHANGE_SOURCES,
    "anc_increase_pct": ("baseline_anc", "anc"),
    "plt_increase_pct": ("baseline_plt", "plt"),
    "pb_blasts_abs_increase_pct": ("baseline_pb_blasts_abs", "pb_blasts_abs"),
}


def derive(facts: dict[str, Fact | None], params: Params) -> None:
    derive_blast_change(facts, params)
    for name, (ref, cur) in PD_SOURCES.items():
        if name not in BLAST_CHANGE_SOURCES:
            facts[name] = pct_increase(num(facts, ref), num(facts, cur))


# "Without at least a 100 % improvement in ANC to an absolute level > 0.5 and/or platelets to
# > 50": either lineage recovering that far spares the patient the persistent-blast PD row.
COUNTS_IMPROVED = AnyOf(
    AllOf(ge("anc_increase_pct", 100), gt("anc", "0.5")),
    AllOf(ge("plt_increase_pct", 100), gt("plt", 50)),
)

RESPONSE = RuleSet(
    key="ELN2017",
    docs_page="aml-eln2017",
    title="AML response (ELN 2017)",
    edition="ELN2017",
    citation=_c("Table 6"),
    categories=("CR", "CRi", "MLFS", "PR", "SD", "PD", "NON_EVALUABLE"),
    not_evaluable="NON_EVALUABLE",
    inputs=AML_INPUTS + PD_INPUTS,
    derive=derive,
    derived_from=PD_SOURCES,
    params=(
        HEMODILUTION_PARAM,
        Parameter(
            "cri_mode",
            "single_lineage_deficit",
            ("single_lineage_deficit", "any_deficit"),
            "As ELN 2022 A1: CRi needs one lineage at the CR threshold, otherwise MLFS.",
        ),
    ),
    rules=(
        hemodilute_rule("ELN17-NE-HEMODILUTE", "NON_EVALUABLE"),
        Rule(
            "ELN17-CR",
            "CR",
            AllOf(LEUKEMIA_FREE, ge("anc", "1.0"), ge("plt", 100)),
            _c("Table 6, CR (no Auer-rod blasts, no circulating blasts)"),
        ),
        Rule(
            "ELN17-CRi-single",
            "CRi",
            AllOf(
                LEUKEMIA_FREE,
                ParamIs("cri_mode", "single_lineage_deficit"),
                AnyOf(ge("anc", "1.0"), ge("plt", 100)),
            ),
            _c("Table 6, CRi; A1", Tag.INTERPRETATION),
        ),
        Rule(
            "ELN17-CRi-any",
            "CRi",
            AllOf(LEUKEMIA_FREE, ParamIs("cri_mode", "any_deficit")),
            _c("Table 6, CRi; A1", Tag.INTERPRETATION),
        ),
        Rule(
            "ELN17-MLFS-NE",
            "NON_EVALUABLE",
            # G6: a leukaemia-free but merely aplastic marrow is not a remission of any kind,
            # and not "stable disease" either.
            AllOf(MARROW_FREE, Not(ADEQUATE_2017)),
            _c("Table 6, MLFS comment (not merely aplastic); spec G6", Tag.INTERPRETATION),
            "leukaemia-free but <200 cells and cellularity <10 %: not evaluable",
        ),
        Rule(
            "ELN17-MLFS",
            "MLFS",
            AllOf(MARROW_FREE, ADEQUATE_2017),
            _c("Table 6, MLFS (≥200 cells or cellularity ≥10 %)"),
        ),
        Rule(
            "ELN17-PR",
            "PR",
            AllOf(
                between("bm_blasts_pct", 5, 25),
                ge("bm_blast_reduction_pct", 50),
                ge("anc", "1.0"),
                ge("plt", 100),
            ),
            _c("Table 6, PR"),
        ),
        Rule(
            "ELN17-PD",
            "PD",
            AnyOf(
                AllOf(
                    lt("baseline_bm_blasts_pct", 30),
                    gt("bm_blast_increase_pct", 50),
                    ge("bm_blast_rise_points", 15),
                ),
                AllOf(ge("baseline_bm_blasts_pct", 30), gt("bm_blast_increase_pct", 50)),
                # Persistent marrow blasts > 70 % for ≥ 3 months without count recovery.
                AllOf(
                    gt("bm_blasts_pct", 70),
                    ge("bm_blasts_gt70_months", 3, when_missing=False),
                    Not(COUNTS_IMPROVED),
                ),
                # Peripheral blasts (WBC × % blasts) rising > 50 % to > 25 x10^9/L; a
                # differentiation syndrome is recorded when present, so unreported = absent.
                AllOf(
                    gt("pb_blasts_abs_increase_pct", 50, when_missing=False),
                    gt("pb_blasts_abs", 25),
                    is_("differentiation_syndrome", False, when_missing=True),
                ),
                is_("new_extramedullary", True, when_missing=False),
            ),
            _c(
                "Table 6, progressive disease (marrow rise, persistent >70 %, peripheral "
                "blasts, new EMD)",
                Tag.RECALLED,
            ),
        ),
        Rule(
            "ELN17-SD",
            "SD",
            # Reached only when no CR/CRi/MLFS/PR row matched and every PD row was decided
            # "not met" (an undecidable PD row stops the evaluation as not evaluable).
            AllOf(),
            _c("Table 6, stable disease: no CR, CRi, PR, MLFS and PD not met", Tag.RECALLED),
        ),
    ),
    flags=(
        HEMODILUTE_FLAG,
        FlagRule("AUER_RODS_BLOCK_CR", is_("auer_rods", True), _c("Table 6, CR/MLFS")),
    ),
)
