"""Planned procedures (checklist with the §10 safety decision, consent, done/cancelled), the
procedure record (complications, the §8 adequacy call of every specimen) and the rate report.

The response shapes are those of ``trephine procedures show --json`` and ``report --json``
(:mod:`trephine.present.procedures`); the request enums are the domain's vocabularies.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from trephine.domain.planning import ConsentGiver, DrugClass, Fasting, Risk, SignatureMethod
from trephine.domain.procedure import (
    Anesthesia,
    ComplicationKind,
    ComplicationOutcome,
    ComplicationSeverity,
    Indication,
    Side,
    Site,
)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- requests ----------------------------------------------------------------------------------
class PlanRequest(_Strict):
    patient: str = Field(max_length=64, description="The patient's record id")
    planned_for: AwareDatetime = Field(description="When (with its UTC offset)")
    indication: Indication
    site: Site = Site.POSTERIOR_ILIAC_CREST
    operator: str | None = Field(default=None, max_length=200)


class MedicationRequest(_Strict):
    name: str = Field(min_length=1, max_length=200)
    drug_class: DrugClass | None = Field(
        default=None,
        description="anticoagulant, antiplatelet or other; omitted: known from the name "
        "(common antithrombotics), else refused",
    )
    last_dose_at: AwareDatetime | None = None


class ChecklistRequest(_Strict):
    """The whole checklist (a new version when it differs from the latest); the §10 decision
    is made on it and stored with it."""

    medications: list[MedicationRequest] = Field(default=[], max_length=50)
    platelets: Decimal | None = Field(default=None, description="×10⁹/L")
    inr: Decimal | None = None
    allergies: list[str] = Field(default=[], max_length=50)
    sedation: Anesthesia = Anesthesia.LOCAL
    escort: str | None = Field(default=None, max_length=200, description="Needed when sedated")
    fasting: Fasting | None = None
    mpn: bool = False
    bleeding_disorder: bool = False


class ConsentRequest(_Strict):
    """Consent, taken by the signed-in clinician."""

    consented_at: AwareDatetime
    leaflet_version: str = Field(min_length=1, max_length=32)
    risks_discussed: list[Risk] = Field(default=[], max_length=20)
    given_by: ConsentGiver = ConsentGiver.PATIENT
    giver_name: str | None = Field(default=None, max_length=200)
    interpreter: str | None = Field(default=None, max_length=200)
    signature: SignatureMethod = SignatureMethod.WRITTEN


class DoneRequest(_Strict):
    """The procedure as done (needs a consent record or an emergency reason)."""

    performed_at: AwareDatetime
    site: Site | None = Field(default=None, description="Default: the planned site")
    side: Side = Side.UNKNOWN
    operator: str | None = Field(default=None, max_length=200, description="Default: planned")
    needle: str | None = Field(default=None, max_length=100)
    duration_min: int | None = Field(default=None, ge=1, le=600)
    emergency_reason: str | None = Field(default=None, max_length=1000)


class CancelRequest(_Strict):
    reason: str = Field(min_length=1, max_length=1000)


class ComplicationRequest(_Strict):
    kind: ComplicationKind
    severity: ComplicationSeverity
    onset_at: AwareDatetime | None = None
    outcome: ComplicationOutcome | None = None
    follow_up: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=2000)


# -- responses ---------------------------------------------------------------------------------
class MedicationPublic(_Strict):
    name: str
    drug_class: str = Field(alias="class")
    last_dose_at: str | None


class ChecklistPublic(_Strict):
    version: int
    medications: list[MedicationPublic]
    platelets: str | None = Field(description="×10⁹/L, as entered")
    inr: str | None
    allergies: list[str]
    sedation: str
    escort: str | None
    fasting: str | None
    mpn: bool
    bleeding_disorder: bool
    recorded_at: str
    recorded_by: str
    safety: dict[str, Any] = Field(
        description="The §10 decision (PROCEED, PROCEED_WITH_CAUTION, REVIEW_REQUIRED) with "
        "every reason, the missing inputs, the rule set, edition and parameters; advisory"
    )


class ConsentPublic(_Strict):
    given_by: str
    giver_name: str | None = Field(description="Null for roles without identity:read")
    taken_by: str
    consented_at: str
    leaflet_version: str
    risks_discussed: list[str]
    interpreter: str | None
    signature: str
    recorded_by: str


class PlanPublic(_Strict):
    id: int
    patient: str
    status: str = Field(description="planned, done or cancelled")
    planned_for: str
    indication: str
    site: str
    operator: str | None
    checklist: ChecklistPublic | None
    consent: ConsentPublic | None
    procedure_id: int | None = Field(description="The procedure record once done")
    performed_at: str | None
    duration_min: int | None
    emergency_reason: str | None
    cancel_reason: str | None
    created_at: str
    created_by: str
    closed_at: str | None
    closed_by: str | None


class PlanList(_Strict):
    items: list[PlanPublic]


class ComplicationPublic(_Strict):
    id: int
    kind: str
    category: str = Field(description="The §10 category of the kind")
    severity: str
    serious: bool = Field(description="Severe, life-threatening or fatal")
    onset_at: str | None
    outcome: str | None
    follow_up: str | None
    description: str | None


class SpecimenPublic(_Strict):
    accession: str
    type: str
    collected_at: str
    first_pull: bool | None
    spicules: bool | None
    hemodilution: str | None
    core_length_mm: str | None
    fragmentation: str | None
    adequacy: dict[str, Any] | None = Field(
        description="The §8 adequacy call (category, adequate, flags, reasons, missing, rule "
        "set, edition, parameters); null for specimens that get none (blood)"
    )


class ProcedurePublic(_Strict):
    id: int
    patient: str
    plan_id: int | None
    performed_at: str
    site: str
    side: str
    indication: str
    operator: str | None
    anesthesia: str
    needle: str | None
    duration_min: int | None
    complications: list[ComplicationPublic]
    specimens: list[SpecimenPublic]


class RatePublic(_Strict):
    x: int
    n: int
    percent: float | None
    ci95_percent: list[float] | None = Field(description="Exact (Clopper–Pearson) 95 % interval")
    method: str


class GroupRatesPublic(_Strict):
    group: str
    procedures: int
    complication_rate: RatePublic
    serious_complication_rate: RatePublic
    adequacy_rate: RatePublic
    adequacy_not_recorded: int


class PublishedRatePublic(_Strict):
    series: str
    events: int
    procedures: int
    note: str
    rate: RatePublic


class RateReportPublic(_Strict):
    """What ``trephine procedures report --json`` prints: counts only, no patient."""

    by: str | None
    overall: GroupRatesPublic
    groups: list[GroupRatesPublic]
    published_serious_rates: list[PublishedRatePublic] = Field(
        description="clinical-criteria.md §10 published serious-complication rates"
    )
    definitions: dict[str, str]
