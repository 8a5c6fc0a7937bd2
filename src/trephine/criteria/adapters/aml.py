"""AML case adapters: ELN 2022 response (with ELN 2021 MRD qualifiers), relapse, landmark, ELN 2021
MRD, ELN 2017 and IWG 2003 (legacy).

Each adapter validates and converts a case's inputs (:mod:`trephine.criteria.facts`), picks
the rule sets the inputs call for and names the outputs like the case format's ``expect``
keys; the registrations at the end add its ruleset strings to
:data:`trephine.criteria.registry.REGISTRY`. Every threshold lives in
:mod:`trephine.criteria.sets`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from trephine.criteria.facts import (
    FREE_TEXT,
    IGNORED_INPUTS,
    allowed_text,
    build_facts,
    check_disease,
    convert,
    parse_date,
    plain,
    refuse_or_ignore,
    run,
    seq,
    specs_of,
    sub,
    to_decimal,
)
from trephine.criteria.model import Evaluation, Fact, InputKind, InputSpec, RuleSet
from trephine.criteria.registry import CaseResult, Evaluator, register
from trephine.criteria.series import (
    MrdSample,
    mrd_relapse_states,
)
from trephine.criteria.sets import (
    diagnostics,
    eln2017_aml,
    eln2021_mrd,
    eln2022_aml,
    iwg2003_aml,
)
from trephine.errors import ValidationError

JSON = Any


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
        # qPCR/dPCR: the assay's sensitivity (a fraction, 1e-5): read for the explanation of a
        # negative result (:func:`negative_reach`), never by a rule.
        "sensitivity",
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
    method = allowed_text(f"{where}.method", result.get("method"), ("MFC", "qPCR", "dPCR", "NGS"))
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


_SENSITIVITY = InputSpec("sensitivity", InputKind.NUMBER, "fraction", maximum=Decimal(1))
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(x: Decimal) -> str:
    """A sensitivity as a reader writes it, to two significant figures: ``5E-5`` →
    ``5 × 10⁻⁵``, ``1E-5`` → ``10⁻⁵``, ``1.6667E-5`` → ``1.7 × 10⁻⁵``."""
    exponent = x.adjusted()
    mantissa = x.scaleb(-exponent).quantize(Decimal("0.1"))
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    power = f"10{str(exponent).translate(_SUPERSCRIPT)}"
    if mantissa == 1:
        return power
    return f"{format(mantissa.normalize(), 'f')} × {power}"


def negative_reach(
    result: Mapping[str, JSON], where: str, params: Mapping[str, JSON]
) -> dict[str, JSON]:
    """The worded evidence a NEGATIVE call of one MRD result adds: ELN 2021 asks a negative
    result to state the sensitivity it reached, and the rule's own evidence names only the
    method. What was found (not detected; for MFC, residual cells below the positivity
    threshold) with the method and the sensitivity — for MFC the LLOQ ÷ CD45+ events (M6,
    :func:`mfc_sensitivity_of`), for qPCR/dPCR the assay's own ``sensitivity`` — or that no
    sensitivity was reported."""
    method = str(result.get("method"))
    sensitivity: Decimal | None = None
    what = "MRD not detected"
    if method == "MFC":
        found = mfc_sensitivity_of(result, where, params)
        sensitivity = None if found is None else found[0][1]
        pct = convert(_MFC_PCT, result.get("pct"), f"{where}.pct")
        if isinstance(pct, Decimal) and pct > 0:
            limit = to_decimal(
                params.get("mfc_threshold_pct", _M6_DEFAULTS["mfc_threshold_pct"]),
                "params.mfc_threshold_pct",
            )
            what = f"MRD {format(pct.normalize(), 'f')} %, below {format(limit, 'f')} %"
    else:
        given = convert(_SENSITIVITY, result.get("sensitivity"), f"{where}.sensitivity")
        sensitivity = given if isinstance(given, Decimal) and given > 0 else None
        target = result.get("target")
        if isinstance(target, str) and target.strip():
            what = f"{target.strip()} MRD not detected"
    reach = (
        "no sensitivity reported"
        if sensitivity is None
        else (f"sensitivity {power_of_ten(sensitivity)}")
    )
    return {
        "input": "mrd_sensitivity",
        "value": None if sensitivity is None else str(sensitivity),
        "comparator": None,
        "threshold": None,
        "outcome": None,
        "sentence": f"{what} ({method}, {reach})",
    }


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
        check_disease(raw.get("disease"), where)
        raw = _pb_blasts_as_circulating(flatten_baseline(raw, where), where)
        ignored = IGNORED_INPUTS.get()
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
        tissue = allowed_text(f"{swhere}.sample", entry.get("sample"), ("BM", "PB"))
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
