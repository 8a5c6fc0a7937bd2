"""The import template, declared once: sheets, columns, result fields.

The importer reads these declarations, the blank templates in ``docs/templates/`` are written from
them (:func:`write_blank_templates`), and ``docs/import-template.md`` documents them; a test keeps
the three in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from types import MappingProxyType

from trephine.domain import quantity as q
from trephine.domain import results as r
from trephine.domain.patient import Classification, Disease, GeneticStatus, Sex
from trephine.domain.planning import ConsentGiver, Fasting, Risk, SignatureMethod
from trephine.domain.populations import CELL_TYPES, MEASUREMENT_INDICES, TOTALS
from trephine.domain.procedure import (
    Anesthesia,
    ComplicationKind,
    ComplicationSeverity,
    Indication,
    Side,
    Site,
)
from trephine.domain.specimen import Fragmentation, Hemodilution, SpecimenType
from trephine.domain.study import Anchor
from trephine.domain.therapy import DonorType, EventKind, Intensity, TherapyIntent
from trephine.io.tabular import normalise_header


def choices(enum: type[Enum]) -> str:
    return ", ".join(str(m.value) for m in enum)


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    description: str
    example: str = ""


DATE = "date as YYYY-MM-DD"
INSTANT = "date-time as YYYY-MM-DDTHH:MM, with offset (+01:00) or read as UTC"
BOOL = "yes/no"

SHEETS: Mapping[str, tuple[Column, ...]] = MappingProxyType(
    {
        "patients": (
            Column("patient_id", True, "opaque research id (letters, digits, . _ -)", "P001"),
            Column("sex", True, choices(Sex), "female"),
            Column("birth_year", False, "year of birth", "1961"),
            Column("name", False, "identifying: full name (stored apart)", ""),
            Column("mrn", False, "identifying: medical record number (stored apart)", ""),
            Column("birth_date", False, f"identifying: {DATE}", ""),
        ),
        "diagnoses": (
            Column("patient_id", True, "patient", "P001"),
            Column("disease", True, choices(Disease), "AML"),
            Column("diagnosed_on", True, DATE, "2024-01-10"),
            Column("classification", False, choices(Classification), "WHO 5th"),
            Column("subtype", False, "entity within the classification", "AML with NPM1 mutation"),
            Column(
                "genetics",
                False,
                f"MARKER=status; … with status one of {choices(GeneticStatus)}",
                "NPM1=detected; FLT3-ITD=not detected",
            ),
            Column("karyotype", False, "ISCN", "46,XX[20]"),
        ),
        "therapies": (
            Column("patient_id", True, "patient", "P001"),
            Column("line", True, "line number 1, 2, …", "1"),
            Column("regimen", True, "regimen name", "7+3"),
            Column("intent", True, choices(TherapyIntent), "induction"),
            Column("intensity", True, choices(Intensity), "intensive"),
            Column("start", True, DATE, "2024-01-15"),
            Column("end", False, f"{DATE}; empty while ongoing", "2024-02-10"),
            Column("cycle", False, "cycle number; one row per cycle", "1"),
            Column("cycle_start", False, DATE, "2024-01-15"),
            Column("cycle_end", False, DATE, "2024-01-21"),
        ),
        "cellular_therapies": (
            Column("patient_id", True, "patient", "P001"),
            Column("type", True, choices(EventKind), "transplant"),
            Column("date", True, DATE, "2024-06-01"),
            Column("donor_type", False, f"transplant: {choices(DonorType)}", "matched unrelated"),
            Column("conditioning", False, f"transplant: {choices(Intensity)}", "intensive"),
            Column("product", False, "CAR-T: product name", ""),
            Column("target", False, "CAR-T: antigen (default CD19)", ""),
        ),
        "procedures": (
            Column("patient_id", True, "patient", "P001"),
            Column("performed_at", True, INSTANT, "2024-02-12T09:30:00+00:00"),
            Column("site", True, choices(Site), "posterior iliac crest"),
            Column("side", False, choices(Side), "right"),
            Column("indication", False, choices(Indication), "response assessment"),
            Column("operator", False, "who performed it", "Dr Example"),
            Column("anesthesia", False, choices(Anesthesia), "local"),
            Column("needle", False, "needle type and gauge", "Jamshidi 11G"),
            Column("duration_min", False, "minutes", "15"),
            Column(
                "complication",
                False,
                f"{choices(ComplicationKind)}; repeat the row for more",
                "",
            ),
            Column("complication_severity", False, choices(ComplicationSeverity), ""),
            Column("complication_follow_up", False, "free text", ""),
            # The pre-procedure checklist (its sedation plan is `anesthesia`); any of these
            # stores a checklist with the §10 safety decision made on it.
            Column("anticoagulant", False, "drug name (known ones need no class)", ""),
            Column("anticoagulant_last_dose", False, INSTANT, ""),
            Column("antiplatelet", False, "drug name, e.g. aspirin", ""),
            Column("antiplatelet_last_dose", False, INSTANT, ""),
            Column("other_medications", False, "names separated by ;", ""),
            Column("platelets", False, "pre-procedure platelets, x10^9/L", ""),
            Column("inr", False, "pre-procedure INR", ""),
            Column("allergies", False, "separated by ;", ""),
            Column("escort", False, "who takes the patient home (required when sedated)", ""),
            Column("fasting", False, f"eating instruction given: {choices(Fasting)}", ""),
            Column("mpn", False, f"myeloproliferative neoplasm: {BOOL}", ""),
            Column("bleeding_disorder", False, BOOL, ""),
            # Consent: all five of consent, consent_taken_by, consent_at, leaflet_version and
            # risks_discussed, or an emergency_reason (a checklist needs one or the other).
            Column("consent", False, f"who consented: {choices(ConsentGiver)}", ""),
            Column("consent_giver_name", False, "when not the patient", ""),
            Column("consent_taken_by", False, "who took consent", ""),
            Column("consent_at", False, INSTANT, ""),
            Column("leaflet_version", False, "version of the leaflet given", ""),
            Column("risks_discussed", False, f"separated by ;: {choices(Risk)}", ""),
            Column("interpreter", False, "interpreter used; empty if none", ""),
            Column("signature", False, f"{choices(SignatureMethod)} (default written)", ""),
            Column("emergency_reason", False, "why it was done without consent", ""),
        ),
        "specimens": (
            Column("accession", True, "the lab's specimen number (unique)", "A24-0001"),
            Column("patient_id", True, "patient", "P001"),
            Column("type", True, choices(SpecimenType), "aspirate"),
            Column("collected_at", True, INSTANT, "2024-02-12T09:30:00+00:00"),
            Column("procedure_at", False, "performed_at of the procedure it came from", ""),
            Column("first_pull", False, f"aspirate: {BOOL}", "yes"),
            Column("spicules", False, f"aspirate: {BOOL}", "yes"),
            Column("hemodilution", False, f"aspirate: {choices(Hemodilution)}", "none"),
            Column("core_length_mm", False, "trephine core: length in mm", ""),
            Column("fragmentation", False, f"trephine core: {choices(Fragmentation)}", ""),
        ),
        "results": (
            Column("accession", True, "specimen the result is on", "A24-0001"),
            Column("kind", True, choices(r.ResultKind), "differential"),
            Column(
                "item",
                False,
                "tells several results of one kind on one specimen apart (e.g. variants)",
                "1",
            ),
            Column("field", True, "field of the kind (see the field table)", "blasts"),
            Column("value", True, "number, <number, >number, 'not detected', or text", "12"),
            Column("unit", False, "unit of a measured field (converted at import)", ""),
            Column("lod", False, "limit of detection, same unit", ""),
            Column("lloq", False, "lower limit of quantification, same unit", ""),
            Column("status", False, "draft or verified (default verified)", "verified"),
        ),
        # Studies (issue 12): a study, its arms, its visit schedule and its enrolments.
        "studies": (
            Column("study", True, "study name (letters, digits, . _ -)", "AML-FLT3-01"),
            Column("title", True, "the study's title", "FLT3 inhibitor with induction"),
            Column("description", False, "free text", ""),
        ),
        "study_arms": (
            Column("study", True, "study", "AML-FLT3-01"),
            Column("arm", True, "arm name (letters, digits, . _ -)", "midostaurin"),
            Column("description", False, "free text", ""),
        ),
        "study_visits": (
            Column("study", True, "study", "AML-FLT3-01"),
            Column("visit", True, "lower case, digits, _; names the REDCap event", "day_100"),
            Column("label", True, "the visit in words", "Day +100 after transplant"),
            Column("anchor", True, choices(Anchor), "transplant"),
            Column("day", True, "days after the anchor (negative: before)", "100"),
            Column("window", True, "± days a procedure may fall from the day", "14"),
        ),
        "enrolments": (
            Column("study", True, "study", "AML-FLT3-01"),
            Column("patient_id", True, "patient", "P001"),
            Column("arm", True, "arm of the study", "midostaurin"),
            Column("enrolled_on", True, DATE, "2024-01-20"),
            Column("research_consent", True, f"consented to research use: {BOOL}", "yes"),
            Column("consent_on", False, DATE, "2024-01-18"),
        ),
    }
)


class FieldType(StrEnum):
    QUANTITY = "quantity"
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"
    BOOLEAN = "boolean"
    CHOICE = "choice"


@dataclass(frozen=True)
class ResultField:
    #: Constructor argument; "counts.<class>" / "dysplasia.<lineage>" fill a mapping.
    target: str
    kind: FieldType
    measure: q.Measure | None = None
    enum: type[Enum] | None = None
    #: The unit column must be filled (VAF: percent vs fraction is a 100× trap).
    unit_required: bool = False
    #: A text field's controlled vocabulary (checked by the domain, listed in the docs).
    allowed: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.allowed:
            return ", ".join(self.allowed)
        if self.measure is not None:
            units = ", ".join(self.measure.allowed_units)
            return f"{self.measure.allowed_range}; units: {units}"
        if self.enum is not None:
            return choices(self.enum)
        return str(self.kind)


def _quantity(target: str, measure: q.Measure, *, unit_required: bool = False) -> ResultField:
    return ResultField(target, FieldType.QUANTITY, measure, unit_required=unit_required)


def _of(target: str, kind: FieldType, enum: type[Enum] | None = None) -> ResultField:
    return ResultField(target, kind, enum=enum)


RESULT_FIELDS: Mapping[r.ResultKind, Mapping[str, ResultField]] = MappingProxyType(
    {
        r.ResultKind.BLOOD_COUNT: {
            "wbc": _quantity("wbc", q.WBC),
            "anc": _quantity("anc", q.ANC),
            "alc": _quantity("alc", q.LYMPHOCYTES_ABS),
            "platelets": _quantity("platelets", q.PLATELETS),
            "hemoglobin": _quantity("hemoglobin", q.HEMOGLOBIN),
            "circulating_blasts": _quantity("circulating_blasts", r.CIRCULATING_BLASTS),
            "transfusion_dependence": _of(
                "transfusion_dependence", FieldType.CHOICE, r.TransfusionDependence
            ),
            "reticulocytes": _quantity("reticulocytes", q.RETICULOCYTES_ABS),
            "reticulocyte_method": _of(
                "reticulocyte_method", FieldType.CHOICE, r.ReticulocyteMethod
            ),
            "mcv": _quantity("mcv", r.MCV),
            "rdw": _quantity("rdw", r.RDW),
            "cd19_percent": _quantity("cd19_percent", r.CD19_PERCENT),
            "cd19_count": _quantity("cd19_count", r.CD19_COUNT),
            "platelet_transfusion": _of("platelet_transfusion", FieldType.BOOLEAN),
            "pnh_clone": _quantity("pnh_clone", r.PNH_CLONE),
        },
        r.ResultKind.DIFFERENTIAL: {
            "cells_counted": _of("cells_counted", FieldType.INTEGER),
            **{
                normalise_header(c.value): _of(f"counts.{c.value}", FieldType.INTEGER)
                for c in r.CellClass
            },
        },
        r.ResultKind.CORE: {
            "cellularity": _quantity("cellularity", r.CELLULARITY),
            "fibrosis": _of("fibrosis", FieldType.CHOICE, r.FibrosisGrade),
            "iron_grade": _of("iron_grade", FieldType.INTEGER),
            "iron_scale": _of("iron_scale", FieldType.CHOICE, r.IronScale),
            "ring_sideroblasts": _quantity("ring_sideroblasts", r.RING_SIDEROBLASTS),
            **{
                f"dysplasia_{lineage.value}": _of(f"dysplasia.{lineage.value}", FieldType.DECIMAL)
                for lineage in r.Lineage
            },
            "granulomas": _of("granulomas", FieldType.BOOLEAN),
            "infiltrate_type": _of("infiltrate_type", FieldType.TEXT),
            "infiltrate": _quantity("infiltrate", r.INFILTRATE),
            "residual_hematopoietic_cells": _quantity(
                "residual_hematopoietic_cells", r.RESIDUAL_HEMATOPOIETIC
            ),
            "lymphoid_nodules": _of("lymphoid_nodules", FieldType.BOOLEAN),
            "megaloblastic_change": _of("megaloblastic_change", FieldType.BOOLEAN),
            "plasma_cell_kappa_lambda": _of("plasma_cell_kappa_lambda", FieldType.DECIMAL),
            "plasma_cells_assessed": _of("plasma_cells_assessed", FieldType.INTEGER),
        },
        r.ResultKind.FLOW_MRD: {
            "mrd": _quantity("mrd", r.FLOW_MRD),
            "method": _of("method", FieldType.CHOICE, r.FlowMethod),
            "events_acquired": _of("events_acquired", FieldType.INTEGER),
            "abnormal_events": _of("abnormal_events", FieldType.INTEGER),
            "panel": _of("panel", FieldType.TEXT),
            "cd19_on_blasts": _of("cd19_on_blasts", FieldType.CHOICE, r.AntigenStatus),
        },
        r.ResultKind.MOLECULAR_MRD: {
            "marker": _of("marker", FieldType.TEXT),
            "ratio": _quantity("ratio", r.MOLECULAR_RATIO),
            "control_gene": _of("control_gene", FieldType.TEXT),
            "sensitivity": _of("sensitivity", FieldType.DECIMAL),
            "method": _of("method", FieldType.CHOICE, r.MolecularMethod),
        },
        r.ResultKind.NGS_VARIANT: {
            "gene": _of("gene", FieldType.TEXT),
            "hgvs": _of("hgvs", FieldType.TEXT),
            "vaf": _quantity("vaf", r.VAF, unit_required=True),
            "depth": _of("depth", FieldType.INTEGER),
            "hgvs_protein": _of("hgvs_protein", FieldType.TEXT),
            "transcript": _of("transcript", FieldType.TEXT),
        },
        r.ResultKind.KARYOTYPE: {
            "iscn": _of("iscn", FieldType.TEXT),
            "metaphases": _of("metaphases", FieldType.INTEGER),
            "abnormal_metaphases": _of("abnormal_metaphases", FieldType.INTEGER),
        },
        r.ResultKind.CHIMERISM: {
            "donor_percent": _quantity("donor_percent", r.DONOR_PERCENT),
            "lineage": _of("lineage", FieldType.CHOICE, r.ChimerismLineage),
            "method": _of("method", FieldType.TEXT),
        },
        r.ResultKind.EXTRAMEDULLARY: {
            "site": _of("site", FieldType.TEXT),
            "present": _of("present", FieldType.BOOLEAN),
            "method": _of("method", FieldType.TEXT),
            "size_mm": _of("size_mm", FieldType.DECIMAL),
        },
        r.ResultKind.PARAPROTEIN: {
            "isotype": _of("isotype", FieldType.TEXT),
            "serum_m_protein": _quantity("serum_m_protein", r.SERUM_M_PROTEIN),
            "urine_m_protein": _quantity("urine_m_protein", r.URINE_M_PROTEIN),
            "involved_light_chain": _of("involved_light_chain", FieldType.CHOICE, r.LightChain),
            # FLC in mg/L (as analysers report) are converted to mg/dL at ingestion.
            "involved_flc": _quantity("involved_flc", r.FREE_LIGHT_CHAIN),
            "uninvolved_flc": _quantity("uninvolved_flc", r.FREE_LIGHT_CHAIN),
            "serum_ife": _of("serum_ife", FieldType.CHOICE, r.Immunofixation),
            "urine_ife": _of("urine_ife", FieldType.CHOICE, r.Immunofixation),
            "plasmacytoma": _of("plasmacytoma", FieldType.CHOICE, r.PlasmacytomaStatus),
        },
        r.ResultKind.IRON_STUDIES: {
            "ferritin": _quantity("ferritin", r.FERRITIN),
            "transferrin_saturation": _quantity("transferrin_saturation", r.TRANSFERRIN_SATURATION),
            "liver_iron": _quantity("liver_iron", r.LIVER_IRON),
        },
        r.ResultKind.CLINICAL_EXAM: {
            "largest_node": _quantity("largest_node", r.LARGEST_NODE),
            "liver_spleen_normal": _of("liver_spleen_normal", FieldType.BOOLEAN),
            "spleen_length": _quantity("spleen_length", r.SPLEEN_LENGTH),
            "constitutional_symptoms": _of("constitutional_symptoms", FieldType.BOOLEAN),
            "method": _of("method", FieldType.TEXT),
        },
        r.ResultKind.INFECTION_TEST: {
            "test": _of("test", FieldType.CHOICE, r.InfectionTestType),
            "outcome": _of("outcome", FieldType.CHOICE, r.InfectionOutcome),
            "organism": _of("organism", FieldType.TEXT),
        },
        r.ResultKind.POPULATION: {
            "population": ResultField("population", FieldType.TEXT, allowed=tuple(CELL_TYPES)),
            "count": _of("count", FieldType.INTEGER),
            "parent": ResultField("parent", FieldType.TEXT, allowed=(*TOTALS, *CELL_TYPES)),
            "parent_count": _of("parent_count", FieldType.INTEGER),
            "total": ResultField("total", FieldType.TEXT, allowed=TOTALS),
            "total_count": _of("total_count", FieldType.INTEGER),
            "method": _of("method", FieldType.CHOICE, r.PopulationMethod),
            "panel": _of("panel", FieldType.TEXT),
            "source_label": _of("source_label", FieldType.TEXT),
            "source_file": _of("source_file", FieldType.TEXT),
            "source_sha256": _of("source_sha256", FieldType.TEXT),
            "software": _of("software", FieldType.TEXT),
        },
        r.ResultKind.MEASUREMENT: {
            **{
                normalise_header(name).replace("+", ""): _quantity(f"measured.{name}", m.measure)
                for name, m in MEASUREMENT_INDICES.items()
            },
            "method": _of("method", FieldType.CHOICE, r.MeasurementMethod),
            "region": _of("region", FieldType.TEXT),
            "stain": _of("stain", FieldType.TEXT),
            "area_mm2": _of("area_mm2", FieldType.DECIMAL),
            "objects_counted": _of("objects_counted", FieldType.INTEGER),
            "source_file": _of("source_file", FieldType.TEXT),
            "source_sha256": _of("source_sha256", FieldType.TEXT),
            "software": _of("software", FieldType.TEXT),
        },
    }
)


def write_blank_templates(folder: Path) -> list[Path]:
    """One header-only CSV per sheet plus ``trephine-import-template.xlsx`` with every sheet."""
    import csv

    from openpyxl import Workbook

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for sheet, columns in SHEETS.items():
        path = folder / f"{sheet}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerow([c.name for c in columns])
        written.append(path)
        workbook.create_sheet(sheet).append([c.name for c in columns])
    xlsx = folder / "trephine-import-template.xlsx"
    workbook.save(xlsx)
    written.append(xlsx)
    return written


def render_reference() -> str:
    """The column and field tables of docs/import-template.md (a test keeps the doc in step)."""
    lines: list[str] = []
    for sheet, columns in SHEETS.items():
        lines += [f"### `{sheet}`", "", "| column | required | meaning / allowed | example |"]
        lines.append("|---|---|---|---|")
        for col in columns:
            required = "yes" if col.required else ""
            lines.append(f"| `{col.name}` | {required} | {col.description} | {col.example} |")
        lines.append("")
    lines += ["### Result fields (`results.field`, per `results.kind`)", ""]
    for kind, fields in RESULT_FIELDS.items():
        lines += [f"#### `{kind}`", "", "| field | type | allowed |", "|---|---|---|"]
        for name, spec in fields.items():
            allowed = spec.describe()
            if spec.unit_required:
                allowed += " — **unit column required**"
            lines.append(f"| `{name}` | {spec.kind} | {allowed} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
