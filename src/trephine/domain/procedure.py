"""The biopsy procedure and its complications."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from trephine.domain._checks import require_range, require_text, require_utc
from trephine.domain.codes import SNOMED_STERNUM, Code
from trephine.errors import ValidationError


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
    """Why the marrow is taken: the reasons people are actually sent for one (issue 11).

    ``diagnosis`` and ``staging`` are the older, coarser values; they stay valid so that stored
    records keep reading. The plain-language sentence for each is in
    :mod:`trephine.present.procedures` (``INDICATION_SENTENCES``).
    """

    DIAGNOSIS = "diagnosis"
    UNEXPLAINED_CYTOPENIA = "unexplained cytopenia"
    SUSPECTED_LEUKAEMIA = "suspected leukaemia"
    LYMPHOMA_STAGING = "lymphoma staging"
    MYELOMA_WORKUP = "myeloma work-up"
    SUSPECTED_MDS = "suspected MDS"
    APLASTIC_ANAEMIA = "aplastic anaemia"
    FEVER_OR_INFECTION = "fever or infection"
    STORAGE_DISEASE = "storage or metabolic disease"
    IRON_STATUS = "iron status"
    RESPONSE_ASSESSMENT = "response assessment"
    MRD = "MRD"
    SUSPECTED_RELAPSE = "suspected relapse"
    POST_TRANSPLANT = "post-transplant"
    CAR_T_FOLLOW_UP = "CAR-T follow-up"
    STAGING = "staging"
    OTHER = "other"


class Anesthesia(StrEnum):
    LOCAL = "local"
    CONSCIOUS_SEDATION = "conscious sedation"
    GENERAL = "general"
    NONE = "none"


class ComplicationCategory(StrEnum):
    """The complication categories of clinical-criteria.md §10 [I]."""

    BLEEDING = "bleeding"
    INFECTION = "infection"
    PAIN_OR_NERVE = "pain or nerve injury"
    NEEDLE = "needle breakage"
    STERNAL = "sternal-puncture injury"
    VASOVAGAL = "vasovagal reaction"
    DEATH = "death"
    OTHER = "other"


class ComplicationKind(StrEnum):
    """What happened; each kind belongs to one §10 category (``category``)."""

    PAIN = "pain"
    NEUROPATHIC_INJURY = "neuropathic injury"
    BLEEDING = "bleeding"
    HEMATOMA = "hematoma"
    RETROPERITONEAL_HAEMORRHAGE = "retroperitoneal haemorrhage"
    BLEEDING_TRANSFUSED = "bleeding needing transfusion"
    INFECTION = "infection"
    OSTEOMYELITIS = "osteomyelitis"
    NEEDLE_BREAKAGE = "needle breakage"
    STERNAL_INJURY = "sternal-puncture injury"
    VASOVAGAL = "vasovagal reaction"
    DEATH = "death"
    OTHER = "other"

    @property
    def category(self) -> ComplicationCategory:
        return _CATEGORY[self]


_CATEGORY = {
    ComplicationKind.PAIN: ComplicationCategory.PAIN_OR_NERVE,
    ComplicationKind.NEUROPATHIC_INJURY: ComplicationCategory.PAIN_OR_NERVE,
    ComplicationKind.BLEEDING: ComplicationCategory.BLEEDING,
    ComplicationKind.HEMATOMA: ComplicationCategory.BLEEDING,
    ComplicationKind.RETROPERITONEAL_HAEMORRHAGE: ComplicationCategory.BLEEDING,
    ComplicationKind.BLEEDING_TRANSFUSED: ComplicationCategory.BLEEDING,
    ComplicationKind.INFECTION: ComplicationCategory.INFECTION,
    ComplicationKind.OSTEOMYELITIS: ComplicationCategory.INFECTION,
    ComplicationKind.NEEDLE_BREAKAGE: ComplicationCategory.NEEDLE,
    ComplicationKind.STERNAL_INJURY: ComplicationCategory.STERNAL,
    ComplicationKind.VASOVAGAL: ComplicationCategory.VASOVAGAL,
    ComplicationKind.DEATH: ComplicationCategory.DEATH,
    ComplicationKind.OTHER: ComplicationCategory.OTHER,
}


class ComplicationOutcome(StrEnum):
    RESOLVED = "resolved"
    RESOLVED_WITH_SEQUELAE = "resolved with sequelae"
    ONGOING = "ongoing"
    FATAL = "fatal"


class ComplicationSeverity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    LIFE_THREATENING = "life-threatening"


#: Severities counted as serious in the complication report [I]: the events Bain's surveys
#: counted (haemorrhage needing transfusion or intervention, infection needing treatment,
#: deaths) are severe or worse; a death of any stated severity is serious.
SERIOUS_SEVERITIES = frozenset({ComplicationSeverity.SEVERE, ComplicationSeverity.LIFE_THREATENING})


@dataclass(frozen=True)
class Complication:
    kind: ComplicationKind
    severity: ComplicationSeverity
    follow_up: str | None = None
    description: str | None = None
    #: When it started (UTC); None when not recorded.
    onset_at: dt.datetime | None = None
    outcome: ComplicationOutcome | None = None

    def __post_init__(self) -> None:
        if self.onset_at is not None:
            require_utc("onset_at", self.onset_at)

    @property
    def category(self) -> ComplicationCategory:
        return self.kind.category

    @property
    def serious(self) -> bool:
        return (
            self.severity in SERIOUS_SEVERITIES
            or self.kind is ComplicationKind.DEATH
            or self.outcome is ComplicationOutcome.FATAL
        )


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
        for c in self.complications:
            if c.onset_at is not None and c.onset_at < self.performed_at:
                raise ValidationError(
                    "onset_at",
                    c.onset_at.isoformat(),
                    f"on or after the procedure ({self.performed_at.isoformat()})",
                )

    @property
    def performed_on(self) -> dt.date:
        return self.performed_at.astimezone(dt.UTC).date()
