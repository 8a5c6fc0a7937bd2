"""CLL response (iwCLL 2008, Hallek et al., Blood 2008;111:5446 — Table 4; iwCLL 2018,
Hallek et al., Blood 2018;131:2745) and CLL MRD (< 10^-4)."""

from __future__ import annotations

from trephine.criteria.engine import num
from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    D,
    Fact,
    FirstAvailable,
    InputKind,
    InputSpec,
    Parameter,
    ParamRef,
    Params,
    Rule,
    RuleSet,
    Tag,
    Threshold,
    ge,
    gt,
    is_,
    le,
    lt,
)

SRC08 = "Hallek 2008 (iwCLL, Blood 111:5446)"
SRC18 = "Hallek 2018 (iwCLL, Blood 131:2745)"
HUNDRED = D(100)

INPUTS = (
    InputSpec("largest_node_cm", InputKind.NUMBER, "cm", maximum=D(100)),
    InputSpec("liver_spleen_normal", InputKind.BOOL),
    InputSpec("spleen_cm", InputKind.NUMBER, "cm", maximum=D(50), description="spleen length"),
    InputSpec("constitutional_symptoms", InputKind.BOOL),
    InputSpec("anc", InputKind.NUMBER, "x10^9/L"),
    InputSpec("plt", InputKind.NUMBER, "x10^9/L"),
    InputSpec("hb", InputKind.NUMBER, "g/dL", maximum=D(25)),
    InputSpec("circulating_clonal_b", InputKind.BOOL),
    InputSpec(
        "marrow_cellularity",
        InputKind.TEXT,
        allowed=("normocellular", "hypocellular", "hypercellular"),
    ),
    InputSpec("marrow_lymphocytes_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("marrow_b_nodules", InputKind.BOOL),
    InputSpec(
        "cll_infiltrate_present",
        InputKind.BOOL,
        description="pathologist's call of any CLL infiltrate (iwCLL 2018)",
    ),
    InputSpec("months_after_end_of_therapy", InputKind.NUMBER, "months"),
    InputSpec("node_change_pct", InputKind.NUMBER, "%", minimum=None, maximum=None),
    InputSpec("liver_spleen_change_pct", InputKind.NUMBER, "%", minimum=None, maximum=None),
    InputSpec("clonal_b_change_pct", InputKind.NUMBER, "%", minimum=None, maximum=None),
    InputSpec("plt_change_pct", InputKind.NUMBER, "%", minimum=None, maximum=None),
    InputSpec("hb_change_pct", InputKind.NUMBER, "%", minimum=None, maximum=None),
    InputSpec("anc_change_pct", InputKind.NUMBER, "%", minimum=None, maximum=None),
    InputSpec("hb_fall_g_dl", InputKind.NUMBER, "g/dL"),
    InputSpec("marrow_lymphocytes_rise_to_gt30", InputKind.BOOL),
    InputSpec(
        "hb_transfused_or_epo",
        InputKind.BOOL,
        description="the Hb was supported by transfusion or erythropoietin (not a CR Hb)",
    ),
    InputSpec(
        "marrow_cll_cells_change_pct",
        InputKind.NUMBER,
        "%",
        minimum=None,
        maximum=None,
        description="change of marrow CLL cells against the previous biopsy (iwCLL 2018)",
    ),
)


def _response(
    key: str,
    edition: str,
    source: str,
    counts: tuple[Threshold, ...],
    marrow_cr: AllOf | FirstAvailable,
    tag: Tag,
    *,
    node_cr: Threshold,
    hb_pd: Threshold,
    marrow_pd: Threshold,
    pd_tag: Tag | None = None,
    pd_source: str | None = None,
    spleen_cr: Threshold | None = None,
) -> RuleSet:
    def c(locator: str, t: Tag = tag, where: str = source) -> Citation:
        return Citation(where, locator, t)

    anc_cr, plt_cr, hb_cr = counts
    clinical_cr = AllOf(
        node_cr,
        is_("liver_spleen_normal", True),
        is_("constitutional_symptoms", False),
        is_("circulating_clonal_b", False),
        *(() if spleen_cr is None else (spleen_cr,)),
    )
    # CR haemoglobin is "untransfused and without erythropoietin" (Table 4); support is
    # recorded when given, so an unreported value counts as unsupported.
    blood_cr = AllOf(anc_cr, plt_cr, hb_cr, is_("hb_transfused_or_epo", False, when_missing=True))
    timing = ge("months_after_end_of_therapy", 2)
    # A parameter at CR level also satisfies the PR level of its row [I] (CLL-02).
    group_a = AnyOf(
        node_cr,
        le("node_change_pct", -50),
        is_("liver_spleen_normal", True),
        le("liver_spleen_change_pct", -50),
        is_("circulating_clonal_b", False),
        le("clonal_b_change_pct", -50),
    )
    group_b = AnyOf(
        plt_cr,
        ge("plt_change_pct", 50),
        hb_cr,
        ge("hb_change_pct", 50),
        anc_cr,
        ge("anc_change_pct", 50),
    )
    pd = AnyOf(
        ge("node_change_pct", 50, when_missing=False),
        ge("liver_spleen_change_pct", 50, when_missing=False),
        ge("clonal_b_change_pct", 50, when_missing=False),
        le("plt_change_pct", -50, when_missing=False),
        hb_pd,
        marrow_pd,
    )
    return RuleSet(
        key=key,
        docs_page="cll-iwcll",
        title=f"CLL response ({edition})",
        edition=edition,
        citation=c("response table"),
        categories=("CR", "CRi", "PR", "SD", "PD", "NOT_EVALUABLE"),
        not_evaluable="NOT_EVALUABLE",
        inputs=INPUTS,
        rules=(
            Rule(
                f"{key}-PD",
                "PD",
                pd,
                c(
                    "PD: ≥1 group A or B criterion; outranks any response",
                    pd_tag or tag,
                    pd_source or source,
                ),
            ),
            Rule(
                f"{key}-CR",
                "CR",
                AllOf(
                    clinical_cr,
                    blood_cr,
                    is_("marrow_cellularity", "normocellular"),
                    marrow_cr,
                    timing,
                ),
                c("CR: all criteria, ≥2 months after therapy"),
            ),
            Rule(
                f"{key}-CRi",
                "CRi",
                AllOf(
                    clinical_cr,
                    blood_cr,
                    is_("marrow_cellularity", "hypocellular"),
                    marrow_cr,
                    timing,
                ),
                c("CR criteria with a hypocellular marrow ⇒ CRi"),
            ),
            Rule(
                f"{key}-PR",
                "PR",
                AllOf(group_a, group_b),
                c("PR: ≥1 group A and ≥1 group B criterion"),
            ),
            Rule(f"{key}-SD", "SD", AllOf(), c("SD")),
        ),
    )


IWCLL2008 = _response(
    "iwCLL2008",
    "iwCLL2008",
    SRC08 + ", Table 4",
    (gt("anc", "1.5"), gt("plt", 100), gt("hb", "11.0")),
    AllOf(lt("marrow_lymphocytes_pct", 30), is_("marrow_b_nodules", False)),
    Tag.VERIFIED,
    # Table 4: CR "none more than 1.5 cm"; PD Hb "decrease of >2 g/dL"; marrow PD "increase of
    # lymphocytes to more than 30 %".
    node_cr=le("largest_node_cm", "1.5"),
    hb_pd=gt("hb_fall_g_dl", 2, when_missing=False),
    marrow_pd=is_("marrow_lymphocytes_rise_to_gt30", True, when_missing=False),
)
IWCLL2018 = _response(
    "iwCLL2018",
    "iwCLL2018",
    SRC18 + ", response table",
    (ge("anc", "1.5"), ge("plt", 100), ge("hb", "11.0")),
    # The pathologist's "no CLL infiltrate" call when reported, else the 2008 quantitative
    # marrow criterion (open item 3 in clinical-criteria.md).
    AllOf(
        FirstAvailable(is_("cll_infiltrate_present", False), lt("marrow_lymphocytes_pct", 30)),
        is_("marrow_b_nodules", False),
    ),
    Tag.RECALLED,
    # The 2018 table (docs/criteria/verification.md, session 6): CR lymph nodes "none ≥1.5 cm";
    # PD Hb "decrease of ≥2 g/dL"; marrow PD "increase of CLL cells by ≥50% on successive
    # biopsies" (the 2008 "rise to > 30 %" is not a 2018 criterion).
    node_cr=lt("largest_node_cm", "1.5"),
    hb_pd=ge("hb_fall_g_dl", 2, when_missing=False),
    marrow_pd=ge("marrow_cll_cells_change_pct", 50, when_missing=False),
    pd_tag=Tag.VERIFIED,
    pd_source=SRC18 + ", Table 4 (ASH table view 8031833)",
    # CR also needs a spleen < 13 cm on imaging when a size is reported ("spleen size <13 cm").
    spleen_cr=lt("spleen_cm", 13, when_missing=True),
)


def _derive_mrd(facts: dict[str, Fact | None], params: Params) -> None:
    events, leukocytes = num(facts, "cll_events"), num(facts, "leukocytes_analysed")
    facts["mrd_fraction"] = None if events is None or not leukocytes else events / leukocytes


MRD = RuleSet(
    key="iwCLL2018-MRD",
    docs_page="cll-iwcll",
    title="CLL MRD (iwCLL 2018 / ERIC): undetectable below 10^-4",
    edition="iwCLL2018",
    citation=Citation(SRC18, "MRD section", Tag.RECALLED),
    categories=("UNDETECTABLE_MRD4", "MRD_POSITIVE", "INSUFFICIENT_SAMPLE", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("leukocytes_analysed", InputKind.NUMBER, "cells"),
        InputSpec("cll_events", InputKind.NUMBER, "events"),
    ),
    params=(
        Parameter(
            "umrd_threshold",
            D("0.0001"),
            None,
            "uMRD4: fewer than 1 CLL cell per 10,000 leukocytes; exactly 10^-4 is positive.",
            Tag.VERIFIED,
        ),
        Parameter(
            "min_leukocytes",
            200000,
            None,
            "Leukocytes that must be analysed for 10^-4 to be reachable.",
            Tag.RECALLED,
        ),
    ),
    derive=_derive_mrd,
    derived_from={"mrd_fraction": ("cll_events", "leukocytes_analysed")},
    rules=(
        Rule(
            "CLL-MRD-POS",
            "MRD_POSITIVE",
            ge("mrd_fraction", ParamRef("umrd_threshold")),
            Citation("Ringelstein-Harlev 2014 (RMMJ 5:e0027)", "uMRD4 <10^-4"),
        ),
        Rule(
            "CLL-MRD-INSUFF",
            "INSUFFICIENT_SAMPLE",
            lt("leukocytes_analysed", ParamRef("min_leukocytes")),
            Citation(SRC18, "≥200,000 leukocytes analysed", Tag.RECALLED),
        ),
        Rule(
            "CLL-MRD-NEG",
            "UNDETECTABLE_MRD4",
            lt("mrd_fraction", ParamRef("umrd_threshold")),
            Citation("Ringelstein-Harlev 2014 (RMMJ 5:e0027)", "uMRD4 <10^-4"),
        ),
    ),
)
