"""Diagnostic case adapters: blast categories (WHO 5, ICC 2022, WHO 2016), dysplasia, cellularity,
aplastic anaemia severity, iron, fibrosis, M:E ratio, specimen adequacy, chimerism, procedure
safety, IMWG 2014, CML blast phase.

Each adapter validates and converts a case's inputs (:mod:`trephine.criteria.facts`), picks
the rule sets the inputs call for and names the outputs like the case format's ``expect``
keys; the registrations at the end add its ruleset strings to
:data:`trephine.criteria.registry.REGISTRY`. Every threshold lives in
:mod:`trephine.criteria.sets`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from trephine.criteria.facts import (
    allowed_text,
    build_facts,
    convert,
    plain,
    refuse_or_ignore,
    run,
    seq,
    specs_of,
    sub,
    to_decimal,
)
from trephine.criteria.model import Evaluation, Fact, RuleSet
from trephine.criteria.registry import CaseResult, Evaluator, register
from trephine.criteria.series import (
    chimerism_trend,
)
from trephine.criteria.sets import (
    diagnostics,
)
from trephine.errors import ValidationError

JSON = Any


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


def simple_adapter(
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
    return simple_adapter(diagnostics.THIELE, "grade")(raw, params, where)


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
        assay = allowed_text(
            f"{where}.assay", raw.get("assay", "STR"), ("STR", "qPCR", "dPCR", "NGS")
        )
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
    known = {"plt", "inr", "anticoagulant", "antiplatelet", "diagnosis", "bleeding_disorder"}
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
    bleeding = raw.get("bleeding_disorder")
    if bleeding is not None and not isinstance(bleeding, bool):
        raise ValidationError(f"{where}.bleeding_disorder", bleeding, "true, false")
    facts["bleeding_disorder"] = bleeding
    a = run(diagnostics.SAFETY, facts, params)
    result = CaseResult()
    result.put("decision", a.category, a)
    return result


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
    simple_adapter(diagnostics.DYSPLASIA, "dysplasia"),
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
    simple_adapter(diagnostics.AA_SEVERITY, "severity"),
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
    simple_adapter(diagnostics.GALE, "iron_stores"),
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
    simple_adapter(diagnostics.IMWG2014, "diagnosis"),
)


register(
    "CML-WHO5",
    "CML blast phase (WHO 5th: ≥20 %)",
    (diagnostics.CML_WHO5,),
    simple_adapter(diagnostics.CML_WHO5, "phase"),
)


register(
    "CML-ELN",
    "CML blast phase (ELN: ≥30 %)",
    (diagnostics.CML_ELN,),
    simple_adapter(diagnostics.CML_ELN, "phase"),
)
