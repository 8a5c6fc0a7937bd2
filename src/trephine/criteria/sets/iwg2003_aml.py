"""AML response, IWG 2003 (Cheson et al., J Clin Oncol 2003) — for older trials.

Counts are strict (ANC > 1.0, platelets > 100) while CRi is defined by ANC < 1.0 or platelets
< 100, so a value exactly at 1.0 / 100 falls in neither; we read it as "not fully recovered"
(CRi) and flag the gap [I].
"""

from __future__ import annotations

from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    Comparator,
    FlagRule,
    Not,
    Rule,
    RuleSet,
    Tag,
    Threshold,
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

SOURCE = "Cheson 2003 (IWG, J Clin Oncol 21:4642) via Br J Haematol 2011;155:413"


def _c(locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(SOURCE, locator, tag)


MARROW_FREE = AllOf(
    lt("bm_blasts_pct", 5), is_("auer_rods", False, when_missing=True), is_("extramedullary", False)
)

RESPONSE = RuleSet(
    key="IWG2003",
    docs_page="aml-iwg2003",
    title="AML response (IWG 2003)",
    edition="IWG2003",
    citation=_c("Table 1"),
    categories=("CR", "CRi", "MLFS", "PR", "RESISTANT_DISEASE", "NON_EVALUABLE"),
    not_evaluable="NON_EVALUABLE",
    inputs=AML_INPUTS,
    derive=derive_blast_change,
    derived_from=BLAST_CHANGE_SOURCES,
    rules=(
        hemodilute_rule("IWG03-NE-HEMODILUTE", "NON_EVALUABLE"),
        Rule(
            "IWG03-CR",
            "CR",
            AllOf(
                MARROW_FREE,
                gt("anc", "1.0"),
                gt("plt", 100),
                is_("rbc_transfusion_independent", True),
            ),
            _c("Table 1, CR (strict counts, RBC transfusion independence)"),
        ),
        Rule(
            "IWG03-CRi",
            "CRi",
            AllOf(MARROW_FREE, AnyOf(gt("anc", "1.0"), gt("plt", 100))),
            _c(
                "Table 1, CRi; counts exactly at threshold read as not recovered",
                Tag.INTERPRETATION,
            ),
        ),
        Rule(
            "IWG03-MLFS-NE",
            "NON_EVALUABLE",
            # G6: an aplastic leukaemia-free marrow is neither MLFS nor resistant disease.
            AllOf(MARROW_FREE, Not(ADEQUATE_2017)),
            _c("Table 1, MLFS (not merely aplastic); spec G6", Tag.INTERPRETATION),
            "leukaemia-free but <200 cells and cellularity <10 %: not evaluable",
        ),
        Rule("IWG03-MLFS", "MLFS", AllOf(MARROW_FREE, ADEQUATE_2017), _c("Table 1, MLFS")),
        Rule(
            "IWG03-PR",
            "PR",
            AllOf(
                between("bm_blasts_pct", 5, 25),
                ge("bm_blast_reduction_pct", 50),
                gt("anc", "1.0"),
                gt("plt", 100),
            ),
            _c("Table 1, PR"),
        ),
        Rule("IWG03-RD", "RESISTANT_DISEASE", AllOf(), _c("Table 1, treatment failure")),
    ),
    params=(HEMODILUTION_PARAM,),
    flags=(
        HEMODILUTE_FLAG,
        FlagRule(
            "BOUNDARY_GAP_IWG2003",
            AnyOf(
                Threshold("anc", Comparator.EQ, ge("anc", "1.0").value),
                Threshold("plt", Comparator.EQ, ge("plt", 100).value),
            ),
            _c("CR '>1.0 / >100' vs CRi '<1.0 / <100'", Tag.INTERPRETATION),
        ),
    ),
)
