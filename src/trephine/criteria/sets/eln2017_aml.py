"""AML response, ELN 2017 (Döhner et al., Blood 2017;129:424–447), Table 6 — for legacy trials."""

from __future__ import annotations

from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    FlagRule,
    Not,
    Parameter,
    ParamIs,
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
    derive_blast_change,
)

SOURCE = "Döhner 2017 (ELN, Blood 129:424)"


def _c(locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(SOURCE, locator, tag)


# Auer rods are reported by the morphologist when seen, so an unreported value counts as absent.
NO_AUER = is_("auer_rods", False, when_missing=True)
MARROW_FREE = AllOf(lt("bm_blasts_pct", 5), NO_AUER, is_("extramedullary", False))
LEUKEMIA_FREE = AllOf(MARROW_FREE, is_("circulating_blasts", False))

RESPONSE = RuleSet(
    key="ELN2017",
    title="AML response (ELN 2017)",
    edition="ELN2017",
    citation=_c("Table 6"),
    categories=("CR", "CRi", "MLFS", "PR", "SD", "PD", "NON_EVALUABLE"),
    not_evaluable="NON_EVALUABLE",
    inputs=AML_INPUTS,
    derive=derive_blast_change,
    derived_from=BLAST_CHANGE_SOURCES,
    params=(
        Parameter(
            "cri_mode",
            "single_lineage_deficit",
            ("single_lineage_deficit", "any_deficit"),
            "As ELN 2022 A1: CRi needs one lineage at the CR threshold, otherwise MLFS.",
        ),
    ),
    rules=(
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
                is_("new_extramedullary", True, when_missing=False),
            ),
            _c("Table 6, progressive disease", Tag.RECALLED),
        ),
        Rule("ELN17-SD", "SD", AllOf(), _c("Table 6, stable disease", Tag.RECALLED)),
    ),
    flags=(FlagRule("AUER_RODS_BLOCK_CR", is_("auer_rods", True), _c("Table 6, CR/MLFS")),),
)
