"""Studies: arms, enrolment and a visit schedule whose visits are days from an anchor event.

Pure and frozen; storing, mapping procedures to visits and reading are ``services/studies.py``.

A visit is due ``day`` days after its anchor (the enrolment date, the diagnosis, the first
transplant or CAR-T infusion on or after enrolment, or the start of the first therapy line on or
after enrolment) and a procedure performed within ``window`` days either side maps to it
automatically (the one nearest the due day; ties to the earlier). A hand mapping overrides the
window (it names the procedure, or none, with a reason) and is audited.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from trephine.errors import ValidationError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: A visit's short name: it becomes a REDCap event name, so lower case, digits and _ only.
VISIT_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_DAY = 3650
MAX_WINDOW = 365


class Anchor(StrEnum):
    """What a visit's day counts from."""

    ENROLMENT = "enrolment"
    DIAGNOSIS = "diagnosis"
    THERAPY = "therapy"
    TRANSPLANT = "transplant"
    CAR_T = "CAR-T"


ANCHORS: tuple[str, ...] = tuple(str(a) for a in Anchor)


def check_name(field: str, name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValidationError(
            field, name, "1–64 letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return name


def anchor_of(text: str) -> Anchor:
    for a in Anchor:
        if text.strip().lower() == a.value.lower():
            return a
    raise ValidationError("anchor", text, ANCHORS)


@dataclass(frozen=True)
class Visit:
    """One visit of the schedule: ``name`` (lower case, e.g. ``day_100``), a label in words,
    ``day`` after ``anchor`` (negative before it: screening), ± ``window`` days."""

    name: str
    label: str
    anchor: Anchor
    day: int
    window: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not VISIT_NAME.fullmatch(self.name):
            raise ValidationError(
                "visit",
                self.name,
                "1–32 lower-case letters, digits or _, starting with a letter (it names a "
                "REDCap event)",
            )
        if not isinstance(self.label, str) or not self.label.strip() or len(self.label) > 200:
            raise ValidationError("label", self.label, "1–200 characters")
        for field, value, low, high in (
            ("day", self.day, -MAX_DAY, MAX_DAY),
            ("window", self.window, 0, MAX_WINDOW),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValidationError(field, value, f"a whole number of days {low} to {high}")

    def describe(self) -> str:
        sign = "+" if self.day >= 0 else "−"
        return f"{self.label}: day {sign}{abs(self.day)} from {self.anchor} ± {self.window}"


@dataclass(frozen=True)
class Enrolment:
    """A patient on a study arm from ``enrolled_on``; ``research_consent`` is whether they
    consented to research use of their data (and when)."""

    patient: str
    arm: str
    enrolled_on: dt.date
    research_consent: bool
    consent_on: dt.date | None = None

    def __post_init__(self) -> None:
        check_name("arm", self.arm)
        if not isinstance(self.research_consent, bool):
            raise ValidationError("research_consent", self.research_consent, "yes or no")
        if self.consent_on is not None and not self.research_consent:
            raise ValidationError("consent_on", self.consent_on, "empty when consent is no")
        if self.consent_on is not None and self.consent_on > self.enrolled_on:
            raise ValidationError(
                "consent_on", self.consent_on, f"on or before enrolment ({self.enrolled_on})"
            )


def due(anchor_date: dt.date, visit: Visit) -> tuple[dt.date, dt.date, dt.date]:
    """The visit's due day and its window's first and last days."""
    target = anchor_date + dt.timedelta(days=visit.day)
    return (
        target,
        target - dt.timedelta(days=visit.window),
        target + dt.timedelta(days=visit.window),
    )


def nearest(
    target: dt.date, low: dt.date, high: dt.date, dates: list[tuple[int, dt.date]]
) -> int | None:
    """The id of the dated item inside [low, high] nearest ``target`` (ties: the earlier)."""
    inside = [(abs((d - target).days), d, i) for i, d in dates if low <= d <= high]
    return min(inside)[2] if inside else None
