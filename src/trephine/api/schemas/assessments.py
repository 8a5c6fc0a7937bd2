"""Stored criteria assessments and clinical alerts (``trephine assess``), research view."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AssessmentPublic(_Public):
    """One stored call: what, by which rule of which edition, on what evidence, by which
    software version. Never changed after it is stored."""

    id: int
    date: dt.date = Field(description="The clinical date assessed")
    call: str = Field(description="baseline, response, relapse, landmark, mrd, mrd_event, …")
    category: str
    sample: str | None = Field(
        None,
        description="The sample the call rests on ('bone marrow', 'peripheral blood') when it "
        "rests on one result, as an MRD call does: a day's marrow and blood MRD results are two "
        "calls of one date and kind, both current; None for a call of a whole time point",
    )
    ruleset: str
    edition: str
    rule: str | None = Field(description="The rule that matched (None: not evaluable)")
    evidence: list[dict[str, Any]] = Field(
        description="Each comparison: input, value, comparator, threshold, outcome"
    )
    missing: list[str] = Field(description="Inputs that were missing")
    citation: str | None
    flags: list[str]
    software_version: str
    computed_at: dt.datetime
    recorded_by: str
    current: bool = Field(
        description="False when a later revision of the same date, call, rule set and edition "
        "exists (e.g. after an amended result); kept as history. Every call of a day's latest "
        "revision is current (a marrow and a blood MRD result of one date: both)"
    )


class AssessmentList(_Public):
    patient: str
    items: list[AssessmentPublic]


class AlertPublic(_Public):
    id: int
    patient: str
    date: dt.date
    code: str = Field(description="HEMATOLOGIC_RELAPSE, MRD_CONVERSION, MRD_LOG_RISE, …")
    message: str
    ruleset: str
    software_version: str
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    note: str | None = None
    withdrawn_at: dt.datetime | None = Field(
        default=None, description="Set when a later assessment no longer raised the alert"
    )
    withdrawn_reason: str | None = None
    withdrawn_by: str | None = Field(
        default=None,
        description="Who withdrew it: the clinician, or whoever ran the re-assessment",
    )


class AlertList(_Public):
    status: Literal["open", "acknowledged", "withdrawn", "all"]
    items: list[AlertPublic]
    total: int | None = Field(default=None, description="Alerts of this status in all pages")
    limit: int | None = None
    offset: int = 0


class AcknowledgeRequest(_Public):
    note: str | None = Field(default=None, max_length=2000)
