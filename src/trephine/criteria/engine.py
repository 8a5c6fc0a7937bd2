"""The one engine: ordered rules, first match wins, three-valued logic, explained results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from trephine import __version__
from trephine.collector import collector_paused
from trephine.criteria.model import Condition, Evaluation, Fact, Facts, InputKind, RuleSet
from trephine.errors import ValidationError


def resolve_params(ruleset: RuleSet, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of the rule set, overridden by the case's ``params`` (validated by name/value)."""
    params = ruleset.default_params()
    for name, value in (overrides or {}).items():
        spec = next((p for p in ruleset.params if p.name == name), None)
        if spec is None:
            raise ValidationError(
                f"params.{name}",
                value,
                [p.name for p in ruleset.params] or "no parameters",
                reason=f"unknown parameter for {ruleset.key}",
            )
        if spec.allowed is not None and value not in spec.allowed:
            raise ValidationError(f"params.{name}", value, spec.allowed)
        if isinstance(spec.default, Decimal | int) and not isinstance(spec.default, bool):
            value = _param_number(name, value)
        params[name] = value
    return params


def _param_number(name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValidationError(f"params.{name}", value, "a number")
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise ValidationError(f"params.{name}", value, "a number") from exc


_PLAIN = (Decimal, bool, str, type(None))
_PLAIN_SET: frozenset[type] = frozenset(_PLAIN)
_FAST: frozenset[type] = frozenset((Decimal, bool, type(None)))
_NUMBER_INPUTS: dict[int, tuple[RuleSet, frozenset[str]]] = {}


def _number_inputs(ruleset: RuleSet) -> frozenset[str]:
    cached = _NUMBER_INPUTS.get(id(ruleset))
    if cached is None or cached[0] is not ruleset:
        names = frozenset(s.name for s in ruleset.inputs if s.kind is InputKind.NUMBER)
        cached = _NUMBER_INPUTS[id(ruleset)] = (ruleset, names)
    return cached[1]


def checked_facts(ruleset: RuleSet, facts: Mapping[str, object]) -> dict[str, Fact | None]:
    """``facts`` as the engine compares them, or a :class:`ValidationError` naming the field.

    Decimals, booleans, text and None (not reported) pass as they are. Plain numbers from a
    notebook (``3.0``, ``150``) become Decimals exactly as written (via ``str``: ``0.1`` is
    ``Decimal("0.1")``, not the binary float); so does numeric text for an input the rule set
    declares a number. Anything else — NaN, infinity, a list, numeric-looking text where a
    number is not declared — is refused naming the field, never compared.
    """
    kinds = set(map(type, facts.values()))
    if kinds <= _FAST or (kinds <= _PLAIN_SET and not _number_inputs(ruleset)):
        return dict(facts)  # type: ignore[arg-type]  # the usual case: nothing to convert
    work: dict[str, Fact | None] = {}
    numbers: frozenset[str] | None = None
    for name, value in facts.items():
        if type(value) in _PLAIN:
            if type(value) is str:
                numbers = _number_inputs(ruleset) if numbers is None else numbers
                if name in numbers:
                    value = _number(name, value)
            work[name] = value  # type: ignore[assignment]
        elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            work[name] = _number(name, value)
        else:
            raise ValidationError(
                name, value, "a number, true/false, text or None", reason="not a fact value"
            )
    return work


def _number(name: str, value: object) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ValidationError(name, value, "a finite number")
    return number


def evaluate(
    ruleset: RuleSet,
    facts: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    resolved: bool = False,
) -> Evaluation:
    """Evaluate ``facts`` under ``ruleset``.

    Facts are checked first (:func:`checked_facts`): plain ``int``/``float`` numbers are taken
    exactly as written, anything that is not a fact value is refused naming the field.

    ``params`` are overrides of the rule set's documented defaults unless ``resolved`` says they
    already are a full parameter set (the fast path for batch evaluation).
    """
    full = dict(params) if resolved and params is not None else resolve_params(ruleset, params)
    work = checked_facts(ruleset, facts)
    if ruleset.derive is not None:
        ruleset.derive(work, full)
    skipped_missing: set[str] = set()
    not_met: list[str] = []  # rows tried before the one that decided, for the explanation
    for rule in ruleset.rules:
        missing: set[str] = set()
        outcome = rule.when.check(work, full, None, missing)
        if outcome is True:
            return _assessment(
                ruleset,
                rule.category,
                rule.id,
                rule.when,
                missing | skipped_missing,
                rule.citation_text,
                work,
                full,
                rule.note,
                not_met,
            )
        if outcome is False:
            not_met.append(rule.id)
            continue
        if outcome is None:
            if rule.missing == "skip":
                skipped_missing |= missing
                not_met.append(f"{rule.id} (undecidable, passed over)")
                continue
            return _assessment(
                ruleset,
                ruleset.not_evaluable,
                None,
                rule.when,
                missing | skipped_missing,
                rule.citation_text,
                work,
                full,
                f"rule {rule.id} ({rule.category}) cannot be decided: missing "
                + ", ".join(sorted(missing)),
                not_met,
            )
    return _assessment(
        ruleset,
        ruleset.not_evaluable,
        None,
        None,
        skipped_missing,
        str(ruleset.citation),
        work,
        full,
        "no rule applies",
        not_met,
    )


def evaluate_many(
    ruleset: RuleSet, many: Iterable[Facts], params: Mapping[str, Any] | None = None
) -> list[Evaluation]:
    """Evaluate many cases with one parameter set (the batch path of ``trephine assess``).

    The cyclic garbage collector is paused meanwhile: evaluation creates no reference cycles
    (reference counting frees everything), but keeping 10^5 results alive makes the collector
    rescan them again and again, which costs more than the evaluation itself.
    """
    full = resolve_params(ruleset, params)
    with collector_paused():
        return [evaluate(ruleset, facts, full, resolved=True) for facts in many]


def _assessment(
    ruleset: RuleSet,
    category: str,
    rule_id: str | None,
    deciding: Condition | None,
    missing: set[str],
    citation: str,
    facts: Mapping[str, Fact | None],
    params: Mapping[str, Any],
    note: str = "",
    not_met: list[str] | None = None,
) -> Evaluation:
    if ruleset.derived_from:
        missing = _input_names(ruleset, missing, facts)
    flags: list[str] = []
    scratch: set[str] = set()
    for flag in ruleset.flags:
        if flag.when.check(facts, params, None, scratch) is True:
            flags.append(flag.flag)
    return Evaluation(
        ruleset=ruleset.key,
        edition=ruleset.edition,
        category=category,
        rule_id=rule_id,
        missing=tuple(sorted(missing)),
        citation=citation,
        flags=tuple(flags),
        params=params,
        software_version=__version__,
        note=note,
        rules_not_met=tuple(not_met or ()),
        deciding=deciding,
        facts=facts,
    )


def _input_names(ruleset: RuleSet, missing: set[str], facts: Mapping[str, Fact | None]) -> set[str]:
    """Missing derived facts → the missing inputs they are computed from (the derived name is
    kept when all its inputs are present, e.g. a baseline of zero)."""
    named: set[str] = set()
    for name in missing:
        sources = [s for s in ruleset.derived_from.get(name, ()) if facts.get(s) is None]
        named.update(sources or [name])
    return named


def pct_reduction(baseline: Decimal | None, current: Decimal | None) -> Decimal | None:
    """(baseline − current) / baseline × 100 (G4); None when the baseline is missing or zero."""
    if baseline is None or current is None or baseline == 0:
        return None
    return (baseline - current) / baseline * 100


def pct_increase(reference: Decimal | None, current: Decimal | None) -> Decimal | None:
    """(current − reference) / reference × 100 (G4); None when the reference is missing or zero."""
    if reference is None or current is None or reference == 0:
        return None
    return (current - reference) / reference * 100


def num(facts: Mapping[str, Fact | None], name: str) -> Decimal | None:
    value = facts.get(name)
    return value if isinstance(value, Decimal) and not isinstance(value, bool) else None
