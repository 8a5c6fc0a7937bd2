"""The one error shape every API response uses: ``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Stable machine-readable code, e.g. ``not_found``, ``validation_error``.
    code: str
    #: A sentence for a person.
    message: str
    #: The offending field or parameter when there is one (omitted otherwise).
    field: str | None = None
    #: What would have been accepted, when known.
    allowed: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
