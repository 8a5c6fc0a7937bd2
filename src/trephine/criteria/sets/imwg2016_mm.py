"""Multiple myeloma response and MRD, IMWG 2016 (Kumar et al., Lancet Oncol 2016;17:e328).

Four rule sets: response when serum/urine M-protein is measurable, the FLC-only and
marrow-only fallbacks, progression from the nadir, and the MRD category.

Progression is confirmed on a second consecutive assessment before any new therapy (Durie 2006,
the response table's footnote: every category needs two consecutive assessments): the
:data:`PROGRESSION` table decides one assessment (``PD`` or not); the stored timeline
(:mod:`trephine.assess.myeloma`) names a PD met on one assessment only :data:`PD_UNCONFIRMED`
and the PDs of two or more consecutive assessments :data:`PD_CONFIRMED`.
"""

from __future__ import annotations

from trephine.criteria.engine import num, pct_increase, pct_reduction
from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    D,
    Fact,
    FlagRule,
    InputKind,
    InputSpec,
    Not,
    Parameter,
    ParamRef,
    Params,
    Rule,
    RuleSet,
    Tag,
    ge,
    gt,
    is_,
    le,
    lt,
)

SOURCE = "Kumar 2016 (IMWG, Lancet Oncol 17:e328)"
HUNDRED = D(100)


def _c(locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(SOURCE, locator, tag)


IFE = ("negative", "positive")
INPUTS = (
    InputSpec("serum_ife", InputKind.TEXT, allowed=IFE),
    InputSpec("urine_ife", InputKind.TEXT, allowed=IFE),
    InputSpec("serum_m_g_dl", InputKind.NUMBER, "g/dL"),
    InputSpec("urine_m_mg_24h", InputKind.NUMBER, "mg/24h"),
    InputSpec("bm_pc_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("flc_ratio", InputKind.NUMBER, "ratio", maximum=None),
    InputSpec("dflc_mg_dl", InputKind.NUMBER, "mg/dL", description="involved − uninvolved FLC"),
    InputSpec("involved_flc_mg_dl", InputKind.NUMBER, "mg/dL"),
    InputSpec("uninvolved_flc_mg_dl", InputKind.NUMBER, "mg/dL"),
    InputSpec("baseline_involved_flc_mg_dl", InputKind.NUMBER, "mg/dL"),
    InputSpec("baseline_uninvolved_flc_mg_dl", InputKind.NUMBER, "mg/dL"),
    InputSpec("ihc_kappa_lambda_ratio", InputKind.NUMBER, "ratio"),
    InputSpec("ihc_pcs_counted", InputKind.NUMBER, "cells"),
    InputSpec("plasmacytoma", InputKind.BOOL, description="soft-tissue plasmacytoma present"),
    InputSpec("plasmacytoma_reduction_pct", InputKind.NUMBER, "%", minimum=None, maximum=HUNDRED),
    InputSpec("baseline_serum_m_g_dl", InputKind.NUMBER, "g/dL"),
    InputSpec("baseline_urine_m_mg_24h", InputKind.NUMBER, "mg/24h"),
    InputSpec("baseline_bm_pc_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("baseline_dflc_mg_dl", InputKind.NUMBER, "mg/dL"),
    InputSpec(
        "base_response",
        InputKind.TEXT,
        allowed=("sCR", "CR", "VGPR", "PR", "MR", "SD"),
        description="a response already established on earlier tests",
    ),
)


MARKERS = ("serum_m_g_dl", "urine_m_mg_24h", "bm_pc_pct", "dflc_mg_dl")
#: Derived facts → the inputs they need (named when "not evaluable").
RESPONSE_SOURCES = {f"{m}_reduction_pct": (f"baseline_{m}", m) for m in MARKERS}
PROGRESSION_SOURCES = {
    f"{m}_{kind}": (f"nadir_{m}", m) for m in MARKERS for kind in ("rise", "increase_pct")
}


def derive(facts: dict[str, Fact | None], params: Params) -> None:
    for prefix in ("", "baseline_"):
        involved = num(facts, f"{prefix}involved_flc_mg_dl")
        uninvolved = num(facts, f"{prefix}uninvolved_flc_mg_dl")
        if (
            facts.get(f"{prefix}dflc_mg_dl") is None
            and involved is not None
            and uninvolved is not None
        ):
            facts[f"{prefix}dflc_mg_dl"] = involved - uninvolved
    for marker in ("serum_m_g_dl", "urine_m_mg_24h", "bm_pc_pct", "dflc_mg_dl"):
        facts[f"{marker}_reduction_pct"] = pct_reduction(
            num(facts, f"baseline_{marker}"), num(facts, marker)
        )


NORMAL_FLC = AllOf(ge("flc_ratio", "0.26"), le("flc_ratio", "1.65"))
CR_MET = AnyOf(
    is_("base_response", "CR", when_missing=False),
    AllOf(
        is_("serum_ife", "negative"),
        is_("urine_ife", "negative"),
        lt("bm_pc_pct", 5),
        # A plasmacytoma is reported when present; unreported counts as absent.
        is_("plasmacytoma", False, when_missing=True),
    ),
)
SCR_EXTRA = AllOf(
    NORMAL_FLC,
    ge("ihc_pcs_counted", 100),
    # κ/λ > 4:1 or < 1:2 = clonal (IHC/IF on ≥ 100 plasma cells).
    le("ihc_kappa_lambda_ratio", 4),
    ge("ihc_kappa_lambda_ratio", "0.5"),
)
NO_PLASMACYTOMA_OR_HALVED = AnyOf(
    is_("plasmacytoma", False, when_missing=True), ge("plasmacytoma_reduction_pct", 50)
)

RESPONSE = RuleSet(
    key="IMWG2016",
    docs_page="mm-imwg2016",
    title="Multiple myeloma response (IMWG 2016), serum/urine measurable",
    edition="IMWG2016",
    citation=_c("response criteria table"),
    categories=("sCR", "CR", "VGPR", "PR", "MR", "SD", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=INPUTS,
    derive=derive,
    derived_from=RESPONSE_SOURCES,
    rules=(
        Rule(
            "IMWG16-sCR",
            "sCR",
            AllOf(CR_MET, SCR_EXTRA),
            _c("response table, sCR (normal FLC ratio, no clonal PCs by IHC)"),
            missing="skip",
        ),
        Rule(
            "IMWG16-CR",
            "CR",
            CR_MET,
            _c("response table, CR (IFE negative, BM PCs <5 %)"),
            missing="skip",
        ),
        Rule(
            "IMWG16-VGPR",
            "VGPR",
            AnyOf(
                AllOf(
                    AnyOf(is_("serum_ife", "positive"), is_("urine_ife", "positive")),
                    le("serum_m_g_dl", 0),
                    le("urine_m_mg_24h", 0),
                ),
                AllOf(ge("serum_m_g_dl_reduction_pct", 90), lt("urine_m_mg_24h", 100)),
            ),
            _c("response table, VGPR"),
        ),
        Rule(
            "IMWG16-PR",
            "PR",
            AllOf(
                AnyOf(ge("baseline_serum_m_g_dl", 1), ge("baseline_urine_m_mg_24h", 200)),
                AnyOf(ge("serum_m_g_dl_reduction_pct", 50), lt("baseline_serum_m_g_dl", 1)),
                AnyOf(
                    ge("urine_m_mg_24h_reduction_pct", 90),
                    lt("urine_m_mg_24h", 200),
                    lt("baseline_urine_m_mg_24h", 200),
                ),
                NO_PLASMACYTOMA_OR_HALVED,
            ),
            _c("response table, PR"),
        ),
        Rule(
            "IMWG16-MR",
            "MR",
            # MR is "25–49 %"; a ≥ 50 % serum fall whose urine misses the PR level is
            # downgraded to the next lower level (CIBMTR [V]) instead of falling to SD, so a
            # lower M-protein never gives a worse category. 49.x % is MR [I].
            AllOf(
                ge("serum_m_g_dl_reduction_pct", 25),
                AnyOf(ge("urine_m_mg_24h_reduction_pct", 50), lt("baseline_urine_m_mg_24h", 200)),
            ),
            _c(
                "response table, MR (25 ≤ fall < 50 %); CIBMTR downgrade to next level met",
                Tag.INTERPRETATION,
            ),
        ),
        Rule("IMWG16-SD", "SD", AllOf(), _c("response table, SD")),
    ),
    flags=(
        FlagRule(
            "SCR_NOT_EVALUABLE_LT_100_PCS",
            lt("ihc_pcs_counted", 100),
            _c("response table, sCR: clonality needs ≥100 plasma cells"),
        ),
    ),
)

FLC_ONLY = RuleSet(
    key="IMWG2016-FLC",
    docs_page="mm-imwg2016",
    title="Multiple myeloma response (IMWG 2016), FLC the only measurable marker",
    edition="IMWG2016",
    citation=_c("response table, FLC-only disease"),
    categories=("sCR", "CR", "PR", "SD", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=INPUTS,
    derive=derive,
    derived_from=RESPONSE_SOURCES,
    rules=(
        Rule(
            "IMWG16-FLC-sCR",
            "sCR",
            AllOf(CR_MET, SCR_EXTRA),
            _c("response table, sCR"),
            missing="skip",
        ),
        Rule(
            "IMWG16-FLC-CR",
            "CR",
            AllOf(CR_MET, NORMAL_FLC),
            _c("response table, CR (FLC-only: normal FLC ratio needed)"),
            missing="skip",
        ),
        Rule(
            "IMWG16-FLC-PR",
            "PR",
            ge("dflc_mg_dl_reduction_pct", 50),
            _c("response table, PR: ≥50 % fall in dFLC"),
        ),
        Rule("IMWG16-FLC-SD", "SD", AllOf(), _c("response table, SD")),
    ),
)

BM_ONLY = RuleSet(
    key="IMWG2016-BM",
    docs_page="mm-imwg2016",
    title="Multiple myeloma response (IMWG 2016), marrow plasma-cell fallback",
    edition="IMWG2016",
    citation=_c("response table, PR (BM plasma cells, baseline ≥30 %)"),
    categories=("PR", "SD", "NOT_EVALUABLE_BY_BM_BRANCH", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=INPUTS,
    derive=derive,
    derived_from=RESPONSE_SOURCES,
    rules=(
        Rule(
            "IMWG16-BM-NE",
            "NOT_EVALUABLE_BY_BM_BRANCH",
            lt("baseline_bm_pc_pct", 30),
            _c("response table, PR fallback requires baseline BM PCs ≥30 %"),
        ),
        Rule(
            "IMWG16-BM-PR",
            "PR",
            ge("bm_pc_pct_reduction_pct", 50),
            _c("response table, PR: ≥50 % fall in BM plasma cells"),
        ),
        Rule("IMWG16-BM-SD", "SD", AllOf(), _c("response table, SD")),
    ),
)


def derive_progression(facts: dict[str, Fact | None], params: Params) -> None:
    for marker in ("serum_m_g_dl", "urine_m_mg_24h", "dflc_mg_dl", "bm_pc_pct"):
        nadir, cur = num(facts, f"nadir_{marker}"), num(facts, marker)
        facts[f"{marker}_rise"] = None if nadir is None or cur is None else cur - nadir
        facts[f"{marker}_increase_pct"] = pct_increase(nadir, cur)


def _rise(marker: str, absolute: str | int, comparator: str = ">=") -> AllOf:
    # A marker that was not measured cannot show progression: unreported = not met.
    make = ge if comparator == ">=" else gt
    return AllOf(
        ge(f"{marker}_increase_pct", 25, when_missing=False),
        make(f"{marker}_rise", str(absolute), when_missing=False),
    )


PROGRESSION = RuleSet(
    key="IMWG2016-PD",
    docs_page="mm-imwg2016",
    title="Multiple myeloma progressive disease (IMWG 2016), from the lowest confirmed value",
    edition="IMWG2016",
    citation=_c("response table, PD"),
    categories=("NOT_MET", "PD", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        *INPUTS,
        InputSpec("nadir_serum_m_g_dl", InputKind.NUMBER, "g/dL"),
        InputSpec("nadir_urine_m_mg_24h", InputKind.NUMBER, "mg/24h"),
        InputSpec("nadir_dflc_mg_dl", InputKind.NUMBER, "mg/dL"),
        InputSpec("nadir_bm_pc_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
        InputSpec("new_lesions", InputKind.BOOL),
    ),
    derive=derive_progression,
    derived_from=PROGRESSION_SOURCES,
    rules=(
        Rule(
            "IMWG16-PD-SERUM",
            "PD",
            AnyOf(
                AllOf(lt("nadir_serum_m_g_dl", 5), _rise("serum_m_g_dl", "0.5")),
                # From a nadir ≥5 g/dL a rise ≥1 g/dL "suffices" on its own: 25 % of ≥5 is
                # already ≥1.25, so reading the 25 % condition into this clause would make the
                # published ≥1 g/dL clause dead text.
                AllOf(
                    ge("nadir_serum_m_g_dl", 5),
                    ge("serum_m_g_dl_rise", 1, when_missing=False),
                ),
            ),
            _c(
                "response table, PD: serum M ≥25 % and ≥0.5 g/dL; a rise ≥1 g/dL suffices "
                "if nadir ≥5"
            ),
        ),
        Rule(
            "IMWG16-PD-URINE",
            "PD",
            _rise("urine_m_mg_24h", 200),
            _c("response table, PD: urine M ≥25 % and ≥200 mg/24 h"),
        ),
        Rule(
            "IMWG16-PD-DFLC",
            "PD",
            _rise("dflc_mg_dl", 10, ">"),
            _c("response table, PD: dFLC ≥25 % and >10 mg/dL"),
        ),
        Rule(
            "IMWG16-PD-BMPC",
            "PD",
            _rise("bm_pc_pct", 10),
            _c("response table, PD: BM plasma cells ≥25 % and ≥10 % absolute"),
        ),
        Rule(
            "IMWG16-PD-LESION",
            "PD",
            is_("new_lesions", True, when_missing=False),
            _c("response table, PD: new lesions"),
        ),
        Rule("IMWG16-PD-NONE", "NOT_MET", AllOf(), _c("response table, PD")),
    ),
)

#: A PD of the :data:`PROGRESSION` table met on one assessment, not (yet) on the next.
PD_UNCONFIRMED = "PD_UNCONFIRMED"
#: A PD of the :data:`PROGRESSION` table met on two or more consecutive assessments with no new
#: therapy line started between them: each of them is confirmed progression.
PD_CONFIRMED = "PD_CONFIRMED"
#: Where the confirmation rule is written (the spec's §2.2 "Confirmation" row, [V, S9]).
CONFIRMATION = Citation(
    "Durie 2006 (International uniform response criteria, Leukemia 20:1467)",
    "response table footnote: every category needs two consecutive assessments before any new "
    "therapy",
)

#: A new therapy line restarts what response and progression are measured from: the line's
#: own baseline (the last value before it starts) and the lowest value since. The spec (§2.2)
#: measures PD from "the lowest confirmed value" and confirms "before any new therapy", without
#: saying which values a later line starts from; this is the standard IMWG reading, recalled
#: [R] (needs verification against the source).
PER_LINE = _c(
    "response and PD per line of therapy (planned induction, transplant and maintenance are "
    "one line): a line's response from the last value before it starts, its PD from the lowest "
    "value since",
    Tag.RECALLED,
)

NGS_TOO_FEW_READS = AllOf(
    is_("mrd_method", "NGS"),
    lt("ngs_identical_reads", ParamRef("ngs_min_identical_reads"), when_missing=False),
)

MRD = RuleSet(
    key="IMWG2016-MRD",
    docs_page="mm-imwg2016",
    title="Multiple myeloma MRD category (IMWG 2016)",
    edition="IMWG2016",
    citation=_c("MRD criteria table"),
    categories=(
        "IMAGING_PLUS_MRD_NEGATIVE",
        "FLOW_MRD_NEGATIVE",
        "SEQUENCING_MRD_NEGATIVE",
        "INSUFFICIENT_SENSITIVITY",
        "MRD_POSITIVE",
        "NOT_APPLICABLE",
        "NOT_EVALUABLE",
    ),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("cr_achieved", InputKind.BOOL),
        InputSpec("mrd_method", InputKind.TEXT, allowed=("NGF", "NGS")),
        InputSpec("mrd_result", InputKind.TEXT, allowed=IFE),
        InputSpec("mrd_sensitivity", InputKind.NUMBER, "fraction", maximum=D(1)),
        InputSpec("pet", InputKind.TEXT, allowed=IFE),
        InputSpec(
            "ngs_identical_reads",
            InputKind.NUMBER,
            "reads",
            description="reads of the index clonotype (sequencing MRD)",
        ),
    ),
    params=(
        Parameter(
            "ngs_min_identical_reads",
            2,
            None,
            "Sequencing MRD: a clone counts as present only with at least this many identical "
            "reads.",
            Tag.RECALLED,
        ),
    ),
    rules=(
        Rule(
            "IMWG16-MRD-NA",
            "NOT_APPLICABLE",
            is_("cr_achieved", False),
            _c("MRD table: MRD categories require CR"),
        ),
        Rule(
            "IMWG16-MRD-POS",
            "MRD_POSITIVE",
            AnyOf(
                # A reported positive stands, except a sequencing "positive" resting on fewer
                # identical reads than a clone needs.
                AllOf(is_("mrd_result", "positive"), Not(NGS_TOO_FEW_READS)),
                AllOf(
                    is_("mrd_method", "NGS"),
                    ge(
                        "ngs_identical_reads",
                        ParamRef("ngs_min_identical_reads"),
                        when_missing=False,
                    ),
                ),
            ),
            _c("MRD table (sequencing: clone present only with ≥2 identical reads)", Tag.RECALLED),
        ),
        Rule(
            "IMWG16-MRD-INSUFF",
            "INSUFFICIENT_SENSITIVITY",
            gt("mrd_sensitivity", "0.00001"),
            _c("MRD table: sensitivity at least 1 in 10^5", Tag.INTERPRETATION),
        ),
        Rule(
            "IMWG16-MRD-IMG",
            "IMAGING_PLUS_MRD_NEGATIVE",
            is_("pet", "negative", when_missing=False),
            _c("MRD table: imaging-plus MRD-negative", Tag.RECALLED),
        ),
        Rule(
            "IMWG16-MRD-NGF",
            "FLOW_MRD_NEGATIVE",
            is_("mrd_method", "NGF"),
            _c("MRD table: flow MRD-negative (NGF, ≥1e-5)"),
        ),
        Rule(
            "IMWG16-MRD-NGS",
            "SEQUENCING_MRD_NEGATIVE",
            is_("mrd_method", "NGS"),
            _c("MRD table: sequencing MRD-negative (≥1e-5)"),
        ),
    ),
    flags=(
        FlagRule(
            "NGS_CLONE_BELOW_READ_MINIMUM",
            # Reads seen but fewer than the minimum: reported so the reader knows why a
            # laboratory "positive" became a sequencing MRD-negative.
            AllOf(NGS_TOO_FEW_READS, ge("ngs_identical_reads", 1)),
            _c(
                "MRD table: a clone seen in fewer than 2 identical reads is not counted",
                Tag.RECALLED,
            ),
        ),
    ),
)

__all__ = [
    "BM_ONLY",
    "CONFIRMATION",
    "FLC_ONLY",
    "MRD",
    "PD_CONFIRMED",
    "PD_UNCONFIRMED",
    "PER_LINE",
    "PROGRESSION",
    "RESPONSE",
]
