"""CLL on the stored timeline: MRD (iwCLL 2018), one call per flow MRD result.

Interpretation [I]: leukocytes analysed = events acquired, CLL events = abnormal events. Alert
``MRD_CONVERSION`` when a call turns from ``UNDETECTABLE_MRD4`` to ``MRD_POSITIVE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trephine.assess.call import Calls
from trephine.assess.common import mrd_calls
from trephine.assess.inputs import PatientInputs, ResultRecord
from trephine.criteria.sets import iwcll_cll
from trephine.domain.results import FlowMRD

RULESETS = (iwcll_cll.MRD,)


def _values(value: Any, _same_day: list[ResultRecord]) -> dict[str, Any] | None:
    if not isinstance(value, FlowMRD):
        return None
    return {
        "leukocytes_analysed": value.events_acquired,
        "cll_events": value.abnormal_events,
    }


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    return mrd_calls(inputs, iwcll_cll.MRD, _values)
