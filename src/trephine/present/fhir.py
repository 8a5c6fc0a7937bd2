"""FHIR R4 export, built and validated with ``fhir.resources`` (its R4B models).

One module for every FHIR output: the marrow report (``trephine report --format fhir``), a
patient's whole record (``trephine fhir bundle``), the read-only API under ``/fhir/r4/``, and the
research lane's de-identified exports. What differs between them is a parameter, never a copy:

* ``patient`` (:class:`PatientRef`): the Patient resource's id and what it may say —
  :func:`identified_patient` (name, MRN, birth date: roles with identity:read) or
  :func:`pseudonymised_patient` (the research id or a caller's pseudonym, birth year only);
* ``dates`` (:class:`DatePolicy`): :data:`EXACT`, :class:`YearOnly` (HIPAA Safe Harbor: dates
  to the year, instants dropped) or :class:`Shifted` (one constant offset per patient, intervals
  kept — not Safe Harbor, clinical-systems.md §6.2 D7);
* ``references``: ``"urn"`` (``urn:uuid:`` full URLs, a self-contained file) or ``"relative"``
  (``Patient/ID``, what the API serves), with ``base_url`` for the full URLs of the latter;
* ``unverified_codes``: ``"include"`` or ``"omit"`` LOINC/SNOMED codes that
  ``domain/codes.py`` marks unverified (every Observation keeps its Trephine-local coding, so it
  always has a code).

Resources: Patient; Condition per diagnosis; Procedure (SNOMED 234326005 bone marrow sampling;
body site coded only where a code exists); Specimen; one Observation per reported value (LOINC
where ``domain/codes.py`` has one, UCUM units, ``valueQuantity.comparator`` for ``<``/``>``;
NGS variants in the Genomics Reporting variant shape); DiagnosticReport per issued report
version (LOINC 33721-2, status from the version); response calls as mCODE (STU3)
CancerDiseaseStatus observations. ``fhir.resources`` checks structure only (it accepts
``status: "bogus"``, clinical-systems.md §4.3), so :func:`validate` also checks the required
status codes against their value sets.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Literal

from trephine.domain import codes as C
from trephine.domain.codes import Code, CodeSystem
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.result_kinds import result_kind_name
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    Chimerism,
    ClinicalExam,
    CoreFindings,
    Extramedullary,
    FlowMRD,
    InfectionOutcome,
    InfectionTest,
    IronStudies,
    Karyotype,
    Measurement,
    MolecularMRD,
    NGSVariant,
    Paraprotein,
    Population,
    ResultValue,
)
from trephine.present.explain import category_label

if TYPE_CHECKING:
    from trephine.domain.patient import Diagnosis, Patient, PatientIdentity
    from trephine.services.reports import MarrowReport, PatientReports, ReportVersion
    from trephine.services.views import StoredAssessment, StoredProcedure, StoredResult

UCUM_SYSTEM = "http://unitsofmeasure.org"
#: Trephine's canonical units (domain/quantity.py Measures) → UCUM codes.
UCUM: dict[str, str] = {
    "%": "%",
    "10^9/L": "10*9/L",
    "g/dL": "g/dL",
    "fL": "fL",
    "cells/uL": "/uL",
    "ug/L": "ug/L",
    "mg/g": "mg/g",
    "mg/dL": "mg/dL",
    "mg/24h": "mg/(24.h)",
    "mm": "mm",
    "cm": "cm",
    "1": "1",
    "cells/mm2": "{cells}/mm2",
    "vessels/mm2": "{vessels}/mm2",
}
#: DiagnosticReport.status and Observation.status value sets (R4), checked by :func:`validate`.
REPORT_STATUSES = frozenset(
    [
        "registered",
        "partial",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "appended",
        "cancelled",
        "entered-in-error",
        "unknown",
    ]
)
OBSERVATION_STATUSES = frozenset(
    [
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    ]
)
MCODE_CANCER_DISEASE_STATUS = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-disease-status"
)
GENOMICS_VARIANT = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/variant"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_NAMESPACE = uuid.UUID("0b5c2d3e-7a8f-5c1d-9e2f-3a4b5c6d7e8f")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")

# SNOMED CT and LOINC answers used here (clinical-systems.md §5, all "verified: yes").
SNOMED_POSITIVE = Code(CodeSystem.SNOMED, "10828004", "Positive", verified=True)
SNOMED_NEGATIVE = Code(CodeSystem.SNOMED, "260385009", "Negative", verified=True)
LOINC_PRESENT = Code(CodeSystem.LOINC, "LA9633-4", "Present", verified=True)
#: mCODE STU3 ConditionStatusTrendVS (pinned: the remission codes changed between versions).
STATUS_FULL_REMISSION = Code(CodeSystem.SNOMED, "103338009", "In full remission", verified=True)
STATUS_PARTIAL_REMISSION = Code(
    CodeSystem.SNOMED, "103337004", "In partial remission", verified=True
)
STATUS_IMPROVED = Code(CodeSystem.SNOMED, "268910001", "Patient's condition improved", True)
STATUS_STABLE = Code(CodeSystem.SNOMED, "359746009", "Patient's condition stable", True)
STATUS_WORSENED = Code(CodeSystem.SNOMED, "271299001", "Patient's condition worsened", True)
STATUS_UNDETERMINED = Code(CodeSystem.SNOMED, "709137006", "Patient condition undetermined", True)
#: Stored call kinds exported as CancerDiseaseStatus (and a progression call that stands for
#: the patient's state: myeloma progression, confirmed or to confirm, wins over the response
#: call of its date, which is then not current: assess/story.py).
STATUS_CALLS = frozenset({"response", "relapse"})


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class DatePolicy:
    """How dates leave the system. ``EXACT`` keeps them."""

    days: int = 0
    year_only: bool = False

    def date(self, d: dt.date) -> str:
        if self.year_only:
            return f"{d.year:04d}"
        return (d + dt.timedelta(days=self.days)).isoformat()

    def instant(self, t: dt.datetime | None) -> str | None:
        """A full instant, or None when the policy may not show one (year only)."""
        if t is None or self.year_only:
            return None
        return (t.astimezone(dt.UTC) + dt.timedelta(days=self.days)).isoformat()

    def datetime(self, t: dt.datetime) -> str:
        """A dateTime (may be reduced to the year)."""
        shown = self.instant(t)
        return shown if shown is not None else self.date(t.astimezone(dt.UTC).date())


EXACT = DatePolicy()


def YearOnly() -> DatePolicy:
    """Safe Harbor: every date to its year; instants (issued, collected times) dropped."""
    return DatePolicy(year_only=True)


def Shifted(days: int) -> DatePolicy:
    """One constant offset for all of a patient's dates (intervals kept; not Safe Harbor)."""
    return DatePolicy(days=days)


@dataclass(frozen=True)
class PatientRef:
    """The Patient resource: its id and what it may carry."""

    id: str
    identifiers: tuple[tuple[str, str], ...]
    gender: str | None
    birth: str | None = None
    name: str | None = None


#: Identifier systems (Trephine-local URNs; a site maps its own MRN system here).
RESEARCH_ID_SYSTEM = "urn:trephine:patient-id"
MRN_SYSTEM = "urn:trephine:mrn"
PSEUDONYM_SYSTEM = "urn:trephine:pseudonym"
_GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


def identified_patient(patient: Patient, identity: PatientIdentity | None) -> PatientRef:
    """For roles with identity:read: name, MRN and birth date (when recorded)."""
    ids = [(RESEARCH_ID_SYSTEM, patient.external_id)]
    if identity is None:
        return pseudonymised_patient(patient)
    ids.append((MRN_SYSTEM, identity.mrn))
    birth = identity.birth_date.isoformat() if identity.birth_date else None
    if birth is None and patient.birth_year:
        birth = f"{patient.birth_year:04d}"
    return PatientRef(
        _safe_id(patient.external_id),
        tuple(ids),
        _GENDER.get(str(patient.sex)),
        birth,
        identity.name,
    )


def pseudonymised_patient(
    patient: Patient, pseudonym: str | None = None, *, birth_year: bool = True
) -> PatientRef:
    """No name, MRN or birth date: the research id (or ``pseudonym``) and the birth year."""
    key = pseudonym or patient.external_id
    system = PSEUDONYM_SYSTEM if pseudonym else RESEARCH_ID_SYSTEM
    birth = f"{patient.birth_year:04d}" if birth_year and patient.birth_year else None
    return PatientRef(_safe_id(key), ((system, key),), _GENDER.get(str(patient.sex)), birth)


# --------------------------------------------------------------------------- helpers


def _safe_id(text: str) -> str:
    return _ID_UNSAFE.sub("-", text)[:64] or "x"


def coding(code: Code) -> dict[str, Any]:
    return {"system": str(code.system.value), "code": code.code, "display": code.display}


def _local(key: str, display: str) -> dict[str, Any]:
    return {"system": CodeSystem.LOCAL.value, "code": key, "display": display}


def ucum(unit: str) -> str:
    """The UCUM code of a canonical unit; an unmapped unit is a programming error, not data."""
    try:
        return UCUM[unit]
    except KeyError:
        raise ValueError(
            f"no UCUM code for the unit {unit!r}; add it to present/fhir.UCUM"
        ) from None


def value_quantity(q: Quantity) -> dict[str, Any]:
    """``valueQuantity``: value, UCUM unit, comparator for ``<``/``>``."""
    out: dict[str, Any] = {
        "value": q.value,
        "unit": q.unit,
        "system": UCUM_SYSTEM,
        "code": ucum(q.unit),
    }
    if q.qualifier is Qualifier.LESS_THAN:
        out["comparator"] = "<"
    elif q.qualifier is Qualifier.GREATER_THAN:
        out["comparator"] = ">"
    return out


@dataclass(frozen=True)
class Value:
    """One reported value of a result: its key, label, code and value."""

    key: str
    label: str
    value: Quantity | str | bool | int | Code
    code: Code | None = None
    note: str | None = None


def _tenth(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _quantities(named: Iterable[tuple[str, str, Quantity | None, Code | None]]) -> list[Value]:
    return [Value(k, label, q, code) for k, label, q, code in named if q is not None]


def _population_values(value: Population) -> list[Value]:
    """A population's share of its parent (and of the total when counted) with the counts and
    the 95 % Wilson interval in the note, and the cells counted."""
    from trephine.analysis.stats import wilson

    def share(key: str, of: str, total: int) -> Value:
        ci = wilson(value.count, total)
        return Value(
            key,
            f"{value.population} (% of {of})",
            Quantity(_tenth(Decimal(value.count) * 100 / Decimal(total)), "%"),
            note=(
                f"{value.count} of {total} cells; 95 % Wilson interval "
                f"{100 * ci.lower:.1f}–{100 * ci.upper:.1f} %; {value.method}"
            ),
        )

    out = [share("percent_of_parent", value.parent, value.parent_count)]
    if value.total is not None and value.total_count:
        out.append(share("percent_of_total", value.total, value.total_count))
    out.append(
        Value("count", f"{value.population} (cells counted)", Quantity(Decimal(value.count), "1"))
    )
    return out


def values(value: ResultValue) -> list[Value]:
    """Every reported value of a result, as the report shows them (reported precision)."""
    out: list[Value] = []
    match value:
        case BloodCount():
            out = _quantities(
                (
                    ("wbc", "White cell count", value.wbc, C.LOINC_WBC),
                    ("anc", "Neutrophils", value.anc, C.LOINC_NEUTROPHILS),
                    ("alc", "Lymphocytes", value.alc, C.LOINC_LYMPHOCYTES),
                    ("platelets", "Platelets", value.platelets, C.LOINC_PLATELETS),
                    ("hemoglobin", "Haemoglobin", value.hemoglobin, C.LOINC_HEMOGLOBIN),
                    ("circulating_blasts", "Blood blasts", value.circulating_blasts, None),
                    ("reticulocytes", "Reticulocytes", value.reticulocytes, None),
                    ("mcv", "MCV", value.mcv, None),
                    ("rdw", "RDW", value.rdw, None),
                    ("cd19_percent", "CD19+ of lymphocytes", value.cd19_percent, None),
                    ("cd19_count", "CD19+ cells", value.cd19_count, None),
                    ("pnh_clone", "PNH clone", value.pnh_clone, None),
                )
            )
            if value.transfusion_dependence is not None:
                out.append(
                    Value(
                        "transfusion_dependence",
                        "Transfusion dependence",
                        str(value.transfusion_dependence),
                    )
                )
            if value.platelet_transfusion is not None:
                out.append(
                    Value(
                        "platelet_transfusion", "Platelets transfused", value.platelet_transfusion
                    )
                )
        case AspirateDifferential():
            for cls in CellClass:
                if value.count(cls):
                    code = C.LOINC_BM_BLASTS if cls is CellClass.BLAST else None
                    out.append(
                        Value(
                            f"percent_{cls.name.lower()}",
                            f"{cls.value} (% of nucleated cells)",
                            Quantity(_tenth(value.percent(cls)), "%"),
                            code,
                        )
                    )
            me = value.me_ratio()
            if me is not None:
                out.append(
                    Value("me_ratio", "M:E ratio", Quantity(_tenth(me), "1"), C.LOINC_ME_RATIO)
                )
            out.append(
                Value(
                    "cells_counted",
                    "Nucleated cells counted",
                    Quantity(Decimal(value.cells_counted), "1"),
                )
            )
        case CoreFindings():
            out = _quantities(
                (
                    ("cellularity", "Cellularity", value.cellularity, None),
                    ("ring_sideroblasts", "Ring sideroblasts", value.ring_sideroblasts, None),
                    (
                        "residual_hematopoietic_cells",
                        "Residual haematopoietic cells",
                        value.residual_hematopoietic_cells,
                        None,
                    ),
                )
            )
            if value.infiltrate is not None:
                out.append(
                    Value(
                        "infiltrate",
                        f"Infiltrate ({value.infiltrate_type})",
                        value.infiltrate,
                        note=value.infiltrate_type,
                    )
                )
            if value.fibrosis is not None:
                out.append(Value("fibrosis", "Fibrosis grade", str(value.fibrosis)))
            if value.iron_grade is not None:
                out.append(
                    Value(
                        "iron_grade",
                        f"Iron stores ({value.iron_scale})",
                        value.iron_grade,
                        C.LOINC_IRON_STAIN,
                        note=str(value.iron_scale),
                    )
                )
            for lineage, pct in value.dysplasia.items():
                out.append(
                    Value(
                        f"dysplasia_{lineage.name.lower()}",
                        f"Dysplasia, {lineage.value}",
                        Quantity(pct, "%"),
                    )
                )
            for key, label_, flag in (
                ("granulomas", "Granulomas", value.granulomas),
                ("lymphoid_nodules", "Lymphoid nodules", value.lymphoid_nodules),
                ("megaloblastic_change", "Megaloblastic change", value.megaloblastic_change),
            ):
                if flag is not None:
                    out.append(Value(key, label_, flag))
            if value.plasma_cell_kappa_lambda is not None:
                out.append(
                    Value(
                        "plasma_cell_kappa_lambda",
                        "Plasma-cell kappa:lambda",
                        Quantity(value.plasma_cell_kappa_lambda, "1"),
                        note=f"{value.plasma_cells_assessed} plasma cells assessed",
                    )
                )
        case FlowMRD():
            limits = ", ".join(
                f"{n} {q} %" for n, q in (("LOD", value.mrd.lod), ("LLOQ", value.mrd.lloq)) if q
            )
            out = [
                Value(
                    "mrd",
                    f"{result_kind_name(value.kind)} ({value.method})",
                    value.mrd if value.mrd.detected else SNOMED_NEGATIVE,
                    C.LOINC_FLOW_MRD,
                    note=limits or None,
                )
            ]
        case MolecularMRD():
            out = [
                Value(
                    "ratio",
                    f"{value.marker}/{value.control_gene} ({value.method})",
                    value.ratio if value.ratio.detected else SNOMED_NEGATIVE,
                    note=None if value.sensitivity is None else f"sensitivity {value.sensitivity}",
                )
            ]
        case NGSVariant():
            out = [
                Value(
                    "variant", f"{value.gene} {value.hgvs}", LOINC_PRESENT, C.LOINC_GENETIC_VARIANT
                )
            ]
        case Karyotype():
            out = [
                Value(
                    "karyotype",
                    f"{result_kind_name(value.kind)} (ISCN)",
                    value.iscn,
                    C.LOINC_KARYOTYPE_BM,
                )
            ]
        case Chimerism():
            # LOINC 102113-8 is deprecated (clinical-systems.md §5): not exported.
            out = [
                Value(
                    "donor_percent",
                    f"{result_kind_name(value.kind)} ({value.lineage}, {value.method})",
                    value.donor_percent,
                )
            ]
        case Extramedullary():
            out = [
                Value("present", f"{result_kind_name(value.kind)} ({value.site})", value.present)
            ]
        case Paraprotein():
            out = _quantities(
                (
                    ("serum_m_protein", "Serum M-protein", value.serum_m_protein, None),
                    ("urine_m_protein", "Urine M-protein", value.urine_m_protein, None),
                    ("involved_flc", "Involved free light chain", value.involved_flc, None),
                    ("uninvolved_flc", "Uninvolved free light chain", value.uninvolved_flc, None),
                )
            )
            for key, label_, v in (
                ("serum_ife", "Serum immunofixation", value.serum_ife),
                ("urine_ife", "Urine immunofixation", value.urine_ife),
                ("plasmacytoma", "Plasmacytoma", value.plasmacytoma),
            ):
                if v is not None:
                    out.append(Value(key, label_, str(v)))
        case IronStudies():
            out = _quantities(
                (
                    ("ferritin", "Ferritin", value.ferritin, None),
                    (
                        "transferrin_saturation",
                        "Transferrin saturation",
                        value.transferrin_saturation,
                        None,
                    ),
                    ("liver_iron", "Liver iron (MRI)", value.liver_iron, None),
                )
            )
        case ClinicalExam():
            out = _quantities(
                (
                    ("largest_node", "Largest lymph node diameter", value.largest_node, None),
                    ("spleen_length", "Spleen length (imaging)", value.spleen_length, None),
                )
            )
            for key, label_, flag in (
                (
                    "liver_spleen_normal",
                    "Liver and spleen of normal size",
                    value.liver_spleen_normal,
                ),
                (
                    "constitutional_symptoms",
                    "Constitutional symptoms",
                    value.constitutional_symptoms,
                ),
            ):
                if flag is not None:
                    out.append(Value(key, label_, flag))
        case Population():
            out = _population_values(value)
        case Measurement():
            notes = [str(value.method), value.region, value.stain, *value.flags]
            out = [
                Value(
                    "value",
                    value.index,
                    value.value,
                    note="; ".join(n for n in notes if n),
                )
            ]
        case InfectionTest():
            out = [
                Value(
                    "outcome",
                    f"Marrow {value.test}",
                    SNOMED_POSITIVE
                    if value.outcome is InfectionOutcome.POSITIVE
                    else SNOMED_NEGATIVE,
                    note=value.organism,
                )
            ]
    return out


# --------------------------------------------------------------------------- the builder


class _Builder:
    def __init__(
        self,
        patient: PatientRef,
        dates: DatePolicy,
        references: Literal["urn", "relative"],
        base_url: str,
        unverified_codes: Literal["include", "omit"],
    ) -> None:
        self.patient = patient
        self.dates = dates
        self.references = references
        self.base_url = base_url.rstrip("/")
        self.unverified = unverified_codes
        self.entries: dict[str, dict[str, Any]] = {}

    # references ------------------------------------------------------------
    def ref(self, kind: str, rid: str) -> str:
        if self.references == "relative":
            return f"{kind}/{rid}"
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{rid}')}"

    def full_url(self, kind: str, rid: str) -> str:
        if self.references == "relative":
            return f"{self.base_url}/{kind}/{rid}"
        return self.ref(kind, rid)

    def add(self, resource: dict[str, Any]) -> str:
        kind, rid = resource["resourceType"], resource["id"]
        key = f"{kind}/{rid}"
        self.entries.setdefault(key, {"fullUrl": self.full_url(kind, rid), "resource": resource})
        return self.ref(kind, rid)

    def concept(self, code: Code | None, local_key: str, text: str) -> dict[str, Any]:
        codings = []
        if code is not None and (code.verified or self.unverified == "include"):
            codings.append(coding(code))
        codings.append(_local(local_key, text))
        return {"coding": codings, "text": text}

    # resources ---------------------------------------------------------------
    def patient_resource(self) -> str:
        p = self.patient
        res: dict[str, Any] = {
            "resourceType": "Patient",
            "id": p.id,
            "identifier": [{"system": s, "value": v} for s, v in p.identifiers],
        }
        if p.name:
            res["name"] = [{"text": p.name}]
        if p.gender:
            res["gender"] = p.gender
        if p.birth:
            res["birthDate"] = (
                p.birth if len(p.birth) == 4 or not self.dates.year_only else p.birth[:4]
            )
            if self.dates.days and len(p.birth) == 10:
                res["birthDate"] = self.dates.date(dt.date.fromisoformat(p.birth))
        return self.add(res)

    def condition(self, index: int, d: Diagnosis) -> str:
        text = f"{d.disease}" + (f", {d.subtype}" if d.subtype else "") + f" ({d.classification})"
        return self.add(
            {
                "resourceType": "Condition",
                "id": f"dx-{self.patient.id}-{index}"[:64],
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "verificationStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "confirmed",
                        }
                    ]
                },
                "code": {
                    "coding": [_local(f"diagnosis.{_safe_id(str(d.disease))}", text)],
                    "text": text,
                },
                "subject": {"reference": self.ref("Patient", self.patient.id)},
                "onsetDateTime": self.dates.date(d.diagnosed_on),
            }
        )

    def _body_site(self, proc: StoredProcedure) -> dict[str, Any]:
        p = proc.procedure
        side = "" if str(p.side) == "unknown" else f" ({p.side})"
        text = f"{p.site}{side}"
        code = p.site.code
        codings = (
            [coding(code)]
            if code is not None and (code.verified or self.unverified == "include")
            else []
        )
        return {"coding": codings, "text": text} if codings else {"text": text}

    def procedure(self, proc: StoredProcedure) -> str:
        p = proc.procedure
        return self.add(
            {
                "resourceType": "Procedure",
                "id": f"proc-{proc.id}",
                "status": "completed",
                "code": {
                    "coding": [coding(C.SNOMED_BM_SAMPLING)],
                    "text": "Bone marrow aspiration and/or trephine biopsy",
                },
                "subject": {"reference": self.ref("Patient", self.patient.id)},
                "performedDateTime": self.dates.datetime(p.performed_at),
                "bodySite": [self._body_site(proc)],
                "reasonCode": [{"text": str(p.indication)}],
            }
        )

    def specimen(self, proc: StoredProcedure, sid: int) -> str:
        s = next(x for x in proc.specimens if x.id == sid)
        sp = s.specimen
        collection: dict[str, Any] = {"bodySite": self._body_site(proc)}
        collection["collectedDateTime"] = self.dates.datetime(sp.collected_at)
        return self.add(
            {
                "resourceType": "Specimen",
                "id": f"spec-{sid}",
                "accessionIdentifier": {"system": "urn:trephine:accession", "value": sp.accession},
                "status": "available",
                "type": {
                    "coding": [_local(f"specimen.{_safe_id(str(sp.type))}", str(sp.type))],
                    "text": str(sp.type),
                },
                "subject": {"reference": self.ref("Patient", self.patient.id)},
                "collection": collection,
            }
        )

    def observations(
        self, r: StoredResult, specimen_ref: str | None, procedure_ref: str | None
    ) -> list[str]:
        refs = []
        status = "amended" if str(r.state) == "amended" or r.version > 1 else "final"
        signed = r.amended_at or r.verified_at
        for v in values(r.value):
            key = f"{r.kind}.{v.key}"
            obs: dict[str, Any] = {
                "resourceType": "Observation",
                "id": _safe_id(f"res-{r.id}-{v.key}"),
                "status": status,
                "category": [
                    {
                        "coding": [
                            {
                                "system": OBSERVATION_CATEGORY,
                                "code": "laboratory",
                                "display": "Laboratory",
                            }
                        ]
                    }
                ],
                "code": self.concept(v.code, key, v.label),
                "subject": {"reference": self.ref("Patient", self.patient.id)},
                "effectiveDateTime": self.dates.date(r.collected_on),
                "identifier": [{"system": "urn:trephine:result", "value": f"{r.id}/{v.key}"}],
            }
            issued = self.dates.instant(signed)
            if issued is not None:
                obs["issued"] = issued
            if specimen_ref:
                obs["specimen"] = {"reference": specimen_ref}
            if procedure_ref:
                obs["partOf"] = [{"reference": procedure_ref}]
            signer = r.amended_by or r.verified_by
            if signer:
                obs["performer"] = [{"display": signer}]
            notes = [
                n for n in (v.note, r.amendment_reason and f"amended: {r.amendment_reason}") if n
            ]
            if notes:
                obs["note"] = [{"text": n} for n in notes]
            value = v.value
            if isinstance(value, Quantity):
                obs["valueQuantity"] = value_quantity(value)
            elif isinstance(value, Code):
                obs["valueCodeableConcept"] = {
                    "coding": [coding(value)],
                    "text": "not detected" if value is SNOMED_NEGATIVE else value.display,
                }
            elif isinstance(value, bool):
                obs["valueBoolean"] = value
            elif isinstance(value, int):
                obs["valueInteger"] = value
            else:
                obs["valueString"] = value
            if isinstance(r.value, NGSVariant):
                obs["meta"] = {"profile": [GENOMICS_VARIANT]}
                obs["component"] = self._variant_components(r.value)
            refs.append(self.add(obs))
        return refs

    def _variant_components(self, v: NGSVariant) -> list[dict[str, Any]]:
        comps: list[dict[str, Any]] = [
            {
                "code": {"coding": [coding(C.LOINC_DISCRETE_VARIANT)]},
                "valueCodeableConcept": {
                    "coding": [
                        {"system": CodeSystem.HGNC.value, "code": v.gene, "display": v.gene}
                    ],
                    "text": f"{v.gene} {v.hgvs}"
                    + (f" ({v.hgvs_protein})" if v.hgvs_protein else ""),
                },
            }
        ]
        vaf = v.vaf
        if vaf.value is not None:
            fraction = Quantity(vaf.value / 100, "1", vaf.qualifier)
            comps.append(
                {
                    "code": {"coding": [coding(C.LOINC_VAF)]},
                    "valueQuantity": value_quantity(fraction),
                }
            )
        if v.transcript:
            comps.append(
                {
                    "code": {"coding": [coding(C.LOINC_REFERENCE_SEQUENCE)]},
                    "valueCodeableConcept": {"text": v.transcript},
                }
            )
        if v.depth is not None:
            comps.append(
                {
                    "code": {"coding": [_local("ngs_variant.depth", "Read depth")]},
                    "valueQuantity": value_quantity(Quantity(Decimal(v.depth), "1")),
                }
            )
        return comps

    def diagnostic_report(
        self,
        report: MarrowReport,
        version: ReportVersion,
        specimen_refs: Sequence[str],
        result_refs: Sequence[str],
        procedure_ref: str,
    ) -> str:
        proc = report.procedure
        res: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "id": f"report-{proc.id}-v{version.version}",
            "identifier": [
                {"system": "urn:trephine:report", "value": f"{proc.id}/v{version.version}"}
            ],
            "status": version.status.fhir,
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                            "code": "PAT",
                            "display": "Pathology (gross & histopath, not surgical)",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [coding(C.LOINC_BM_BIOPSY_REPORT)],
                "text": "Integrated bone marrow report",
            },
            "subject": {"reference": self.ref("Patient", self.patient.id)},
            "effectiveDateTime": self.dates.datetime(proc.procedure.performed_at),
            "resultsInterpreter": [{"display": version.issued_by}],
            "specimen": [{"reference": s} for s in specimen_refs],
            "result": [{"reference": r} for r in result_refs],
            "extension": [],
        }
        del res["extension"]
        issued = self.dates.instant(version.issued_at)
        if issued is not None:
            res["issued"] = issued
        conclusion = "; ".join(
            x
            for x in (
                version.diagnosis
                and version.diagnosis
                + (
                    f" ({version.diagnosis_classification})"
                    if version.diagnosis_classification
                    else ""
                ),
                version.interpretation,
            )
            if x
        )
        if conclusion:
            res["conclusion"] = conclusion
        return self.add(res)

    def disease_status(self, s: StoredAssessment, condition_ref: str | None) -> str:
        a = s.assessment
        code = status_code(a.category)
        res: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"status-{s.id}",
            "meta": {"profile": [MCODE_CANCER_DISEASE_STATUS]},
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]}],
            "code": {"coding": [coding(C.LOINC_CANCER_DISEASE_STATUS)]},
            "subject": {"reference": self.ref("Patient", self.patient.id)},
            "effectiveDateTime": self.dates.date(a.assessed_on),
            "valueCodeableConcept": {
                "coding": [coding(code)],
                # The call in the words of the page and the report ("Progressive disease (to
                # confirm)"); the rule set's own code is the method's.
                "text": f"{category_label(a.category)}, {a.ruleset} {a.criteria_edition}",
            },
            "method": {"text": f"{a.ruleset} {a.criteria_edition}, rule {a.matched_rule or '-'}"},
            "note": [
                {
                    "text": "Computed by Trephine "
                    f"{a.software_version}: decision support, needs review by a haematologist."
                    + (f" Source: {a.citation}." if a.citation else "")
                }
            ],
        }
        if condition_ref is not None:
            res["focus"] = [{"reference": condition_ref}]
        return self.add(res)

    def bundle(self) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": list(self.entries.values()),
        }


def status_code(category: str) -> Code:
    """A stored response category → mCODE STU3 ConditionStatusTrendVS."""
    c = category.upper()
    if c.startswith(("CR", "SCR", "MRD_NEGATIVE")) or c in {"COMPLETE_RESPONSE", "NEGATIVE"}:
        return STATUS_FULL_REMISSION
    if c in {"PR", "VGPR", "PARTIAL", "PARTIAL_RESPONSE"}:
        return STATUS_PARTIAL_REMISSION
    if c in {"MLFS", "MR", "MINOR_RESPONSE", "HI", "RESPONSE"}:
        return STATUS_IMPROVED
    if c in {"SD", "STABLE", "STABLE_DISEASE"}:
        return STATUS_STABLE
    if c in {"PD", "PD_CONFIRMED", "PD_UNCONFIRMED", "REFRACTORY", "NO_RESPONSE"} or "RELAPSE" in c:
        return STATUS_WORSENED
    return STATUS_UNDETERMINED


# --------------------------------------------------------------------------- entry points


def _report_into(b: _Builder, report: MarrowReport, conditions: Sequence[str]) -> None:
    proc = report.procedure
    proc_ref = b.procedure(proc)
    by_accession = {s.specimen.accession: s.id for s in proc.specimens}
    spec_refs: dict[int, str] = {}
    result_refs: list[str] = []
    for item in report.results:
        r = item.result
        sid = by_accession.get(r.accession)
        if sid is not None and sid not in spec_refs:
            spec_refs[sid] = b.specimen(proc, sid)
        result_refs += b.observations(r, spec_refs.get(sid) if sid else None, proc_ref)
    for s in proc.specimens:
        if s.id not in spec_refs:
            spec_refs[s.id] = b.specimen(proc, s.id)
    if report.shown is not None:
        b.diagnostic_report(report, report.shown, list(spec_refs.values()), result_refs, proc_ref)
    del conditions


def _statuses(
    b: _Builder, assessments: Iterable[StoredAssessment], conditions: Mapping[str, str]
) -> None:
    from trephine.assess.story import supersedes_response
    from trephine.services.assessments import current_assessments

    for s in current_assessments(list(assessments)):
        if s.call_kind in STATUS_CALLS or supersedes_response(s.call_kind, s.assessment.category):
            b.disease_status(s, next(iter(conditions.values()), None))


def report_bundle(
    report: MarrowReport,
    *,
    patient: PatientRef,
    dates: DatePolicy = EXACT,
    references: Literal["urn", "relative"] = "urn",
    base_url: str = "",
    unverified_codes: Literal["include", "omit"] = "include",
) -> dict[str, Any]:
    """One marrow report as a Bundle (JSON-ready dict, validated)."""
    b = _Builder(patient, dates, references, base_url, unverified_codes)
    b.patient_resource()
    conds = {str(i): b.condition(i, d) for i, d in enumerate(report.diagnoses)}
    _report_into(b, report, list(conds.values()))
    day = report.procedure.procedure.performed_on
    _statuses(b, (s for s in report.assessments if s.assessment.assessed_on == day), conds)
    out = b.bundle()
    validate(out)
    return out


def patient_bundle(
    reports: PatientReports,
    *,
    patient: PatientRef,
    dates: DatePolicy = EXACT,
    references: Literal["urn", "relative"] = "urn",
    base_url: str = "",
    unverified_codes: Literal["include", "omit"] = "include",
) -> dict[str, Any]:
    """A patient's whole record: every procedure with its specimens, signed-out results and
    current report version, diagnoses and response calls."""
    b = _Builder(patient, dates, references, base_url, unverified_codes)
    b.patient_resource()
    conds = {str(i): b.condition(i, d) for i, d in enumerate(reports.record.diagnoses)}
    for report in reports.reports:
        _report_into(b, report, list(conds.values()))
    _statuses(b, reports.record.assessments, conds)
    out = b.bundle()
    validate(out)
    return out


def patient_resource(patient: PatientRef, dates: DatePolicy = EXACT) -> dict[str, Any]:
    """The Patient resource alone (``GET /fhir/r4/Patient/ID``)."""
    b = _Builder(patient, dates, "relative", "", "include")
    b.patient_resource()
    resource: dict[str, Any] = next(iter(b.entries.values()))["resource"]
    validate(b.bundle())
    return resource


def resources(bundle: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def validate(bundle: Mapping[str, Any]) -> Any:
    """Validate with ``fhir.resources`` (R4B models) and check the required status codes;
    returns the model. A failure is a ``ValueError`` naming the resource."""
    from fhir.resources.R4B.bundle import Bundle

    for entry in bundle.get("entry", ()):
        res = entry["resource"]
        kind = res["resourceType"]
        allowed = {"DiagnosticReport": REPORT_STATUSES, "Observation": OBSERVATION_STATUSES}
        if kind in allowed and res.get("status") not in allowed[kind]:
            raise ValueError(
                f"{kind}/{res.get('id')}: status {res.get('status')!r} is not one of "
                + ", ".join(sorted(allowed[kind]))
            )
        if kind == "Observation":
            q = res.get("valueQuantity")
            if q is not None and not (q.get("system") == UCUM_SYSTEM and q.get("code")):
                raise ValueError(f"Observation/{res.get('id')}: valueQuantity without a UCUM unit")
    return Bundle.model_validate(bundle)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # A JSON number, as fhir.resources writes it (FHIR decimals are JSON numbers).
        return (
            int(value)
            if value == value.to_integral_value() and "." not in str(value)
            else float(value)
        )
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(bundle: Mapping[str, Any]) -> str:
    """A bundle built (and so already validated) by this module as FHIR JSON. Validating it a
    second time here would double the cost of an export (benchmarks/bench_report.py)."""
    return json.dumps(bundle, default=_json_default, indent=2, ensure_ascii=False)


def loads(text: str) -> Any:
    """Read a bundle back with ``fhir.resources`` (the round trip)."""
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(json.loads(text))


ReferenceStyle = Literal["urn", "relative"]
Resolver = Callable[[str, str], str]
