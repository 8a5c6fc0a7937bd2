"""ALL case adapter: ALL MRD response (time points) and B-cell aplasia after CAR-T.

Each adapter validates and converts a case's inputs (:mod:`trephine.criteria.facts`), picks
the rule sets the inputs call for and names the outputs like the case format's ``expect``
keys; the registrations at the end add its ruleset strings to
:data:`trephine.criteria.registry.REGISTRY`. Every threshold lives in
:mod:`trephine.criteria.sets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from trephine.criteria.facts import (
    build_facts,
    check_disease,
    convert,
    refuse_or_ignore,
    run,
    specs_of,
    sub,
    to_decimal,
)
from trephine.criteria.registry import CaseResult, register
from trephine.criteria.sets import (
    all_mrd,
)
from trephine.errors import ValidationError

JSON = Any


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
    check_disease(raw.get("disease"), where)
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


register(
    "ALL-MRD",
    "ALL MRD response; B-cell aplasia after CAR-T",
    (all_mrd.RESPONSE, all_mrd.B_CELL_APLASIA),
    _all,
)
