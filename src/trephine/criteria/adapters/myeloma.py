"""Myeloma case adapter: IMWG 2016 response, progression and MRD.

Each adapter validates and converts a case's inputs (:mod:`trephine.criteria.facts`), picks
the rule sets the inputs call for and names the outputs like the case format's ``expect``
keys; the registrations at the end add its ruleset strings to
:data:`trephine.criteria.registry.REGISTRY`. Every threshold lives in
:mod:`trephine.criteria.sets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trephine.criteria.facts import (
    allowed_text,
    build_facts,
    check_disease,
    convert,
    parse_date,
    refuse_or_ignore,
    run,
    seq,
    specs_of,
    sub,
)
from trephine.criteria.model import Evaluation, Fact
from trephine.criteria.registry import CaseResult, register
from trephine.criteria.series import (
    MmMrdPoint,
    sustained_mrd,
)
from trephine.criteria.sets import (
    imwg2016_mm,
)
from trephine.errors import ValidationError

JSON = Any


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
    check_disease(raw.get("disease"), where)
    allowed_text(
        f"{where}.heavy_chain",
        raw.get("heavy_chain"),
        ("IgG", "IgA", "IgM", "IgD", "IgE", "none", "light_chain_only", "nonsecretory"),
    )
    allowed_text(f"{where}.light_chain", raw.get("light_chain"), ("kappa", "lambda"))
    measurable = (
        allowed_text(
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
            marrow = allowed_text(
                f"{pwhere}.marrow_mrd", entry.get("marrow_mrd"), ("negative", "positive")
            )
            pet = allowed_text(f"{pwhere}.pet", entry.get("pet"), ("negative", "positive"))
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
