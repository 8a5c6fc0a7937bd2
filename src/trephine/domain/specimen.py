"""Specimens taken at a procedure (or a same-day blood draw)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from trephine.domain._checks import require_range, require_utc
from trephine.domain.patient import check_external_id
from trephine.errors import ValidationError


class SpecimenType(StrEnum):
    ASPIRATE = "aspirate"
    TREPHINE_CORE = "trephine core"
    PERIPHERAL_BLOOD = "peripheral blood"
    CLOT = "clot section"


class Hemodilution(StrEnum):
    NONE = "none"
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class Fragmentation(StrEnum):
    INTACT = "intact"
    MILD = "mild"
    MARKED = "marked"


@dataclass(frozen=True)
class Specimen:
    """One specimen, identified by its accession (the lab's specimen number)."""

    accession: str
    type: SpecimenType
    collected_at: dt.datetime
    # Aspirate quality (ICSH 2008 adequacy: particles present, first pull, haemodilution).
    first_pull: bool | None = None
    spicules: bool | None = None
    hemodilution: Hemodilution | None = None
    # Trephine core quality.
    core_length_mm: Decimal | None = None
    fragmentation: Fragmentation | None = None

    def __post_init__(self) -> None:
        check_external_id("accession", self.accession)
        require_utc("collected_at", self.collected_at)
        aspirate_only = {
            "first_pull": self.first_pull,
            "spicules": self.spicules,
            "hemodilution": self.hemodilution,
        }
        core_only = {"core_length_mm": self.core_length_mm, "fragmentation": self.fragmentation}
        if self.type is not SpecimenType.ASPIRATE:
            self._refuse(aspirate_only, "aspirate")
        if self.type is not SpecimenType.TREPHINE_CORE:
            self._refuse(core_only, "trephine core")
        require_range("core_length_mm", self.core_length_mm, Decimal(0), Decimal(100))

    def _refuse(self, fields: Mapping[str, object], applies_to: str) -> None:
        for name, value in fields.items():
            if value is not None:
                raise ValidationError(
                    name, value, f"empty for a {self.type} specimen (applies to {applies_to})"
                )

    @property
    def collected_on(self) -> dt.date:
        return self.collected_at.astimezone(dt.UTC).date()
