"""ALL on the stored timeline: MRD (§5 of the clinical criteria), one call per MRD result.

Interpretation [I], stated for review: method MFC (flow) or qPCR (molecular), detected unless
"not detected", level in %, quantifiable unless below the LLOQ, sensitivity = the result's LLOQ
in % (flow) or the assay sensitivity (molecular); marrow blasts from a differential of the same
day; the time point is not stored, so it stays missing. Alert ``MRD_CONVERSION`` when an MRD
call of the same method turns from negative (``MRD_CR``) to positive (``MRD_FAILURE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from trephine.assess.call import Calls
from trephine.assess.common import mrd_calls
from trephine.assess.inputs import PatientInputs, ResultRecord, blasts, detected
from trephine.criteria.sets import all_mrd
from trephine.domain.results import FlowMRD, MolecularMRD

RULESETS = (all_mrd.RESPONSE,)
_HUNDRED = Decimal(100)


def _values(value: Any, same_day: list[ResultRecord]) -> dict[str, Any] | None:
    marrow_blasts = blasts(same_day)
    values: dict[str, Any] = {} if marrow_blasts is None else {"bm_blasts_pct": marrow_blasts}
    if isinstance(value, FlowMRD):
        q = value.mrd
        values.update(mrd_method="MFC", mrd_detected=detected(q))
        if q.lloq is not None:
            values["sensitivity_pct"] = q.lloq
    elif isinstance(value, MolecularMRD):
        q = value.ratio
        values.update(mrd_method="qPCR", mrd_detected=detected(q))
        if value.sensitivity is not None:
            values["sensitivity_pct"] = value.sensitivity * _HUNDRED
    else:
        return None
    if detected(q):
        values["mrd_level_pct"] = q.value
        values["mrd_quantifiable"] = not q.below_lloq
    return values


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    return mrd_calls(inputs, all_mrd.RESPONSE, _values)
