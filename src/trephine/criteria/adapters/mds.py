"""MDS case adapters: IWG 2006 (response and haematologic improvement), IWG 2018 HI-E, IWG 2023.

Each adapter validates and converts a case's inputs (:mod:`trephine.criteria.facts`), picks
the rule sets the inputs call for and names the outputs like the case format's ``expect``
keys; the registrations at the end add its ruleset strings to
:data:`trephine.criteria.registry.REGISTRY`. Every threshold lives in
:mod:`trephine.criteria.sets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trephine.criteria.adapters.aml import HEMODILUTION_KEYS, flatten_baseline
from trephine.criteria.facts import build_facts, check_disease, run, specs_of
from trephine.criteria.model import Fact
from trephine.criteria.registry import CaseResult, register
from trephine.criteria.sets import (
    iwg2006_mds,
    iwg2018_mds,
    iwg2023_mds,
)
from trephine.errors import ValidationError

JSON = Any


MDS_STRUCT = frozenset({"disease", "baseline_karyotype", "current_karyotype", *HEMODILUTION_KEYS})
MDS_SPECS = specs_of(iwg2006_mds.RESPONSE)


def _mds_facts(raw: dict[str, JSON], where: str) -> dict[str, Fact | None]:
    check_disease(raw.get("disease"), where)
    raw = flatten_baseline(raw, where)
    facts = build_facts(raw, MDS_SPECS, where, MDS_STRUCT)
    for key in HEMODILUTION_KEYS:
        flag = raw.get(key)
        if flag is not None and not isinstance(flag, bool):
            raise ValidationError(f"{where}.{key}", flag, "true, false")
        if flag is True and facts.get("hemodilute") is None:
            facts["hemodilute"] = True  # §8: the laboratory's haemodilution flag
    base, cur = raw.get("baseline_karyotype"), raw.get("current_karyotype")
    if base is not None and cur is not None and "complete_cytogenetic_response" not in facts:
        if not isinstance(base, str) or not isinstance(cur, str):
            raise ValidationError(f"{where}.current_karyotype", cur, "a karyotype text")
        facts["complete_cytogenetic_response"] = base != "normal" and cur == "normal"
    return facts


def _hi_outputs(
    facts: Mapping[str, Fact | None], params: Mapping[str, JSON], result: CaseResult
) -> None:
    for key, rs, base in (
        ("HI_E", iwg2006_mds.HI_E, "baseline_hb"),
        ("HI_P", iwg2006_mds.HI_P, "baseline_plt"),
        ("HI_N", iwg2006_mds.HI_N, "baseline_anc"),
    ):
        if facts.get(base) is None:
            continue
        a = run(rs, facts, params)
        if a.category == "NOT_EVALUABLE":
            result.put(key, None, a)
            continue
        result.put(key, a.category == "RESPONSE", a)
        if a.category == "NOT_ELIGIBLE":
            result.add_flags([f"{key}_NOT_ELIGIBLE"])
        if key == "HI_P":
            alt = run(rs, facts, {**params, "hip_baseline_20_branch": "high"})
            result.put("HI_P_if_high_branch", alt.category == "RESPONSE", alt)


def _iwg2006(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    facts = _mds_facts(raw, where)
    result = CaseResult()
    if "bm_blasts_pct" in raw:
        a = run(iwg2006_mds.RESPONSE, facts, params)
        result.put("response", a.category, a)
        if a.category in ("mCR", "SD"):
            result.put("next_step", "evaluate HI", {"rule": "IWG 2006: record HI alongside"})
    _hi_outputs(facts, params, result)
    if facts.get("prior_response") is not None:
        rel = run(iwg2006_mds.RELAPSE, facts, params)
        result.put("relapse", rel.category, rel)
    if not result.outputs:
        raise ValidationError(
            where,
            sorted(raw),
            "bm_blasts_pct, baseline counts or prior_response",
            reason="nothing to evaluate under IWG2006",
        )
    return result


def _iwg2023(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    facts = _mds_facts(raw, where)
    result = CaseResult()
    a = run(iwg2023_mds.RESPONSE, facts, params)
    result.put("response", a.category, a)
    if a.category == "NO_RESPONSE":
        result.put("next_step", "evaluate HI", {"rule": "IWG 2023: evaluate HI per IWG 2018"})
    return result


def _iwg2018(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    check_disease(raw.get("disease"), where)
    facts = build_facts(raw, specs_of(iwg2018_mds.HI_E), where, frozenset({"disease"}))
    result = CaseResult()
    if facts.get("tb_group") is None:
        group = run(iwg2018_mds.TB_GROUP, facts, params)
        result.put("tb_group", group.category, group)
        facts["tb_group"] = group.category if group.category in ("NTD", "LTB", "HTB") else None
    hi = run(iwg2018_mds.HI_E, facts, params)
    result.put("HI_E", None if hi.category == "NOT_EVALUABLE" else hi.category == "RESPONSE", hi)
    if hi.category == "MINOR_RESPONSE":
        result.put("HI_E_minor", True, hi)
    return result


register(
    "IWG2006",
    "MDS response and haematologic improvement (IWG 2006)",
    (
        iwg2006_mds.RESPONSE,
        iwg2006_mds.HI_E,
        iwg2006_mds.HI_P,
        iwg2006_mds.HI_N,
        iwg2006_mds.RELAPSE,
    ),
    _iwg2006,
)


register("IWG2023", "Higher-risk MDS response (IWG 2023)", (iwg2023_mds.RESPONSE,), _iwg2023)


register(
    "IWG2018", "Lower-risk MDS HI-E (IWG 2018)", (iwg2018_mds.TB_GROUP, iwg2018_mds.HI_E), _iwg2018
)
