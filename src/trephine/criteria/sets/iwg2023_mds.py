"""Higher-risk MDS response, IWG 2023 (Zeidan et al., Blood 2023;141:2047)."""

from __future__ import annotations

from trephine.criteria.model import (
    AllOf,
    Citation,
    D,
    Exactly,
    FlagRule,
    Parameter,
    ParamRef,
    Rule,
    RuleSet,
    Tag,
    ge,
    is_,
    le,
    lt,
)
from trephine.criteria.sets._aml_common import HEMODILUTE_FLAG, HEMODILUTION_PARAM
from trephine.criteria.sets._mds_common import DERIVED_FROM, MDS_INPUTS, derive, hemodilute_rule

SOURCE = "Zeidan 2023 (IWG, Blood 141:2047)"


def _c(locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(SOURCE, locator, tag)


COUNTS = (ge("hb", 10), ge("plt", 100), ge("anc", "1.0"))
MARROW = AllOf(lt("bm_blasts_pct", 5), le("pb_blasts_pct", 0))
EVALUABLE = ge("baseline_bm_blasts_pct", 5)

RESPONSE = RuleSet(
    key="IWG2023",
    docs_page="mds-iwg2023",
    title="Higher-risk MDS response (IWG 2023)",
    edition="IWG2023",
    citation=_c("response criteria table"),
    categories=(
        "CR",
        "CR_EQUIVALENT",
        "CRbi",
        "CRuni",
        "CRh",
        "PR",
        "NO_RESPONSE",
        "NOT_EVALUABLE",
    ),
    not_evaluable="NOT_EVALUABLE",
    inputs=MDS_INPUTS,
    derive=derive,
    derived_from=DERIVED_FROM,
    params=(
        HEMODILUTION_PARAM,
        Parameter(
            "washout_days",
            D(14),
            None,
            "Counts should be taken this many days after transfusion or growth factor.",
        ),
    ),
    rules=(
        hemodilute_rule("IWG23-NE-HEMODILUTE", lt("bm_blasts_pct", 5)),
        Rule(
            "IWG23-CREQ",
            "CR_EQUIVALENT",
            AllOf(
                lt("baseline_bm_blasts_pct", 5),
                MARROW,
                *COUNTS,
                is_("complete_cytogenetic_response", True),
            ),
            _c("response table, CR equivalent (baseline <5 % blasts)"),
        ),
        Rule(
            "IWG23-NE-BASE",
            "NO_RESPONSE",
            lt("baseline_bm_blasts_pct", 5),
            _c("response table: baseline ≥5 % blasts needed for CR/PR/CRL/CRh"),
        ),
        Rule("IWG23-CR", "CR", AllOf(EVALUABLE, MARROW, *COUNTS), _c("response table, CR")),
        Rule(
            "IWG23-CRbi",
            "CRbi",
            AllOf(EVALUABLE, MARROW, Exactly(2, *COUNTS)),
            _c("response table, CRL bilineage (provisional)"),
        ),
        Rule(
            "IWG23-CRuni",
            "CRuni",
            AllOf(EVALUABLE, MARROW, Exactly(1, *COUNTS)),
            _c("response table, CRL unilineage (provisional)"),
        ),
        Rule(
            "IWG23-CRh",
            "CRh",
            AllOf(EVALUABLE, MARROW, ge("plt", 50), ge("anc", "0.5")),
            _c("response table, CRh (provisional)"),
        ),
        Rule(
            "IWG23-PR",
            "PR",
            AllOf(
                EVALUABLE,
                ge("bm_blasts_pct", 5),
                ge("bm_blast_reduction_pct", 50),
                *COUNTS,
                le("pb_blasts_pct", 0),
            ),
            _c("response table, PR (≥50 % fall, still ≥5 %)"),
        ),
        Rule("IWG23-NR", "NO_RESPONSE", AllOf(), _c("response table; evaluate HI per IWG 2018")),
    ),
    flags=(
        HEMODILUTE_FLAG,
        FlagRule(
            "COUNTS_WITHIN_WASHOUT",
            lt("days_since_transfusion_or_gf", ParamRef("washout_days")),
            _c("worked examples: counts 2–4 weeks off transfusion/GF", Tag.INTERPRETATION),
        ),
    ),
)
