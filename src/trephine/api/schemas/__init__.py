"""Pydantic schemas of the JSON API, one module per resource (``XPublic`` for what is served)."""

from trephine.api.schemas.errors import ErrorBody, ErrorResponse
from trephine.api.schemas.patients import (
    BiopsyPublic,
    ComplicationPublic,
    ComponentPublic,
    CyclePublic,
    DiagnosisPublic,
    EventPublic,
    PatientDetail,
    PatientList,
    PatientPublic,
    QuantityPublic,
    ResultPublic,
    ResultVersionPublic,
    TherapyLinePublic,
    TimelinePublic,
)

__all__ = [
    "BiopsyPublic",
    "ComplicationPublic",
    "ComponentPublic",
    "CyclePublic",
    "DiagnosisPublic",
    "ErrorBody",
    "ErrorResponse",
    "EventPublic",
    "PatientDetail",
    "PatientList",
    "PatientPublic",
    "QuantityPublic",
    "ResultPublic",
    "ResultVersionPublic",
    "TherapyLinePublic",
    "TimelinePublic",
]
