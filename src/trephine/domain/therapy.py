"""Therapy lines with cycles, and the cellular-therapy events (transplant, CAR-T)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from trephine.domain._checks import require_order, require_range, require_text
from trephine.errors import ValidationError


class TherapyIntent(StrEnum):
    CURATIVE = "curative"
    INDUCTION = "induction"
    CONSOLIDATION = "consolidation"
    MAINTENANCE = "maintenance"
    SALVAGE = "salvage"
    BRIDGING = "bridging"
    PALLIATIVE = "palliative"


class Intensity(StrEnum):
    INTENSIVE = "intensive"
    LESS_INTENSIVE = "less intensive"
    NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Cycle:
    number: int
    start: dt.date
    end: dt.date | None = None

    def __post_init__(self) -> None:
        require_range("cycle", self.number, 1, 1000)
        require_order("cycle start", self.start, "cycle end", self.end)


@dataclass(frozen=True)
class TherapyLine:
    line: int
    regimen: str
    intent: TherapyIntent
    intensity: Intensity
    start: dt.date
    end: dt.date | None = None
    cycles: tuple[Cycle, ...] = ()

    def __post_init__(self) -> None:
        require_range("line", self.line, 1, 100)
        require_text("regimen", self.regimen)
        require_order("start", self.start, "end", self.end)
        numbers = [c.number for c in self.cycles]
        if numbers != sorted(set(numbers)):
            raise ValidationError("cycles", numbers, "cycle numbers increasing, each once")
        for cycle in self.cycles:
            if cycle.start < self.start or (self.end is not None and cycle.start > self.end):
                raise ValidationError(
                    f"cycle {cycle.number} start",
                    cycle.start,
                    f"within the line ({self.start} – {self.end or 'ongoing'})",
                )


class DonorType(StrEnum):
    AUTOLOGOUS = "autologous"
    MATCHED_SIBLING = "matched sibling"
    MATCHED_UNRELATED = "matched unrelated"
    MISMATCHED_UNRELATED = "mismatched unrelated"
    HAPLOIDENTICAL = "haploidentical"
    CORD_BLOOD = "cord blood"


class EventKind(StrEnum):
    TRANSPLANT = "transplant"
    CAR_T = "CAR-T"


@dataclass(frozen=True)
class Transplant:
    """Stem-cell transplant (day 0 = ``on``)."""

    on: dt.date
    donor_type: DonorType
    conditioning: Intensity = Intensity.NOT_APPLICABLE
    kind: ClassVar[EventKind] = EventKind.TRANSPLANT

    @property
    def allogeneic(self) -> bool:
        return self.donor_type is not DonorType.AUTOLOGOUS


@dataclass(frozen=True)
class CarTInfusion:
    on: dt.date
    product: str
    target: str = "CD19"
    kind: ClassVar[EventKind] = EventKind.CAR_T

    def __post_init__(self) -> None:
        require_text("product", self.product)
        require_text("target", self.target, 32)


CellularTherapy = Transplant | CarTInfusion
