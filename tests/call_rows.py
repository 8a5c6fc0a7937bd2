"""A stored call's row built directly (no evaluation), for tests that need calls in an exact
order and shape: a day's marrow and blood MRD calls, revisions, superseded rows
(tests/services/test_research_current.py, tests/services/test_export_current_calls.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from trephine.store.tables import AssessmentRow

#: When every such row was computed (a fixed instant: the tests compare rows, not times).
COMPUTED_AT = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def call_row(
    patient_id: int,
    on: dt.date,
    kind: str,
    category: str,
    *,
    ruleset: str,
    digest: str,
    sample: str | None = None,
    revision: int = 1,
    flags: Sequence[str] = (),
    value: tuple[str, Any] = ("blasts_pct", 0),
) -> AssessmentRow:
    """A row of an ELN 2022 edition call: one evidence item ``value`` (input, value), then the
    item naming its ``sample`` when it has one (as assess.call.on_sample ends an MRD call's)."""
    evidence: list[dict[str, Any]] = [
        {"input": value[0], "value": value[1], "comparator": None, "threshold": None}
    ]
    if sample is not None:
        evidence.append({"input": "sample", "value": sample, "comparator": None, "threshold": None})
    return AssessmentRow(
        patient_id=patient_id,
        assessed_on=on,
        category=category,
        ruleset=ruleset,
        criteria_edition="ELN 2022",
        matched_rule=None,
        evidence=evidence,
        missing_inputs=[],
        software_version="t",
        computed_at=COMPUTED_AT,
        recorded_by="t",
        flags=list(flags),
        params={},
        call_kind=kind,
        inputs_digest=digest,
        revision=revision,
    )
