"""The input contract of the case format: units and conversions, input keys and their aliases,
:func:`build_facts` (raw case values → engine facts, refused or reported when unknown), and
the small parsing helpers the case adapters share.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from difflib import get_close_matches
from typing import Any

from trephine.criteria.engine import evaluate, resolve_params
from trephine.criteria.model import Evaluation, Fact, InputKind, InputSpec, RuleSet
from trephine.errors import ValidationError

JSON = Any


#: Units we convert at ingestion (G1) into the canonical unit of an input: (from, to) → factor.
CONVERSIONS: dict[tuple[str, str], Decimal] = {
    ("g/L", "g/dL"): Decimal("0.1"),
    ("/uL", "x10^9/L"): Decimal("0.001"),
    ("/µL", "x10^9/L"): Decimal("0.001"),
    ("cells/uL", "x10^9/L"): Decimal("0.001"),
    ("x10^3/uL", "x10^9/L"): Decimal(1),
    ("10^9/L", "x10^9/L"): Decimal(1),
    ("mg/L", "mg/dL"): Decimal("0.1"),
    ("g/dL", "g/L"): Decimal(10),
    ("mg/dL", "mg/L"): Decimal(10),
    ("g/24h", "mg/24h"): Decimal(1000),
    ("x10^9/L", "x10^9/L"): Decimal(1),
}


def to_decimal(value: JSON, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValidationError(where, value, "a number")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError(where, value, "a number") from exc
    if not number.is_finite():
        raise ValidationError(where, value, "a finite number")
    return number


_BOOL, _TEXT = InputKind.BOOL, InputKind.TEXT  # enum lookups are slow on this hot path


def convert(spec: InputSpec, raw: JSON, where: str) -> Fact | None:
    """Validate one input value against its contract and convert it to a fact."""
    if raw is None:
        return None
    kind = spec.kind
    if kind is _BOOL:
        if not isinstance(raw, bool):
            raise ValidationError(where, raw, "true, false")
        return raw
    if kind is _TEXT:
        if not isinstance(raw, str):
            raise ValidationError(where, raw, spec.allowed or "text")
        if spec.allowed is not None and raw not in spec.allowed:
            raise ValidationError(where, raw, spec.allowed)
        return raw
    unit = spec.unit
    if type(raw) is Decimal and raw.is_finite():
        # Stored results arrive as finite Decimals already: skip the generic Mapping check
        # (an ABC isinstance) and re-parsing; the range check below still applies.
        number = raw
    elif isinstance(raw, Mapping):
        if set(raw) - {"value", "unit"} or "value" not in raw:
            raise ValidationError(where, raw, '{"value": number, "unit": text}')
        given_unit = raw.get("unit", unit)
        number = to_decimal(raw["value"], f"{where}.value")
        if given_unit != unit:
            factor = CONVERSIONS.get((str(given_unit), str(unit)))
            if factor is None:
                allowed = [unit, *(a for a, b in CONVERSIONS if b == unit)]
                raise ValidationError(f"{where}.unit", given_unit, allowed, reason="wrong unit")
            number *= factor
    else:
        number = to_decimal(raw, where)
    if spec.minimum is not None and number < spec.minimum:
        raise ValidationError(
            where, raw, f">= {spec.minimum} {unit or ''}".strip(), reason="below the allowed range"
        )
    if spec.maximum is not None and number > spec.maximum:
        raise ValidationError(
            where, raw, f"<= {spec.maximum} {unit or ''}".strip(), reason="above the allowed range"
        )
    return number


#: Unit suffixes a key may carry (``serum_m_g_l``, ``anc_per_ul``) → the unit they name. Longer
#: suffixes first, so ``_mg_dl`` is not read as ``_dl``.
KEY_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_x10e9_l", "x10^9/L"),
    ("_x10_9_l", "x10^9/L"),
    ("_10e9_l", "x10^9/L"),
    ("_10_9_l", "x10^9/L"),
    ("_per_ul", "/uL"),
    ("_mg_24h", "mg/24h"),
    ("_g_24h", "g/24h"),
    ("_mg_dl", "mg/dL"),
    ("_mg_l", "mg/L"),
    ("_g_dl", "g/dL"),
    ("_g_l", "g/L"),
)

#: Other spellings of an input used by the rules specification itself (e.g. ``pb_blasts`` in the
#: IWG 2023 pseudocode) → the canonical key.
KEY_ALIASES = {"pb_blasts": "pb_blasts_pct", "transfusion_dependent": "transfusion_dependence"}

#: While a case is evaluated: the input keys that were ignored (unknown to every rule set of the
#: case and not a near-miss of a known key). ``None`` outside a case evaluation: refuse them.
IGNORED_INPUTS: ContextVar[list[str] | None] = ContextVar("trephine_ignored_inputs", default=None)


def _unit_alias(key: str, specs: Mapping[str, InputSpec]) -> tuple[InputSpec, str] | None:
    """``<name>_<unit>`` for a known numeric input ``<name>[_<its unit>]`` → (spec, given unit).

    The value is then converted at ingestion (G1), e.g. ``serum_m_g_l`` 14 → ``serum_m_g_dl``
    1.4; a unit with no known conversion to the input's unit is refused, never guessed.
    """
    for suffix, unit in KEY_UNIT_SUFFIXES:
        if not key.endswith(suffix) or len(key) == len(suffix):
            continue
        stem = key[: -len(suffix)]
        names = [stem, *(stem + other for other, _ in KEY_UNIT_SUFFIXES)]
        for name in names:
            spec = specs.get(name)
            if spec is not None and spec.kind is InputKind.NUMBER and spec.unit is not None:
                if unit != spec.unit and (unit, spec.unit) not in CONVERSIONS:
                    return None
                return spec, unit
    return None


def build_facts(
    raw: Mapping[str, JSON],
    specs: Mapping[str, InputSpec],
    where: str,
    structural: frozenset[str] = frozenset(),
) -> dict[str, Fact | None]:
    """Facts from the case input.

    A key with a unit suffix (``hb_g_l``) or a spelling of the specification (``pb_blasts``) is
    mapped to its input. Any other unknown key is refused when it looks like a misspelling of a
    known one (it would otherwise silently drop a criterion); during a case evaluation a key
    that resembles no input is ignored and reported (``IGNORED_INPUT_KEYS``), outside one it is
    refused with the list of known keys.
    """
    facts: dict[str, Fact | None] = {}
    for key, value in raw.items():
        if key in structural or key in FREE_TEXT:
            continue
        spec = specs.get(key)
        if spec is not None:
            facts[key] = convert(spec, value, f"{where}.{key}")
            continue
        alias = KEY_ALIASES.get(key)
        if alias is not None and alias in specs:
            if raw.get(alias) is not None:
                raise ValidationError(
                    f"{where}.{key}", value, f"only one of {key}, {alias}", reason="given twice"
                )
            facts[alias] = convert(specs[alias], value, f"{where}.{key}")
            continue
        aliased = _unit_alias(key, specs)
        if aliased is not None:
            spec, unit = aliased
            if raw.get(spec.name) is not None or facts.get(spec.name) is not None:
                raise ValidationError(
                    f"{where}.{key}", value, f"only one of {key}, {spec.name}", reason="given twice"
                )
            if isinstance(value, Mapping):
                raise ValidationError(f"{where}.{key}", value, f"a number in {unit}")
            given = value if value is None else {"value": value, "unit": unit}
            facts[spec.name] = convert(spec, given, f"{where}.{key}")
            continue
        refuse_or_ignore(where, key, value, {*specs, *structural})
    return facts


#: Name parts that say nothing about *what* was measured (units, time words, qualifiers): a
#: shared part of this kind does not make an unknown key look like a known one.
GENERIC_KEY_PARTS = frozenset(
    {
        "pct", "cm", "mm", "g", "dl", "l", "mg", "ul", "per", "x10e9", "24h", "mmol", "umol",
        "days", "day", "weeks", "week", "wk", "months", "month", "since", "last", "baseline",
        "present", "counted", "count", "n", "of", "the", "is", "at", "to", "abs",
    }
)  # fmt: skip


def _resembles(key: str, names: list[str]) -> bool:
    """A misspelling or a vaguer spelling of a known input (``circulating_blast``, ``blasts``)."""
    if get_close_matches(key, names, n=1, cutoff=0.8):
        return True
    parts = set(key.lower().split("_")) - GENERIC_KEY_PARTS
    return any(parts & set(name.lower().split("_")) for name in names)


def refuse_or_ignore(where: str, key: str, value: JSON, known: list[str] | set[str]) -> None:
    """An unknown key: refused outside a case evaluation, or when it resembles a known input
    (it would silently drop or shadow a criterion); otherwise recorded as ignored, so that
    context a reader added (``age_years``, ``site``) does not stop the evaluation."""
    names = sorted(known)
    ignored = IGNORED_INPUTS.get()
    if ignored is None or _resembles(key, names):
        raise ValidationError(f"{where}.{key}", value, names, reason="unknown input key")
    ignored.append(f"{where}.{key}")


#: Free-text keys any input may carry for the reader; they never reach a rule.
FREE_TEXT = frozenset({"note", "notes", "comment"})


def specs_of(*rulesets: RuleSet) -> dict[str, InputSpec]:
    return {spec.name: spec for rs in rulesets for spec in rs.inputs}


def plain(value: JSON) -> JSON:
    """Decimal → JSON number (int when integral) for output only; comparisons never see it."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def run(rs: RuleSet, facts: Mapping[str, Fact | None], params: Mapping[str, JSON]) -> Evaluation:
    """Evaluate with the case params that belong to this rule set."""
    own = {p.name for p in rs.params}
    return evaluate(rs, facts, {k: v for k, v in params.items() if k in own})


def check_params(params: Mapping[str, JSON], rulesets: tuple[RuleSet, ...], where: str) -> None:
    known = {p.name for rs in rulesets for p in rs.params}
    for name in params:
        if name not in known:
            raise ValidationError(
                f"{where}.params.{name}",
                params[name],
                sorted(known) or "none",
                reason="unknown parameter",
            )
    for rs in rulesets:
        own = {k: v for k, v in params.items() if k in {p.name for p in rs.params}}
        resolve_params(rs, own)


def parse_date(value: JSON, where: str) -> dt.date:
    if not isinstance(value, str):
        raise ValidationError(where, value, "an ISO date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(where, value, "an ISO date YYYY-MM-DD") from exc


def sub(raw: Mapping[str, JSON], key: str, where: str) -> dict[str, JSON]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where}.{key}", value, "an object")
    return dict(value)


def seq(raw: Mapping[str, JSON], key: str, where: str) -> list[JSON]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(f"{where}.{key}", value, "a list")
    return value


def allowed_text(where: str, value: JSON, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise ValidationError(where, value, allowed)
    return str(value)


#: Disease labels a case may carry (informative: the ruleset, not this label, picks the rules).
DISEASES = (
    "AML",
    "APL",
    "MDS",
    "MDS/AML",
    "CMML",
    "MDS/MPN",
    "MPN",
    "CML",
    "MPAL",
    "MM",
    "SMM",
    "MGUS",
    "CLL",
    "SLL",
    "B-ALL",
    "T-ALL",
    "ALL",
    "AA",
    "PNH",
)


def check_disease(value: JSON, where: str) -> None:
    """The informative ``disease`` label: one of :data:`DISEASES`, or a wording that names one
    as a word (``MDS-IB2``, ``t-AML``, ``higher-risk MDS``); anything else (``AMLX``) is refused
    as a probable typo."""
    if value is None or value in DISEASES:
        return
    if isinstance(value, str):
        words = {w.upper() for w in re.split(r"[^A-Za-z0-9]+", value) if w}
        if words & {d.upper() for d in DISEASES}:
            return
    raise ValidationError(f"{where}.disease", value, DISEASES)
