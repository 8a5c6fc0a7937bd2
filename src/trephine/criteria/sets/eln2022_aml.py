"""AML response, ELN 2022 (Döhner et al., Blood 2022;140:1345–1377), Table 7.

Three rule sets: the response category of one marrow assessment, haematologic relapse after a
CR-family response, and the response landmark (refractory disease).
"""

from __future__ import annotations

from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    FlagRule,
    InputKind,
    InputSpec,
    Not,
    Parameter,
    ParamIs,
    ParamRef,
    Rule,
    RuleSet,
    Tag,
    between,
    ge,
    is_,
    lt,
)
from trephine.criteria.sets._aml_common import (
    ADEQUATE_2022,
    AML_INPUTS,
    BLAST_CHANGE_SOURCES,
    HEMODILUTE_FLAG,
    HEMODILUTION_PARAM,
    derive_blast_change,
    hemodilute_rule,
)

SOURCE = "Döhner 2022 (ELN, Blood 140:1345)"
T7 = "Table 7"


def _c(locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(SOURCE, locator, tag)


LEUKEMIA_FREE = AllOf(
    lt("bm_blasts_pct", 5),
    is_("circulating_blasts", False),
    is_("extramedullary", False),
)

PARAMS = (
    Parameter(
        "cri_mode",
        "single_lineage_deficit",
        ("single_lineage_deficit", "any_deficit"),
        "A1: CRi needs one lineage at the CR threshold (keeps MLFS meaningful); "
        "'any_deficit' gives CRi whenever CR fails on counts only.",
    ),
    Parameter(
        "apply_adequacy_to_all",
        True,
        (True, False),
        "A2: the spicules + (≥200 cells or ≥10 % cellularity) floor applies to every "
        "marrow-based category, not only MLFS.",
    ),
    Parameter(
        "pr_requires_no_pb_blasts",
        True,
        (True, False),
        "A3: PR's 'haematologic criteria of CR' include no circulating blasts.",
    ),
    Parameter(
        "washout_flag_days",
        7,
        None,
        "A4: flag a count taken within this many days of a platelet transfusion or G-CSF.",
    ),
)

RESPONSE = RuleSet(
    key="ELN2022",
    docs_page="aml-eln2022",
    title="AML response (ELN 2022)",
    edition="ELN2022",
    citation=_c(T7),
    categories=("CR", "CRh", "CRi", "MLFS", "PR", "NO_RESPONSE", "NON_EVALUABLE"),
    not_evaluable="NON_EVALUABLE",
    params=(*PARAMS, HEMODILUTION_PARAM),
    inputs=AML_INPUTS,
    derive=derive_blast_change,
    derived_from=BLAST_CHANGE_SOURCES,
    rules=(
        hemodilute_rule("ELN22-NE-HEMODILUTE", "NON_EVALUABLE"),
        Rule(
            "ELN22-NE-ADEQ",
            "NON_EVALUABLE",
            AllOf(ParamIs("apply_adequacy_to_all", True), Not(ADEQUATE_2022)),
            _c(T7 + ", non-evaluable (technically sub-optimal sample); A2", Tag.INTERPRETATION),
            "inadequate sample: spicules + (≥200 cells or ≥10 % cellularity) not met",
        ),
        Rule(
            "ELN22-CR",
            "CR",
            AllOf(LEUKEMIA_FREE, ge("anc", "1.0"), ge("plt", 100)),
            _c(T7 + ", CR"),
        ),
        Rule(
            "ELN22-CRh",
            "CRh",
            AllOf(LEUKEMIA_FREE, ge("anc", "0.5"), ge("plt", 50)),
            _c(T7 + ", CRh"),
        ),
        Rule(
            "ELN22-CRi-single",
            "CRi",
            AllOf(
                LEUKEMIA_FREE,
                ParamIs("cri_mode", "single_lineage_deficit"),
                AnyOf(ge("anc", "1.0"), ge("plt", 100)),
            ),
            _c(T7 + ", CRi; A1 single_lineage_deficit", Tag.INTERPRETATION),
        ),
        Rule(
            "ELN22-CRi-any",
            "CRi",
            AllOf(LEUKEMIA_FREE, ParamIs("cri_mode", "any_deficit")),
            _c(T7 + ", CRi; A1 any_deficit", Tag.INTERPRETATION),
        ),
        Rule(
            "ELN22-MLFS-NE",
            "NON_EVALUABLE",
            AllOf(LEUKEMIA_FREE, Not(ADEQUATE_2022)),
            _c(T7 + ", MLFS footnote (aplastic marrow does not qualify)"),
            "leukaemia-free but not an adequate marrow: not MLFS",
        ),
        Rule("ELN22-MLFS", "MLFS", LEUKEMIA_FREE, _c(T7 + ", MLFS")),
        Rule(
            "ELN22-PR",
            "PR",
            AllOf(
                between("bm_blasts_pct", 5, 25),
                ge("bm_blast_reduction_pct", 50),
                ge("anc", "1.0"),
                ge("plt", 100),
                AnyOf(ParamIs("pr_requires_no_pb_blasts", False), is_("circulating_blasts", False)),
            ),
            _c(T7 + ", PR; A3 no circulating blasts", Tag.VERIFIED),
        ),
        Rule("ELN22-NR", "NO_RESPONSE", AllOf(), _c(T7 + ", no response")),
    ),
    flags=(
        HEMODILUTE_FLAG,
        FlagRule(
            "AUER_RODS_REVIEW",
            is_("auer_rods", True),
            _c(T7 + " (Auer rods no longer listed); A5", Tag.INTERPRETATION),
        ),
        FlagRule(
            "PLATELET_TRANSFUSION_WITHIN_WASHOUT",
            lt("days_since_last_platelet_tx", ParamRef("washout_flag_days")),
            _c("A4", Tag.INTERPRETATION),
        ),
        FlagRule(
            "GCSF_WITHIN_WASHOUT",
            lt("days_since_gcsf", ParamRef("washout_flag_days")),
            _c("A4", Tag.INTERPRETATION),
        ),
    ),
)

CR_FAMILY = (
    "CR",
    "CRh",
    "CRi",
    "CR_MRD-",
    "CRh_MRD-",
    "CRi_MRD-",
    "CR_MRD-LL",
    "CRh_MRD-LL",
    "CRi_MRD-LL",
)

RELAPSE = RuleSet(
    key="ELN2022-relapse",
    docs_page="aml-eln2022",
    title="AML haematologic relapse after CR/CRh/CRi (ELN 2022)",
    edition="ELN2022",
    citation=_c(T7 + ", relapse", Tag.RECALLED),
    categories=("NOT_MET", "HEMATOLOGIC_RELAPSE", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        *AML_INPUTS,
        InputSpec("pb_positive_samples", InputKind.NUMBER, "samples"),
        InputSpec("pb_positive_span_days", InputKind.NUMBER, "days"),
    ),
    params=(
        Parameter(
            "pb_relapse_min_days_apart",
            7,
            None,
            "Blood blasts must be seen in ≥2 samples at least this many days apart.",
            Tag.RECALLED,
        ),
    ),
    rules=(
        Rule(
            "ELN22-REL-EMD",
            "HEMATOLOGIC_RELAPSE",
            # CR/CRh/CRi required no EMD, so EMD seen after remission is new EMD.
            AnyOf(
                is_("new_extramedullary", True, when_missing=False),
                is_("extramedullary", True, when_missing=False),
            ),
            _c(T7 + ", relapse: new EMD", Tag.RECALLED),
        ),
        Rule(
            "ELN22-REL-PB",
            "HEMATOLOGIC_RELAPSE",
            AllOf(
                ge("pb_positive_samples", 2),
                ge("pb_positive_span_days", ParamRef("pb_relapse_min_days_apart")),
            ),
            _c(T7 + ", relapse: blood blasts in ≥2 samples ≥1 week apart", Tag.RECALLED),
        ),
        Rule(
            "ELN22-REL-BM",
            "HEMATOLOGIC_RELAPSE",
            ge("bm_blasts_pct", 5),
            # Last of the relapse rows: blood or EMD alone suffice, but "not met" needs the
            # marrow (a missing marrow is reported, never assumed normal).
            _c(T7 + ", relapse: BM blasts ≥5 %", Tag.RECALLED),
        ),
        Rule("ELN22-REL-NONE", "NOT_MET", AllOf(), _c(T7 + ", relapse", Tag.RECALLED)),
    ),
    flags=(
        FlagRule(
            "CONFIRM_REPEAT_MARROW_5_TO_10",
            between("bm_blasts_pct", 5, 10),
            _c("relapse note: repeat marrow advised with 5–10 % blasts", Tag.RECALLED),
        ),
        FlagRule(
            "REPEAT_PB_AT_LEAST_7_DAYS_LATER",
            AllOf(ge("pb_positive_samples", 1), lt("pb_positive_samples", 2)),
            _c("relapse: second blood sample needed", Tag.RECALLED),
        ),
        FlagRule(
            "REPEAT_PB_AT_LEAST_7_DAYS_AFTER_FIRST",
            AllOf(
                ge("pb_positive_samples", 2),
                lt("pb_positive_span_days", ParamRef("pb_relapse_min_days_apart")),
            ),
            _c("relapse: samples less than a week apart", Tag.RECALLED),
        ),
    ),
)

AT_LANDMARK = AnyOf(
    AllOf(
        is_("therapy_intensity", "intensive"),
        ge("courses_completed", ParamRef("landmark_intensive_courses")),
    ),
    AllOf(
        is_("therapy_intensity", "less_intensive"),
        ge("days_since_start", ParamRef("landmark_less_intensive_days")),
    ),
)

LANDMARK = RuleSet(
    key="ELN2022-landmark",
    docs_page="aml-eln2022",
    title="AML refractory disease at the response landmark (ELN 2022)",
    edition="ELN2022",
    citation=_c(T7 + ", refractory disease"),
    categories=("NOT_REFRACTORY", "BEFORE_LANDMARK", "REFRACTORY", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("therapy_intensity", InputKind.TEXT, allowed=("intensive", "less_intensive")),
        InputSpec("courses_completed", InputKind.NUMBER, "courses"),
        InputSpec("days_since_start", InputKind.NUMBER, "days"),
        InputSpec(
            "cr_achieved",
            InputKind.BOOL,
            description="CR, CRh or CRi at the landmark marrow (or earlier, from the history)",
        ),
    ),
    params=(
        Parameter(
            "landmark_intensive_courses",
            2,
            None,
            "Landmark after this many courses of intensive induction.",
            Tag.VERIFIED,
        ),
        Parameter(
            "landmark_less_intensive_days",
            180,
            None,
            "Pre-defined landmark for less-intensive therapy (days from start).",
            Tag.RECALLED,
        ),
    ),
    rules=(
        Rule(
            "ELN22-LM-BEFORE",
            "BEFORE_LANDMARK",
            Not(AT_LANDMARK),
            _c(T7 + ", no response (before landmark)"),
        ),
        Rule(
            "ELN22-LM-REFRACTORY",
            "REFRACTORY",
            is_("cr_achieved", False),
            _c(
                T7 + ", refractory: no CR/CRh/CRi at landmark (2 intensive courses [V]; "
                "180 days less-intensive [R])"
            ),
        ),
        Rule(
            "ELN22-LM-RESPONDED",
            "NOT_REFRACTORY",
            is_("cr_achieved", True),
            _c(T7 + ", refractory disease"),
        ),
    ),
)

__all__ = ["CR_FAMILY", "LANDMARK", "RELAPSE", "RESPONSE"]
