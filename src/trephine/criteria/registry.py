"""The registry of the case format: ruleset string → the rule sets behind it and its adapter.

:data:`REGISTRY` holds every ruleset string ``trephine criteria evaluate`` accepts (the
built-ins register themselves from :mod:`trephine.criteria.adapters`, one module per disease;
plugins call :func:`register` the same way); :func:`lookup` reads a case's ``ruleset`` (spelling
variants, ``"A vs B"``); :func:`rulesets` and :func:`get` reach every built-in rule set by key
(docs, ``criteria list/show``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trephine.criteria.model import Evaluation, RuleSet
from trephine.criteria.series import (
    SeriesStep,
)
from trephine.errors import ValidationError

JSON = Any


@dataclass
class CaseResult:
    """Outputs (JSON-ready, keyed like ``expect``) and one explanation per output."""

    outputs: dict[str, JSON] = field(default_factory=dict)
    explanation: dict[str, JSON] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def put(self, key: str, value: JSON, why: Evaluation | SeriesStep | dict[str, JSON]) -> None:
        self.outputs[key] = value
        if isinstance(why, Evaluation):
            self.explanation[key] = why.explanation()
            self.add_flags(why.flags)
        elif isinstance(why, SeriesStep):
            self.explanation[key] = why.explanation("", "")
        else:
            self.explanation[key] = why

    def add_flags(self, flags: tuple[str, ...] | list[str]) -> None:
        for flag in flags:
            if flag not in self.flags:
                self.flags.append(flag)

    @property
    def primary(self) -> str:
        return next(iter(self.outputs))


Evaluator = Callable[[dict[str, JSON], Mapping[str, JSON], str], CaseResult]


@dataclass(frozen=True)
class CaseRuleset:
    """One ruleset string of the case format, the rule sets behind it and its evaluator."""

    name: str
    description: str
    rulesets: tuple[RuleSet, ...]
    evaluator: Evaluator


REGISTRY: dict[str, CaseRuleset] = {}


def register(
    name: str, description: str, rulesets: tuple[RuleSet, ...], evaluator: Evaluator
) -> None:
    """Register a case ruleset string (plugins use the same call as the built-ins)."""
    REGISTRY[name] = CaseRuleset(name, description, rulesets, evaluator)


def _squash(name: str) -> str:
    return "".join(name.split()).casefold()


def lookup(name: JSON, where: str) -> list[tuple[str, CaseRuleset]]:
    """A ruleset string → the registered evaluators (``"A vs B"`` compares editions)."""
    if not isinstance(name, str):
        raise ValidationError(where, name, sorted(REGISTRY))
    if name in REGISTRY:
        return [(name, REGISTRY[name])]
    # Spelling variants of a registered name (case, spaces: "eln 2022", "WHO5 VS ICC2022") are
    # the same ruleset; the registered spelling is what the output reports.
    canonical = {_squash(key): key for key in REGISTRY}
    if _squash(name) in canonical:
        key = canonical[_squash(name)]
        return [(key, REGISTRY[key])]
    parts = [canonical.get(_squash(p)) for p in re.split(r"\s+vs\.?\s+", name.strip(), flags=re.I)]
    if len(parts) > 1 and all(parts):
        return [(p, REGISTRY[p]) for p in parts if p is not None]
    comparable = [*sorted(REGISTRY), "<A> vs <B> for any two of these"]
    raise ValidationError(where, name, comparable, reason="unknown ruleset")


def rulesets() -> dict[str, RuleSet]:
    """All rule sets reachable from the registered case rulesets, in registration order."""
    found: dict[str, RuleSet] = {}
    for entry in REGISTRY.values():
        for rs in entry.rulesets:
            found.setdefault(rs.key, rs)
    return found


def get(key: str) -> RuleSet:
    """The rule set called ``key`` (``"ELN2022"``, ``"IMWG2016"`` …; a case ruleset string names
    the first rule set behind it); an unknown key is refused listing the known ones."""
    sets = rulesets()
    if key in sets:
        return sets[key]
    # A case ruleset string (e.g. "IMWG2016") names the first rule set behind it.
    if key in REGISTRY:
        return REGISTRY[key].rulesets[0]
    raise ValidationError("RULESET", key, sorted({*sets, *REGISTRY}), reason="unknown ruleset")


# The built-in adapters register themselves on import (last: they import this module).
import trephine.criteria.adapters  # noqa: E402, F401
