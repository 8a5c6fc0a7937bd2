"""CLL case adapters: iwCLL 2008 and iwCLL 2018 (response and MRD).

Each adapter validates and converts a case's inputs (:mod:`trephine.criteria.facts`), picks
the rule sets the inputs call for and names the outputs like the case format's ``expect``
keys; the registrations at the end add its ruleset strings to
:data:`trephine.criteria.registry.REGISTRY`. Every threshold lives in
:mod:`trephine.criteria.sets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trephine.criteria.facts import build_facts, check_disease, run, specs_of
from trephine.criteria.model import RuleSet
from trephine.criteria.registry import CaseResult, Evaluator, register
from trephine.criteria.sets import (
    iwcll_cll,
)

JSON = Any


def _cll(rs: RuleSet) -> Evaluator:
    def evaluator(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
        check_disease(raw.get("disease"), where)
        facts = build_facts(raw, specs_of(rs, iwcll_cll.MRD), where, frozenset({"disease"}))
        result = CaseResult()
        mrd_keys = {"leukocytes_analysed", "cll_events"}
        # Facts, not raw keys: an ignored context key is not a response input.
        if set(facts) - mrd_keys:
            a = run(rs, facts, params)
            result.put("response", a.category, a)
        if mrd_keys & set(raw):
            m = run(iwcll_cll.MRD, facts, params)
            result.put("mrd_status", m.category, m)
        return result

    return evaluator


register(
    "iwCLL2008",
    "CLL response (iwCLL 2008)",
    (iwcll_cll.IWCLL2008, iwcll_cll.MRD),
    _cll(iwcll_cll.IWCLL2008),
)


register(
    "iwCLL2018",
    "CLL response and MRD (iwCLL 2018)",
    (iwcll_cll.IWCLL2018, iwcll_cll.MRD),
    _cll(iwcll_cll.IWCLL2018),
)
