"""Marrow work-ups: transfusional iron overload, possible marrow infection, anaemia findings.

* Iron overload [R]: serum ferritin > 1000 µg/L (BSH adult MDS guideline 2014, Killick et al.,
  Br J Haematol 164:503 — chelation considered in transfusion-dependent patients above it) or
  liver iron concentration by MRI > 7 mg Fe/g dry weight (the level linked with iron-related
  organ risk, as quoted in transfusion-medicine reviews). Neither was re-read in this pass.
* Possible marrow infection [I]: granulomas with a positive acid-fast stain, mycobacterial PCR
  or culture, fungal stain or marrow culture are a review flag ("possible marrow infection,
  e.g. disseminated tuberculosis"), never a diagnosis; granulomas without those tests ask for
  them.
* Anaemia work-up: absent iron stores (Gale grade 0, spec §7.4 [V]), ring sideroblasts ≥ 15 %
  of erythroid precursors (WHO 2016, spec §6.2 [V]), megaloblastic change (the
  pathologist's finding), hypocellularity for age (spec §7.1 [V]/[I]) and infiltration of the
  marrow (the core's infiltrate).
"""

from __future__ import annotations

from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    D,
    FlagRule,
    InputKind,
    InputSpec,
    Rule,
    RuleSet,
    Tag,
    ge,
    gt,
    is_,
    le,
)

BSH_MDS = "Killick 2014 (BSH adult MDS guideline, Br J Haematol 164:503), iron chelation"
LIC = "Liver iron concentration by MRI (transfusion iron overload reviews)"
OURS = "Trephine review rule (spec §9-style flag, no published threshold)"
GALE = "Gale 1963 (J Clin Invest), spec §7.4"
WHO16 = "Arber 2016 (WHO 2016, Blood 127:2391), spec §6.2"
CELL = "Age-expected cellularity, spec §7.1"

IRON_OVERLOAD = RuleSet(
    key="IRON-OVERLOAD",
    docs_page="workups",
    title="Transfusional iron overload flag",
    edition="BSH2014",
    citation=Citation(BSH_MDS, "serum ferritin > 1000 µg/L", Tag.RECALLED),
    categories=(
        "NO_IRON_OVERLOAD",
        "IRON_OVERLOAD",
        "TRANSFUSIONAL_IRON_OVERLOAD",
        "NOT_EVALUABLE",
    ),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("ferritin_ug_l", InputKind.NUMBER, "µg/L"),
        InputSpec("liver_iron_mg_g", InputKind.NUMBER, "mg Fe/g dry weight", maximum=D(100)),
        InputSpec("transfusion_dependent", InputKind.BOOL),
    ),
    rules=(
        Rule(
            "IRON-TX-LIC",
            "TRANSFUSIONAL_IRON_OVERLOAD",
            AllOf(is_("transfusion_dependent", True), gt("liver_iron_mg_g", 7)),
            Citation(LIC, "liver iron > 7 mg Fe/g dry weight, transfused", Tag.RECALLED),
            missing="skip",
        ),
        Rule(
            "IRON-TX-FERRITIN",
            "TRANSFUSIONAL_IRON_OVERLOAD",
            AllOf(is_("transfusion_dependent", True), gt("ferritin_ug_l", 1000)),
            Citation(BSH_MDS, "serum ferritin > 1000 µg/L, transfused", Tag.RECALLED),
            missing="skip",
        ),
        Rule(
            "IRON-HIGH",
            "IRON_OVERLOAD",
            AnyOf(gt("liver_iron_mg_g", 7), gt("ferritin_ug_l", 1000)),
            Citation(
                BSH_MDS,
                "ferritin > 1000 µg/L or liver iron > 7 mg/g without recorded transfusion "
                "dependence (other causes of a high ferritin to be considered)",
                Tag.RECALLED,
            ),
            missing="skip",
        ),
        Rule(
            "IRON-NONE",
            "NO_IRON_OVERLOAD",
            AnyOf(le("liver_iron_mg_g", 7), le("ferritin_ug_l", 1000)),
            Citation(BSH_MDS, "below both thresholds", Tag.RECALLED),
        ),
    ),
)

MARROW_INFECTION = RuleSet(
    key="MARROW-INFECTION",
    docs_page="workups",
    title="Possible marrow infection (granulomas and microbiology)",
    edition="Trephine-1",
    citation=Citation(OURS, "review flag", Tag.INTERPRETATION),
    categories=(
        "NO_INFECTION_FLAG",
        "GRANULOMAS_TESTS_NEGATIVE",
        "GRANULOMAS_TESTS_NEEDED",
        "POSSIBLE_MARROW_INFECTION",
        "NOT_EVALUABLE",
    ),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("granulomas", InputKind.BOOL),
        InputSpec("infection_test_positive", InputKind.BOOL, description="any test positive"),
        InputSpec("infection_tested", InputKind.BOOL, description="any test recorded"),
    ),
    rules=(
        Rule(
            "INF-POSITIVE",
            "POSSIBLE_MARROW_INFECTION",
            is_("infection_test_positive", True),
            Citation(
                OURS,
                "a positive acid-fast stain, mycobacterial PCR/culture, fungal stain or marrow "
                "culture (with or without granulomas): possible marrow infection, e.g. "
                "disseminated tuberculosis — for review",
                Tag.INTERPRETATION,
            ),
            missing="skip",
        ),
        Rule(
            "INF-GRANULOMA-UNTESTED",
            "GRANULOMAS_TESTS_NEEDED",
            AllOf(is_("granulomas", True), is_("infection_tested", False)),
            Citation(
                OURS,
                "granulomas without microbiology: send stains and cultures",
                Tag.INTERPRETATION,
            ),
        ),
        Rule(
            "INF-GRANULOMA-NEGATIVE",
            "GRANULOMAS_TESTS_NEGATIVE",
            is_("granulomas", True),
            Citation(OURS, "granulomas, microbiology negative so far", Tag.INTERPRETATION),
        ),
        Rule(
            "INF-NONE",
            "NO_INFECTION_FLAG",
            AllOf(),
            Citation(OURS, "no granulomas, no positive test", Tag.INTERPRETATION),
        ),
    ),
)

_FINDINGS = (
    (
        "ABSENT_IRON_STORES",
        is_("iron_stores_absent", True, when_missing=False),
        GALE,
        "absent iron stores (grade 0)",
    ),
    (
        "RING_SIDEROBLASTS_GE_15",
        ge("ring_sideroblasts_pct", 15, when_missing=False),
        WHO16,
        "ring sideroblasts ≥ 15 % of erythroid precursors",
    ),
    (
        "MEGALOBLASTIC_CHANGE",
        is_("megaloblastic_change", True, when_missing=False),
        "Pathologist's finding",
        "megaloblastic change",
    ),
    ("HYPOCELLULAR", is_("hypocellular", True, when_missing=False), CELL, "hypocellular for age"),
    (
        "INFILTRATION",
        is_("infiltrated", True, when_missing=False),
        "Core findings",
        "marrow infiltration",
    ),
)

ANAEMIA_WORKUP = RuleSet(
    key="ANAEMIA-WORKUP",
    docs_page="workups",
    title="Anaemia work-up: marrow findings that explain an anaemia",
    edition="Trephine-1",
    citation=Citation(OURS, "summary of cited marrow findings", Tag.INTERPRETATION),
    categories=("MARROW_FINDINGS", "NO_MARROW_FINDING", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("iron_stores_absent", InputKind.BOOL),
        InputSpec("ring_sideroblasts_pct", InputKind.NUMBER, "%", maximum=D(100)),
        InputSpec("megaloblastic_change", InputKind.BOOL),
        InputSpec("hypocellular", InputKind.BOOL),
        InputSpec("infiltrated", InputKind.BOOL),
    ),
    rules=(
        Rule(
            "ANAEMIA-FINDINGS",
            "MARROW_FINDINGS",
            AnyOf(*(cond for _, cond, _, _ in _FINDINGS)),
            Citation(OURS, "at least one finding", Tag.INTERPRETATION),
        ),
        Rule(
            "ANAEMIA-NONE",
            "NO_MARROW_FINDING",
            AnyOf(
                is_("iron_stores_absent", False),
                ge("ring_sideroblasts_pct", 0),
                is_("megaloblastic_change", False),
                is_("hypocellular", False),
                is_("infiltrated", False),
            ),
            Citation(OURS, "none of the findings on the results recorded", Tag.INTERPRETATION),
        ),
    ),
    flags=tuple(
        FlagRule(
            flag,
            cond,
            Citation(source, text, Tag.VERIFIED if source in (GALE, WHO16) else Tag.INTERPRETATION),
        )
        for flag, cond, source, text in _FINDINGS
    ),
)
