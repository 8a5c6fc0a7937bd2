"""The case contract of ``trephine criteria evaluate``: a case (``id``, ``ruleset``, ``input``,
optional ``params``) in the format of ``clinical-cases.json`` → outputs named like the case
format's ``expect`` keys, each explained.

This module only *adapts* a case to the rule sets (validating and converting inputs, picking
which rule sets a case's inputs call for, naming outputs); every threshold lives in
:mod:`trephine.criteria.sets`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from difflib import get_close_matches
from typing import Any

from trephine.criteria.engine import evaluate, resolve_params
from trephine.criteria.model import Evaluation, Fact, InputKind, InputSpec, RuleSet
from trephine.criteria.series import (
    MmMrdPoint,
    MrdSample,
    SeriesStep,
    chimerism_trend,
    mrd_relapse_states,
    sustained_mrd,
)
from trephine.criteria.sets import (
    aa_response,
    all_mrd,
    all_response,
    diagnostics,
    eln2017_aml,
    eln2021_mrd,
    eln2022_aml,
    hct_graft,
    imwg2016_mm,
    iwcll_cll,
    iwg2003_aml,
    iwg2006_mds,
    iwg2018_mds,
    iwg2023_mds,
    workups,
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


# ------------------------------------------------------------------------------- input checks
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
_IGNORED: ContextVar[list[str] | None] = ContextVar("trephine_ignored_inputs", default=None)


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
    ignored = _IGNORED.get()
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


def _allowed(where: str, value: JSON, allowed: tuple[str, ...]) -> str | None:
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


def _disease(value: JSON, where: str) -> None:
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


# ----------------------------------------------------------------------------------- AML / MRD
#: The case format's and the spec's (§8 rule) names of the haemodilution-index flag.
HEMODILUTION_KEYS = ("hemodilution_flag", "hemodilution_index_flag")
AML_STRUCT = frozenset(
    {
        "disease",
        "mrd",
        "history",
        "therapy",
        "pb_blast_samples",
        "mrd_series",
        "first_pull",
        *HEMODILUTION_KEYS,
    }
)
AML_SPECS = specs_of(eln2022_aml.RESPONSE, eln2022_aml.RELAPSE)
LEGACY_AML_KEYS = frozenset(spec.name for spec in eln2017_aml.PD_INPUTS)


#: Built once, not per MRD result (a stored timeline maps thousands of them).
_MRD_KNOWN = frozenset(
    {
        "method",
        "pct",
        "cd45_events",
        "target",
        "detected",
        "level_pct",
        "sample",
        "variants",
        "date",
        "ct_values",
        "replicates_positive",
        "replicates_total",
        "lod_events",
        "lloq_events",
        *FREE_TEXT,
    }
)
_MRD_SPECS = specs_of(eln2021_mrd.MRD)
_MFC_PCT = InputSpec("pct", InputKind.NUMBER, "%", maximum=Decimal(100))


def mrd_facts(
    result: Mapping[str, JSON], where: str, hemodilute: bool | None
) -> dict[str, Fact | None]:
    """One ELN 2021 MRD result (as in the case format) → facts of the MRD rule set."""
    known = _MRD_KNOWN
    for key in result:
        if key not in known:
            refuse_or_ignore(where, key, result[key], set(known))
    method = _allowed(f"{where}.method", result.get("method"), ("MFC", "qPCR", "dPCR", "NGS"))
    if method is None:
        raise ValidationError(
            f"{where}.method", None, ("MFC", "qPCR", "dPCR", "NGS"), reason="missing"
        )
    specs = _MRD_SPECS
    facts: dict[str, Fact | None] = {"mrd_method": method, "hemodilute": hemodilute}
    if method == "MFC":
        facts["mfc_pct"] = convert(_MFC_PCT, result.get("pct"), f"{where}.pct")
        facts["cd45_events"] = convert(
            specs["cd45_events"], result.get("cd45_events"), f"{where}.cd45_events"
        )
    elif method in ("qPCR", "dPCR"):
        facts["pcr_detected"] = convert(
            specs["pcr_detected"], result.get("detected"), f"{where}.detected"
        )
        if facts["pcr_detected"] is None:
            facts["pcr_detected"] = _replicates_detected(result, where)
        facts["pcr_level_pct"] = convert(
            specs["pcr_level_pct"], result.get("level_pct"), f"{where}.level_pct"
        )
        target = result.get("target")
        if target is not None and not isinstance(target, str):
            raise ValidationError(f"{where}.target", target, "a gene or fusion name")
        # MRD-LL is defined for NPM1/CBF; an unnamed target is read as the assay's usual one.
        facts["pcr_low_level_target"] = target is None or eln2021_mrd.low_level_target(target)
    else:
        informative: list[Decimal] = []
        for i, variant in enumerate(seq(result, "variants", where)):
            vwhere = f"{where}.variants[{i}]"
            if not isinstance(variant, Mapping):
                raise ValidationError(vwhere, variant, "an object")
            gene = variant.get("gene")
            if not isinstance(gene, str):
                raise ValidationError(f"{vwhere}.gene", gene, "a HGNC symbol")
            vaf = convert(
                InputSpec("vaf", InputKind.NUMBER, "%", maximum=Decimal(100)),
                variant.get("vaf"),
                f"{vwhere}.vaf",
            )
            germline = variant.get("germline", False)
            if not isinstance(germline, bool):
                raise ValidationError(f"{vwhere}.germline", germline, "true, false")
            # DTA genes and germline variants are not MRD (M12).
            if gene.upper() not in eln2021_mrd.DTA_GENES and not germline and vaf is not None:
                assert isinstance(vaf, Decimal)
                informative.append(vaf)
        facts["ngs_max_informative_vaf_pct"] = max(informative, default=Decimal(0))
    return facts


def _replicates_detected(result: Mapping[str, JSON], where: str) -> bool | None:
    """M9 [R]: qPCR positive when Ct < 40 in ≥ 2 of 3 replicates."""
    cts = result.get("ct_values")
    if cts is not None:
        if not isinstance(cts, list):
            raise ValidationError(f"{where}.ct_values", cts, "a list of Ct values (null = no Ct)")
        values = [None if c is None else to_decimal(c, f"{where}.ct_values") for c in cts]
        return sum(1 for c in values if c is not None and c < 40) >= 2
    positives = result.get("replicates_positive")
    if positives is not None:
        return to_decimal(positives, f"{where}.replicates_positive") >= 2
    return None


_EVENTS = InputSpec("events", InputKind.NUMBER, "events")


def mfc_sensitivity_of(
    raw: JSON, where: str, params: Mapping[str, JSON]
) -> tuple[list[Decimal], dict[str, JSON]] | None:
    """M6 [R]: LOD and sensitivity of the (first) MFC result that gives its CD45+ events."""
    results = raw if isinstance(raw, list) else [raw]
    for i, result in enumerate(results):
        if not isinstance(result, Mapping) or result.get("method") != "MFC":
            continue
        rwhere = f"{where}[{i}]" if isinstance(raw, list) else where
        events = convert(_EVENTS, result.get("cd45_events"), f"{rwhere}.cd45_events")
        if not isinstance(events, Decimal):
            continue
        if events == 0:
            raise ValidationError(f"{rwhere}.cd45_events", 0, "a positive number of events")
        counts = []
        for key in ("lod_events", "lloq_events"):
            given = convert(_EVENTS, result.get(key), f"{rwhere}.{key}")
            if given is None:
                name = f"mfc_{key}"
                given = to_decimal(params.get(name, _M6_DEFAULTS[name]), f"params.{name}")
            assert isinstance(given, Decimal)
            counts.append(given)
        why = eln2021_mrd.mfc_sensitivity(events, counts[0], counts[1])
        return [why["lod"], why["sensitivity"]], why
    return None


_M6_DEFAULTS = eln2021_mrd.MRD.default_params()


def put_mfc_sensitivity(
    result: CaseResult, raw: JSON, where: str, params: Mapping[str, JSON]
) -> None:
    found = mfc_sensitivity_of(raw, where, params) if raw is not None else None
    if found is None:
        return
    (lod, sensitivity), why = found
    plain_why = {
        k: ({ik: plain(iv) for ik, iv in v.items()} if isinstance(v, dict) else plain(v))
        for k, v in why.items()
    }
    result.put("mfc_lod", lod, plain_why)
    result.put("mfc_sensitivity", sensitivity, plain_why)


COMBINE_ORDER = (
    "POSITIVE",
    "LOW_LEVEL",
    "NOT_EVALUABLE_HEMODILUTE",
    "INSUFFICIENT_SENSITIVITY",
    "NOT_EVALUABLE",
    "NEGATIVE_NGS_ONLY",
    "NEGATIVE",
)


def mrd_status(
    raw: JSON, where: str, params: Mapping[str, JSON], hemodilute: bool | None
) -> tuple[str, list[Evaluation]]:
    """MRD status of one result or several (any positive wins; negative only if all are) [I]."""
    if raw is None:
        return "UNKNOWN", []
    results = raw if isinstance(raw, list) else [raw]
    if not results:
        raise ValidationError(where, raw, "an MRD result object or a non-empty list of them")
    assessments = []
    for i, result in enumerate(results):
        rwhere = f"{where}[{i}]" if isinstance(raw, list) else where
        if not isinstance(result, Mapping):
            raise ValidationError(rwhere, result, "an MRD result object")
        assessments.append(run(eln2021_mrd.MRD, mrd_facts(result, rwhere, hemodilute), params))
    status = min((a.category for a in assessments), key=COMBINE_ORDER.index)
    return status, assessments


def with_mrd(category: str, status: str, allowed: tuple[str, ...]) -> str:
    if category in allowed and status == "NEGATIVE":
        return f"{category}_MRD-"
    return category


def _pb_blasts_as_circulating(raw: dict[str, JSON], where: str) -> dict[str, JSON]:
    """``pb_blasts_pct`` (the MDS/diagnostic spelling) in an AML response case means
    ``circulating_blasts = pb_blasts_pct > 0``; both given and disagreeing is refused."""
    if "pb_blasts_pct" not in raw:
        return raw
    out = {k: v for k, v in raw.items() if k != "pb_blasts_pct"}
    spec = InputSpec("pb_blasts_pct", InputKind.NUMBER, "%", maximum=Decimal(100))
    pct = convert(spec, raw["pb_blasts_pct"], f"{where}.pb_blasts_pct")
    if not isinstance(pct, Decimal):
        return out
    present = pct > 0
    given = raw.get("circulating_blasts")
    if given is not None and given is not present:
        raise ValidationError(
            f"{where}.pb_blasts_pct",
            raw["pb_blasts_pct"],
            f"a value consistent with circulating_blasts={str(given).lower()}",
            reason="contradicts circulating_blasts",
        )
    out["circulating_blasts"] = present
    return out


def flatten_baseline(raw: Mapping[str, JSON], where: str) -> dict[str, JSON]:
    """``"baseline": {"bm_blasts_pct": 60}`` (the spec's "baseline ``bm_blasts_pct``") →
    ``baseline_bm_blasts_pct``, the spelling of the flat case inputs; both at once is refused."""
    flat = {k: v for k, v in raw.items() if k != "baseline"}
    for key, value in sub(raw, "baseline", where).items():
        name = f"baseline_{key}"
        if name in flat:
            raise ValidationError(
                f"{where}.baseline.{key}",
                value,
                f"only one of baseline.{key}, {name}",
                reason="given twice",
            )
        flat[name] = value
    return flat


def _hemodilute(raw: Mapping[str, JSON], facts: Mapping[str, Fact | None]) -> bool | None:
    flag = None
    for key in HEMODILUTION_KEYS:
        value = raw.get(key)
        if value is not None and not isinstance(value, bool):
            raise ValidationError(f"input.{key}", value, "true, false")
        flag = flag or value
    spicules = facts.get("spicules_present")
    if flag is True or spicules is False:
        return True
    if spicules is True:
        return False
    return None


def _therapy(raw: Mapping[str, JSON], where: str) -> dict[str, Fact | None]:
    therapy = sub(raw, "therapy", where)
    aliases = {
        "courses_completed": "courses_completed",
        "courses": "courses_completed",
        "cycles": "courses_completed",
        "cycles_completed": "courses_completed",
        "intensive_courses": "courses_completed",
        "intensive_courses_completed": "courses_completed",
        "induction_courses": "courses_completed",
        "course_number": "courses_completed",
        "intensity": "therapy_intensity",
        "days_since_start": "days_since_start",
    }
    specs = specs_of(eln2022_aml.LANDMARK)
    facts: dict[str, Fact | None] = {}
    for key, value in therapy.items():
        if key not in aliases:
            refuse_or_ignore(f"{where}.therapy", key, value, set(aliases))
            continue
        name = aliases[key]
        if name == "therapy_intensity" and isinstance(value, str):
            value = INTENSITY_SYNONYMS.get(value.lower().replace("-", "_"), value)
        facts[name] = convert(specs[name], value, f"{where}.therapy.{key}")
    return facts


#: Spellings of therapy intensity seen in trial protocols → the two ELN 2022 landmark kinds.
INTENSITY_SYNONYMS = {
    "intensive": "intensive",
    "intensive_induction": "intensive",
    "less_intensive": "less_intensive",
    "low_intensity": "less_intensive",
    "non_intensive": "less_intensive",
    "nonintensive": "less_intensive",
}


def _history(raw: Mapping[str, JSON], where: str) -> dict[str, JSON]:
    history = sub(raw, "history", where)
    for key in history:
        if key not in {"best_response", "last_mrd"}:
            refuse_or_ignore(f"{where}.history", key, history[key], {"best_response", "last_mrd"})
    best = history.get("best_response")
    if best is not None and not isinstance(best, str):
        raise ValidationError(f"{where}.history.best_response", best, "a response category")
    return history


def _aml_response(name: str, rs: RuleSet, mrd_suffix: tuple[str, ...]) -> Evaluator:
    # An edition may read inputs the others dropped (ELN 2017 PD rows): accept them there only.
    specs = {**AML_SPECS, **specs_of(rs)}

    def evaluator(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
        _disease(raw.get("disease"), where)
        raw = _pb_blasts_as_circulating(flatten_baseline(raw, where), where)
        ignored = _IGNORED.get()
        if ignored is not None:
            # A legacy (ELN 2017 PD) input in a case also read under a later edition, e.g.
            # "ELN2022 vs ELN2017": no rule of this edition reads it, so report it as ignored
            # rather than refuse the whole comparison.
            for key in sorted(LEGACY_AML_KEYS & set(raw) - set(specs)):
                ignored.append(f"{where}.{key}")
                raw = {k: v for k, v in raw.items() if k != key}
        facts = build_facts(raw, specs, where, AML_STRUCT)
        result = CaseResult()
        hemodilute = _hemodilute(raw, facts)
        if facts.get("hemodilute") is None:
            # §8: the laboratory's haemodilution flag blocks a < 5 % remission call. Missing
            # spicules are not re-read as haemodilution here: each edition's adequacy rows
            # already decide what an aparticulate aspirate means (ELN 2017 did not require
            # spicules, ELN 2022 A2 is a parameter), and the MRD rows still use both.
            facts["hemodilute"] = any(raw.get(key) is True for key in HEMODILUTION_KEYS) or None
        first_pull = raw.get("first_pull")
        if first_pull is not None and not isinstance(first_pull, bool):
            raise ValidationError(f"{where}.first_pull", first_pull, "true, false")
        if first_pull is False and "mrd" in raw:
            result.add_flags(["NOT_FIRST_PULL"])  # ELN 2021 M2: MRD wants the first pull
        has_mrd = "mrd" in raw
        status, mrd_assessments = mrd_status(raw.get("mrd"), f"{where}.mrd", params, hemodilute)
        history = _history(raw, where)
        if "bm_blasts_pct" in raw:
            response = run(rs, facts, params)
            label = with_mrd(response.category, status, mrd_suffix)
            result.put("response", label, response)
            if status == "LOW_LEVEL" and response.category in mrd_suffix:
                result.put("response_label", f"{response.category}_MRD-LL", response)
            if rs is eln2022_aml.RESPONSE and params.get("cri_mode") != "any_deficit":
                alt = run(rs, facts, {**params, "cri_mode": "any_deficit"})
                result.put(
                    "response_if_cri_mode_any_deficit",
                    with_mrd(alt.category, status, mrd_suffix),
                    alt,
                )
            if "therapy" in raw:
                result.put(
                    "landmark_status", *_landmark(raw, response.category, history, params, where)
                )
        best = history.get("best_response")
        relapse_inputs = {
            "bm_blasts_pct",
            "pb_blast_samples",
            "circulating_blasts",
            "extramedullary",
            "new_extramedullary",
        }
        if best in eln2022_aml.CR_FAMILY and relapse_inputs & set(raw):
            result.put("relapse", *_relapse(raw, facts, params, where))
        if has_mrd or "bm_blasts_pct" in raw:
            why: Evaluation | dict[str, JSON]
            if not mrd_assessments:
                why = {
                    "rule": None,
                    "category": "UNKNOWN",
                    "missing": ["mrd"],
                    "note": "no MRD result given",
                }
            elif len(mrd_assessments) == 1:
                why = mrd_assessments[0]
            else:
                why = {
                    "combined": [a.explanation() for a in mrd_assessments],
                    "rule": "MRD-COMBINE [I]: any positive wins; negative only if all are",
                }
            result.put("mrd_status", status, why)
            for a in mrd_assessments:
                result.add_flags(a.flags)
            put_mfc_sensitivity(result, raw.get("mrd"), f"{where}.mrd", params)
        if "mrd_series" in raw:
            _mrd_series(raw, history, params, where, result)
        elif has_mrd and raw.get("mrd") is not None and _prior_mrd_known(history):
            # One new MRD result after a known MRD state: the relapse rule still applies (M11).
            single = {"mrd_series": raw["mrd"] if isinstance(raw["mrd"], list) else [raw["mrd"]]}
            _mrd_series(single, history, params, f"{where}.mrd", result, event_only=True)
        if not result.outputs:
            raise ValidationError(
                f"{where}",
                sorted(raw),
                "bm_blasts_pct, mrd or mrd_series",
                reason=f"nothing to evaluate under {name}",
            )
        return result

    return evaluator


def _relapse(
    raw: Mapping[str, JSON],
    facts: Mapping[str, Fact | None],
    params: Mapping[str, JSON],
    where: str,
) -> tuple[str, Evaluation]:
    dates: list[dt.date] = []
    for i, sample in enumerate(seq(raw, "pb_blast_samples", where)):
        swhere = f"{where}.pb_blast_samples[{i}]"
        if not isinstance(sample, Mapping) or set(sample) - {"date", "blasts_present"}:
            raise ValidationError(swhere, sample, '{"date": "YYYY-MM-DD", "blasts_present": bool}')
        present = sample.get("blasts_present")
        if not isinstance(present, bool):
            raise ValidationError(f"{swhere}.blasts_present", present, "true, false")
        if present:
            dates.append(parse_date(sample.get("date"), f"{swhere}.date"))
    extra: dict[str, Fact | None] = dict(facts)
    if dates:
        extra["pb_positive_samples"] = Decimal(len(dates))
        extra["pb_positive_span_days"] = Decimal((max(dates) - min(dates)).days)
    else:
        extra["pb_positive_samples"] = Decimal(1 if facts.get("circulating_blasts") else 0)
        extra["pb_positive_span_days"] = Decimal(0)
    a = run(eln2022_aml.RELAPSE, extra, params)
    return a.category, a


def _landmark(
    raw: Mapping[str, JSON],
    current: str,
    history: Mapping[str, JSON],
    params: Mapping[str, JSON],
    where: str,
) -> tuple[str, Evaluation]:
    facts = _therapy(raw, where)
    best = history.get("best_response")
    # Refractory = no CR/CRh/CRi *at* the landmark (ELN 2022): the marrow being assessed
    # decides; an earlier CR in the history makes a non-CR marrow a relapse question instead.
    if current in eln2022_aml.CR_FAMILY or best in eln2022_aml.CR_FAMILY:
        facts["cr_achieved"] = True
    elif current == eln2022_aml.RESPONSE.not_evaluable:
        facts["cr_achieved"] = None  # an unevaluable marrow cannot show refractoriness
    else:
        facts["cr_achieved"] = False
    a = run(eln2022_aml.LANDMARK, facts, params)
    return a.category, a


def _prior_mrd_known(history: Mapping[str, JSON]) -> bool:
    best = history.get("best_response")
    return history.get("last_mrd") is not None or (
        isinstance(best, str) and (best.endswith("_MRD-") or best.endswith("_MRD-LL"))
    )


def _mrd_series(
    raw: Mapping[str, JSON],
    history: Mapping[str, JSON],
    params: Mapping[str, JSON],
    where: str,
    result: CaseResult,
    event_only: bool = False,
) -> None:
    def sample(entry: JSON, swhere: str) -> MrdSample:
        if not isinstance(entry, Mapping):
            raise ValidationError(swhere, entry, "an MRD result object")
        status, _ = mrd_status(entry, swhere, params, None)
        date = parse_date(entry["date"], f"{swhere}.date") if "date" in entry else None
        level = entry.get("level_pct", entry.get("pct"))
        tissue = _allowed(f"{swhere}.sample", entry.get("sample"), ("BM", "PB"))
        return MrdSample(
            date,
            status,
            None if level is None else to_decimal(level, swhere),
            tissue,
            str(entry.get("method")),
        )

    prior_raw = history.get("last_mrd")
    prior = sample(prior_raw, f"{where}.history.last_mrd") if prior_raw is not None else None
    best = history.get("best_response")
    if prior is None and isinstance(best, str):
        # CR_MRD-LL / CR_MRD- in the history say what the previous MRD status was.
        if best.endswith("_MRD-LL"):
            prior = MrdSample(None, "LOW_LEVEL")
        elif best.endswith("_MRD-"):
            prior = MrdSample(None, "NEGATIVE")
    samples = [
        sample(e, f"{where}.mrd_series[{i}]") for i, e in enumerate(seq(raw, "mrd_series", where))
    ]
    steps = mrd_relapse_states(samples, prior)
    if event_only:
        if steps:
            result.put("mrd_event", steps[-1].state, steps[-1].explanation("ELN2021", "ELN2021"))
        return
    ordered = sorted(samples, key=lambda s: (s.date is None, s.date or dt.date.min))
    positives = 0
    for s, step in zip(ordered, steps, strict=True):
        if s.status in ("POSITIVE", "LOW_LEVEL"):
            positives += 1
            if positives == 1:
                result.put(
                    "after_first_positive", step.state, step.explanation("ELN2021", "ELN2021")
                )
            elif positives == 2:
                result.put(
                    "after_second_positive", step.state, step.explanation("ELN2021", "ELN2021")
                )
    if steps:
        result.put("mrd_event", steps[-1].state, steps[-1].explanation("ELN2021", "ELN2021"))
        last = ordered[-1].status
        result.put("mrd_status", last, steps[-1].explanation("ELN2021", "ELN2021"))
        if isinstance(best, str):
            base = best.split("_MRD")[0]
            if base in ("CR", "CRh", "CRi"):
                suffix = {"NEGATIVE": "_MRD-", "LOW_LEVEL": "_MRD-LL"}.get(last, "")
                result.put(
                    "response_label",
                    base + suffix,
                    {"rule": "ELN2022 MRD qualifier", "base_response": base, "mrd_status": last},
                )


def _eln2021(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    struct = frozenset({"mrd", "first_pull", *HEMODILUTION_KEYS, "disease"})
    facts = build_facts(raw, specs_of(diagnostics.ICSH), where, struct)
    first_pull = raw.get("first_pull")
    if first_pull is not None and not isinstance(first_pull, bool):
        raise ValidationError(f"{where}.first_pull", first_pull, "true, false")
    status, assessments = mrd_status(
        raw.get("mrd"), f"{where}.mrd", params, _hemodilute(raw, facts)
    )
    result = CaseResult()
    result.put(
        "mrd_status",
        status,
        assessments[0]
        if len(assessments) == 1
        else {"combined": [a.explanation() for a in assessments]},
    )
    for a in assessments:
        result.add_flags(a.flags)
    put_mfc_sensitivity(result, raw.get("mrd"), f"{where}.mrd", params)
    if first_pull is False:
        result.add_flags(["NOT_FIRST_PULL"])
    return result


# ------------------------------------------------------------------------------------- Myeloma
MM_STRUCT = frozenset(
    {
        "disease",
        "heavy_chain",
        "light_chain",
        "baseline",
        "nadir",
        "assessments",
        "measurable_by",
        "mrd",
        "response_base",
        "pet",
    }
)
MM_SPECS = specs_of(imwg2016_mm.RESPONSE, imwg2016_mm.PROGRESSION)


def _mm(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    _disease(raw.get("disease"), where)
    _allowed(
        f"{where}.heavy_chain",
        raw.get("heavy_chain"),
        ("IgG", "IgA", "IgM", "IgD", "IgE", "none", "light_chain_only", "nonsecretory"),
    )
    _allowed(f"{where}.light_chain", raw.get("light_chain"), ("kappa", "lambda"))
    measurable = (
        _allowed(
            f"{where}.measurable_by",
            raw.get("measurable_by"),
            ("serum_urine", "FLC_only", "BM_only"),
        )
        or "serum_urine"
    )
    series_keys = [k for k in raw if k.startswith("series_")]
    flat = {k: v for k, v in raw.items() if k not in series_keys}
    if "response_base" in flat:
        flat["base_response"] = flat.pop("response_base")
    for prefix in ("baseline", "nadir"):
        for key, value in sub(raw, prefix, where).items():
            flat[f"{prefix}_{key}"] = value
    facts = build_facts(flat, MM_SPECS, where, MM_STRUCT)
    result = CaseResult()
    response_keys = {
        "serum_ife",
        "urine_ife",
        "serum_m_g_dl",
        "urine_m_mg_24h",
        "bm_pc_pct",
        "dflc_mg_dl",
        "involved_flc_mg_dl",
        "base_response",
        "ihc_kappa_lambda_ratio",
    }
    response: Evaluation | None = None
    # Facts, not raw keys: a unit-suffixed spelling (``serum_m_g_l``) counts as its input.
    if response_keys & {k for k in facts if not k.startswith(("baseline_", "nadir_"))} and (
        "assessments" not in raw
    ):
        rs = {
            "serum_urine": imwg2016_mm.RESPONSE,
            "FLC_only": imwg2016_mm.FLC_ONLY,
            "BM_only": imwg2016_mm.BM_ONLY,
        }[measurable]
        response = run(rs, facts, params)
        given = facts.get("base_response")
        if response.category == rs.not_evaluable and isinstance(given, str):
            # Only an earlier, established response and no new measurements: report it as
            # given (the MRD category below needs it) instead of "not evaluable".
            result.put(
                "response",
                given,
                {"rule": "base_response given", "category": given, "missing": []},
            )
        else:
            result.put("response", response.category, response)
    # Progression from the nadir stands on its own (new lesions need no M-protein at all).
    if "assessments" not in raw and (
        any(k.startswith("nadir_") for k in facts) or facts.get("new_lesions") is not None
    ):
        pd = run(imwg2016_mm.PROGRESSION, facts, params)
        result.put("progression", "PD_UNCONFIRMED" if pd.category == "PD" else pd.category, pd)
    previous_pd = False
    for i, entry in enumerate(seq(raw, "assessments", where), start=1):
        if not isinstance(entry, Mapping):
            raise ValidationError(f"{where}.assessments[{i - 1}]", entry, "an object")
        step = {
            **{k: v for k, v in facts.items() if k.startswith("nadir_")},
            **build_facts(entry, MM_SPECS, f"{where}.assessments[{i - 1}]"),
        }
        pd = run(imwg2016_mm.PROGRESSION, step, params)
        is_pd = pd.category == "PD"
        # IMWG: progression needs two consecutive assessments.
        label = (
            ("PD_CONFIRMED" if previous_pd else "PD_UNCONFIRMED")
            if is_pd
            else ("NOT_PD" if pd.category == "NOT_MET" else pd.category)
        )
        result.put(f"assessment_{i}", label, pd)
        previous_pd = is_pd
    if "mrd" in raw:
        mrd = sub(raw, "mrd", where)
        known = {
            "method": "mrd_method",
            "result": "mrd_result",
            "sensitivity": "mrd_sensitivity",
            "identical_reads": "ngs_identical_reads",
            "pet": "pet",
            "sample": None,
            "date": None,
        }
        mfacts: dict[str, Fact | None] = {}
        mspecs = specs_of(imwg2016_mm.MRD)
        for key, value in mrd.items():
            if key not in known:
                refuse_or_ignore(f"{where}.mrd", key, value, set(known))
                continue
            target = known[key]
            if target is not None:
                mfacts[target] = convert(mspecs[target], value, f"{where}.mrd.{key}")
        if "pet" in raw:
            mfacts["pet"] = convert(mspecs["pet"], raw["pet"], f"{where}.pet")
        category = result.outputs.get("response")
        if category == imwg2016_mm.RESPONSE.not_evaluable:
            category = None
        mfacts["cr_achieved"] = None if category is None else category in ("CR", "sCR")
        a = run(imwg2016_mm.MRD, mfacts, params)
        result.put("mrd_category", a.category, a)
    for key in series_keys:
        points = []
        for i, entry in enumerate(seq(raw, key, where)):
            pwhere = f"{where}.{key}[{i}]"
            if not isinstance(entry, Mapping) or set(entry) - {"date", "marrow_mrd", "pet"}:
                raise ValidationError(pwhere, entry, '{"date", "marrow_mrd", "pet"}')
            marrow = _allowed(
                f"{pwhere}.marrow_mrd", entry.get("marrow_mrd"), ("negative", "positive")
            )
            pet = _allowed(f"{pwhere}.pet", entry.get("pet"), ("negative", "positive"))
            points.append(
                MmMrdPoint(
                    parse_date(entry.get("date"), f"{pwhere}.date"),
                    None if marrow is None else marrow == "negative",
                    None if pet is None else pet == "negative",
                )
            )
        sustained = sustained_mrd(points)
        result.put(key, sustained.state, sustained.explanation("IMWG2016", "IMWG2016"))
    if not result.outputs:
        raise ValidationError(
            where,
            sorted(raw),
            "response, progression or MRD inputs",
            reason="nothing to evaluate under IMWG2016",
        )
    return result


# ----------------------------------------------------------------------------------------- MDS
MDS_STRUCT = frozenset({"disease", "baseline_karyotype", "current_karyotype", *HEMODILUTION_KEYS})
MDS_SPECS = specs_of(iwg2006_mds.RESPONSE)


def _mds_facts(raw: dict[str, JSON], where: str) -> dict[str, Fact | None]:
    _disease(raw.get("disease"), where)
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
    _disease(raw.get("disease"), where)
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


# ----------------------------------------------------------------------------------------- CLL
def _cll(rs: RuleSet) -> Evaluator:
    def evaluator(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
        _disease(raw.get("disease"), where)
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


# ----------------------------------------------------------------------------------------- ALL
#: Other spellings of the §5 time points (the protocols' abbreviations and day counts).
TIMEPOINT_SYNONYMS = {
    "eoi": "end_of_induction",
    "end_induction": "end_of_induction",
    "post_induction": "end_of_induction",
    "eoc": "end_of_consolidation",
    "end_consolidation": "end_of_consolidation",
    "post_consolidation": "end_of_consolidation",
    "day_28": "car_t_day_28",
    "d28": "car_t_day_28",
    "cart_day_28": "car_t_day_28",
    "month_3": "car_t_month_3",
    "m3": "car_t_month_3",
    "cart_month_3": "car_t_month_3",
}


def _all(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    _disease(raw.get("disease"), where)
    specs = specs_of(all_mrd.RESPONSE, all_mrd.B_CELL_APLASIA)
    timepoint = raw.get("timepoint")
    if isinstance(timepoint, str) and timepoint.lower() in TIMEPOINT_SYNONYMS:
        raw = {**raw, "timepoint": TIMEPOINT_SYNONYMS[timepoint.lower()]}
    facts = build_facts(raw, specs, where, frozenset({"disease", "mrd"}))
    mrd = sub(raw, "mrd", where)
    known = {
        "method",
        "pct",
        "sensitivity_pct",
        "sensitivity",
        "detected",
        "level",
        "level_pct",
        "date",
        "quantifiable",
        "pnq",
    }
    for key in mrd:
        if key not in known:
            refuse_or_ignore(f"{where}.mrd", key, mrd[key], known)
    if mrd.get("sensitivity") is not None:
        # As in the myeloma cases, ``sensitivity`` is a fraction (10^-4 = 0.01 %).
        if mrd.get("sensitivity_pct") is not None:
            raise ValidationError(
                f"{where}.mrd.sensitivity",
                mrd["sensitivity"],
                "only one of sensitivity, sensitivity_pct",
                reason="given twice",
            )
        fraction = to_decimal(mrd["sensitivity"], f"{where}.mrd.sensitivity")
        if not Decimal(0) < fraction <= Decimal(1):
            raise ValidationError(f"{where}.mrd.sensitivity", mrd["sensitivity"], "a fraction 0–1")
        mrd = {**mrd, "sensitivity_pct": fraction * 100}
    if mrd:
        facts["mrd_method"] = convert(specs["mrd_method"], mrd.get("method"), f"{where}.mrd.method")
        level: Decimal | None = None
        if mrd.get("pct") is not None:
            level = to_decimal(mrd["pct"], f"{where}.mrd.pct")
        elif mrd.get("level_pct") is not None:
            level = to_decimal(mrd["level_pct"], f"{where}.mrd.level_pct")
        elif mrd.get("level") is not None:
            # ``level`` is a fraction of cells (NGS clonotype frequency), e.g. 3e-06.
            level = to_decimal(mrd["level"], f"{where}.mrd.level") * 100
        if level is not None and not Decimal(0) <= level <= Decimal(100):
            raise ValidationError(
                f"{where}.mrd.pct",
                mrd.get("pct", mrd.get("level")),
                "0–100 % (or a fraction 0–1 as level)",
            )
        facts["mrd_level_pct"] = level
        detected = mrd.get("detected")
        if detected is not None and not isinstance(detected, bool):
            raise ValidationError(f"{where}.mrd.detected", detected, "true, false")
        facts["mrd_detected"] = (
            detected if detected is not None else (None if level is None else level > 0)
        )
        facts["sensitivity_pct"] = convert(
            specs["sensitivity_pct"], mrd.get("sensitivity_pct"), f"{where}.mrd.sensitivity_pct"
        )
        for key, negate in (("quantifiable", False), ("pnq", True)):
            flag = mrd.get(key)
            if flag is None:
                continue
            if not isinstance(flag, bool):
                raise ValidationError(f"{where}.mrd.{key}", flag, "true, false")
            facts["mrd_quantifiable"] = flag is not negate
            if not facts["mrd_quantifiable"]:
                facts["mrd_detected"] = True  # "positive, not quantifiable" is a positive
    bca_keys = {"cd19_pct_pb", "cd19_abs_per_ul"}
    bca_facts = {k: facts.pop(k) for k in bca_keys if k in facts}
    result = CaseResult()
    if mrd or "hematologic_cr" in facts or "bm_blasts_pct" in facts:
        a = run(all_mrd.RESPONSE, facts, params)
        result.put("mrd_response", a.category, a)
        in_cr = a.rule_id != "ALL-NA"
        result.put("hematologic_status", "IN_CR" if in_cr else "NOT_IN_CR", a)
        if facts.get("mrd_detected") is not None:
            result.put("mrd_status", "POSITIVE" if facts["mrd_detected"] else "NEGATIVE", a)
    if bca_facts:
        b = run(all_mrd.B_CELL_APLASIA, bca_facts, params)
        result.put("b_cell_aplasia", b.category, b)
    if not result.outputs:
        raise ValidationError(
            where,
            sorted(raw),
            "mrd, hematologic_cr or CD19 counts",
            reason="nothing to evaluate under ALL-MRD",
        )
    return result


# ---------------------------------------------------------------------------------- diagnostics
DX_STRUCT = frozenset({"genetics", "genetics_tested", "karyotype", "disease"})


def _dx_facts(raw: Mapping[str, JSON], where: str) -> dict[str, Fact | None]:
    facts = build_facts(raw, specs_of(diagnostics.WHO5_CLASS), where, DX_STRUCT)
    genetics = seq(raw, "genetics", where)
    tested = raw.get("genetics_tested", "genetics" in raw)
    if not isinstance(tested, bool):
        raise ValidationError(f"{where}.genetics_tested", tested, "true, false")
    found: set[str] = set()
    for i, token in enumerate(genetics):
        key = diagnostics.GENETIC_TOKENS.get(token) if isinstance(token, str) else None
        if key is None:
            raise ValidationError(
                f"{where}.genetics[{i}]", token, sorted(diagnostics.GENETIC_TOKENS)
            )
        found.add(key)
    karyotype = raw.get("karyotype")
    if karyotype is not None and not isinstance(karyotype, str):
        raise ValidationError(f"{where}.karyotype", karyotype, "a karyotype text")
    cyto = {"DEL5Q", "MINUS7", "COMPLEX", "TP53_LOSS"}
    loss = "TP53_LOSS" in found or (
        karyotype is not None and any(a in karyotype for a in diagnostics.GENETICS["TP53_LOSS"])
    )
    # §6.2 MDS-biTP53: ≥2 TP53 mutations (listed twice), or one mutation + copy loss/cnLOH.
    if sum(1 for t in genetics if t == "TP53") >= 2 or ("TP53" in found and loss):
        found.add("TP53_MULTIHIT")
    for key, aliases in diagnostics.GENETICS.items():
        name = f"gen_{key}"
        if name in facts:
            continue
        if key in cyto and karyotype is not None:
            facts[name] = key in found or any(a in karyotype for a in aliases)
        elif key in found:
            facts[name] = True
        else:
            # Untested genetics are read as absent so that morphology can still classify;
            # the result carries GENETICS_NOT_TESTED so nobody mistakes it for a negative test.
            facts[name] = False
    facts["genetics_tested"] = tested
    return facts


def _dx(rs: RuleSet, key: str) -> Evaluator:
    def evaluator(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
        facts = _dx_facts(raw, where)
        tested = facts["genetics_tested"]
        a = run(rs, facts, params)
        result = CaseResult()
        result.put(key, a.category, a)
        if tested is False:
            result.add_flags(["GENETICS_NOT_TESTED"])
        return result

    return evaluator


def _simple(
    rs: RuleSet,
    key: str,
    struct: frozenset[str] = frozenset(),
    transform: Callable[[str], JSON] | None = None,
) -> Evaluator:
    def evaluator(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
        facts = build_facts(raw, specs_of(rs), where, struct | {"disease"})
        a = run(rs, facts, params)
        result = CaseResult()
        result.put(key, transform(a.category) if transform else a.category, a)
        return result

    return evaluator


#: Wordings of the §7.5 reticulin patterns (the grading table's phrases, as a reader types them)
#: → the allowed values of ``reticulin_pattern``.
RETICULIN_SYNONYMS = {
    "scattered linear": "scattered linear",
    "scattered linear reticulin": "scattered linear",
    "scattered linear fibres": "scattered linear",
    "scattered linear fibers": "scattered linear",
    "loose network": "loose network",
    "loose fibre network": "loose network",
    "loose fiber network": "loose network",
    "diffuse dense": "diffuse dense",
    "diffuse and dense": "diffuse dense",
    "diffuse dense increase": "diffuse dense",
    "diffuse dense fibre increase": "diffuse dense",
    "diffuse dense fiber increase": "diffuse dense",
}


def _thiele(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    pattern = raw.get("reticulin_pattern")
    if isinstance(pattern, str):
        words = " ".join(
            pattern.lower().replace(",", " ").replace("_", " ").replace("-", " ").split()
        )
        raw = {**raw, "reticulin_pattern": RETICULIN_SYNONYMS.get(words, pattern)}
    return _simple(diagnostics.THIELE, "grade")(raw, params, where)


def _cellularity(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    result = CaseResult()
    chosen = params.get("cellularity_reference", diagnostics.CELLULARITY_REFERENCE.default)
    calls: dict[str, Evaluation] = {}
    for rs in (diagnostics.CELLULARITY_LINEAR, diagnostics.CELLULARITY_WONG):
        facts = build_facts(raw, specs_of(rs), where)
        calls[rs.key] = a = run(rs, facts, params)
        result.put(rs.key, a.category, a)
    # The call under the chosen reference (§7.1 cellularity_reference), next to both.
    result.put("cellularity", calls[str(chosen)].category, calls[str(chosen)])
    return result


def _aa_compare(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    result = CaseResult()
    facts = build_facts(raw, specs_of(diagnostics.AA_SEVERITY), where)
    for key, threshold in (("BSH2016_retic_lt_60", 60), ("classic_retic_lt_20", 20)):
        a = run(diagnostics.AA_SEVERITY, facts, {**params, "aa_retic_threshold": threshold})
        result.put(key, a.category, a)
    return result


def _me(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    facts = build_facts(raw, specs_of(diagnostics.ME_RATIO), where)
    a = run(diagnostics.ME_RATIO, facts, params)
    result = CaseResult()
    # The derived ratio is in the facts of every outcome; the evidence only holds it when the
    # deciding row compares it (the "normal" row is the fall-through and compares nothing).
    ratio = a.facts.get("me_ratio")
    result.put("interpretation", a.category, a)
    result.put("me_ratio", plain(ratio), a)
    return result


def _icsh(with_eln: bool) -> Evaluator:
    def evaluator(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
        facts = build_facts(raw, specs_of(diagnostics.ICSH), where)
        result = CaseResult()
        a = run(diagnostics.ICSH, facts, params)
        result.put("icsh_quality", a.category, a)
        if with_eln:
            e = run(diagnostics.ELN_ADEQUACY, facts, params)
            result.put("eln_evaluable", e.category == "EVALUABLE" if e.rule_id else None, e)
        return result

    return evaluator


def _chimerism(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    rs = diagnostics.CHIMERISM
    result = CaseResult()
    known = {
        "donor_pct",
        "recipient_pct",
        "fractions",
        "series_recipient_pct",
        "assay",
        "fraction",
        "str_reproducibility_points",
    }
    for key in raw:
        if key not in known:
            refuse_or_ignore(where, key, raw[key], known)

    def one(entry: Mapping[str, JSON], ewhere: str) -> Evaluation:
        donor = entry.get("donor_pct")
        if donor is None and entry.get("recipient_pct") is not None:
            donor = Decimal(100) - to_decimal(entry["recipient_pct"], f"{ewhere}.recipient_pct")
        facts = {"donor_pct": convert(specs_of(rs)["donor_pct"], donor, f"{ewhere}.donor_pct")}
        return run(rs, facts, params)

    if "donor_pct" in raw or "recipient_pct" in raw:
        a = one(raw, where)
        result.put("status", a.category, a)
    fractions = sub(raw, "fractions", where)
    if fractions:
        categories = []
        for lineage, entry in fractions.items():
            if not isinstance(entry, Mapping):
                raise ValidationError(f"{where}.fractions.{lineage}", entry, "an object")
            a = one(entry, f"{where}.fractions.{lineage}")
            result.put(lineage, a.category, a)
            categories.append(a.category)
        status = "SPLIT_CHIMERISM" if len(set(categories)) > 1 else categories[0]
        result.outputs = {"status": status, **result.outputs}
        result.explanation["status"] = {
            "rule": "CHIM-C3 split: lineages differ",
            "citation": "S33, C3 [V]",
            "lineages": categories,
        }
    if "series_recipient_pct" in raw:
        values = [
            to_decimal(v, f"{where}.series_recipient_pct[{i}]")
            for i, v in enumerate(seq(raw, "series_recipient_pct", where))
        ]
        for i, v in enumerate(values):
            if not Decimal(0) <= v <= Decimal(100):
                raise ValidationError(f"{where}.series_recipient_pct[{i}]", plain(v), "0–100 %")
        assay = _allowed(f"{where}.assay", raw.get("assay", "STR"), ("STR", "qPCR", "dPCR", "NGS"))
        delta = to_decimal(
            raw.get("str_reproducibility_points", 5), f"{where}.str_reproducibility_points"
        )
        step = chimerism_trend(values, assay or "STR", delta)
        result.put("status", step.state, step.explanation("Chimerism", "S33"))
        if step.state == "INCREASING_MIXED_RECIPIENT_CHIMERISM":
            result.add_flags(["ALERT_RELAPSE_OR_GRAFT_LOSS"])
    if not result.outputs:
        raise ValidationError(where, sorted(raw), sorted(known), reason="no chimerism result")
    return result


def _safety(raw: dict[str, JSON], params: Mapping[str, JSON], where: str) -> CaseResult:
    known = {"plt", "inr", "anticoagulant", "antiplatelet", "diagnosis"}
    for key in raw:
        if key not in known:
            refuse_or_ignore(where, key, raw[key], known)
    specs = specs_of(diagnostics.SAFETY)
    facts: dict[str, Fact | None] = {
        "plt": convert(specs["plt"], raw.get("plt"), f"{where}.plt"),
        "inr": convert(specs["inr"], raw.get("inr"), f"{where}.inr"),
    }
    for key in ("anticoagulant", "antiplatelet", "diagnosis"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{where}.{key}", value, "a drug or diagnosis name, or null")
    anticoagulant = raw.get("anticoagulant")
    antiplatelet = raw.get("antiplatelet")
    facts["on_anticoagulant"] = anticoagulant not in (None, "none")
    facts["on_antiplatelet"] = antiplatelet not in (None, "none")
    facts["on_aspirin"] = antiplatelet == "aspirin"
    diagnosis = raw.get("diagnosis")
    facts["mpn"] = None if diagnosis is None else diagnosis in diagnostics.MPN_DIAGNOSES
    a = run(diagnostics.SAFETY, facts, params)
    result = CaseResult()
    result.put("decision", a.category, a)
    return result


# ------------------------------------------------------------------------------------ registry
REGISTRY: dict[str, CaseRuleset] = {}


def register(
    name: str, description: str, rulesets: tuple[RuleSet, ...], evaluator: Evaluator
) -> None:
    """Register a case ruleset string (plugins use the same call as the built-ins)."""
    REGISTRY[name] = CaseRuleset(name, description, rulesets, evaluator)


_AML_SUFFIX = ("CR", "CRh", "CRi")
register(
    "ELN2022",
    "AML response, relapse, landmark and MRD qualifiers (ELN 2022 + ELN 2021)",
    (eln2022_aml.RESPONSE, eln2022_aml.RELAPSE, eln2022_aml.LANDMARK, eln2021_mrd.MRD),
    _aml_response("ELN2022", eln2022_aml.RESPONSE, _AML_SUFFIX),
)
register(
    "ELN2022+ELN2021",
    "AML response with ELN 2021 MRD, MRD relapse over a series",
    (eln2022_aml.RESPONSE, eln2022_aml.RELAPSE, eln2022_aml.LANDMARK, eln2021_mrd.MRD),
    _aml_response("ELN2022+ELN2021", eln2022_aml.RESPONSE, _AML_SUFFIX),
)
register(
    "ELN2017",
    "AML response (ELN 2017, legacy)",
    (eln2017_aml.RESPONSE, eln2021_mrd.MRD),
    _aml_response("ELN2017", eln2017_aml.RESPONSE, ("CR",)),
)
register(
    "IWG2003",
    "AML response (IWG 2003, legacy)",
    (iwg2003_aml.RESPONSE, eln2021_mrd.MRD),
    _aml_response("IWG2003", iwg2003_aml.RESPONSE, ()),
)
register("ELN2021", "AML MRD status of one sample (ELN 2021)", (eln2021_mrd.MRD,), _eln2021)
register(
    "IMWG2016",
    "Myeloma response, progression and MRD (IMWG 2016)",
    (
        imwg2016_mm.RESPONSE,
        imwg2016_mm.FLC_ONLY,
        imwg2016_mm.BM_ONLY,
        imwg2016_mm.PROGRESSION,
        imwg2016_mm.MRD,
    ),
    _mm,
)
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
register(
    "ALL-MRD",
    "ALL MRD response; B-cell aplasia after CAR-T",
    (all_mrd.RESPONSE, all_mrd.B_CELL_APLASIA),
    _all,
)
register(
    "WHO5",
    "Myeloid blast categories (WHO 5th ed.)",
    (diagnostics.WHO5_CLASS,),
    _dx(diagnostics.WHO5_CLASS, "WHO5"),
)
register(
    "ICC2022",
    "Myeloid blast categories (ICC 2022)",
    (diagnostics.ICC_CLASS,),
    _dx(diagnostics.ICC_CLASS, "ICC2022"),
)
register(
    "WHO2016",
    "MDS categories (WHO 2016)",
    (diagnostics.WHO2016_CLASS,),
    _dx(diagnostics.WHO2016_CLASS, "WHO2016"),
)
register(
    "WHO",
    "Significant dysplasia in a lineage",
    (diagnostics.DYSPLASIA,),
    _simple(diagnostics.DYSPLASIA, "dysplasia"),
)
register(
    "Cellularity",
    "Age-expected marrow cellularity (100 − age; Wong 2024 groups)",
    (diagnostics.CELLULARITY_LINEAR, diagnostics.CELLULARITY_WONG),
    _cellularity,
)
register(
    "AA-Camitta/BSH",
    "Aplastic anaemia severity",
    (diagnostics.AA_SEVERITY,),
    _simple(diagnostics.AA_SEVERITY, "severity"),
)
register(
    "AA-Camitta vs BSH2016",
    "Aplastic anaemia severity, reticulocyte 20 vs 60",
    (diagnostics.AA_SEVERITY,),
    _aa_compare,
)
register(
    "Gale1963",
    "Marrow iron stores (Gale 1963)",
    (diagnostics.GALE,),
    _simple(diagnostics.GALE, "iron_stores"),
)
register(
    "Thiele2005",
    "Marrow fibrosis grade (Thiele 2005)",
    (diagnostics.THIELE,),
    _thiele,
)
register("Reference", "Myeloid:erythroid ratio", (diagnostics.ME_RATIO,), _me)
register("ICSH2008", "Specimen adequacy (ICSH 2008)", (diagnostics.ICSH,), _icsh(False))
register(
    "ICSH2008+ELN2022",
    "Specimen adequacy (ICSH 2008) and the ELN 2022 evaluable floor",
    (diagnostics.ICSH, diagnostics.ELN_ADEQUACY),
    _icsh(True),
)
register("Chimerism", "Donor chimerism categories and trends", (diagnostics.CHIMERISM,), _chimerism)
register(
    "SIR2019", "Pre-procedure safety (SIR 2019, low bleeding risk)", (diagnostics.SAFETY,), _safety
)
register("Safety", "Pre-procedure safety (alias of SIR2019)", (diagnostics.SAFETY,), _safety)
register(
    "IMWG2014",
    "Plasma-cell neoplasm diagnostic thresholds (IMWG 2014)",
    (diagnostics.IMWG2014,),
    _simple(diagnostics.IMWG2014, "diagnosis"),
)


register(
    "CML-WHO5",
    "CML blast phase (WHO 5th: ≥20 %)",
    (diagnostics.CML_WHO5,),
    _simple(diagnostics.CML_WHO5, "phase"),
)
register(
    "CML-ELN",
    "CML blast phase (ELN: ≥30 %)",
    (diagnostics.CML_ELN,),
    _simple(diagnostics.CML_ELN, "phase"),
)


# Issue 13: the stored-timeline calls of ALL / CAR-T, transplant, aplastic anaemia and the
# work-ups, each one rule table evaluable on its own (the timelines chain them).
for _name, _description, _rs, _key in (
    ("ALL-RESPONSE", "ALL morphological response (CR / CRi)", all_response.RESPONSE, "response"),
    ("ALL-RELAPSE", "ALL relapse after CR", all_response.RELAPSE, "relapse"),
    ("ALL-LANDMARK", "ALL refractory at the end of induction", all_response.LANDMARK, "landmark"),
    ("CAR-T-RELAPSE", "CD19 status of a relapse after CAR-T", all_response.CART_RELAPSE, "relapse"),
    ("HCT-RECOVERY-DAY", "Transplant: a recovery day", hct_graft.RECOVERY_DAY, "day"),
    ("HCT-GRAFT", "Transplant: graft failure, poor graft function", hct_graft.GRAFT, "graft"),
    ("AA-IST-RESPONSE", "Aplastic anaemia IST response", aa_response.RESPONSE, "response"),
    ("AA-RELAPSE", "Aplastic anaemia relapse", aa_response.RELAPSE, "relapse"),
    (
        "AA-CLONAL-EVOLUTION",
        "Aplastic anaemia clonal evolution",
        aa_response.CLONAL_EVOLUTION,
        "clonal_evolution",
    ),
    ("IRON-OVERLOAD", "Transfusional iron overload", workups.IRON_OVERLOAD, "iron"),
    ("MARROW-INFECTION", "Possible marrow infection", workups.MARROW_INFECTION, "infection"),
    ("ANAEMIA-WORKUP", "Anaemia work-up findings", workups.ANAEMIA_WORKUP, "workup"),
):
    register(_name, _description, (_rs,), _simple(_rs, _key))


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


def evaluate_case(case: JSON, where: str = "case") -> dict[str, JSON]:
    """One case of the ``clinical-cases.json`` format → its output object."""
    if not isinstance(case, Mapping):
        raise ValidationError(where, case, "a case object")
    token = _IGNORED.set([])
    try:
        out = _evaluate_case(case, where)
    finally:
        ignored = _IGNORED.get() or []
        _IGNORED.reset(token)
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
