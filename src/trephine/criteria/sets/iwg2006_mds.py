"""MDS response and haematologic improvement, IWG 2006 (Cheson et al., Blood 2006;108:419)."""

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
    ge,
    gt,
    is_,
    le,
    lt,
)
from trephine.criteria.sets._aml_common import HEMODILUTE_FLAG, HEMODILUTION_PARAM
from trephine.criteria.sets._mds_common import DERIVED_FROM, MDS_INPUTS, derive, hemodilute_rule

SOURCE = "Cheson 2006 (IWG, Blood 108:419)"


def _c(locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(SOURCE, locator, tag)


#: Count-based progression (§3.1 PD "or" column; Hb 2 g/dL from a secondary source, S11).
PD_COUNTS = AnyOf(
    ge("anc_fall_from_best_pct", 50, when_missing=False),
    ge("plt_fall_from_best_pct", 50, when_missing=False),
    AllOf(
        ParamIs("pd_hb_reference", "baseline"),
        ge("hb_fall_from_baseline", 2, when_missing=False),
    ),
    AllOf(ParamIs("pd_hb_reference", "best"), ge("hb_fall_from_best", 2, when_missing=False)),
    is_("transfusion_dependence", True, when_missing=False),
)

PD_PARAMS = (
    Parameter(
        "pd_hb_reference",
        "baseline",
        ("baseline", "best"),
        "PD 'Hb fall ≥ 2 g/dL' names no reference value: 'baseline' measures it from the "
        "pre-treatment Hb, 'best' from the best Hb on treatment.",
    ),
)

CR_BLOOD = AllOf(ge("hb", 11), ge("plt", 100), ge("anc", "1.0"), le("pb_blasts_pct", 0))

RESPONSE = RuleSet(
    key="IWG2006",
    docs_page="mds-iwg2006",
    title="MDS response (IWG 2006)",
    edition="IWG2006",
    citation=_c("response table (altering natural history)"),
    categories=("CR", "PR", "mCR", "SD", "PD", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=MDS_INPUTS,
    derive=derive,
    derived_from=DERIVED_FROM,
    rules=(
        hemodilute_rule("IWG06-NE-HEMODILUTE", le("bm_blasts_pct", 5), PD_COUNTS),
        Rule(
            "IWG06-CR",
            "CR",
            AllOf(
                le("bm_blasts_pct", 5), CR_BLOOD, is_("normal_maturation", True, when_missing=True)
            ),
            _c("response table, CR (≤5 % myeloblasts, Hb ≥11, plt ≥100, ANC ≥1.0, 0 % PB blasts)"),
        ),
        Rule(
            "IWG06-PR",
            "PR",
            AllOf(gt("bm_blasts_pct", 5), ge("bm_blast_reduction_pct", 50), CR_BLOOD),
            _c("response table, PR (blasts fell ≥50 % but still >5 %)"),
        ),
        Rule(
            "IWG06-mCR",
            "mCR",
            AllOf(le("bm_blasts_pct", 5), ge("bm_blast_reduction_pct", 50)),
            _c("response table, marrow CR (≤5 % and ≥50 % fall)"),
        ),
        Rule(
            "IWG06-PD-COUNTS",
            "PD",
            # Count / haemoglobin / transfusion rows of the PD table. Each is only decidable when
            # its inputs were given (a best count is not part of every assessment); when none of
            # them holds, the blast rows below decide.
            PD_COUNTS,
            _c(
                "response table, PD: ≥50 % fall from best ANC/platelets, Hb fall ≥2 g/dL, "
                "transfusion dependence (Hb reference per pd_hb_reference)",
                Tag.INTERPRETATION,
            ),
        ),
        Rule(
            "IWG06-PD",
            "PD",
            # Blast progression by pre-treatment group; group edges [5,10), [10,20), [20,30] [I].
            AllOf(
                AnyOf(
                    AllOf(lt("baseline_bm_blasts_pct", 5), gt("bm_blasts_pct", 5)),
                    AllOf(
                        ge("baseline_bm_blasts_pct", 5),
                        lt("baseline_bm_blasts_pct", 10),
                        gt("bm_blasts_pct", 10),
                    ),
                    AllOf(
                        ge("baseline_bm_blasts_pct", 10),
                        lt("baseline_bm_blasts_pct", 20),
                        gt("bm_blasts_pct", 20),
                    ),
                    AllOf(
                        ge("baseline_bm_blasts_pct", 20),
                        le("baseline_bm_blasts_pct", 30),
                        gt("bm_blasts_pct", 30),
                    ),
                ),
                le("bm_blast_reduction_pct", -50),
            ),
            _c("response table, PD: ≥50 % rise in blasts past the next group edge"),
        ),
        Rule("IWG06-SD", "SD", AllOf(), _c("response table, stable disease")),
    ),
    params=(*PD_PARAMS, HEMODILUTION_PARAM),
    flags=(HEMODILUTE_FLAG,),
)

#: Relapse after CR/PR and progression/relapse after HI share the count rows (§3.1).
COUNT_RELAPSE = AnyOf(
    ge("anc_fall_from_best_pct", 50, when_missing=False),
    ge("plt_fall_from_best_pct", 50, when_missing=False),
    ge("hb_fall_from_best", "1.5", when_missing=False),
    is_("transfusion_dependence", True, when_missing=False),
)
AFTER_CR_PR = AnyOf(is_("prior_response", "CR"), is_("prior_response", "PR"))

RELAPSE = RuleSet(
    key="IWG2006-RELAPSE",
    docs_page="mds-iwg2006",
    title="MDS relapse after CR/PR, progression/relapse after HI (IWG 2006)",
    edition="IWG2006",
    citation=_c("response table, relapse after CR or PR; HI table, progression/relapse"),
    categories=("NOT_MET", "RELAPSE", "NOT_APPLICABLE", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=MDS_INPUTS,
    derive=derive,
    derived_from=DERIVED_FROM,
    rules=(
        Rule(
            "IWG06-REL-NA",
            "NOT_APPLICABLE",
            Not(AnyOf(AFTER_CR_PR, is_("prior_response", "HI"))),
            _c("relapse is defined after CR/PR (response table) and after HI (HI table)"),
        ),
        Rule(
            "IWG06-REL",
            "RELAPSE",
            AllOf(
                AFTER_CR_PR,
                AnyOf(
                    # "Return to pre-treatment bone marrow blast percentage".
                    ge("bm_blast_rise_points", 0, when_missing=False),
                    COUNT_RELAPSE,
                ),
            ),
            _c(
                "response table, relapse after CR/PR: blasts back to pre-treatment %, ≥50 % "
                "fall from best ANC/platelets, Hb fall ≥1.5 g/dL or transfusion dependence",
                Tag.RECALLED,
            ),
        ),
        Rule(
            "IWG06-REL-HI",
            "RELAPSE",
            AllOf(is_("prior_response", "HI"), COUNT_RELAPSE),
            _c("HI table, progression/relapse after HI"),
        ),
        Rule(
            "IWG06-REL-NOT-MET",
            "NOT_MET",
            # None of the rows holds on what was given; a row whose inputs were not given is
            # listed under "missing" in the explanation.
            AllOf(),
            _c("response table, relapse after CR/PR", Tag.RECALLED),
        ),
    ),
)

DURATION = ge("duration_weeks", 8)

HI_PARAMS = (
    Parameter(
        "hip_baseline_20_branch",
        "low",
        ("low", "high"),
        "HI-P baseline exactly 20 fits neither '>20' nor '<20'; 'low' treats ≤20 as the "
        "low-platelet branch.",
    ),
)


def _hi(
    key: str,
    title: str,
    eligible_rules: tuple[Rule, ...],
    params: tuple[Parameter, ...] = (),
    flags: tuple[FlagRule, ...] = (),
) -> RuleSet:
    return RuleSet(
        key=key,
        docs_page="mds-iwg2006",
        title=title,
        edition="IWG2006",
        citation=_c("haematologic improvement table"),
        categories=("RESPONSE", "NO_RESPONSE", "NOT_ELIGIBLE", "NOT_EVALUABLE"),
        not_evaluable="NOT_EVALUABLE",
        inputs=MDS_INPUTS,
        derive=derive,
        derived_from=DERIVED_FROM,
        rules=eligible_rules,
        params=params,
        flags=flags,
    )


HI_E = _hi(
    "IWG2006-HI-E",
    "MDS HI-E (IWG 2006)",
    (
        Rule("IWG06-HIE-NE", "NOT_ELIGIBLE", ge("baseline_hb", 11), _c("HI table, HI-E: Hb <11")),
        Rule(
            "IWG06-HIE",
            "RESPONSE",
            AllOf(
                DURATION,
                AnyOf(
                    # Only a rise not produced by transfusion counts.
                    AllOf(ge("hb_rise", "1.5"), is_("transfused", False, when_missing=True)),
                    ge("rbc_units_reduction_per_8wk", 4, when_missing=False),
                ),
            ),
            _c("HI table, HI-E: Hb rise ≥1.5 g/dL or ≥4 fewer units/8 wk, ≥8 weeks"),
        ),
        Rule("IWG06-HIE-NO", "NO_RESPONSE", AllOf(), _c("HI table, HI-E")),
    ),
)

HI_P = _hi(
    "IWG2006-HI-P",
    "MDS HI-P (IWG 2006)",
    (
        Rule(
            "IWG06-HIP-NE", "NOT_ELIGIBLE", ge("baseline_plt", 100), _c("HI table, HI-P: plt <100")
        ),
        Rule(
            "IWG06-HIP-HIGH",
            "RESPONSE",
            AllOf(
                DURATION,
                AnyOf(
                    gt("baseline_plt", 20),
                    AllOf(ParamIs("hip_baseline_20_branch", "high"), ge("baseline_plt", 20)),
                ),
                ge("plt_rise", 30),
            ),
            _c("HI table, HI-P: baseline >20, absolute rise ≥30"),
        ),
        Rule(
            "IWG06-HIP-LOW",
            "RESPONSE",
            AllOf(
                DURATION,
                AnyOf(
                    lt("baseline_plt", 20),
                    AllOf(ParamIs("hip_baseline_20_branch", "low"), le("baseline_plt", 20)),
                ),
                gt("plt", 20),
                ge("plt_increase_pct", 100),
            ),
            _c(
                "HI table, HI-P: baseline <20 (=20 per parameter), rise to >20 and ≥100 %",
                Tag.INTERPRETATION,
            ),
        ),
        Rule("IWG06-HIP-NO", "NO_RESPONSE", AllOf(), _c("HI table, HI-P")),
    ),
    HI_PARAMS,
    (
        FlagRule(
            "AMBIGUOUS_BASELINE_20",
            AllOf(ge("baseline_plt", 20), le("baseline_plt", 20)),
            _c("HI table, HI-P baseline exactly 20", Tag.INTERPRETATION),
        ),
    ),
)

HI_N = _hi(
    "IWG2006-HI-N",
    "MDS HI-N (IWG 2006)",
    (
        Rule(
            "IWG06-HIN-NE",
            "NOT_ELIGIBLE",
            ge("baseline_anc", "1.0"),
            _c("HI table, HI-N: ANC <1.0"),
        ),
        Rule(
            "IWG06-HIN",
            "RESPONSE",
            AllOf(DURATION, ge("anc_increase_pct", 100), gt("anc_rise", "0.5")),
            _c("HI table, HI-N: ≥100 % and absolute rise >0.5"),
        ),
        Rule("IWG06-HIN-NO", "NO_RESPONSE", AllOf(), _c("HI table, HI-N")),
    ),
)
