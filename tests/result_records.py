"""A signed-out result as an evaluator reads it (:class:`trephine.assess.inputs.ResultRecord`),
built directly, for tests that hand an assessor its :class:`~trephine.assess.inputs.PatientInputs`
without a database (tests/assess/test_cll_changes.py, test_site_params_reach_every_rule.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from trephine.domain.results import ResultValue
from trephine.workflow import ResultState


@dataclass(frozen=True)
class Result:
    id: int
    accession: str
    collected_on: dt.date
    value: ResultValue
    state: ResultState = ResultState.VERIFIED

    @property
    def kind(self) -> Any:
        return self.value.kind

    @property
    def analyte(self) -> str:
        return str(self.value.kind)
