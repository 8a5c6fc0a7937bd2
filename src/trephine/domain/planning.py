"""Before the procedure: the planned procedure, its pre-procedure checklist and the consent.

A planned procedure goes ``planned → done`` (the procedure record is written then) or
``planned → cancelled`` (with a reason). The checklist is what the §10 safety rule looks at
(:mod:`trephine.criteria.procedure`); the consent must exist before the procedure is marked
done unless an emergency reason is given (:func:`check_done`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from trephine.domain._checks import require_range, require_text, require_utc
from trephine.domain.procedure import Anesthesia, Indication, Site
from trephine.errors import IllegalTransition, ValidationError


class PlanStatus(StrEnum):
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


class DrugClass(StrEnum):
    ANTICOAGULANT = "anticoagulant"
    ANTIPLATELET = "antiplatelet"
    OTHER = "other"


#: Common antithrombotics by generic name, so that a medication entered without its class (an
#: import column, a quick form) is classed, and a contradictory class is refused. Names only,
#: no doses or thresholds; any other drug must be given its class explicitly.
KNOWN_DRUGS: dict[str, DrugClass] = {
    **dict.fromkeys(
        (
            "apixaban",
            "rivaroxaban",
            "edoxaban",
            "dabigatran",
            "warfarin",
            "acenocoumarol",
            "phenprocoumon",
            "heparin",
            "enoxaparin",
            "dalteparin",
            "tinzaparin",
            "fondaparinux",
        ),
        DrugClass.ANTICOAGULANT,
    ),
    **dict.fromkeys(
        ("aspirin", "clopidogrel", "prasugrel", "ticagrelor", "dipyridamole", "cilostazol"),
        DrugClass.ANTIPLATELET,
    ),
}


class Fasting(StrEnum):
    """The eating instruction the patient was given."""

    EAT_AS_USUAL = "eat as usual"
    LIGHT_MEAL = "light meal"
    FAST = "fast"


#: Sedation plans that need a named adult to take the patient home.
SEDATED = frozenset({Anesthesia.CONSCIOUS_SEDATION, Anesthesia.GENERAL})


@dataclass(frozen=True)
class Medication:
    """A current medication with its class and when the last dose was taken (UTC), if known."""

    name: str
    drug_class: DrugClass
    last_dose_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        require_text("medication", self.name, 100)
        known = KNOWN_DRUGS.get(self.name.strip().lower())
        if known is not None and known is not self.drug_class:
            raise ValidationError(
                "medication_class",
                str(self.drug_class),
                str(known),
                reason=f"{self.name} is an {known}",
            )
        if self.last_dose_at is not None:
            require_utc("last_dose_at", self.last_dose_at)

    @classmethod
    def named(cls, name: str, last_dose_at: dt.datetime | None = None) -> Medication:
        """A medication whose class is known from its name (:data:`KNOWN_DRUGS`)."""
        known = KNOWN_DRUGS.get(name.strip().lower())
        if known is None:
            raise ValidationError(
                "medication_class",
                None,
                ", ".join(DrugClass),
                reason=f"{name!r} is not a known antithrombotic: give its class",
            )
        return cls(name.strip(), known, last_dose_at)


@dataclass(frozen=True)
class Checklist:
    """The pre-procedure checklist. Platelets in ×10^9/L (G1), INR as a ratio.

    ``fasting`` None means no eating instruction has been given yet; ``escort`` is required
    when the sedation plan sedates the patient.
    """

    medications: tuple[Medication, ...] = ()
    platelets: Decimal | None = None
    inr: Decimal | None = None
    allergies: tuple[str, ...] = ()
    sedation: Anesthesia = Anesthesia.LOCAL
    escort: str | None = None
    fasting: Fasting | None = None
    mpn: bool = False
    bleeding_disorder: bool = False

    def __post_init__(self) -> None:
        require_range("platelets", self.platelets, Decimal(0), Decimal(5000))
        require_range("inr", self.inr, Decimal("0.5"), Decimal(20))
        for allergy in self.allergies:
            require_text("allergies", allergy, 100)
        if self.escort is not None:
            require_text("escort", self.escort)
        if self.sedation in SEDATED and self.escort is None:
            raise ValidationError(
                "escort",
                None,
                "the name of the adult taking the patient home",
                reason=f"required with {self.sedation}",
            )
        names = [m.name.lower() for m in self.medications]
        if len(names) != len(set(names)):
            raise ValidationError("medication", self.medications, "each medication once")

    def of_class(self, drug_class: DrugClass) -> tuple[Medication, ...]:
        return tuple(m for m in self.medications if m.drug_class is drug_class)


class ConsentGiver(StrEnum):
    PATIENT = "patient"
    PARENT = "parent or guardian"
    REPRESENTATIVE = "legal representative"


class SignatureMethod(StrEnum):
    WRITTEN = "written"
    ELECTRONIC = "electronic"
    VERBAL_WITNESSED = "verbal, witnessed"


class Risk(StrEnum):
    """Risks discussed when taking consent (the §10 complication list in a patient's words)."""

    PAIN = "pain"
    BRUISING_BLEEDING = "bruising or bleeding"
    INFECTION = "infection"
    NERVE_INJURY = "nerve injury"
    NEEDLE_BREAKAGE = "needle breakage"
    SEDATION = "sedation effects"
    INADEQUATE_SAMPLE = "sample may need repeating"


@dataclass(frozen=True)
class Consent:
    """Who consented, who took it, when, with which leaflet version, risks discussed,
    interpreter (None when not used) and how it was signed."""

    given_by: ConsentGiver
    taken_by: str
    consented_at: dt.datetime
    leaflet_version: str
    risks_discussed: tuple[Risk, ...]
    signature: SignatureMethod
    giver_name: str | None = None
    interpreter: str | None = None

    def __post_init__(self) -> None:
        require_text("taken_by", self.taken_by)
        require_utc("consented_at", self.consented_at)
        require_text("leaflet_version", self.leaflet_version, 32)
        if not self.risks_discussed:
            raise ValidationError("risks_discussed", None, ", ".join(Risk))
        if self.given_by is not ConsentGiver.PATIENT and self.giver_name is None:
            raise ValidationError(
                "giver_name", None, "the name of the person consenting", reason=str(self.given_by)
            )
        if self.giver_name is not None:
            require_text("giver_name", self.giver_name)
        if self.interpreter is not None:
            require_text("interpreter", self.interpreter)


@dataclass(frozen=True)
class PlannedProcedure:
    """A marrow procedure booked for ``planned_for`` (UTC) with its indication."""

    planned_for: dt.datetime
    indication: Indication
    site: Site = Site.POSTERIOR_ILIAC_CREST
    operator: str | None = None

    def __post_init__(self) -> None:
        require_utc("planned_for", self.planned_for)
        if self.operator is not None:
            require_text("operator", self.operator)


def check_transition(status: PlanStatus, to: PlanStatus) -> None:
    """Only a planned procedure can be done or cancelled; done and cancelled are final."""
    if status is not PlanStatus.PLANNED or to is PlanStatus.PLANNED:
        raise IllegalTransition("procedure plan", str(status), str(to))


def check_done(consent: Consent | None, emergency_reason: str | None) -> None:
    """A procedure is marked done only with a consent record or an emergency reason."""
    if emergency_reason is not None:
        require_text("emergency_reason", emergency_reason, 1000)
        return
    if consent is None:
        raise ValidationError(
            "consent",
            None,
            "a recorded consent, or an emergency reason",
            reason="a procedure cannot be marked done without consent",
        )


def check_cancel_reason(reason: str | None) -> str:
    if reason is None:
        raise ValidationError("reason", None, "why the procedure was cancelled")
    require_text("reason", reason, 1000)
    return reason


def parse_instant(field: str, text: str) -> dt.datetime:
    """An ISO date-time; without an offset it is read as UTC (as everywhere in Trephine)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, text, "a date-time as YYYY-MM-DDTHH:MM[:SS][+HH:MM]") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def parse_medication(text: str, field: str = "medication") -> Medication:
    """``NAME[:CLASS][@LAST_DOSE]``, e.g. ``apixaban@2026-12-02T20:00`` or
    ``sertraline:other``. A known antithrombotic needs no class; any other drug does."""
    rest, _, when = text.partition("@")
    name, _, drug_class = rest.partition(":")
    last = parse_instant(f"{field} last dose", when) if when.strip() else None
    if not name.strip():
        raise ValidationError(field, text, "NAME[:CLASS][@LAST_DOSE]")
    if not drug_class.strip():
        return Medication.named(name.strip(), last)
    try:
        cls = DrugClass(drug_class.strip().lower())
    except ValueError:
        raise ValidationError(f"{field} class", drug_class, ", ".join(DrugClass)) from None
    return Medication(name.strip(), cls, last)
