"""Every built-in rule set, by key (docs, ``criteria list/show`` and plugins read this)."""

from __future__ import annotations

from trephine.criteria.cases import REGISTRY
from trephine.criteria.model import RuleSet
from trephine.errors import ValidationError


def rulesets() -> dict[str, RuleSet]:
    """All rule sets reachable from the registered case rulesets, in registration order."""
    found: dict[str, RuleSet] = {}
    for entry in REGISTRY.values():
        for rs in entry.rulesets:
            found.setdefault(rs.key, rs)
    return found


def get(key: str) -> RuleSet:
    sets = rulesets()
    if key in sets:
        return sets[key]
    # A case ruleset string (e.g. "IMWG2016") names the first rule set behind it.
    if key in REGISTRY:
        return REGISTRY[key].rulesets[0]
    raise ValidationError("RULESET", key, sorted({*sets, *REGISTRY}), reason="unknown ruleset")
