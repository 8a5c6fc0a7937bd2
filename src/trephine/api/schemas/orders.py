"""Lab orders, studies, work lists and turnaround (issue 10 §1), pseudonymised view."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepPublic(_Public):
    state: str
    at: dt.datetime
    by: str


class StudyPublic(_Public):
    """One requested study and every step it has taken (who and when)."""

    id: int
    order_id: int
    procedure_id: int
    patient: str
    study: str = Field(description="Study code (see `trephine orders studies`)")
    name: str
    section: str
    state: str = Field(description="ordered, collected, received, in progress, reported, cancelled")
    specimen: str | None = Field(description="Accession of the specimen it is done on")
    steps: list[StepPublic]
    cancel_reason: str | None
    allowed: list[str] = Field(description="Actions the lifecycle allows next")
    kinds: list[str] = Field(description="Result kinds that report this study")


class OrderPublic(_Public):
    id: int
    procedure_id: int
    patient: str
    performed_at: dt.datetime
    ordered_at: dt.datetime
    ordered_by: str
    indication: str | None
    studies: list[StudyPublic]


class OrderList(_Public):
    items: list[OrderPublic]


class StudyList(_Public):
    section: str | None
    items: list[StudyPublic]


class OrderRequest(_Public):
    studies: list[str] = Field(min_length=1, description="Study codes to order")
    indication: str | None = Field(default=None, max_length=2000)


class StepRequest(_Public):
    specimen: str | None = Field(default=None, max_length=64, description="collect only")
    at: dt.datetime | None = Field(default=None, description="When it happened, if not now")
    reason: str | None = Field(default=None, max_length=2000, description="cancel only")


class TurnaroundGroupPublic(_Public):
    by: str = Field(description="study, section or month (of the final report, UTC)")
    key: str
    n: int
    median_hours: float
    p90_hours: float = Field(description="90th percentile, nearest-rank method")
    min_hours: float
    max_hours: float


class TurnaroundPublic(_Public):
    final_time: str = Field(description="What counted as the final report time")
    studies: int
    groups: list[TurnaroundGroupPublic]
