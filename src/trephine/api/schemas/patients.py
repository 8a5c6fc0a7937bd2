"""Research-facing patient and timeline schemas.

Nothing here carries a name, an MRN or a full birth date: the research views are built from the
opaque patient id, sex and birth year only (identity lives apart in the store and is never
selected for these schemas).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: How a measured value relates to its number; the values of ``trephine.domain.quantity.Qualifier``.
Qualifier = Literal["=", "<", ">", "not detected"]
#: ``cancelled`` is left out on purpose: a cancelled draft was entered in error and withdrawn, so
#: it is no part of the patient's record for research; the readers drop it before presenting, and
#: the presenter refuses it rather than publish a withdrawn value.
ResultState = Literal["draft", "verified", "amended", "superseded"]
#: The states a staff view (``trephine results show|list --json``) may also show: a cancelled
#: draft stays readable there, in the same shape.
AnyResultState = Literal["draft", "verified", "amended", "superseded", "cancelled"]


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuantityPublic(_Public):
    """A measured value with unit and qualifier. ``value`` is a decimal string in JSON."""

    value: Decimal | None = Field(
        description="The number; absent for 'not detected' without a sensitivity"
    )
    unit: str | None = None
    qualifier: Qualifier = "="
    lod: Decimal | None = Field(default=None, description="Limit of detection, same unit")
    lloq: Decimal | None = Field(default=None, description="Lower limit of quantification")
    #: Human-readable rendering, e.g. ``< 0.01 %`` or ``not detected (LOD 0.001 %)``.
    display: str


class DiagnosisPublic(_Public):
    disease: str
    classification: str | None = None
    edition: str | None = None
    diagnosed_on: dt.date | None = None
    genetics: list[str] = Field(default_factory=list)


class MarrowValuePublic(_Public):
    """The marrow number that tells the disease's story (blasts for AML/MDS/ALL, plasma cells
    for myeloma, lymphocytes for CLL, cellularity for aplastic anaemia)."""

    label: str = Field(description="What the number is, e.g. 'Marrow plasma cells'")
    value: QuantityPublic
    collected_on: dt.date


class PatientPublic(_Public):
    """One row of the research patient list."""

    id: str = Field(description="Opaque patient id")
    sex: str
    birth_year: int | None
    diagnosis: str | None = Field(description="Disease of the most recent diagnosis")
    last_biopsy: dt.date | None
    last_marrow_blasts: QuantityPublic | None = Field(
        description="Blast % of the most recent marrow differential (current version)"
    )
    marrow: MarrowValuePublic | None = Field(
        default=None, description="The disease-relevant value of the most recent marrow"
    )
    latest_response: str | None = Field(
        default=None,
        description="Category of the most recent stored response call, or of a relapse called "
        "on the same or a later marrow (a relapse wins over that marrow's response call)",
    )
    open_alerts: int | None = Field(
        default=None, description="Alerts neither acknowledged nor withdrawn (list only)"
    )


class PatientList(_Public):
    items: list[PatientPublic]
    total: int
    limit: int
    offset: int


class CyclePublic(_Public):
    number: int
    start: dt.date
    end: dt.date | None = None


class TherapyLinePublic(_Public):
    line: int
    regimen: str
    intent: str | None = None
    intensity: str | None = None
    start: dt.date
    end: dt.date | None = None
    cycles: list[CyclePublic] = Field(default_factory=list)


class EventPublic(_Public):
    """A dated event on the timeline that is not a therapy line (transplant, CAR-T infusion)."""

    kind: str
    date: dt.date
    detail: str | None = None


class ComplicationPublic(_Public):
    kind: str
    severity: str | None = None
    follow_up: str | None = None


class BiopsyPublic(_Public):
    id: str
    performed_at: dt.datetime | dt.date
    site: str | None = None
    side: str | None = None
    indication: str | None = None
    complications: list[ComplicationPublic] = Field(default_factory=list)


class ComponentPublic(_Public):
    """One named number inside a result (e.g. the ANC of a blood count)."""

    name: str
    value: QuantityPublic


class ResultVersionPublic(_Public):
    """An earlier (superseded) version of a result, kept readable after an amendment."""

    version: int
    value: QuantityPublic | None
    summary: str
    state: ResultState
    recorded_by: str | None = None
    recorded_at: dt.datetime | None = None
    reason: str | None = Field(default=None, description="Why the next version amended this one")


class ResultPublic(_Public):
    """One version of a result (the current one in the API), with the earlier versions it
    replaced. The one JSON shape of a result: the API and ``trephine results show|list --json``
    both serve it."""

    id: str
    patient: str | None = Field(default=None, description="Opaque patient id")
    kind: str
    analyte: str
    label: str
    specimen: str | None = None
    collected_on: dt.date
    value: QuantityPublic | None = Field(description="The headline number lists and charts show")
    components: list[ComponentPublic] = Field(
        default_factory=list, description="Every number of the result, by name"
    )
    summary: str = Field(description="The whole result in one line of text")
    detail: dict[str, Any] = Field(
        default_factory=dict,
        description="Every recorded field of the value, exact (numbers as decimal strings), "
        "tagged with its kind; 'derived' holds what the criteria compute from it",
    )
    state: AnyResultState = Field(
        description="Never 'cancelled' in the API (cancelled drafts are not public)"
    )
    version: int
    created_by: str | None = None
    created_at: dt.datetime | None = None
    verified_by: str | None = Field(default=None, description="Who signed it out")
    verified_at: dt.datetime | None = None
    amended_by: str | None = None
    amended_at: dt.datetime | None = None
    amendment_reason: str | None = None
    supersedes: str | None = Field(default=None, description="Id of the version it replaced")
    history: list[ResultVersionPublic] = Field(default_factory=list)


class PatientDetail(_Public):
    patient: PatientPublic
    diagnoses: list[DiagnosisPublic]


class TimelinePublic(_Public):
    """Everything the patient page draws, in date order within each list."""

    patient: PatientPublic
    diagnoses: list[DiagnosisPublic]
    therapy_lines: list[TherapyLinePublic]
    events: list[EventPublic]
    biopsies: list[BiopsyPublic]
    results: list[ResultPublic]
