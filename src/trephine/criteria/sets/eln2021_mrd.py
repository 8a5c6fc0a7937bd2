"""AML measurable residual disease, ELN 2021 (Heuser et al., Blood 2021;138:2753–2767).

One MRD result (MFC, qPCR/dPCR or NGS) → MRD status. Combining several methods and the
MRD-relapse state machine (conversion, ≥ 1 log10 rise) live in :mod:`trephine.criteria.mrd`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    D,
    FlagRule,
    InputKind,
    InputSpec,
    Not,
    Parameter,
    ParamRef,
    Rule,
    RuleSet,
    Tag,
    ge,
    gt,
    is_,
    le,
    lt,
)

SOURCE = "Heuser 2021 (ELN MRD, Blood 138:2753)"

#: Clonal-haematopoiesis genes excluded from NGS-MRD calls (M12).
DTA_GENES = frozenset({"DNMT3A", "TET2", "ASXL1"})
#: Targets for which qPCR low-level MRD (MRD-LL) is defined (M10): NPM1 and CBF fusions.
LOW_LEVEL_TARGETS = frozenset({"NPM1", "RUNX1::RUNX1T1", "CBFB::MYH11"})


def low_level_target(target: str) -> bool:
    """NPM1 (any mutation type, e.g. "NPM1 type A") or a CBF fusion (RUNX1::RUNX1T1,
    CBFB::MYH11, also written with "-" or "/")."""
    name = target.upper().replace(" ", "")
    if name.startswith("NPM1"):
        return True
    fusion = name.replace("-", "::").replace("/", "::")
    return fusion in LOW_LEVEL_TARGETS


def _c(locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(SOURCE, locator, tag)


M6_CITATION = Citation(SOURCE, "M6, LOD/LLOQ and sensitivity (with Tettero 2022)", Tag.RECALLED)


def mfc_sensitivity(
    cd45_events: Decimal, lod_events: Decimal, lloq_events: Decimal
) -> dict[str, Any]:
    """M6: the assay's limit of detection and sensitivity (LLOQ) as fractions of the CD45+
    events acquired — sensitivity = LLOQ events ÷ CD45+ events (50 / 500,000 = 1×10^-4).

    Exact Decimal division, so that a reader comparing with 10^-4 or 10^-5 sees the exact
    value, not a binary-float neighbour.
    """
    if cd45_events <= 0:
        raise ValueError("cd45_events must be positive")
    return {
        "rule": "ELN21-M6",
        "lod": lod_events / cd45_events,
        "sensitivity": lloq_events / cd45_events,
        "formula": "sensitivity = lloq_events / cd45_events; lod = lod_events / cd45_events",
        "inputs": {
            "cd45_events": cd45_events,
            "lod_events": lod_events,
            "lloq_events": lloq_events,
        },
        "citation": str(M6_CITATION),
    }


MFC = is_("mrd_method", "MFC")
PCR = AnyOf(is_("mrd_method", "qPCR"), is_("mrd_method", "dPCR"))
NGS = is_("mrd_method", "NGS")

MRD = RuleSet(
    key="ELN2021",
    docs_page="aml-eln2021-mrd",
    title="AML MRD status (ELN 2021)",
    edition="ELN2021",
    citation=_c("MFC and clinical recommendation tables"),
    categories=(
        "NEGATIVE",
        "NEGATIVE_NGS_ONLY",
        "LOW_LEVEL",
        "POSITIVE",
        "INSUFFICIENT_SENSITIVITY",
        "NOT_EVALUABLE_HEMODILUTE",
        "NOT_EVALUABLE",
    ),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("mrd_method", InputKind.TEXT, allowed=("MFC", "qPCR", "dPCR", "NGS")),
        InputSpec("mfc_pct", InputKind.NUMBER, "% of CD45+ cells", maximum=None),
        InputSpec("cd45_events", InputKind.NUMBER, "events"),
        InputSpec("pcr_detected", InputKind.BOOL),
        InputSpec("pcr_level_pct", InputKind.NUMBER, "% target/ABL1"),
        InputSpec(
            "pcr_low_level_target",
            InputKind.BOOL,
            description="target is NPM1 or a CBF fusion (MRD-LL defined)",
        ),
        InputSpec(
            "ngs_max_informative_vaf_pct",
            InputKind.NUMBER,
            "%",
            description="highest VAF after removing DNMT3A/TET2/ASXL1 and germline",
        ),
        InputSpec(
            "hemodilute",
            InputKind.BOOL,
            description="no spicules, or the laboratory's haemodilution flag",
        ),
    ),
    params=(
        Parameter(
            "mfc_threshold_pct",
            D("0.1"),
            None,
            "M5: MFC positivity threshold (% of CD45+ cells); exactly 0.1 % is positive.",
            Tag.RECALLED,
        ),
        Parameter(
            "mfc_min_cd45_events",
            500000,
            None,
            "M4: a negative MFC result needs more than this many CD45+ events.",
        ),
        Parameter(
            "mfc_lod_events",
            20,
            None,
            "M6: smallest cluster counted as a population (LOD), when the result does not give "
            "the laboratory's own validated lod_events.",
            Tag.RECALLED,
        ),
        Parameter(
            "mfc_lloq_events",
            50,
            None,
            "M6: events needed to quantify (LLOQ), when the result does not give the "
            "laboratory's own validated lloq_events; sensitivity = LLOQ ÷ CD45+ events.",
            Tag.RECALLED,
        ),
        Parameter(
            "pcr_low_level_cutoff_pct",
            2,
            None,
            "M10: qPCR MRD below this level in NPM1/CBF AML is MRD-LL.",
            Tag.RECALLED,
        ),
        Parameter(
            "ngs_vaf_threshold_pct",
            D("0.1"),
            None,
            "M12: NGS-MRD positivity VAF (%).",
            Tag.RECALLED,
        ),
    ),
    rules=(
        Rule(
            "ELN21-MFC-POS",
            "POSITIVE",
            AllOf(MFC, ge("mfc_pct", ParamRef("mfc_threshold_pct"))),
            _c("M5, MFC ≥0.1 % positive", Tag.RECALLED),
        ),
        Rule(
            "ELN21-PCR-POS",
            "POSITIVE",
            AllOf(
                PCR,
                is_("pcr_detected", True),
                AnyOf(
                    is_("pcr_low_level_target", False),
                    # MRD-LL is a quantified statement (< 2 %): a positive call (M9, e.g. Ct
                    # < 40 in 2 of 3 replicates) without a level is reported as positive.
                    ge("pcr_level_pct", ParamRef("pcr_low_level_cutoff_pct"), when_missing=True),
                ),
            ),
            _c(
                "M9/M10, qPCR ≥2 % (or unquantified, or a target without an MRD-LL definition)",
                Tag.RECALLED,
            ),
        ),
        Rule(
            "ELN21-PCR-LL",
            "LOW_LEVEL",
            AllOf(
                PCR,
                is_("pcr_detected", True),
                lt("pcr_level_pct", ParamRef("pcr_low_level_cutoff_pct")),
            ),
            _c("M10, MRD-LL <2 % in NPM1/CBF AML", Tag.RECALLED),
        ),
        Rule(
            "ELN21-NGS-POS",
            "POSITIVE",
            AllOf(NGS, ge("ngs_max_informative_vaf_pct", ParamRef("ngs_vaf_threshold_pct"))),
            _c("M12, non-DTA variant VAF ≥0.1 %", Tag.RECALLED),
        ),
        Rule(
            "ELN21-HEMODILUTE",
            "NOT_EVALUABLE_HEMODILUTE",
            is_("hemodilute", True, when_missing=False),
            Citation(
                "clinical-criteria.md §8 (ICSH 2008 / ELN 2021 M2–M3)",
                "haemodilute sample cannot give a negative call",
                Tag.INTERPRETATION,
            ),
        ),
        Rule(
            "ELN21-MFC-INSUFF",
            "INSUFFICIENT_SENSITIVITY",
            AllOf(MFC, le("cd45_events", ParamRef("mfc_min_cd45_events"))),
            _c("M4, negative needs >500,000 CD45+ events"),
        ),
        Rule("ELN21-MFC-NEG", "NEGATIVE", MFC, _c("M5, MFC <0.1 %", Tag.RECALLED)),
        Rule(
            "ELN21-PCR-NEG",
            "NEGATIVE",
            AllOf(PCR, is_("pcr_detected", False)),
            _c("M9, qPCR not detected", Tag.RECALLED),
        ),
        Rule(
            "ELN21-NGS-NEG",
            "NEGATIVE_NGS_ONLY",
            NGS,
            _c("M8/M12, NGS-MRD not a stand-alone technique", Tag.RECALLED),
        ),
    ),
    flags=(
        FlagRule(
            "MRD_DETECTABLE_BELOW_THRESHOLD",
            AllOf(MFC, gt("mfc_pct", 0), lt("mfc_pct", ParamRef("mfc_threshold_pct"))),
            _c("M5, report residual cells below 0.1 %", Tag.RECALLED),
        ),
        FlagRule("NGS_NOT_STANDALONE", NGS, _c("M8")),
        FlagRule(
            "PCR_LEVEL_NOT_QUANTIFIED",
            AllOf(PCR, is_("pcr_detected", True), Not(ge("pcr_level_pct", 0, when_missing=False))),
            _c("M10: MRD-LL needs a quantified level", Tag.INTERPRETATION),
        ),
    ),
)
