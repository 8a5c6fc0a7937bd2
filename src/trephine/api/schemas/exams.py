"""Clinical examinations (lymph nodes, liver and spleen, constitutional symptoms) over the API:
the same fields, units and rules as the web form and ``trephine exams``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExamFindings(_Model):
    """What was examined; a finding left out was not examined (named as missing by the
    response call, never read as normal)."""

    largest_node: str | None = Field(
        None,
        max_length=40,
        description="Longest diameter of the largest lymph node (0 = no palpable node)",
        examples=["1.5"],
    )
    largest_node_unit: str | None = Field(None, max_length=16, description="cm (default) or mm")
    liver_spleen_normal: bool | None = Field(
        None, description="Liver and spleen of normal size on examination or imaging"
    )
    spleen_length: str | None = Field(
        None, max_length=40, description="Spleen length on imaging", examples=["12.5"]
    )
    spleen_length_unit: str | None = Field(None, max_length=16, description="cm (default) or mm")
    constitutional_symptoms: bool | None = Field(
        None, description="Weight loss, fevers, night sweats or fatigue due to the disease"
    )
    method: str | None = Field(
        None, max_length=200, description="How it was examined, e.g. physical examination, CT"
    )

    def form(self) -> dict[str, str]:
        """The fields as the examination form sends them (its parser's input)."""
        out: dict[str, str] = {}
        for name in ("largest_node", "spleen_length"):
            value, unit = getattr(self, name), getattr(self, f"{name}_unit")
            if value is not None:
                out[name] = value
            if unit is not None:
                out[f"{name}__unit"] = unit
        for name in ("liver_spleen_normal", "constitutional_symptoms"):
            flag = getattr(self, name)
            if flag is not None:
                out[name] = "yes" if flag else "no"
        if self.method is not None:
            out["method"] = self.method
        return out


class ExamRequest(ExamFindings):
    examined_on: dt.date = Field(description="Date of the examination (not in the future)")


class AmendExamRequest(ExamFindings):
    reason: str = Field(min_length=1, max_length=1000, description="Why it is amended")


class ExamPublic(_Model):
    id: int
    patient: str
    examined_on: dt.date
    version: int
    current: bool = Field(description="False once a later version supersedes this one")
    findings: dict[str, Any] = Field(description="Exact values: decimal strings, units in cm")
    text: str = Field(description="The findings as the pages show them")
    recorded_by: str
    recorded_at: dt.datetime
    supersedes: int | None
    amendment_reason: str | None


class ExamList(_Model):
    patient: str
    items: list[ExamPublic]
