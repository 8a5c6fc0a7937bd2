"""CLL on the stored timeline: MRD (iwCLL 2018), one call per flow MRD result.

Interpretation [I]: leukocytes analysed = events acquired, CLL events = abnormal events. Alert
``MRD_CONVERSION`` when a call turns from ``UNDETECTABLE_MRD4`` to ``MRD_POSITIVE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from trephine.assess.call import Call, Calls
from trephine.assess.common import call, mrd_calls, run
from trephine.assess.inputs import PatientInputs, ResultRecord, blasts, value_of
from trephine.criteria.sets import iwcll_cll
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    CoreFindings,
    FlowMRD,
    TransfusionDependence,
)

RULESETS = (iwcll_cll.IWCLL2018, iwcll_cll.MRD)


def _values(value: Any, _same_day: list[ResultRecord]) -> dict[str, Any] | None:
    if not isinstance(value, FlowMRD):
        return None
    return {
        "leukocytes_analysed": value.events_acquired,
        "cll_events": value.abnormal_events,
    }


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    mrd = mrd_calls(inputs, iwcll_cll.MRD, _values)
    return Calls((*responses(inputs), *mrd.calls), mrd.alerts)


def _response_values(results: list[ResultRecord]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for r in results:
        v = r.value
        if isinstance(v, BloodCount):
            for key, quantity in (("anc", v.anc), ("plt", v.platelets), ("hb", v.hemoglobin)):
                if value_of(quantity) is not None:
                    values[key] = value_of(quantity)
            if v.transfusion_dependence is not None:
                values["hb_transfused_or_epo"] = v.transfusion_dependence in (
                    TransfusionDependence.RED_CELLS,
                    TransfusionDependence.BOTH,
                )
        elif isinstance(v, AspirateDifferential):
            values["marrow_lymphocytes_pct"] = v.percent(CellClass.LYMPHOCYTE)
        elif isinstance(v, CoreFindings):
            if v.lymphoid_nodules is not None:
                values["marrow_b_nodules"] = v.lymphoid_nodules
            if v.infiltrate is not None and v.infiltrate_type and "CLL" in v.infiltrate_type:
                values["cll_infiltrate_present"] = bool(v.infiltrate.detected)
    return values


def responses(inputs: PatientInputs) -> list[Call]:
    """iwCLL 2018 response per marrow after treatment starts, from what is stored: blood counts
    (Hb counts as supported when the count says red-cell transfusion dependent), the marrow
    lymphocyte % of the differential, B-lymphoid nodules and the CLL infiltrate of the core.
    Lymph nodes, spleen, liver and constitutional symptoms are clinical findings the store does
    not hold: the call names them as missing rather than assume them normal [I]."""
    if not inputs.therapy_lines:
        return []
    start = min(line.start for line in inputs.therapy_lines)
    ends = [line.end for line in inputs.therapy_lines if line.end is not None]
    out: list[Call] = []
    for date, results in inputs.by_date().items():
        if date <= start or blasts(results) is None:
            continue
        values = _response_values(results)
        if ends and date > max(ends):
            values["months_after_end_of_therapy"] = Decimal((date - max(ends)).days) / Decimal(
                "30.4375"
            )
        a = run(iwcll_cll.IWCLL2018, values, f"{date.isoformat()} marrow")
        out.append(call(date, "response", a))
    return out
