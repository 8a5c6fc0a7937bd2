"""Lower-risk MDS HI-E, IWG 2018 (Platzbecker et al., Blood 2019;133:1020)."""

from __future__ import annotations

from trephine.criteria.engine import num, pct_reduction
from trephine.criteria.model import (
    AllOf,
    AnyOf,
    Citation,
    Fact,
    InputKind,
    InputSpec,
    Params,
    Rule,
    RuleSet,
    Tag,
    between,
    ge,
    is_,
    le,
)

SOURCE = "Platzbecker 2019 (IWG 2018, Blood 133:1020)"


def _c(locator: str, tag: Tag = Tag.VERIFIED) -> Citation:
    return Citation(SOURCE, locator, tag)


INPUTS = (
    InputSpec("pre_16wk_rbc_units", InputKind.NUMBER, "units/16 weeks"),
    InputSpec("pre_transfusion_episodes", InputKind.NUMBER, "episodes"),
    InputSpec("max_units_in_any_8wk", InputKind.NUMBER, "units/8 weeks"),
    InputSpec("on_treatment_observation_weeks", InputKind.NUMBER, "weeks"),
    InputSpec("longest_transfusion_free_weeks", InputKind.NUMBER, "weeks"),
    InputSpec("hb_rise_g_dl", InputKind.NUMBER, "g/dL", minimum=None),
    InputSpec("hb_rise_sustained_weeks", InputKind.NUMBER, "weeks"),
    InputSpec("on_treatment_16wk_rbc_units", InputKind.NUMBER, "units/16 weeks"),
    InputSpec("tb_group", InputKind.TEXT, allowed=("NTD", "LTB", "HTB")),
)

TB_GROUP = RuleSet(
    key="IWG2018-TB",
    docs_page="mds-iwg2018",
    title="Transfusion-burden group before treatment (IWG 2018)",
    edition="IWG2018",
    citation=_c("transfusion-burden table"),
    categories=("NTD", "LTB", "HTB", "UNCLASSIFIED", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=INPUTS,
    rules=(
        Rule(
            "IWG18-NTD",
            "NTD",
            le("pre_16wk_rbc_units", 0),
            _c("transfusion-burden table, NTD: 0 units/16 wk"),
        ),
        Rule(
            "IWG18-HTB",
            "HTB",
            AllOf(ge("pre_16wk_rbc_units", 8), ge("max_units_in_any_8wk", 4)),
            _c("transfusion-burden table, HTB: ≥8 units/16 wk, ≥4 in 8 wk"),
        ),
        Rule(
            "IWG18-LTB",
            "LTB",
            AllOf(
                between("pre_16wk_rbc_units", 3, 7),
                ge("pre_transfusion_episodes", 2),
                le("max_units_in_any_8wk", 3),
            ),
            _c("transfusion-burden table, LTB: 3–7 units/16 wk in ≥2 episodes, max 3 in 8 wk"),
        ),
        Rule(
            "IWG18-UNCL",
            "UNCLASSIFIED",
            AllOf(),
            _c(
                "transfusion-burden table (1–2 units/16 wk is not a defined group)",
                Tag.INTERPRETATION,
            ),
        ),
    ),
)


def _derive(facts: dict[str, Fact | None], params: Params) -> None:
    facts["rbc_units_reduction_pct"] = pct_reduction(
        num(facts, "pre_16wk_rbc_units"), num(facts, "on_treatment_16wk_rbc_units")
    )


WINDOW = ge("on_treatment_observation_weeks", 16)
HI_E = RuleSet(
    key="IWG2018-HI-E",
    docs_page="mds-iwg2018",
    title="HI-E in lower-risk MDS (IWG 2018)",
    edition="IWG2018",
    citation=_c("HI-E table"),
    categories=("RESPONSE", "MINOR_RESPONSE", "NO_RESPONSE", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=INPUTS,
    derive=_derive,
    rules=(
        Rule(
            "IWG18-HIE-NTD",
            "RESPONSE",
            AllOf(
                is_("tb_group", "NTD"),
                WINDOW,
                ge("hb_rise_g_dl", "1.5"),
                ge("hb_rise_sustained_weeks", 8),
            ),
            _c("HI-E table, NTD: Hb rise ≥1.5 g/dL over ≥8 wk in a 16–24 wk window"),
        ),
        Rule(
            "IWG18-HIE-TI",
            "RESPONSE",
            AllOf(
                AnyOf(is_("tb_group", "LTB"), is_("tb_group", "HTB")),
                WINDOW,
                ge("longest_transfusion_free_weeks", 8),
            ),
            _c("HI-E table, LTB/HTB: transfusion independence ≥8 wk in a 16–24 wk window"),
        ),
        Rule(
            "IWG18-HIE-MINOR",
            "MINOR_RESPONSE",
            AllOf(is_("tb_group", "HTB"), WINDOW, ge("rbc_units_reduction_pct", 50)),
            _c("HI-E table, HTB minor: ≥50 % fewer units over 16 wk", Tag.RECALLED),
        ),
        Rule("IWG18-HIE-NO", "NO_RESPONSE", AllOf(), _c("HI-E table")),
    ),
)
