"""Diagnostic helpers on a marrow: WHO 5th / ICC 2022 / WHO 2016 blast categories, dysplasia,
age-expected cellularity, aplastic anaemia severity, iron and fibrosis grades, M:E ratio,
ICSH specimen adequacy, chimerism, pre-procedure safety, IMWG 2014 plasma-cell thresholds."""

from __future__ import annotations

from decimal import Decimal

from trephine.criteria.engine import num
from trephine.criteria.model import (
    ANC_MAX,
    PLT_MAX,
    AllOf,
    AnyOf,
    AtLeast,
    Citation,
    Condition,
    D,
    Fact,
    FactRef,
    FlagRule,
    InputKind,
    InputSpec,
    Parameter,
    ParamIs,
    ParamRef,
    Params,
    Rule,
    RuleSet,
    Tag,
    between,
    ge,
    gt,
    is_,
    le,
    lt,
)

HUNDRED = D(100)
WHO5 = "Khoury 2022 (WHO 5th ed., Leukemia 36:1703)"
ICC = "Arber 2022 (ICC, Blood 140:1200)"
WHO16 = "Arber 2016 (WHO 2016, Blood 127:2391)"


def _c(source: str, locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(source, locator, tag)


# ---------------------------------------------------------------------------------------------
# Genetic findings → boolean facts ``gen_<key>``. Spellings accepted in ``genetics`` lists.
GENETICS: dict[str, tuple[str, ...]] = {
    "NPM1": ("NPM1", "NPM1_mutated"),
    "PML_RARA": ("PML::RARA", "t(15;17)"),
    "RUNX1_RUNX1T1": ("RUNX1::RUNX1T1", "t(8;21)"),
    "CBFB_MYH11": ("CBFB::MYH11", "inv(16)", "t(16;16)"),
    "DEK_NUP214": ("DEK::NUP214", "t(6;9)"),
    "RBM15_MRTFA": ("RBM15::MRTFA", "t(1;22)"),
    "KMT2A": ("KMT2A", "KMT2A-r", "KMT2A_rearranged", "KMT2A::MLLT3", "MLLT3::KMT2A", "t(9;11)"),
    "MECOM": ("MECOM", "MECOM-r", "MECOM_rearranged", "inv(3)", "t(3;3)", "GATA2::MECOM"),
    "NUP98": ("NUP98", "NUP98-r", "NUP98_rearranged", "NUP98::NSD1", "NUP98::KDM5A"),
    "BCR_ABL1": ("BCR::ABL1", "t(9;22)"),
    "CEBPA_BZIP": ("CEBPA_bZIP_in_frame", "CEBPA_bZIP"),
    "CEBPA_BIALLELIC": ("CEBPA_biallelic", "CEBPA_biallelic_non_bZIP"),
    "CEBPA_OTHER": ("CEBPA", "CEBPA_single_non_bZIP", "CEBPA_monoallelic"),
    "TP53": ("TP53",),
    "TP53_MULTIHIT": ("TP53_multihit", "TP53_biallelic", "TP53_multi_hit"),
    # A TP53 copy loss / copy-neutral LOH: with one TP53 mutation it makes a multi-hit (§6.2).
    "TP53_LOSS": ("del(17p)", "17p-", "TP53_deletion", "TP53_copy_loss", "TP53_cnLOH"),
    "SF3B1": ("SF3B1",),
    "DEL5Q": ("del(5q)", "del5q"),
    "MINUS7": ("-7", "del(7q)", "monosomy7"),
    "COMPLEX": ("complex", "complex_karyotype"),
}
GENETIC_TOKENS = {alias: key for key, aliases in GENETICS.items() for alias in aliases}


def gen(key: str) -> Condition:
    return is_(f"gen_{key}", True)


DX_INPUTS = (
    InputSpec("bm_blasts_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("pb_blasts_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("max_blasts_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("auer_rods", InputKind.BOOL),
    InputSpec(
        "ring_sideroblasts_pct", InputKind.NUMBER, "% of erythroid precursors", maximum=HUNDRED
    ),
    InputSpec("tp53_vaf_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("fibrosis_grade", InputKind.NUMBER, "MF grade", maximum=D(3)),
    InputSpec("biopsy_cellularity_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec(
        "genetics_tested",
        InputKind.BOOL,
        description="mutations/fusions were tested (an absent gene is then a negative result)",
    ),
    *(InputSpec(f"gen_{key}", InputKind.BOOL) for key in GENETICS),
)


def derive_blasts(facts: dict[str, Fact | None], params: Params) -> None:
    values = [
        v for v in (num(facts, "bm_blasts_pct"), num(facts, "pb_blasts_pct")) if v is not None
    ]
    facts["max_blasts_pct"] = max(values) if values else None


AML20 = ge("max_blasts_pct", 20)
AML10 = ge("max_blasts_pct", 10)


def _any_count(name: str, key: str, category: str) -> Rule:
    return Rule(
        f"WHO5-{key}",
        category,
        gen(key),
        _c(
            WHO5,
            f"Table 3, {name}: AML-defining at any blast count",
            Tag.VERIFIED if key in {"NPM1", "KMT2A", "MECOM", "NUP98"} else Tag.RECALLED,
        ),
    )


LOW_BLASTS = AllOf(lt("bm_blasts_pct", 5), lt("pb_blasts_pct", 2))
NO_5Q_7_COMPLEX = AllOf(
    is_("gen_DEL5Q", False), is_("gen_MINUS7", False), is_("gen_COMPLEX", False)
)

WHO5_CLASS = RuleSet(
    key="WHO5",
    title="Myeloid blast categories (WHO 5th edition, 2022)",
    edition="WHO5",
    citation=_c(WHO5, "Table 3 (AML) and MDS table"),
    categories=(),  # nominal categories: no better/worse order
    not_evaluable="NOT_EVALUABLE",
    inputs=DX_INPUTS,
    derive=derive_blasts,
    derived_from={"max_blasts_pct": ("bm_blasts_pct", "pb_blasts_pct")},
    rules=(
        _any_count("APL", "PML_RARA", "APL with PML::RARA fusion"),
        _any_count("RUNX1::RUNX1T1", "RUNX1_RUNX1T1", "AML with RUNX1::RUNX1T1 fusion"),
        _any_count("CBFB::MYH11", "CBFB_MYH11", "AML with CBFB::MYH11 fusion"),
        _any_count("DEK::NUP214", "DEK_NUP214", "AML with DEK::NUP214 fusion"),
        _any_count("RBM15::MRTFA", "RBM15_MRTFA", "AML with RBM15::MRTFA fusion"),
        _any_count("KMT2A", "KMT2A", "AML with KMT2A rearrangement"),
        _any_count("MECOM", "MECOM", "AML with MECOM rearrangement"),
        _any_count("NUP98", "NUP98", "AML with NUP98 rearrangement"),
        _any_count("NPM1", "NPM1", "AML with NPM1 mutation"),
        Rule(
            "WHO5-BCR",
            "AML with BCR::ABL1 fusion",
            AllOf(gen("BCR_ABL1"), AML20),
            _c(WHO5, "Table 3, AML with BCR::ABL1 needs ≥20 % blasts"),
        ),
        Rule(
            "WHO5-BCR-LOW",
            "NOT_AML_BCR_ABL1",
            gen("BCR_ABL1"),
            _c(WHO5, "BCR::ABL1 with <20 % blasts: not AML (consider CML)"),
        ),
        Rule(
            "WHO5-CEBPA",
            "AML with CEBPA mutation",
            AllOf(AnyOf(gen("CEBPA_BZIP"), gen("CEBPA_BIALLELIC")), AML20),
            _c(WHO5, "Table 3, CEBPA: ≥20 %, biallelic or bZIP"),
        ),
        Rule(
            "WHO5-AML",
            "AML, defined by differentiation or myelodysplasia-related",
            AML20,
            _c(WHO5, "Table 3, ≥20 % blasts"),
        ),
        Rule("WHO5-biTP53", "MDS-biTP53", gen("TP53_MULTIHIT"), _c(WHO5, "MDS table, MDS-biTP53")),
        Rule(
            "WHO5-MDSf",
            "MDS-f",
            AllOf(
                ge("fibrosis_grade", 2, when_missing=False),
                AnyOf(between("bm_blasts_pct", 5, 19), between("pb_blasts_pct", 2, 19)),
            ),
            _c(WHO5, "MDS table, MDS-f (fibrosis grade 2–3 [R])", Tag.RECALLED),
        ),
        Rule(
            "WHO5-IB2",
            "MDS-IB2",
            AnyOf(
                ge("bm_blasts_pct", 10),
                ge("pb_blasts_pct", 5),
                is_("auer_rods", True, when_missing=False),
            ),
            _c(WHO5, "MDS table, MDS-IB2: BM 10–19 % or PB 5–19 % or Auer rods"),
        ),
        Rule(
            "WHO5-IB1",
            "MDS-IB1",
            AnyOf(ge("bm_blasts_pct", 5), ge("pb_blasts_pct", 2)),
            _c(WHO5, "MDS table, MDS-IB1: BM 5–9 % or PB 2–4 %"),
        ),
        Rule(
            "WHO5-5q",
            "MDS-5q",
            AllOf(LOW_BLASTS, gen("DEL5Q"), is_("gen_MINUS7", False)),
            _c(WHO5, "MDS table, MDS-5q"),
        ),
        Rule(
            "WHO5-SF3B1",
            "MDS-SF3B1",
            AllOf(
                LOW_BLASTS,
                NO_5Q_7_COMPLEX,
                AnyOf(
                    gen("SF3B1"),
                    # The ring-sideroblast surrogate decides only while SF3B1 is unknown; once
                    # SF3B1 was tested, an unreported RS count no longer blocks the call.
                    AllOf(is_("genetics_tested", False), ge("ring_sideroblasts_pct", 15)),
                    AllOf(
                        is_("genetics_tested", True),
                        ge("ring_sideroblasts_pct", 15, when_missing=False),
                    ),
                ),
            ),
            _c(WHO5, "MDS table, MDS-SF3B1 (≥15 % ring sideroblasts may substitute)"),
        ),
        Rule(
            "WHO5-h",
            "MDS-h",
            le("biopsy_cellularity_pct", 25, when_missing=False),
            _c(WHO5, "MDS table, MDS-h (cellularity ≤25 %, age-adjusted)"),
        ),
        Rule("WHO5-LB", "MDS-LB", AllOf(), _c(WHO5, "MDS table, MDS-LB")),
    ),
)


def _icc(name: str, key: str, category: str) -> Rule:
    return Rule(
        f"ICC-{key}",
        category,
        AllOf(gen(key), AML10),
        _c(ICC, f"{name}: AML with recurrent genetic abnormality at ≥10 % blasts"),
    )


ICC_CLASS = RuleSet(
    key="ICC2022",
    title="Myeloid blast categories (ICC 2022)",
    edition="ICC2022",
    citation=_c(ICC, "AML and MDS/AML tables"),
    categories=(),
    not_evaluable="NOT_EVALUABLE",
    inputs=DX_INPUTS,
    derive=derive_blasts,
    derived_from={"max_blasts_pct": ("bm_blasts_pct", "pb_blasts_pct")},
    rules=(
        _icc("APL", "PML_RARA", "APL with t(15;17)(q24.1;q21.2)/PML::RARA"),
        _icc("RUNX1::RUNX1T1", "RUNX1_RUNX1T1", "AML with t(8;21)(q22;q22.1)/RUNX1::RUNX1T1"),
        _icc("CBFB::MYH11", "CBFB_MYH11", "AML with inv(16)(p13.1q22)/CBFB::MYH11"),
        _icc("DEK::NUP214", "DEK_NUP214", "AML with t(6;9)(p22.3;q34.1)/DEK::NUP214"),
        _icc("RBM15::MRTFA", "RBM15_MRTFA", "AML with other rare recurring translocations"),
        _icc("KMT2A", "KMT2A", "AML with KMT2A rearrangement"),
        _icc("MECOM", "MECOM", "AML with MECOM rearrangement"),
        _icc("NUP98", "NUP98", "AML with other rare recurring translocations"),
        _icc("NPM1", "NPM1", "AML with mutated NPM1"),
        _icc("CEBPA bZIP", "CEBPA_BZIP", "AML with in-frame bZIP CEBPA"),
        Rule(
            "ICC-BCR",
            "AML with t(9;22)(q34.1;q11.2)/BCR::ABL1",
            AllOf(gen("BCR_ABL1"), AML20),
            _c(ICC, "AML with BCR::ABL1 needs ≥20 %"),
        ),
        Rule(
            "ICC-BCR-LOW",
            "NOT_AML_BCR_ABL1",
            gen("BCR_ABL1"),
            _c(ICC, "BCR::ABL1 with <20 % blasts: not AML"),
        ),
        Rule(
            "ICC-TP53",
            "AML with mutated TP53",
            AllOf(AML20, AnyOf(AllOf(gen("TP53"), ge("tp53_vaf_pct", 10)), gen("TP53_MULTIHIT"))),
            _c(ICC, "AML with mutated TP53 (≥20 % blasts, VAF ≥10 %)", Tag.RECALLED),
        ),
        Rule("ICC-AML", "AML, NOS or myelodysplasia-related", AML20, _c(ICC, "≥20 % blasts")),
        Rule(
            "ICC-MDSAML-TP53",
            "MDS/AML with mutated TP53",
            AllOf(AML10, AnyOf(AllOf(gen("TP53"), ge("tp53_vaf_pct", 10)), gen("TP53_MULTIHIT"))),
            _c(ICC, "MDS/AML with mutated TP53", Tag.RECALLED),
        ),
        Rule("ICC-MDSAML", "MDS/AML", AML10, _c(ICC, "MDS/AML: 10–19 % blasts")),
        Rule(
            "ICC-NOT-AML",
            "NOT_AML",
            AllOf(),
            _c(ICC, "<10 % blasts: not AML/MDS-AML (classify under MDS rules)"),
        ),
    ),
)

WHO2016_CLASS = RuleSet(
    key="WHO2016",
    title="Myeloid blast and ring-sideroblast categories (WHO 2016)",
    edition="WHO2016",
    citation=_c(WHO16, "MDS table"),
    categories=(),
    not_evaluable="NOT_EVALUABLE",
    inputs=DX_INPUTS,
    derive=derive_blasts,
    derived_from={"max_blasts_pct": ("bm_blasts_pct", "pb_blasts_pct")},
    rules=(
        Rule(
            "WHO16-AML-GEN",
            "AML with recurrent genetic abnormalities",
            AnyOf(gen("PML_RARA"), gen("RUNX1_RUNX1T1"), gen("CBFB_MYH11")),
            _c(WHO16, "AML-defining translocations at any blast count"),
        ),
        Rule("WHO16-AML", "AML", AML20, _c(WHO16, "≥20 % blasts")),
        Rule(
            "WHO16-EB2",
            "MDS-EB-2",
            AnyOf(
                ge("bm_blasts_pct", 10),
                ge("pb_blasts_pct", 5),
                is_("auer_rods", True, when_missing=False),
            ),
            _c(WHO16, "MDS-EB-2"),
        ),
        Rule(
            "WHO16-EB1",
            "MDS-EB-1",
            AnyOf(ge("bm_blasts_pct", 5), ge("pb_blasts_pct", 2)),
            _c(WHO16, "MDS-EB-1"),
        ),
        Rule(
            "WHO16-5q",
            "MDS with isolated del(5q)",
            AllOf(gen("DEL5Q"), is_("gen_MINUS7", False)),
            _c(WHO16, "MDS with isolated del(5q)"),
        ),
        Rule(
            "WHO16-RS",
            "MDS-RS",
            AnyOf(
                ge("ring_sideroblasts_pct", 15), AllOf(gen("SF3B1"), ge("ring_sideroblasts_pct", 5))
            ),
            _c(WHO16, "MDS-RS: RS ≥15 %, or ≥5 % with SF3B1 mutation"),
        ),
        Rule(
            "WHO16-OTHER",
            "MDS, other WHO 2016 subtype",
            AllOf(),
            _c(WHO16, "MDS-SLD/MLD/U (needs dysplasia counts)"),
        ),
    ),
)

DYSPLASIA = RuleSet(
    key="WHO-dysplasia",
    title="Significant dysplasia in a lineage (WHO)",
    edition="WHO2016",
    citation=_c("WHO / IPSS (personalizedmedonc review)", "≥10 % dysplastic cells"),
    categories=("NOT_SIGNIFICANT", "SIGNIFICANT_DYSPLASIA", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec(
            "lineage", InputKind.TEXT, allowed=("erythroid", "granulocytic", "megakaryocytic")
        ),
        InputSpec("dysplastic_pct", InputKind.NUMBER, "% of the lineage", maximum=HUNDRED),
    ),
    rules=(
        Rule(
            "DYS-SIG",
            "SIGNIFICANT_DYSPLASIA",
            ge("dysplastic_pct", 10),
            _c("WHO 2016 via S24", "dysplasia ≥10 % of the lineage"),
        ),
        Rule(
            "DYS-NOT",
            "NOT_SIGNIFICANT",
            lt("dysplastic_pct", 10),
            _c("WHO 2016 via S24", "dysplasia ≥10 % of the lineage"),
        ),
    ),
)

# ---------------------------------------------------------------------------------------------
# Age-expected cellularity (§7.1)
CELL_INPUTS = (
    InputSpec("age_years", InputKind.NUMBER, "years", maximum=D(130)),
    InputSpec("biopsy_cellularity_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
)
#: Wong et al. 2024 age groups as (lowest age, highest age, inclusive-high?, low %, high %).
#: Boundaries [I]: <20; 20 ≤ age < 40; 40 ≤ age ≤ 60; > 60.
WONG_GROUPS: tuple[tuple[Decimal, Decimal, bool, Decimal, Decimal], ...] = (
    (D(0), D(20), False, D(45), D(85)),
    (D(20), D(40), False, D(40), D(70)),
    (D(40), D(60), True, D(35), D(65)),
    (D(60), D(1000), False, D(30), D(60)),
)


def _derive_linear(facts: dict[str, Fact | None], params: Params) -> None:
    age = num(facts, "age_years")
    if age is None:
        return
    tol = Decimal(str(params["tolerance_points"]))
    expected = HUNDRED - age
    facts["expected_cellularity_pct"] = expected
    facts["band_low_pct"] = min(max(expected - tol, D(0)), HUNDRED)
    facts["band_high_pct"] = min(max(expected + tol, D(0)), HUNDRED)


def _derive_wong(facts: dict[str, Fact | None], params: Params) -> None:
    age = num(facts, "age_years")
    if age is None:
        return
    for low_age, high_age, inclusive, low, high in WONG_GROUPS:
        above_low = age >= low_age if low_age < D(60) else age > low_age
        below_high = age <= high_age if inclusive else age < high_age
        if above_low and below_high:
            facts["band_low_pct"], facts["band_high_pct"] = low, high
            return


def _cellularity(
    key: str, title: str, citation: Citation, derive: object, params: tuple[Parameter, ...]
) -> RuleSet:
    return RuleSet(
        key=key,
        title=title,
        edition=key,
        citation=citation,
        categories=("NORMOCELLULAR", "HYPOCELLULAR", "HYPERCELLULAR", "NOT_EVALUABLE"),
        not_evaluable="NOT_EVALUABLE",
        inputs=CELL_INPUTS,
        params=params,
        derive=derive,  # type: ignore[arg-type]
        derived_from={"band_low_pct": ("age_years",), "band_high_pct": ("age_years",)},
        rules=(
            Rule(
                f"{key}-HYPO",
                "HYPOCELLULAR",
                lt("biopsy_cellularity_pct", FactRef("band_low_pct")),
                citation,
            ),
            Rule(
                f"{key}-HYPER",
                "HYPERCELLULAR",
                gt("biopsy_cellularity_pct", FactRef("band_high_pct")),
                citation,
            ),
            Rule(f"{key}-NORMO", "NORMOCELLULAR", AllOf(), citation),
        ),
    )


#: §7.1: "Provide cellularity_reference = {100_minus_age, wong2024_groups}" — which of the two
#: references a report quotes as *the* call (both are always computed and shown).
CELLULARITY_REFERENCE = Parameter(
    "cellularity_reference",
    "100_minus_age",
    ("100_minus_age", "wong2024_groups"),
    "Reference quoted as the cellularity call; the two disagree for older patients.",
)
CELLULARITY_LINEAR = _cellularity(
    "100_minus_age",
    "Age-expected cellularity: 100 − age ± tolerance",
    _c("Bern haematology e-learning (S25)", "100 − age; ±10 points [R]", Tag.RECALLED),
    _derive_linear,
    (
        Parameter("tolerance_points", 10, None, "Normocellular band half-width (points)."),
        CELLULARITY_REFERENCE,
    ),
)
CELLULARITY_WONG = _cellularity(
    "wong2024_groups",
    "Age-expected cellularity: Wong 2024 age groups",
    _c(
        "Wong 2024 (Am J Clin Pathol 161:170) via secondary summary",
        "age-group ranges",
        Tag.RECALLED,
    ),
    _derive_wong,
    (CELLULARITY_REFERENCE,),
)

# ---------------------------------------------------------------------------------------------
# Aplastic anaemia severity (§7.2)
AA_SRC = "Camitta 1975; Bacigalupo 1988; Killick 2016 (BSH, Br J Haematol 172:187)"


def _derive_aa(facts: dict[str, Fact | None], params: Params) -> None:
    choice = params["aa_retic_threshold"]
    if choice == "by_method":
        method = facts.get("retic_method")
        choice = 60 if method == "automated" else 20 if method == "manual" else None
    facts["retic_threshold"] = None if choice is None else D(choice)


AA_SEVERITY = RuleSet(
    key="AA-Camitta/BSH",
    title="Aplastic anaemia severity (Camitta / Bacigalupo / BSH 2016)",
    edition="BSH2016",
    citation=_c(AA_SRC, "severity table"),
    categories=("NON_SEVERE", "SAA", "VSAA", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("biopsy_cellularity_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
        InputSpec("residual_hematopoietic_cells_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
        InputSpec("anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
        InputSpec("plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
        InputSpec("retic_abs", InputKind.NUMBER, "x10^9/L"),
        InputSpec("retic_method", InputKind.TEXT, allowed=("manual", "automated")),
    ),
    params=(
        Parameter(
            "aa_retic_threshold",
            "by_method",
            ("by_method", 20, 60),
            "Reticulocyte threshold ×10^9/L: 20 (manual, classic) or 60 (automated, "
            "BSH 2016); 'by_method' picks from retic_method.",
        ),
    ),
    derive=_derive_aa,
    derived_from={"retic_threshold": ("retic_method",)},
    rules=(
        Rule(
            "AA-VSAA",
            "VSAA",
            AllOf(
                AnyOf(
                    lt("biopsy_cellularity_pct", 25),
                    AllOf(
                        le("biopsy_cellularity_pct", 50), lt("residual_hematopoietic_cells_pct", 30)
                    ),
                ),
                AtLeast(
                    2, lt("anc", "0.5"), lt("plt", 20), lt("retic_abs", FactRef("retic_threshold"))
                ),
                lt("anc", "0.2"),
            ),
            _c(AA_SRC, "VSAA: SAA and ANC <0.2"),
        ),
        Rule(
            "AA-SAA",
            "SAA",
            AllOf(
                AnyOf(
                    lt("biopsy_cellularity_pct", 25),
                    AllOf(
                        le("biopsy_cellularity_pct", 50), lt("residual_hematopoietic_cells_pct", 30)
                    ),
                ),
                AtLeast(
                    2, lt("anc", "0.5"), lt("plt", 20), lt("retic_abs", FactRef("retic_threshold"))
                ),
            ),
            _c(AA_SRC, "SAA: marrow <25 % (or 25–50 % with <30 % residual) and ≥2 of 3"),
        ),
        Rule("AA-NS", "NON_SEVERE", AllOf(), _c(AA_SRC, "non-severe: does not meet SAA")),
    ),
)

# ---------------------------------------------------------------------------------------------
GALE = RuleSet(
    key="Gale1963",
    title="Marrow iron stores (Gale 1963 Perls' grade)",
    edition="Gale1963",
    citation=_c("Gale 1963 (J Clin Invest) via Phiri 2009", "grading table"),
    categories=("ABSENT", "NORMAL", "INCREASED", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(InputSpec("perls_gale_grade", InputKind.NUMBER, "grade", maximum=D(6)),),
    rules=(
        Rule("GALE-0", "ABSENT", le("perls_gale_grade", 0), _c("Gale 1963", "grade 0")),
        Rule("GALE-1-3", "NORMAL", le("perls_gale_grade", 3), _c("Gale 1963", "grades 1–3")),
        Rule("GALE-4-6", "INCREASED", AllOf(), _c("Gale 1963", "grades 4–6")),
    ),
)

THIELE_SRC = "Thiele 2005 (Haematologica 90:1128)"
THIELE = RuleSet(
    key="Thiele2005",
    title="Marrow fibrosis grade (European consensus, Thiele 2005)",
    edition="Thiele2005",
    citation=_c(THIELE_SRC, "grading table"),
    categories=("MF-0", "MF-1", "MF-2", "MF-3", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec(
            "reticulin_pattern",
            InputKind.TEXT,
            allowed=("scattered linear", "loose network", "diffuse dense"),
        ),
        InputSpec("intersections", InputKind.TEXT, allowed=None),
        InputSpec("collagen", InputKind.BOOL, description="coarse collagen bundles"),
        InputSpec("osteosclerosis", InputKind.BOOL),
    ),
    rules=(
        Rule(
            "MF-3",
            "MF-3",
            AllOf(is_("reticulin_pattern", "diffuse dense"), is_("collagen", True)),
            _c(THIELE_SRC, "MF-3: MF-2 plus coarse collagen bundles"),
        ),
        Rule(
            "MF-2",
            "MF-2",
            is_("reticulin_pattern", "diffuse dense"),
            _c(THIELE_SRC, "MF-2: diffuse dense increase, extensive intersections"),
        ),
        Rule(
            "MF-1",
            "MF-1",
            is_("reticulin_pattern", "loose network"),
            _c(THIELE_SRC, "MF-1: loose network with many intersections"),
        ),
        Rule(
            "MF-0",
            "MF-0",
            is_("reticulin_pattern", "scattered linear"),
            _c(THIELE_SRC, "MF-0: scattered linear reticulin"),
        ),
    ),
)


def _derive_me(facts: dict[str, Fact | None], params: Params) -> None:
    myeloid, erythroid = num(facts, "myeloid_cells"), num(facts, "erythroid_cells")
    facts["me_ratio"] = None if myeloid is None or not erythroid else myeloid / erythroid


ME_RATIO = RuleSet(
    key="Reference",
    title="Myeloid:erythroid ratio against the adult reference 2:1–4:1",
    edition="Davis",
    citation=_c("Davis's Lab & Diagnostic Tests (S27)", "M:E 2:1 to 4:1"),
    categories=("NORMAL", "DECREASED", "INCREASED", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("myeloid_cells", InputKind.NUMBER, "cells"),
        InputSpec("erythroid_cells", InputKind.NUMBER, "cells"),
    ),
    derive=_derive_me,
    derived_from={"me_ratio": ("myeloid_cells", "erythroid_cells")},
    rules=(
        Rule("ME-LOW", "DECREASED", lt("me_ratio", 2), _c("Davis (S27)", "M:E below 2:1")),
        Rule("ME-HIGH", "INCREASED", gt("me_ratio", 4), _c("Davis (S27)", "M:E above 4:1")),
        Rule("ME-NORMAL", "NORMAL", AllOf(), _c("Davis (S27)", "M:E 2:1–4:1")),
    ),
)

# ---------------------------------------------------------------------------------------------
ICSH_SRC = "Lee 2008 (ICSH, Int J Lab Hematol 30:349)"
SPECIMEN_INPUTS = (
    InputSpec("cells_counted", InputKind.NUMBER, "cells"),
    InputSpec("spicules_present", InputKind.BOOL),
    InputSpec("smears_counted", InputKind.NUMBER, "smears"),
    InputSpec("trephine_length_cm", InputKind.NUMBER, "cm", maximum=D(10)),
    InputSpec("biopsy_cellularity_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("first_pull", InputKind.BOOL),
)
ICSH = RuleSet(
    key="ICSH2008",
    title="Specimen adequacy (ICSH 2008)",
    edition="ICSH2008",
    citation=_c(ICSH_SRC, "recommendations", Tag.RECALLED),
    categories=(
        "ADEQUATE",
        "SUBOPTIMAL_CORE_LENGTH",
        "LIMITED_DIFFERENTIAL",
        "APARTICULATE",
        "NOT_EVALUABLE",
    ),
    not_evaluable="NOT_EVALUABLE",
    inputs=SPECIMEN_INPUTS,
    params=(
        Parameter("min_cells", 500, None, "Q1: target differential count.", Tag.RECALLED),
        Parameter("min_core_cm", D("1.5"), None, "Q4: minimum trephine length.", Tag.RECALLED),
    ),
    rules=(
        Rule(
            "ICSH-APART",
            "APARTICULATE",
            is_("spicules_present", False, when_missing=False),
            _c(ICSH_SRC, "Q2: no particles", Tag.RECALLED),
        ),
        Rule(
            "ICSH-DIFF",
            "LIMITED_DIFFERENTIAL",
            # Q1 is one recommendation: ≥500 cells *spread over ≥2 smears*; 500 cells from one
            # smear do not meet it either.
            AnyOf(
                lt("cells_counted", ParamRef("min_cells"), when_missing=False),
                lt("smears_counted", 2, when_missing=False),
            ),
            _c(ICSH_SRC, "Q1: ≥500 cells over ≥2 smears", Tag.RECALLED),
        ),
        Rule(
            "ICSH-CORE",
            "SUBOPTIMAL_CORE_LENGTH",
            lt("trephine_length_cm", ParamRef("min_core_cm"), when_missing=False),
            _c(ICSH_SRC, "Q4: core ≥1.5 cm", Tag.RECALLED),
        ),
        Rule("ICSH-OK", "ADEQUATE", AllOf(), _c(ICSH_SRC, "recommendations", Tag.RECALLED)),
    ),
    flags=(
        FlagRule(
            "FEWER_THAN_2_SMEARS",
            lt("smears_counted", 2),
            _c(ICSH_SRC, "Q1: ≥2 smears", Tag.RECALLED),
        ),
        FlagRule(
            "NOT_FIRST_PULL",
            is_("first_pull", False),
            _c("Heuser 2021 (ELN MRD)", "M2: first pull for MRD"),
        ),
    ),
)
ELN_ADEQUACY = RuleSet(
    key="ELN2022-adequacy",
    title="Evaluable remission marrow (ELN 2022 floor)",
    edition="ELN2022",
    citation=_c("Döhner 2022 (ELN, Blood 140:1345)", "Table 7, MLFS footnote"),
    categories=("EVALUABLE", "NOT_EVALUABLE_SAMPLE", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=SPECIMEN_INPUTS,
    rules=(
        Rule(
            "ELN-ADEQ",
            "EVALUABLE",
            AllOf(
                is_("spicules_present", True),
                AnyOf(ge("cells_counted", 200), ge("biopsy_cellularity_pct", 10)),
            ),
            _c("Döhner 2022", "spicules + (≥200 cells or ≥10 % cellularity)"),
        ),
        Rule(
            "ELN-INADEQ",
            "NOT_EVALUABLE_SAMPLE",
            AllOf(),
            _c("Döhner 2022", "spicules + (≥200 cells or ≥10 % cellularity)"),
        ),
    ),
)

# ---------------------------------------------------------------------------------------------
CHIM_SRC = "CIBMTR forms manual (S7); Cells 2024;13:993 (S33)"
CHIMERISM = RuleSet(
    key="Chimerism",
    title="Donor chimerism category",
    edition="CIBMTR",
    citation=_c(CHIM_SRC, "C1–C4"),
    categories=("FULL_DONOR", "MIXED", "NO_DONOR_CELLS", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(InputSpec("donor_pct", InputKind.NUMBER, "% donor", maximum=HUNDRED),),
    params=(
        Parameter(
            "full_donor_threshold_pct", 95, None, "C1: full donor at ≥95 % donor.", Tag.VERIFIED
        ),
    ),
    rules=(
        Rule(
            "CH-FULL",
            "FULL_DONOR",
            ge("donor_pct", ParamRef("full_donor_threshold_pct")),
            _c(CHIM_SRC, "C1: ≥95 % donor"),
        ),
        Rule(
            "CH-NONE",
            "NO_DONOR_CELLS",
            le("donor_pct", 0),
            _c(CHIM_SRC, "C4: no detectable donor cells (graft failure if at day +56)"),
        ),
        Rule("CH-MIXED", "MIXED", AllOf(), _c(CHIM_SRC, "C2: mixed chimerism")),
    ),
)

# ---------------------------------------------------------------------------------------------
SIR = "Patel 2019 (SIR, J Vasc Interv Radiol 30:1168)"
MPN_DIAGNOSES = (
    "essential_thrombocythemia",
    "polycythemia_vera",
    "primary_myelofibrosis",
    "MPN",
    "myeloproliferative_neoplasm",
    "CML",
)
SAFETY = RuleSet(
    key="SIR2019",
    title="Pre-procedure safety for marrow aspiration/biopsy (low bleeding risk)",
    edition="SIR2019",
    citation=_c(SIR, "low-risk procedures"),
    categories=("PROCEED", "PROCEED_WITH_CAUTION", "REVIEW_REQUIRED", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
        InputSpec("inr", InputKind.NUMBER, "ratio", maximum=D(20)),
        InputSpec("on_anticoagulant", InputKind.BOOL),
        InputSpec("on_antiplatelet", InputKind.BOOL),
        InputSpec("on_aspirin", InputKind.BOOL),
        InputSpec("mpn", InputKind.BOOL),
        InputSpec("bleeding_disorder", InputKind.BOOL),
    ),
    params=(
        Parameter(
            "plt_review_below",
            20,
            None,
            "P3: consider platelet transfusion below (low-risk procedure).",
            Tag.VERIFIED,
        ),
        Parameter("inr_caution_above", D("2.0"), None, "P4: lower edge of the ≤2.0–3.0 band."),
        Parameter("inr_review_above", D("3.0"), None, "P4: upper edge of the ≤2.0–3.0 band."),
        Parameter(
            "bleeding_disorder_level",
            "caution",
            ("caution", "review"),
            "A known bleeding disorder: proceed with caution (Bain's risk factors: other "
            "platelet dysfunction) or require review (site policy).",
        ),
        # P6: hold intervals used where a centre holds antithrombotics (checked against the
        # last dose and the planned time by trephine.criteria.procedure; never blocking).
        Parameter(
            "hold_check",
            "on",
            ("on", "off"),
            "P6: compare each antithrombotic's last dose with the site's hold interval and say "
            "so in the reason (P5: holding is not routinely required for a marrow biopsy).",
        ),
        Parameter(
            "hold_ufh_hours",
            6,
            None,
            "P6: unfractionated heparin 4–6 h (secondary summaries); the upper end [I].",
            Tag.VERIFIED,
        ),
        Parameter(
            "hold_lmwh_hours",
            24,
            None,
            "P6: LMWH 12 h prophylactic, 24 h therapeutic (secondary summaries); the dose is "
            "not recorded, so the therapeutic interval [I].",
            Tag.VERIFIED,
        ),
        Parameter(
            "hold_fondaparinux_hours",
            72,
            None,
            "P6: fondaparinux 2–3 d with CrCl > 50 mL/min, 3–5 d below (secondary summaries); "
            "CrCl is not recorded, so 3 d [I].",
            Tag.VERIFIED,
        ),
        Parameter(
            "hold_doac_hours",
            48,
            None,
            "P6: apixaban / rivaroxaban per local policy, commonly 1–2 d; the upper end [I].",
        ),
        Parameter(
            "hold_clopidogrel_hours",
            120,
            None,
            "P6: clopidogrel per local policy, commonly 5 d [I].",
        ),
    ),
    # Low-risk procedure: routine platelet/INR testing is not required (P2), so an unreported
    # value is not a finding; never auto-block (decision is advisory).
    rules=(
        Rule(
            "SAFE-REVIEW",
            "REVIEW_REQUIRED",
            AnyOf(
                lt("plt", ParamRef("plt_review_below"), when_missing=False),
                gt("inr", ParamRef("inr_review_above"), when_missing=False),
                AllOf(
                    is_("bleeding_disorder", True, when_missing=False),
                    ParamIs("bleeding_disorder_level", "review"),
                ),
            ),
            _c(SIR, "P3/P4: platelets <20, INR above the 2.0–3.0 band"),
        ),
        Rule(
            "SAFE-CAUTION",
            "PROCEED_WITH_CAUTION",
            AnyOf(
                gt("inr", ParamRef("inr_caution_above"), when_missing=False),
                is_("on_anticoagulant", True, when_missing=False),
                is_("on_antiplatelet", True, when_missing=False),
                is_("mpn", True, when_missing=False),
                is_("bleeding_disorder", True, when_missing=False),
            ),
            _c(
                SIR + "; Bain 2003–2006",
                "P4/P5: operator band, antithrombotics, MPN, other platelet dysfunction",
            ),
        ),
        Rule("SAFE-PROCEED", "PROCEED", AllOf(), _c(SIR, "P1/P2: low bleeding risk")),
    ),
    flags=(
        FlagRule(
            "CONSIDER_PLATELET_TRANSFUSION", lt("plt", ParamRef("plt_review_below")), _c(SIR, "P3")
        ),
        FlagRule(
            "ANTICOAGULANT_NOT_ROUTINELY_HELD_FOR_LOW_RISK_PER_SOURCES",
            is_("on_anticoagulant", True),
            _c(SIR, "P5 (secondary summaries)"),
        ),
        FlagRule("ASPIRIN", is_("on_aspirin", True), _c("Bain 2003/2005", "risk factors")),
        FlagRule("MPN_BLEEDING_RISK", is_("mpn", True), _c("Bain 2003/2005", "risk factors")),
        FlagRule(
            "CONSIDER_ACQUIRED_VWD_SCREEN",
            is_("mpn", True),
            _c("BM-biopsy review (S34)", "acquired von Willebrand syndrome in MPN"),
        ),
    ),
)

# ---------------------------------------------------------------------------------------------
IMWG14 = "Rajkumar 2014 (IMWG, Lancet Oncol 15:e538)"
# Myeloma-defining events. An event that was not reported is taken as absent [I]: diagnostic
# work-ups report the abnormal ones, and the explanation lists every unreported item.
MDE = AnyOf(
    gt("calcium_mmol_l", "2.75", when_missing=False),
    lt("crcl_ml_min", 40, when_missing=False),
    gt("creatinine_umol_l", 177, when_missing=False),
    lt("hb", 10, when_missing=False),
    is_("lytic_lesion", True, when_missing=False),
    ge("clonal_bmpc_pct", 60),
    AllOf(
        ge("flc_ratio_involved_uninvolved", 100, when_missing=False),
        ge("involved_flc_mg_l", 100, when_missing=False),
    ),
    gt("mri_focal_lesions", 1, when_missing=False),
)
IMWG2014 = RuleSet(
    key="IMWG2014",
    title="Plasma-cell neoplasm diagnostic thresholds (IMWG 2014)",
    edition="IMWG2014",
    citation=_c(IMWG14, "diagnostic criteria", Tag.VERIFIED),
    categories=("MULTIPLE_MYELOMA", "SMOLDERING_MYELOMA", "MGUS", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("clonal_bmpc_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
        InputSpec("plasmacytoma", InputKind.BOOL),
        InputSpec("hb", InputKind.NUMBER, "g/dL", maximum=D(25)),
        InputSpec("calcium_mmol_l", InputKind.NUMBER, "mmol/L", maximum=D(10)),
        InputSpec("crcl_ml_min", InputKind.NUMBER, "mL/min", maximum=D(300)),
        InputSpec("creatinine_umol_l", InputKind.NUMBER, "µmol/L"),
        InputSpec("lytic_lesion", InputKind.BOOL),
        InputSpec("flc_ratio_involved_uninvolved", InputKind.NUMBER, "ratio"),
        InputSpec("involved_flc_mg_l", InputKind.NUMBER, "mg/L"),
        InputSpec("mri_focal_lesions", InputKind.NUMBER, "lesions"),
        InputSpec("serum_m_g_l", InputKind.NUMBER, "g/L"),
    ),
    rules=(
        Rule(
            "IMWG14-MM",
            "MULTIPLE_MYELOMA",
            AllOf(
                AnyOf(ge("clonal_bmpc_pct", 10), is_("plasmacytoma", True, when_missing=False)), MDE
            ),
            _c(IMWG14, "MM: clonal BMPC ≥10 % or plasmacytoma plus ≥1 MDE"),
        ),
        Rule(
            "IMWG14-SMM",
            "SMOLDERING_MYELOMA",
            AnyOf(ge("clonal_bmpc_pct", 10), ge("serum_m_g_l", 30, when_missing=False)),
            _c(IMWG14, "SMM: BMPC 10–60 % and/or M-protein ≥30 g/L, no MDE"),
        ),
        Rule(
            "IMWG14-MGUS",
            "MGUS",
            lt("clonal_bmpc_pct", 10),
            _c(IMWG14, "non-IgM MGUS: BMPC <10 %, M-protein <30 g/L, no MDE"),
        ),
    ),
)

__all__ = [
    "AA_SEVERITY",
    "CELLULARITY_LINEAR",
    "CELLULARITY_WONG",
    "CHIMERISM",
    "DYSPLASIA",
    "ELN_ADEQUACY",
    "GALE",
    "GENETICS",
    "GENETIC_TOKENS",
    "ICC_CLASS",
    "ICSH",
    "IMWG2014",
    "ME_RATIO",
    "MPN_DIAGNOSES",
    "SAFETY",
    "THIELE",
    "WHO5_CLASS",
    "WHO2016_CLASS",
]

# ---------------------------------------------------------------------------------------------
CML_SRC = "CML phase definitions (S37: Cancers 2021;13:798, Table 3)"
CML_INPUTS = (
    InputSpec("bm_blasts_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("pb_blasts_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("max_blasts_pct", InputKind.NUMBER, "%", maximum=HUNDRED),
    InputSpec("extramedullary_blast_proliferation", InputKind.BOOL),
)


def _cml(key: str, threshold: int, locator: str) -> RuleSet:
    citation = _c(CML_SRC, locator)
    return RuleSet(
        key=key,
        title=f"CML blast phase ({key})",
        edition=key,
        citation=citation,
        categories=("NOT_BLAST_PHASE", "BLAST_PHASE", "NOT_EVALUABLE"),
        not_evaluable="NOT_EVALUABLE",
        inputs=CML_INPUTS,
        derive=derive_blasts,
        derived_from={"max_blasts_pct": ("bm_blasts_pct", "pb_blasts_pct")},
        rules=(
            Rule(
                f"{key}-BP",
                "BLAST_PHASE",
                AnyOf(
                    ge("max_blasts_pct", threshold),
                    is_("extramedullary_blast_proliferation", True, when_missing=False),
                ),
                citation,
            ),
            Rule(f"{key}-NOT-BP", "NOT_BLAST_PHASE", lt("max_blasts_pct", threshold), citation),
        ),
    )


CML_WHO5 = _cml("CML-WHO5", 20, "WHO 5th: blasts ≥20 % (PB or BM) or extramedullary blasts")
CML_ELN = _cml("CML-ELN", 30, "ELN/IBMTR/MDACC: blasts ≥30 %")
