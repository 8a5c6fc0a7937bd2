"""``trephine criteria evaluate``: one case (``id``, ``ruleset``, ``input``, optional
``params``) in the format of ``clinical-cases.json`` → outputs named like the case format's
``expect`` keys, each explained.

The case is checked here; :func:`trephine.criteria.registry.lookup` finds the adapter(s) of its
``ruleset`` (:mod:`trephine.criteria.adapters`), which convert the inputs
(:mod:`trephine.criteria.facts`) and evaluate the rule sets of :mod:`trephine.criteria.sets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trephine.criteria.facts import IGNORED_INPUTS, check_params, plain, refuse_or_ignore
from trephine.criteria.registry import CaseResult, CaseRuleset, lookup
from trephine.errors import ValidationError

JSON = Any


def evaluate_case(case: JSON, where: str = "case") -> dict[str, JSON]:
    """One case of the ``clinical-cases.json`` format → its output object."""
    if not isinstance(case, Mapping):
        raise ValidationError(where, case, "a case object")
    token = IGNORED_INPUTS.set([])
    try:
        out = _evaluate_case(case, where)
    finally:
        ignored = IGNORED_INPUTS.get() or []
        IGNORED_INPUTS.reset(token)
    if ignored:
        # Reported, never silent: the reader sees which keys no rule looked at.
        out["explanation"]["ignored_inputs"] = ignored
        for key in [k for k in out if k == "flags" or k.endswith("_flags")]:
            if "IGNORED_INPUT_KEYS" not in out[key]:
                out[key] = [*out[key], "IGNORED_INPUT_KEYS"]
    return out


def _evaluate_case(case: Mapping[str, JSON], where: str) -> dict[str, JSON]:
    known = {"id", "ruleset", "input", "params", "expect", "expect_notes", "tags", "why", "title"}
    for key in case:
        if key not in known:
            refuse_or_ignore(where, key, case[key], known)
    case_id = case.get("id")
    label = f"{where} {case_id!r}" if case_id is not None else where
    sides = lookup(case.get("ruleset"), f"{label}.ruleset")
    raw = case.get("input")
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{label}.input", raw, "an object")
    params = case.get("params") or {}
    if not isinstance(params, Mapping):
        raise ValidationError(f"{label}.params", params, "an object")
    check_params(params, tuple(rs for _, cr in sides for rs in cr.rulesets), label)
    out: dict[str, JSON] = {"id": case_id, "ruleset": case.get("ruleset")}
    explanation: dict[str, JSON] = {}
    flags: list[str] = []
    for side, cr in sides:
        result = _with_subcases(cr, dict(raw), params, f"{label}.input")
        if len(sides) == 1:
            out.update({k: plain(v) for k, v in result.outputs.items()})
            explanation.update(result.explanation)
            flags.extend(f for f in result.flags if f not in flags)
            continue
        out[side] = plain(result.outputs[result.primary])
        explanation[side] = result.explanation[result.primary]
        out[f"{side}_flags"] = result.flags
        for key, value in result.outputs.items():
            if key != result.primary:
                out.setdefault(key, plain(value))
                out[f"{side}_{key}"] = plain(value)
                explanation[f"{side}_{key}"] = result.explanation.get(key)
    if len(sides) == 1:
        out["flags"] = flags
    out["explanation"] = explanation
    return out


def _with_subcases(
    cr: CaseRuleset, raw: dict[str, JSON], params: Mapping[str, JSON], where: str
) -> CaseResult:
    """``input.cases``: several small cases sharing the other input keys → ``case_1``, ..."""
    subcases = raw.pop("cases", None)
    if subcases is None:
        return cr.evaluator(raw, params, where)
    if not isinstance(subcases, list) or not subcases:
        raise ValidationError(f"{where}.cases", subcases, "a non-empty list of objects")
    combined = CaseResult()
    for i, entry in enumerate(subcases, start=1):
        if not isinstance(entry, Mapping):
            raise ValidationError(f"{where}.cases[{i - 1}]", entry, "an object")
        result = cr.evaluator({**raw, **entry}, params, f"{where}.cases[{i - 1}]")
        combined.outputs[f"case_{i}"] = result.outputs[result.primary]
        combined.outputs[f"case_{i}_flags"] = result.flags
        combined.explanation[f"case_{i}"] = result.explanation
    return combined
