"""The biopsy procedure and its complications."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from trephine.domain._checks import require_range, require_text, require_utc
from trephine.domain.codes import SNOMED_STERNUM, Code


class Site(StrEnum):
    POSTERIOR_ILIAC_CREST = "posterior iliac crest"
    ANTERIOR_ILIAC_CREST = "anterior iliac crest"
    STERNUM = "sternum"
    TIBIA = "tibia"
    OTHER = "other"

    @property
    def code(self) -> Code | None:
        # clinical-systems.md found no SNOMED code for the iliac crest sites; the sternum code
        # is unverified (sources conflict), which Code.verified records.
        return SNOMED_STERNUM if self is Site.STERNUM else None


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BILATERAL = "bilateral"
    MIDLINE = "midline"
    UNKNOWN = "unknown"


class Indication(StrEnum):
    DIAGNOSIS = "diagnosis"
    RESPONSE_ASSESSMENT = "response assessment"
    MRD = "MRD"
    SUSPECTED_RELAPSE = "suspected relapse"
    POST_TRANSPLANT = "post-transplant"
    STAGING = "staging"
    OTHER = "other"


class Anesthesia(StrEnum):
    LOCAL = "local"
    CONSCIOUS_SEDATION = "conscious sedation"
    GENERAL = "general"
    NONE = "none"


class ComplicationKind(StrEnum):
    PAIN = "pain"
    BLEEDING = "bleeding"
    HEMATOMA = "hematoma"
    INFECTION = "infection"
    OTHER = "other"


class ComplicationSeverity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    LIFE_THREATENING = "life-threatening"


@dataclass(frozen=True)
class Complication:
    kind: ComplicationKind
    severity: ComplicationSeverity
    follow_up: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Procedure:
    """A marrow aspiration and/or trephine biopsy. ``performed_at`` is a UTC instant."""

    performed_at: dt.datetime
    site: Site
    side: Side = Side.UNKNOWN
    indication: Indication = Indication.OTHER
    operator: str | None = None
    anesthesia: Anesthesia = Anesthesia.LOCAL
    #: Needle type and gauge as written, e.g. "Jamshidi 11G".
    needle: str | None = None
    duration_min: int | None = None
    complications: tuple[Complication, ...] = ()

    def __post_init__(self) -> None:
        require_utc("performed_at", self.performed_at)
        require_range("duration_min", self.duration_min, 1, 600)
        if self.operator is not None:
            require_text("operator", self.operator)

    @property
    def performed_on(self) -> dt.date:
        return self.performed_at.astimezone(dt.UTC).date()
