"""Rules as cited data: comparators, conditions, rules, rule sets and the assessment they yield.

A criteria module declares *what* the published criteria say (thresholds, inclusive or strict
comparisons, citations); :mod:`trephine.criteria.engine` is the only place that decides *how*
they are evaluated. Conditions use three-valued logic (``True`` / ``False`` / ``None`` =
"cannot tell, an input is missing") so that a missing value never turns into a guess.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, TypeAlias

from trephine.errors import ValidationError

#: A fact is what a rule can look at: a decimal number, a boolean or a controlled string.
Fact: TypeAlias = Decimal | bool | str
Facts: TypeAlias = Mapping[str, Fact | None]
Params: TypeAlias = Mapping[str, Any]


class Comparator(StrEnum):
    """The inequality exactly as the source writes it (G3: never reinterpret ``<`` as ``≤``)."""

    LT = "<"
    LE = "<="
    GE = ">="
    GT = ">"
    EQ = "=="
    NE = "!="

    def test(self, value: Any, threshold: Any) -> bool:
        return bool(_OPERATORS[self](value, threshold))

    @property
    def inverse(self) -> Comparator:
        """The comparison that holds exactly when this one does not (``<`` ↔ ``>=``)."""
        return _INVERSE[self]


class Tag(StrEnum):
    """Evidence tag of a rule, as in ``clinical-criteria.md``."""

    VERIFIED = "V"
    RECALLED = "R"  # implement, but the citation says it needs verification
    INTERPRETATION = "I"  # our reading; always backed by a named parameter


@dataclass(frozen=True, slots=True)
class Citation:
    source: str  # e.g. "Döhner 2022 (Blood 140:1345)"
    locator: str  # e.g. "Table 7, CR row"
    tag: Tag = Tag.VERIFIED

    def __str__(self) -> str:
        text = f"{self.source}, {self.locator} [{self.tag.value}]"
        if self.tag is Tag.RECALLED:
            text += " (recalled, needs verification against the source)"
        return text


@dataclass(frozen=True, slots=True)
class ParamRef:
    """A threshold or value taken from a named parameter instead of a constant."""

    name: str


@dataclass(frozen=True, slots=True)
class FactRef:
    """A threshold taken from another (usually derived) fact, e.g. an age-expected band edge."""

    name: str


#: What a comparison did for the matched rule's conclusion (``Evidence.role``). ``outcome`` is
#: the comparison's own result; under ``Not``, or as the failing part of ``Exactly``, a
#: comparison supports the rule by *not* holding.
SUPPORTS = "supports"
#: A branch the rule did not need: an ``AnyOf`` / ``AtLeast`` part that failed (or could not be
#: checked) while another part carried the rule, or a part of a conjunction another part decided.
NOT_NEEDED = "not_needed"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One comparison the engine made while evaluating the matched rule.

    ``role`` (:data:`SUPPORTS` or :data:`NOT_NEEDED`) is set for the comparisons of a matched
    rule only; an undecidable row's comparisons, series steps and hand-made items have none.
    """

    input: str
    value: Fact | None
    comparator: Comparator | None
    threshold: Fact | None
    outcome: bool | None
    role: str | None = None

    def as_dict(self, role: bool = True) -> dict[str, Any]:
        """The stored form; ``role=False`` leaves the role out (what the call's digest hashes)."""
        # Inlined ``_plain`` and the member's ``_value_`` (``.value`` is a descriptor call):
        # one dict per comparison of every stored call.
        value, threshold, comparator = self.value, self.threshold, self.comparator
        plain = {
            "input": self.input,
            "value": str(value) if isinstance(value, Decimal) else value,
            "comparator": comparator._value_ if comparator else None,
            "threshold": str(threshold) if isinstance(threshold, Decimal) else threshold,
            "outcome": self.outcome,
        }
        if role and self.role is not None:
            plain["role"] = self.role
        return plain


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    return value


class Condition:
    """Base of every condition. ``check`` returns True/False/None (None = missing input).

    :meth:`check` is the engine's pass (``evidence`` None while it scans the rows, a list when
    the comparisons are recorded); :meth:`trace` is the same check keeping the tree of results,
    for the roles of a matched row's comparisons (:func:`with_roles`).
    """

    __slots__ = ()

    #: Comparisons joined by ``AllOf`` only, worked out once when the condition is built: when
    #: such a condition holds, every comparison it records supports it (no role walk needed).
    conjunctive: bool = False

    def check(
        self,
        facts: Facts,
        params: Params,
        evidence: list[Evidence] | None,
        missing: set[str],
    ) -> bool | None:
        raise NotImplementedError

    def trace(self, facts: Facts, params: Params, missing: set[str]) -> Traced:
        """:meth:`check` in one recording pass, as a tree: a comparison's node holds the
        evidence it recorded; a compound's node holds the nodes of the parts it checked."""
        recorded: list[Evidence] = []
        return Traced(self, self.check(facts, params, recorded, missing), recorded, [])

    def inputs(self) -> list[str]:
        return []

    def describe(self) -> str:
        raise NotImplementedError


class Traced:
    """One condition as one :meth:`Condition.trace` pass checked it.

    ``evidence`` is what a comparison recorded (empty for a compound); ``parts`` are the nodes of
    a compound's parts in the order they were checked (a part after the one that decided a
    Kleene ``AllOf`` / ``AnyOf`` was not checked and is absent).
    """

    __slots__ = ("condition", "evidence", "outcome", "parts")

    def __init__(
        self,
        condition: Condition,
        outcome: bool | None,
        evidence: list[Evidence],
        parts: list[Traced],
    ) -> None:
        self.condition = condition
        self.outcome = outcome
        self.evidence = evidence
        self.parts = parts

    def recorded(self, out: list[Evidence]) -> list[Evidence]:
        """The evidence in the order :meth:`Condition.check` records it, appended to ``out``."""
        out.extend(self.evidence)
        for part in self.parts:
            part.recorded(out)
        return out


def _resolve(value: Fact | ParamRef, params: Params) -> Fact:
    if isinstance(value, ParamRef):
        resolved = params[value.name]
        if isinstance(resolved, int | float) and not isinstance(resolved, bool):
            return Decimal(str(resolved))
        resolved_fact: Fact = resolved
        return resolved_fact
    return value


@dataclass(frozen=True, slots=True)
class Threshold(Condition):
    """``input <comparator> value``. ``when_missing`` is used (and reported) if the input is absent.

    ``when_missing`` exists for inputs that are, by the source's own wording, only reported when
    present (a new plasmacytoma, a platelet count a low-risk procedure does not require); the
    explanation still lists the input as missing so a reviewer sees it was not measured.
    """

    input: str
    comparator: Comparator
    value: Fact | ParamRef | FactRef
    when_missing: bool | None = None
    conjunctive = True  # a comparison alone: when it holds, it supports it
    # Precomputed once per rule table row: the operator and a constant threshold (the hot path
    # of batch evaluation runs through here hundreds of thousands of times).
    _op: Callable[[Any, Any], bool] = field(init=False, repr=False, compare=False)
    _const: Fact | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_op", _OPERATORS[self.comparator])
        const = None if isinstance(self.value, ParamRef | FactRef) else self.value
        object.__setattr__(self, "_const", const)

    def check(
        self,
        facts: Facts,
        params: Params,
        evidence: list[Evidence] | None,
        missing: set[str],
    ) -> bool | None:
        actual = facts.get(self.input)
        threshold = self._const
        if threshold is None:
            if isinstance(self.value, FactRef):
                threshold = facts.get(self.value.name)
                if threshold is None:
                    missing.add(self.value.name)
                    if evidence is not None:
                        evidence.append(Evidence(self.input, actual, self.comparator, None, None))
                    return None
            else:
                threshold = _resolve(self.value, params)
        outcome: bool | None
        if actual is None:
            missing.add(self.input)
            outcome = self.when_missing
        else:
            if actual.__class__ is not threshold.__class__:
                actual = _coerce(self.input, actual, threshold)
            outcome = self._op(actual, threshold)
        if evidence is not None:
            evidence.append(Evidence(self.input, actual, self.comparator, threshold, outcome))
        return outcome

    def inputs(self) -> list[str]:
        return [self.input]

    def describe(self) -> str:
        value = self.value
        if isinstance(value, ParamRef):
            shown = f"param {value.name}"
        elif isinstance(value, FactRef):
            shown = value.name
        else:
            shown = _fmt(value)
        text = f"{self.input} {self.comparator.value} {shown}"
        if self.when_missing is not None:
            text += f" (if not reported: {'met' if self.when_missing else 'not met'})"
        return text


def _coerce(name: str, actual: Fact, threshold: Fact) -> Fact:
    """Accept an int where a decimal is expected; any other type mismatch is refused naming the
    input (never evaluated silently)."""
    if (
        isinstance(threshold, Decimal)
        and isinstance(actual, int | Decimal)
        and not isinstance(actual, bool)
    ):
        return Decimal(actual)
    expected = (
        "a number"
        if isinstance(threshold, Decimal)
        else "true, false"
        if isinstance(threshold, bool)
        else "text"
    )
    raise ValidationError(name, actual, expected, reason=f"compared with {_fmt(threshold)}")


_OPERATORS: dict[Comparator, Callable[[Any, Any], bool]] = {
    Comparator.LT: operator.lt,
    Comparator.LE: operator.le,
    Comparator.GE: operator.ge,
    Comparator.GT: operator.gt,
    Comparator.EQ: operator.eq,
    Comparator.NE: operator.ne,
}


_INVERSE: dict[Comparator, Comparator] = {
    Comparator.LT: Comparator.GE,
    Comparator.LE: Comparator.GT,
    Comparator.GE: Comparator.LT,
    Comparator.GT: Comparator.LE,
    Comparator.EQ: Comparator.NE,
    Comparator.NE: Comparator.EQ,
}


def _fmt(value: Fact) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class ParamIs(Condition):
    """True when a named interpretation parameter has the given value."""

    name: str
    value: Any
    conjunctive = True  # a comparison alone: when it holds, it supports it

    def check(
        self,
        facts: Facts,
        params: Params,
        evidence: list[Evidence] | None,
        missing: set[str],
    ) -> bool | None:
        outcome = params[self.name] == self.value
        if evidence is not None:
            evidence.append(
                Evidence(
                    f"param:{self.name}", params[self.name], Comparator.EQ, self.value, outcome
                )
            )
        return bool(outcome)

    def describe(self) -> str:
        return f"param {self.name} == {self.value!r}"


@dataclass(frozen=True, slots=True, init=False)
class _Compound(Condition):
    """A condition over sub-conditions; its inputs are theirs.

    A compound's :meth:`check` is the one statement of its three-valued rule (which parts it
    checks, in which order, and what their outcomes make of it). :meth:`trace` runs that same
    check once over the parts traced (its :meth:`_tracer`), so the tree of results is built in
    the pass that records the comparisons; :meth:`needs` says what a conclusion about the
    compound needs of each part it checked.
    """

    parts: tuple[Condition, ...]
    #: This compound over its parts traced (:class:`_TracedPart`), made on the first trace.
    _twin: _Compound | None = field(init=False, repr=False, compare=False)

    def __init__(self, *parts: Condition) -> None:
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "_twin", None)

    def trace(self, facts: Facts, params: Params, missing: set[str]) -> Traced:
        nodes: list[Traced] = []
        recorder: list[Any] = nodes  # the twin's parts record nodes, not comparisons
        outcome = self._tracer().check(facts, params, recorder, missing)
        return Traced(self, outcome, [], nodes)

    def _tracer(self) -> _Compound:
        """The same compound (its rule, ``n``, …) over its parts traced: its check puts each
        checked part's node where a check records evidence."""
        twin = self._twin
        if twin is None:
            twin = copy.copy(self)
            object.__setattr__(twin, "parts", tuple(_TracedPart(p) for p in self.parts))
            object.__setattr__(self, "_twin", twin)  # a cache: made alike by any thread
        return twin

    def needs(self, outcomes: list[bool | None], need: bool) -> list[bool | None]:
        """What the conclusion that this compound's outcome is ``need`` needs of each part it
        checked (their ``outcomes``, in order): the outcome the part carries it by, or None when
        the part was not needed. A needed part has the needed outcome."""
        raise NotImplementedError

    def inputs(self) -> list[str]:
        return [name for part in self.parts for name in part.inputs()]


class _TracedPart(Condition):
    """A part of a compound's tracing twin (:meth:`_Compound._tracer`): checking it traces the
    part and puts the part's node where the twin's check records evidence."""

    __slots__ = ("part",)

    def __init__(self, part: Condition) -> None:
        self.part = part

    def check(
        self,
        facts: Facts,
        params: Params,
        evidence: list[Any] | None,  # the twin's node list
        missing: set[str],
    ) -> bool | None:
        node = self.part.trace(facts, params, missing)
        if evidence is not None:
            evidence.append(node)
        return node.outcome

    def inputs(self) -> list[str]:
        return self.part.inputs()

    def describe(self) -> str:
        return self.part.describe()


@dataclass(frozen=True, slots=True, init=False)
class AllOf(_Compound):
    """Every part holds (Kleene AND)."""

    conjunctive: bool = field(init=False, repr=False, compare=False)

    def __init__(self, *parts: Condition) -> None:
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "_twin", None)
        object.__setattr__(self, "conjunctive", all(p.conjunctive for p in parts))

    def check(
        self,
        facts: Facts,
        params: Params,
        evidence: list[Evidence] | None,
        missing: set[str],
    ) -> bool | None:
        result: bool | None = True
        for part in self.parts:
            outcome = part.check(facts, params, evidence, missing)
            if outcome is False:
                return False  # one definite False decides; the parts after it are not checked
            if outcome is None:
                result = None
        return result

    def needs(self, outcomes: list[bool | None], need: bool) -> list[bool | None]:
        # Holding needs every part; failing is carried by the last (the first false) part.
        last = len(outcomes) - 1
        return [need if need or i == last else None for i in range(len(outcomes))]

    def describe(self) -> str:
        return " and ".join(_paren(p) for p in self.parts)


@dataclass(frozen=True, slots=True, init=False)
class AnyOf(_Compound):
    """Some part holds (Kleene OR)."""

    def check(
        self,
        facts: Facts,
        params: Params,
        evidence: list[Evidence] | None,
        missing: set[str],
    ) -> bool | None:
        result: bool | None = False
        for part in self.parts:
            outcome = part.check(facts, params, evidence, missing)
            if outcome is True:
                return True  # one definite True decides; the parts after it are not checked
            if outcome is None:
                result = None
        return result

    def needs(self, outcomes: list[bool | None], need: bool) -> list[bool | None]:
        # Holding is carried by the last (the first true) part; failing needs every part.
        last = len(outcomes) - 1
        return [need if not need or i == last else None for i in range(len(outcomes))]

    def describe(self) -> str:
        return " or ".join(_paren(p) for p in self.parts)


@dataclass(frozen=True, slots=True, init=False)
class _CountOf(_Compound):
    """How many of the parts hold, in three-valued logic: the base of AtLeast and Exactly."""

    n: int

    def __init__(self, n: int, *parts: Condition) -> None:
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "_twin", None)

    def check(
        self,
        facts: Facts,
        params: Params,
        evidence: list[Evidence] | None,
        missing: set[str],
    ) -> bool | None:
        # Every part is checked so that its evidence and missing inputs are recorded.
        true = unknown = 0
        for part in self.parts:
            outcome = part.check(facts, params, evidence, missing)
            if outcome is True:
                true += 1
            elif outcome is None:
                unknown += 1
        return self.decide(true, unknown)

    def decide(self, true: int, unknown: int) -> bool | None:
        """The outcome from how many parts hold and how many cannot be decided."""
        raise NotImplementedError

    def _describe(self, quantifier: str) -> str:
        return f"{quantifier} {self.n} of [" + "; ".join(p.describe() for p in self.parts) + "]"


@dataclass(frozen=True, slots=True, init=False)
class AtLeast(_CountOf):
    """At least ``n`` of the parts hold (e.g. "≥ 2 of 3 blood criteria")."""

    def decide(self, true: int, unknown: int) -> bool | None:
        if true >= self.n:
            return True
        if true + unknown < self.n:
            return False
        return None

    def needs(self, outcomes: list[bool | None], need: bool) -> list[bool | None]:
        # The parts that hold carry it, or the failed ones make it fail.
        return [need if outcome is need else None for outcome in outcomes]

    def describe(self) -> str:
        return self._describe("at least")


@dataclass(frozen=True, slots=True, init=False)
class Exactly(_CountOf):
    """Exactly ``n`` of the parts hold (IWG 2023 CRuni / CRbi)."""

    def decide(self, true: int, unknown: int) -> bool | None:
        if unknown:
            return None if true <= self.n <= true + unknown else False
        return true == self.n

    def needs(self, outcomes: list[bool | None], need: bool) -> list[bool | None]:
        if need:
            return list(outcomes)  # each part counts: held or not, it is needed
        # Too many hold: those decide it; else too few: the failed ones decide it.
        carry = sum(outcome is True for outcome in outcomes) > self.n
        return [carry if outcome is carry else None for outcome in outcomes]

    def describe(self) -> str:
        return self._describe("exactly")


@dataclass(frozen=True, slots=True, init=False)
class Not(_Compound):
    """The part does not hold; undecidable stays undecidable."""

    def __init__(self, part: Condition) -> None:
        object.__setattr__(self, "parts", (part,))
        object.__setattr__(self, "_twin", None)

    @property
    def part(self) -> Condition:
        return self.parts[0]

    def check(
        self,
        facts: Facts,
        params: Params,
        evidence: list[Evidence] | None,
        missing: set[str],
    ) -> bool | None:
        outcome = self.parts[0].check(facts, params, evidence, missing)
        return None if outcome is None else not outcome

    def needs(self, outcomes: list[bool | None], need: bool) -> list[bool | None]:
        return [not need]

    def describe(self) -> str:
        return f"not {_paren(self.part)}"


@dataclass(frozen=True, slots=True, init=False)
class FirstAvailable(_Compound):
    """The first part whose inputs are all reported decides (a preferred measure, then a fallback).

    Used where a newer edition prefers one observation but an older, quantitative one is what
    laboratories still report (iwCLL 2018 marrow: the pathologist's infiltrate call, else < 30 %
    lymphocytes).
    """

    def check(
        self,
        facts: Facts,
        params: Params,
        evidence: list[Evidence] | None,
        missing: set[str],
    ) -> bool | None:
        return self.chosen(facts).check(facts, params, evidence, missing)

    def chosen(self, facts: Facts) -> Condition:
        """The part that decides: the first whose inputs are all reported, else the last."""
        for part in self.parts:
            if all(facts.get(name) is not None for name in part.inputs()):
                return part
        return self.parts[-1]

    def needs(self, outcomes: list[bool | None], need: bool) -> list[bool | None]:
        return [need]  # the chosen part, the only one checked

    def describe(self) -> str:
        return "first reported of [" + "; ".join(p.describe() for p in self.parts) + "]"


def _roles(node: Traced, need: bool | None, out: list[Evidence]) -> None:
    """``node``'s evidence in order onto ``out``, each comparison with its role for the
    conclusion that the node's outcome is ``need`` (None: the node was not needed)."""
    for e in node.evidence:
        role = NOT_NEEDED if need is None else SUPPORTS if e.outcome is need else None
        if role is not None:
            # The item was made by this recording pass and is not shared yet.
            object.__setattr__(e, "role", role)
        out.append(e)
    parts = node.parts
    if not parts:
        return
    if need is None:
        for part in parts:
            _roles(part, None, out)
        return
    cond = node.condition
    assert isinstance(cond, _Compound)  # only a compound's node has parts
    for part, part_need in zip(parts, cond.needs([p.outcome for p in parts], need), strict=True):
        _roles(part, part_need, out)


def with_roles(cond: Condition, facts: Facts, params: Params, holds: bool = True) -> list[Evidence]:
    """The evidence ``cond.check`` records, each comparison with its :attr:`Evidence.role` for
    the conclusion that ``cond`` holds (the matched row of an evaluation) or, with
    ``holds=False``, that it fails (a call that says why a row was not met, e.g. non-severe
    aplastic anaemia: the SAA row's check). A condition whose outcome is not that conclusion
    supports nothing: its evidence comes back without roles.

    One recording pass either way: a :attr:`~Condition.conjunctive` row that holds records its
    comparisons flat (each supports it); any other is traced (:meth:`Condition.trace`) and the
    roles are read off the tree of results by each compound's :meth:`_Compound.needs`.
    """
    if holds and cond.conjunctive:  # the usual row: every comparison supports it
        recorded: list[Evidence] = []
        if cond.check(facts, params, recorded, set()) is True:
            for e in recorded:
                object.__setattr__(e, "role", SUPPORTS)  # made just now, not shared yet
        return recorded
    node = cond.trace(facts, params, set())
    out: list[Evidence] = []
    if node.outcome is not holds:
        return node.recorded(out)
    _roles(node, holds, out)
    return out


def _paren(cond: Condition) -> str:
    text = cond.describe()
    return f"({text})" if isinstance(cond, AllOf | AnyOf) and len(cond.parts) > 1 else text


# Small constructors so rule tables read like the source tables.
def D(text: str | int) -> Decimal:
    """A decimal literal written as text so no binary float ever enters a threshold."""
    return Decimal(str(text))


#: Plausibility ceilings of blood-count inputs in x10^9/L, the same limits as the stored blood
#: count (trephine.domain.quantity ANC / PLATELETS; the criteria core does not import the domain).
ANC_MAX = D(500)
PLT_MAX = D(5000)


def lt(
    name: str, value: str | int | ParamRef | FactRef, when_missing: bool | None = None
) -> Threshold:
    return Threshold(name, Comparator.LT, _num(value), when_missing)


def le(
    name: str, value: str | int | ParamRef | FactRef, when_missing: bool | None = None
) -> Threshold:
    return Threshold(name, Comparator.LE, _num(value), when_missing)


def ge(
    name: str, value: str | int | ParamRef | FactRef, when_missing: bool | None = None
) -> Threshold:
    return Threshold(name, Comparator.GE, _num(value), when_missing)


def gt(
    name: str, value: str | int | ParamRef | FactRef, when_missing: bool | None = None
) -> Threshold:
    return Threshold(name, Comparator.GT, _num(value), when_missing)


def is_(name: str, value: bool | str, when_missing: bool | None = None) -> Threshold:
    return Threshold(name, Comparator.EQ, value, when_missing)


def between(name: str, low: str | int, high: str | int) -> AllOf:
    """Both ends inclusive (convention G3: "5–25 %" means 5 ≤ x ≤ 25)."""
    return AllOf(ge(name, low), le(name, high))


def _num(value: str | int | ParamRef | FactRef) -> Decimal | ParamRef | FactRef:
    return value if isinstance(value, ParamRef | FactRef) else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a criteria table: if ``when`` holds, the category is ``category``.

    ``missing="skip"`` is for categories that can only be *demonstrated* by positive evidence
    (sCR needs IHC; a higher myeloma level whose extra tests were not done is "downgraded to the
    next lower level", CIBMTR): an undecidable rule is passed over and its missing inputs are
    reported. The default ``"block"`` stops the evaluation as not evaluable instead of guessing
    that a later, lower row applies.
    """

    id: str
    category: str
    when: Condition
    citation: Citation
    note: str = ""
    missing: str = "block"
    citation_text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "citation_text", str(self.citation))

    @property
    def requires(self) -> tuple[str, ...]:
        """The inputs this row looks at (a missing one makes it undecidable unless a
        ``when_missing`` default applies)."""
        return tuple(dict.fromkeys(self.when.inputs()))


@dataclass(frozen=True, slots=True)
class FlagRule:
    """A review flag raised alongside the category (never changes the category)."""

    flag: str
    when: Condition
    citation: Citation
    note: str = ""


@dataclass(frozen=True, slots=True)
class Parameter:
    """A named interpretation ([I]) or site parameter with its documented default."""

    name: str
    default: Any
    allowed: tuple[Any, ...] | None
    description: str
    tag: Tag = Tag.INTERPRETATION


class InputKind(Enum):
    NUMBER = "number"
    BOOL = "bool"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class InputSpec:
    """The contract of one input: kind, canonical unit, bounds, allowed values."""

    name: str
    kind: InputKind
    unit: str | None = None
    minimum: Decimal | None = Decimal(0)
    maximum: Decimal | None = None
    allowed: tuple[str, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class RuleSet:
    """One criteria set and edition: metadata, ordered categories, rules, flags, parameters."""

    key: str
    title: str
    edition: str
    citation: Citation
    categories: tuple[str, ...]  # best → worst; used for "better never worsens" properties
    rules: tuple[Rule, ...]
    not_evaluable: str
    flags: tuple[FlagRule, ...] = ()
    params: tuple[Parameter, ...] = ()
    inputs: tuple[InputSpec, ...] = ()
    derive: Callable[[dict[str, Fact | None], Params], None] | None = None
    #: Derived fact → the inputs it is computed from, so that "not evaluable" names what the
    #: user must supply (``baseline_bm_blasts_pct``), not an internal quantity.
    derived_from: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The generated reference page (``docs/criteria/<docs_page>.md``) this rule set is on; a
    #: family of rule sets (one guideline) shares one page.
    docs_page: str = "diagnostics"

    def __post_init__(self) -> None:
        # A rule table that names a category outside its enum, repeats a rule id or refers to
        # an undeclared parameter is a bug: fail at import, not at a patient's evaluation.
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.key}: duplicate rule ids")
        produced = {r.category for r in self.rules} | {self.not_evaluable}
        if self.categories and not produced <= set(self.categories):
            raise ValueError(
                f"{self.key}: categories {produced - set(self.categories)} "
                "are not in the category enum"
            )
        declared = {p.name for p in self.params}
        conditions = [r.when for r in self.rules] + [f.when for f in self.flags]
        for cond in conditions:
            for ref in _param_refs(cond):
                if ref not in declared:
                    raise ValueError(f"{self.key}: parameter {ref!r} is not declared")

    def default_params(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def rank(self, category: str) -> int:
        return self.categories.index(category)

    def category_enum(self) -> type[StrEnum]:
        """The ordered categories as a ``StrEnum`` (member values are the reported spellings)."""
        values = self.categories or tuple(
            dict.fromkeys([*(r.category for r in self.rules), self.not_evaluable])
        )
        members = [(_identifier(v), v) for v in values]
        return StrEnum(_identifier(self.key), members)  # type: ignore[return-value]


def _identifier(text: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in text).strip("_").upper()
    return name if name and not name[0].isdigit() else f"_{name}"


def _param_refs(cond: Condition) -> list[str]:
    if isinstance(cond, ParamIs):
        return [cond.name]
    if isinstance(cond, Threshold) and isinstance(cond.value, ParamRef):
        return [cond.value.name]
    if isinstance(cond, _Compound):
        return [name for part in cond.parts for name in _param_refs(part)]
    return []


@dataclass(frozen=True)
class Evaluation:
    """The explained result of one evaluation.

    The evidence of the deciding row is gathered on first access (a second, recording pass over
    that one row), so batch evaluation pays for explanations only when they are read.
    """

    ruleset: str
    edition: str
    category: str
    rule_id: str | None
    missing: tuple[str, ...]
    citation: str
    flags: tuple[str, ...]
    params: Mapping[str, Any]
    software_version: str
    note: str = ""
    rules_not_met: tuple[str, ...] = ()
    deciding: Condition | None = field(default=None, repr=False, compare=False)
    facts: Mapping[str, Fact | None] = field(default_factory=dict, repr=False, compare=False)
    _evidence: list[tuple[Evidence, ...]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        """The comparisons of the deciding row, in the order the engine made them; those of a
        matched row carry their :attr:`Evidence.role`."""
        if not self._evidence:
            recorded: list[Evidence] = []
            if self.deciding is not None and self.rule_id is not None:
                recorded = with_roles(self.deciding, self.facts, self.params)
            elif self.deciding is not None:
                self.deciding.check(self.facts, self.params, recorded, set())
            self._evidence.append(tuple(recorded))
        return self._evidence[0]

    @property
    def evaluable(self) -> bool:
        return self.rule_id is not None

    def explanation(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "edition": self.edition,
            "category": self.category,
            "rule": self.rule_id,
            "rules_not_met": list(self.rules_not_met),
            "evidence": [e.as_dict() for e in self.evidence],
            "missing": list(self.missing),
            "citation": self.citation,
            "flags": list(self.flags),
            "params": {k: _plain(v) for k, v in self.params.items()},
            "software_version": self.software_version,
            **({"note": self.note} if self.note else {}),
        }
