"""MDS on the stored timeline: IWG 2023 response, one call per marrow after the diagnostic one.

Interpretation [I]: blasts from the marrow's aspirate differential, blood counts of the same
day, baselines from the diagnostic marrow's day (:func:`~trephine.assess.inputs.diagnostic_date`);
transfusion history is not stored, so it stays missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trephine.assess.call import Call, Calls
from trephine.assess.common import call, run
from trephine.assess.inputs import (
    PatientInputs,
    ResultRecord,
    blasts,
    diagnostic_date,
    value_of,
)
from trephine.criteria.sets import iwg2023_mds
from trephine.domain.results import BloodCount

RULESETS = (iwg2023_mds.RESPONSE,)


def _blood(results: list[ResultRecord]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for r in results:
        if isinstance(r.value, BloodCount):
            for key, quantity in (
                ("hb", r.value.hemoglobin),
                ("plt", r.value.platelets),
                ("anc", r.value.anc),
                ("pb_blasts_pct", r.value.circulating_blasts),
            ):
                if value_of(quantity) is not None:
                    values[key] = value_of(quantity)
    return values


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    grouped = inputs.by_date()
    marrows = [d for d, rs in grouped.items() if blasts(rs) is not None]
    diagnostic = diagnostic_date(marrows, inputs.diagnoses, inputs.therapy_lines)
    baseline: dict[str, Any] = {}
    if diagnostic is not None:
        base = grouped[diagnostic]
        baseline["baseline_bm_blasts_pct"] = blasts(base)
        for key, value in _blood(base).items():
            if key in ("hb", "plt", "anc"):
                baseline[f"baseline_{key}"] = value
    out: list[Call] = []
    for date in marrows:
        if date == diagnostic:
            continue
        values = {**baseline, "bm_blasts_pct": blasts(grouped[date]), **_blood(grouped[date])}
        values = {k: v for k, v in values.items() if v is not None}
        out.append(
            call(date, "response", run(iwg2023_mds.RESPONSE, values, f"{date} marrow", params))
        )
    rs = iwg2023_mds.RESPONSE
    best = min(
        (a.category for a in out if a.category in rs.categories and a.category != rs.not_evaluable),
        key=rs.categories.index,
        default=None,
    )
    return Calls(tuple(out), (), baseline.get("baseline_bm_blasts_pct"), best)
