"""Aplastic anaemia after immunosuppressive therapy (IST): response, relapse, clonal evolution.

* Response (BSH 2016 guideline, Killick et al., Br J Haematol 172:187, response table — the
  table was not reachable in this pass, so every row is [R]): severe AA — none = still severe;
  partial = transfusion independent and no longer severe; complete = Hb normal for age and sex,
  ANC > 1.5, platelets > 150 ×10⁹/L. Non-severe AA — partial = transfusion independence, or
  a doubling of a count, or Hb up > 3 g/dL from < 6, ANC > 0.5 from < 0.5, platelets > 20
  from < 20; complete as for severe AA. "Normal for age and sex" is the laboratory's lower
  limit: ``hb_lln`` when a case gives it, else the site parameter for the patient's sex
  (``hb_normal_female`` / ``hb_normal_male``, default the WHO 2011 anaemia cut-offs 12.0 and
  13.0 g/dL [R]; a site sets its laboratory's limits with ``TREPHINE_ASSESS_PARAMS``). With
  neither (sex not female/male, no LLN) complete response is not claimed.
* Relapse (Japanese Childhood AA Study Group, read in a secondary summary): counts back to
  those of moderate-to-severe AA (BSH diagnosis: ≥ 2 of Hb < 10 g/dL, platelets < 50,
  ANC < 1.5 — spec §7.2 [V]) **and** transfusions needed again [R].
* Clonal evolution: a PNH clone appearing, or an MDS-type cytogenetic abnormality (WHO 2016
  list, recalled [R]) on a later karyotype. Any PNH clone above zero that was not there before
  counts [I].
"""

from __future__ import annotations

import re
from decimal import Decimal

from trephine.criteria.model import (
    ANC_MAX,
    PLT_MAX,
    AllOf,
    AnyOf,
    AtLeast,
    Citation,
    D,
    Fact,
    FactRef,
    InputKind,
    InputSpec,
    Not,
    Parameter,
    Params,
    Rule,
    RuleSet,
    Tag,
    ge,
    gt,
    is_,
    lt,
)

BSH = "Killick 2016 (BSH AA guideline, Br J Haematol 172:187), response criteria"
JCAA = "Japanese Childhood AA Study Group response criteria (secondary summary)"
WHO16 = "Arber 2016 (WHO 2016) MDS-defining cytogenetic abnormalities"


def _derive(facts: dict[str, Fact | None], params: Params) -> None:
    method = facts.get("retic_method")
    choice = params["aa_retic_threshold"]
    if choice == "by_method":
        choice = 60 if method == "automated" else 20 if method == "manual" else None
    facts["retic_threshold"] = None if choice is None else D(choice)
    for count in ("anc", "plt"):
        now, base = facts.get(count), facts.get(f"baseline_{count}")
        doubled: bool | None = None
        if isinstance(now, Decimal) and isinstance(base, Decimal) and base > 0:
            doubled = now >= 2 * base
        facts[f"{count}_doubled"] = doubled
    lln = facts.get("hb_lln")
    if lln is None:
        sex = facts.get("sex")
        lln = params.get(f"hb_normal_{sex}") if sex in ("female", "male") else None
        lln = None if lln is None else D(lln)
    facts["hb_normal_lower"] = lln
    hb, base_hb = facts.get("hb"), facts.get("baseline_hb")
    rise: Decimal | None = None
    if isinstance(hb, Decimal) and isinstance(base_hb, Decimal):
        rise = hb - base_hb
    facts["hb_rise"] = rise


_SEVERE_COUNTS = AtLeast(
    2, lt("anc", "0.5"), lt("plt", 20), lt("retic_abs", FactRef("retic_threshold"))
)

RESPONSE = RuleSet(
    key="AA-IST-RESPONSE",
    docs_page="aa-response",
    title="Aplastic anaemia response to immunosuppressive therapy (BSH 2016)",
    edition="BSH2016",
    citation=Citation(BSH, "response table", Tag.RECALLED),
    categories=("COMPLETE_RESPONSE", "PARTIAL_RESPONSE", "NO_RESPONSE", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec(
            "baseline_severe",
            InputKind.BOOL,
            description="severe or very severe AA before treatment (Camitta / BSH)",
        ),
        InputSpec("transfusion_independent", InputKind.BOOL),
        InputSpec("hb", InputKind.NUMBER, "g/dL", maximum=D(25)),
        InputSpec("hb_lln", InputKind.NUMBER, "g/dL", maximum=D(25), description="lab LLN"),
        InputSpec(
            "sex",
            InputKind.TEXT,
            allowed=("female", "male", "other", "unknown"),
            description="picks the site's normal Hb when no lab LLN is given",
        ),
        InputSpec("anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
        InputSpec("plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
        InputSpec("retic_abs", InputKind.NUMBER, "x10^9/L"),
        InputSpec("retic_method", InputKind.TEXT, allowed=("manual", "automated")),
        InputSpec("baseline_hb", InputKind.NUMBER, "g/dL", maximum=D(25)),
        InputSpec("baseline_anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
        InputSpec("baseline_plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
    ),
    params=(
        Parameter(
            "aa_retic_threshold",
            "by_method",
            ("by_method", 20, 60),
            "Reticulocyte threshold of 'still severe' ×10^9/L (as for severity): 20 manual, "
            "60 automated.",
        ),
        Parameter(
            "hb_normal_female",
            D("12.0"),
            None,
            "Lower limit of normal Hb for women, g/dL (complete response: 'Hb normal for age "
            "and sex'). Default: WHO 2011 anaemia cut-off for non-pregnant women (< 12.0 g/dL, "
            "read in a secondary summary); a site sets its laboratory's limit.",
            Tag.RECALLED,
        ),
        Parameter(
            "hb_normal_male",
            D("13.0"),
            None,
            "Lower limit of normal Hb for men, g/dL. Default: WHO 2011 anaemia cut-off for "
            "men (< 13.0 g/dL, read in a secondary summary); a site sets its laboratory's limit.",
            Tag.RECALLED,
        ),
    ),
    derive=_derive,
    derived_from={
        "retic_threshold": ("retic_method",),
        "anc_doubled": ("anc", "baseline_anc"),
        "plt_doubled": ("plt", "baseline_plt"),
        "hb_rise": ("hb", "baseline_hb"),
        "hb_normal_lower": ("sex",),
    },
    rules=(
        Rule(
            "AA-CR",
            "COMPLETE_RESPONSE",
            AllOf(ge("hb", FactRef("hb_normal_lower")), gt("anc", "1.5"), gt("plt", 150)),
            Citation(BSH, "complete: Hb normal, ANC > 1.5, platelets > 150", Tag.RECALLED),
            missing="skip",
        ),
        Rule(
            "AA-PR-SAA",
            "PARTIAL_RESPONSE",
            AllOf(
                is_("baseline_severe", True),
                is_("transfusion_independent", True),
                Not(_SEVERE_COUNTS),
            ),
            Citation(
                BSH, "partial (severe AA): transfusion independent, no longer severe", Tag.RECALLED
            ),
        ),
        Rule(
            "AA-NR-SAA",
            "NO_RESPONSE",
            # The reason is recorded: still transfusion dependent, or still ≥ 2 severe counts.
            AllOf(
                is_("baseline_severe", True),
                AnyOf(is_("transfusion_independent", False), _SEVERE_COUNTS),
            ),
            Citation(BSH, "none (severe AA): still severe or transfusion dependent", Tag.RECALLED),
        ),
        Rule(
            "AA-PR-NSAA",
            "PARTIAL_RESPONSE",
            AnyOf(
                is_("transfusion_independent", True, when_missing=False),
                is_("anc_doubled", True, when_missing=False),
                is_("plt_doubled", True, when_missing=False),
                AllOf(lt("baseline_hb", 6), gt("hb_rise", 3)),
                AllOf(lt("baseline_anc", "0.5"), gt("anc", "0.5")),
                AllOf(lt("baseline_plt", 20), gt("plt", 20)),
            ),
            Citation(
                BSH,
                "partial (non-severe AA): transfusion independence, a count doubled, or Hb "
                "+> 3 g/dL from < 6, ANC > 0.5 from < 0.5, platelets > 20 from < 20",
                Tag.RECALLED,
            ),
            missing="skip",
        ),
        Rule(
            "AA-NR",
            "NO_RESPONSE",
            AllOf(),
            Citation(BSH, "none: no partial-response criterion met", Tag.RECALLED),
        ),
    ),
)

RELAPSE = RuleSet(
    key="AA-RELAPSE",
    docs_page="aa-response",
    title="Aplastic anaemia relapse after response to IST",
    edition="JCAA",
    citation=Citation(JCAA, "relapse", Tag.RECALLED),
    categories=("RESPONSE_MAINTAINED", "RELAPSE", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("transfusion_independent", InputKind.BOOL),
        InputSpec("hb", InputKind.NUMBER, "g/dL", maximum=D(25)),
        InputSpec("anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
        InputSpec("plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
    ),
    rules=(
        Rule(
            "AA-RELAPSE",
            "RELAPSE",
            AllOf(
                is_("transfusion_independent", False),
                AtLeast(2, lt("hb", 10), lt("plt", 50), lt("anc", "1.5")),
            ),
            Citation(
                JCAA,
                "relapse: counts of moderate-to-severe AA (≥ 2 of Hb < 10, platelets < 50, "
                "ANC < 1.5 — BSH diagnosis, spec §7.2) and transfusions needed again",
                Tag.RECALLED,
            ),
        ),
        Rule(
            "AA-MAINTAINED",
            "RESPONSE_MAINTAINED",
            AllOf(),
            Citation(JCAA, "no relapse criterion met", Tag.RECALLED),
        ),
    ),
)

#: MDS-defining abnormalities (WHO 2016, recalled) as ISCN patterns.
MDS_TYPE_ABNORMALITIES: tuple[tuple[str, str], ...] = (
    ("-7 / del(7q)", r"(?:^|,)-7(?:$|[,\[])|del\(7\)\(q|del\(7q"),
    ("del(5q) / t(5q)", r"del\(5\)\(q|del\(5q|t\(5;"),
    ("i(17q) / t(17p)", r"i\(17\)\(q|i\(17q|t\(17;"),
    ("-13 / del(13q)", r"(?:^|,)-13(?:$|[,\[])|del\(13\)\(q|del\(13q"),
    ("del(11q)", r"del\(11\)\(q|del\(11q"),
    ("del(12p) / t(12p)", r"del\(12\)\(p|del\(12p"),
    ("idic(X)(q13)", r"idic\(X\)\(q13"),
    ("inv(3) / t(3;3)", r"inv\(3\)|t\(3;3\)"),
)


def mds_type_abnormalities(iscn: str) -> list[str]:
    """Names of the MDS-type abnormalities an ISCN string shows (empty: none recognised)."""
    text = iscn.replace(" ", "")
    return [name for name, pattern in MDS_TYPE_ABNORMALITIES if re.search(pattern, text)]


CLONAL_EVOLUTION = RuleSet(
    key="AA-CLONAL-EVOLUTION",
    docs_page="aa-response",
    title="Aplastic anaemia: clonal evolution after IST",
    edition="WHO2016/BSH2016",
    citation=Citation(BSH, "clonal evolution: PNH clone, MDS-type karyotype", Tag.RECALLED),
    categories=(
        "NO_CLONAL_EVOLUTION",
        "PNH_CLONE_EMERGED",
        "MDS_TYPE_CYTOGENETIC_ABNORMALITY",
        "NOT_EVALUABLE",
    ),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("mds_type_abnormality", InputKind.BOOL),
        InputSpec("pnh_clone_pct", InputKind.NUMBER, "%", maximum=D(100)),
        InputSpec("pnh_clone_before", InputKind.BOOL, description="a clone on an earlier test"),
    ),
    rules=(
        Rule(
            "AA-CE-MDS",
            "MDS_TYPE_CYTOGENETIC_ABNORMALITY",
            is_("mds_type_abnormality", True),
            Citation(WHO16, "MDS-type abnormality (−7/del(7q), del(5q), …)", Tag.RECALLED),
            missing="skip",
        ),
        Rule(
            "AA-CE-PNH",
            "PNH_CLONE_EMERGED",
            AllOf(gt("pnh_clone_pct", 0), is_("pnh_clone_before", False)),
            Citation(BSH, "a PNH clone appearing after IST (any size)", Tag.INTERPRETATION),
            missing="skip",
        ),
        Rule(
            "AA-CE-NONE",
            "NO_CLONAL_EVOLUTION",
            AnyOf(is_("mds_type_abnormality", False), ge("pnh_clone_pct", 0)),
            Citation(BSH, "no new clone on the tests done", Tag.RECALLED),
        ),
    ),
)
