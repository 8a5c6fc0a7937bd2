"""Import the clinical template (CSV files or one XLSX workbook) — whole or not at all.

Two phases:

1. **Parse and validate** every sheet into domain objects, collecting located
   :class:`~trephine.errors.Issue` s (file, row, column, bad value, what is allowed). Nothing
   touches the database; any error stops here.
2. **Write** everything in ONE unit of work through the services, which are idempotent on natural
   keys (re-importing a file adds nothing). Problems only the database can reveal (unknown
   patient, a value that contradicts a signed-out result) are collected too, and any of them rolls
   the whole transaction back.

Either phase ends in :class:`~trephine.errors.ImportRejected` listing every error.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from trephine.collector import collector_paused
from trephine.domain import quantity as q
from trephine.domain.patient import (
    Classification,
    Diagnosis,
    Disease,
    GeneticFinding,
    GeneticStatus,
    Patient,
    PatientIdentity,
    Sex,
)
from trephine.domain.planning import (
    KNOWN_DRUGS,
    Checklist,
    Consent,
    ConsentGiver,
    DrugClass,
    Fasting,
    Medication,
    Risk,
    SignatureMethod,
)
from trephine.domain.procedure import (
    Anesthesia,
    Complication,
    ComplicationKind,
    ComplicationSeverity,
    Indication,
    Procedure,
    Side,
    Site,
)
from trephine.domain.results import (
    RESULT_TYPES,
    AspirateDifferential,
    ResultKind,
    ResultValue,
)
from trephine.domain.specimen import Fragmentation, Hemodilution, Specimen, SpecimenType
from trephine.domain.therapy import (
    CarTInfusion,
    CellularTherapy,
    Cycle,
    DonorType,
    EventKind,
    Intensity,
    TherapyIntent,
    TherapyLine,
    Transplant,
)
from trephine.errors import (
    Conflict,
    ImportRejected,
    Issue,
    Location,
    NotFound,
    Severity,
    TrephineError,
    ValidationError,
)
from trephine.importers.template import RESULT_FIELDS, SHEETS, FieldType, ResultField
from trephine.io.tabular import Record, Table, read_tables

E = TypeVar("E", bound=Enum)

_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}


@functools.lru_cache(maxsize=4096)
def _key(text: str) -> str:
    """``text`` lower-cased, keeping letters, digits and ``+<>`` (how choices are matched).
    Cached: a file repeats the same few words (kinds, statuses, sites) on every row."""
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch in "+<>")


@functools.cache
def _members(enum: type[E]) -> dict[str, E]:
    """An enum's members by the key of their value and of their name; the first member to
    claim a key keeps it (as a scan of the members in order would find)."""
    found: dict[str, E] = {}
    for member in enum:
        found.setdefault(_key(str(member.value)), member)
        found.setdefault(_key(member.name), member)
    return found


#: ``(enum, cell text)`` → the member it names, or None: a file repeats a few words.
_CHOSEN: dict[tuple[type[Enum], str], Any] = {}


def _member(enum: type[E], text: str) -> E | None:
    """The member of ``enum`` that ``text`` names (matched by :func:`_key`), or None."""
    try:
        return _CHOSEN[enum, text]
    except KeyError:
        if len(_CHOSEN) > 4096:
            _CHOSEN.clear()
        member = _CHOSEN[enum, text] = _members(enum).get(_key(text))
        return member


class Cells:
    """Typed access to one record's cells; every failure becomes a located Issue."""

    def __init__(self, record: Record, issues: list[Issue]) -> None:
        self.record = record
        self.values = record.values
        self.issues = issues
        self.failed = False

    def error(self, column: str | None, message: str, code: str = "invalid-value") -> None:
        self.failed = True
        self.issues.append(Issue(Severity.ERROR, code, message, self.record.at(column)))

    def bad(self, column: str, value: object, allowed: str | Iterable[object]) -> None:
        self.error(column, str(ValidationError(column, value, allowed)))

    def text(self, column: str, *, required: bool = False, max_length: int = 200) -> str | None:
        value = self.values.get(column)
        if value is None:
            if required:
                self.error(column, f"{column}: required, but the cell is empty", "missing-value")
            return None
        if len(value) > max_length:
            self.bad(column, value, f"at most {max_length} characters")
            return None
        return value

    def choice(self, column: str, enum: type[E], *, required: bool = False) -> E | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        member = _member(enum, value)
        if member is None:
            self.bad(column, value, [m.value for m in enum])
        return member

    def integer(
        self, column: str, *, required: bool = False, low: int = 0, high: int = 10**9
    ) -> int | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number != number.to_integral_value():
            self.bad(column, value, f"a whole number {low}–{high}")
            return None
        if not low <= number <= high:
            self.bad(column, value, f"{low}–{high}")
            return None
        return int(number)

    def decimal(self, column: str, *, required: bool = False) -> Decimal | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            return q.parse_decimal(value, column)
        except ValidationError as exc:
            self.error(column, str(exc))
            return None

    def boolean(self, column: str, *, required: bool = False) -> bool | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.bad(column, value, "yes, no")
        return None

    def date(self, column: str, *, required: bool = False) -> dt.date | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.bad(column, value, "a date as YYYY-MM-DD")
            return None

    def instant(self, column: str, *, required: bool = False) -> dt.datetime | None:
        """ISO date-time; an offset is converted to UTC, a value without one is read as UTC."""
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            self.bad(column, value, "a date-time as YYYY-MM-DDTHH:MM[:SS][+HH:MM]")
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)

    def build(self, make: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a domain constructor; its ValidationError becomes an Issue on this row."""
        if self.failed:
            return None
        try:
            return make(*args, **kwargs)
        except ValidationError as exc:
            column = exc.field if exc.field in self.record.values else None
            self.error(column, str(exc))
            return None


@dataclass
class Located:
    """A parsed item and the row(s) it came from."""

    item: Any
    record: Record
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Parsed:
    patients: list[Located] = field(default_factory=list)
    diagnoses: list[Located] = field(default_factory=list)
    therapies: list[Located] = field(default_factory=list)
    cellular_therapies: list[Located] = field(default_factory=list)
    procedures: list[Located] = field(default_factory=list)
    specimens: list[Located] = field(default_factory=list)
    results: list[Located] = field(default_factory=list)
    studies: list[Located] = field(default_factory=list)
    study_arms: list[Located] = field(default_factory=list)
    study_visits: list[Located] = field(default_factory=list)
    enrolments: list[Located] = field(default_factory=list)

    def sheets(self) -> list[tuple[str, list[Located]]]:
        return [
            ("patients", self.patients),
            ("diagnoses", self.diagnoses),
            ("therapies", self.therapies),
            ("cellular_therapies", self.cellular_therapies),
            ("procedures", self.procedures),
            ("specimens", self.specimens),
            ("results", self.results),
            ("studies", self.studies),
            ("study_arms", self.study_arms),
            ("study_visits", self.study_visits),
            ("enrolments", self.enrolments),
        ]

    def __len__(self) -> int:
        return sum(len(items) for _, items in self.sheets())


@dataclass
class ImportReport:
    source: str
    sha256: str
    created: Counter[str] = field(default_factory=Counter)
    #: Recorded facts the file added to (a therapy line's new cycles or its end date): audited.
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def total_created(self) -> int:
        return sum(self.created.values())


# ----------------------------------------------------------------------- phase 1: parse


def _check_header(table: Table, sheet: str, issues: list[Issue]) -> bool:
    declared = SHEETS[sheet]
    known = {c.name for c in declared}
    ok = True
    for column in table.header:
        if column not in known:
            ok = False
            issues.append(
                Issue(
                    Severity.ERROR,
                    "unknown-column",
                    str(ValidationError("column", column, sorted(known))),
                    Location(table.source, 1, column),
                )
            )
    for spec in declared:
        if spec.required and spec.name not in table.header:
            ok = False
            issues.append(
                Issue(
                    Severity.ERROR,
                    "missing-column",
                    f"required column {spec.name!r} is missing",
                    Location(table.source, 1, spec.name),
                )
            )
    return ok


def _patients(table: Table, issues: list[Issue], out: Parsed) -> None:
    for record in table.records:
        c = Cells(record, issues)
        pid = c.text("patient_id", required=True)
        sex = c.choice("sex", Sex, required=True)
        year = c.integer("birth_year", low=1900, high=dt.date.today().year)
        name, mrn, born = c.text("name"), c.text("mrn", max_length=64), c.date("birth_date")
        if (name is None) != (mrn is None):
            c.error(
                "mrn" if mrn is None else "name", "name and mrn are given together or not at all"
            )
        if born is not None and year is not None and born.year != year:
            c.bad("birth_year", year, f"{born.year} (the year of birth_date)")
        patient = c.build(Patient, pid or "", sex or Sex.UNKNOWN, year)
        identity = None
        if name is not None and mrn is not None:
            identity = c.build(PatientIdentity, name, mrn, born)
        if not c.failed:
            out.patients.append(Located(patient, record, {"identity": identity}))


def _genetics(c: Cells, text: str | None) -> tuple[GeneticFinding, ...]:
    if text is None:
        return ()
    findings = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        marker, sep, status = part.partition("=")
        wanted = _key(status)
        match = next((s for s in GeneticStatus if _key(s.value) == wanted), None)
        if not sep or not marker.strip() or match is None:
            c.bad(
                "genetics",
                part,
                f"MARKER=status with status one of {[s.value for s in GeneticStatus]}",
            )
            continue
        findings.append(GeneticFinding(marker.strip(), match))
    return tuple(findings)


def _diagnoses(table: Table, issues: list[Issue], out: Parsed) -> None:
    for record in table.records:
        c = Cells(record, issues)
        pid = c.text("patient_id", required=True)
        disease = c.choice("disease", Disease, required=True)
        on = c.date("diagnosed_on", required=True)
        classification = c.choice("classification", Classification) or Classification.OTHER
        subtype = c.text("subtype")
        genetics = _genetics(c, c.text("genetics", max_length=2000))
        karyotype = c.text("karyotype", max_length=2000)
        dx = c.build(
            Diagnosis,
            disease or Disease.OTHER,
            on or dt.date.min,
            classification,
            subtype,
            genetics,
            karyotype,
        )
        if not c.failed:
            out.diagnoses.append(Located(dx, record, {"patient": pid}))


def _therapies(table: Table, issues: list[Issue], out: Parsed) -> None:
    # One row per cycle: rows of the same (patient, line) must agree on the line's columns.
    lines: dict[tuple[str, int], tuple[Record, dict[str, Any], list[Cycle]]] = {}
    failed: set[tuple[str, int]] = set()
    for record in table.records:
        c = Cells(record, issues)
        pid = c.text("patient_id", required=True)
        number = c.integer("line", required=True, low=1, high=100)
        attrs: dict[str, Any] = {
            "regimen": c.text("regimen", required=True),
            "intent": c.choice("intent", TherapyIntent, required=True),
            "intensity": c.choice("intensity", Intensity, required=True),
            "start": c.date("start", required=True),
            "end": c.date("end"),
        }
        cycle_no = c.integer("cycle", low=1, high=1000)
        cycle_start, cycle_end = c.date("cycle_start"), c.date("cycle_end")
        cycle = None
        if cycle_no is not None:
            if cycle_start is None:
                c.error("cycle_start", "cycle_start: required when cycle is given", "missing-value")
            else:
                cycle = c.build(Cycle, cycle_no, cycle_start, cycle_end)
        elif cycle_start is not None or cycle_end is not None:
            c.error(
                "cycle", "cycle: required when cycle_start/cycle_end are given", "missing-value"
            )
        if c.failed or pid is None or number is None:
            if pid is not None and number is not None:
                failed.add((pid, number))
            continue
        key = (pid, number)
        if key not in lines:
            lines[key] = (record, attrs, [])
        else:
            first, first_attrs, _ = lines[key]
            for name, value in attrs.items():
                if name == "planning" and value is None:
                    continue  # later rows of a procedure may leave the checklist blank
                if value != first_attrs[name]:
                    c.bad(name, value, f"{first_attrs[name]} (as in row {first.row} for this line)")
        if cycle is not None:
            lines[key][2].append(cycle)
    for (pid, number), (record, attrs, cycles) in lines.items():
        if (pid, number) in failed:
            continue
        c = Cells(record, issues)
        ordered_cycles = tuple(sorted(cycles, key=lambda x: x.number))
        line = c.build(TherapyLine, number, cycles=ordered_cycles, **attrs)
        if not c.failed:
            out.therapies.append(Located(line, record, {"patient": pid}))


def _cellular(table: Table, issues: list[Issue], out: Parsed) -> None:
    for record in table.records:
        c = Cells(record, issues)
        pid = c.text("patient_id", required=True)
        kind = c.choice("type", EventKind, required=True)
        on = c.date("date", required=True)
        event: CellularTherapy | None = None
        if kind is EventKind.TRANSPLANT:
            donor = c.choice("donor_type", DonorType, required=True)
            conditioning = c.choice("conditioning", Intensity) or Intensity.NOT_APPLICABLE
            event = c.build(
                Transplant, on or dt.date.min, donor or DonorType.AUTOLOGOUS, conditioning
            )
        elif kind is EventKind.CAR_T:
            product = c.text("product", required=True)
            target = c.text("target", max_length=32) or "CD19"
            event = c.build(CarTInfusion, on or dt.date.min, product or "", target)
        if not c.failed and event is not None:
            out.cellular_therapies.append(Located(event, record, {"patient": pid}))


def _procedures(table: Table, issues: list[Issue], out: Parsed) -> None:
    # Several complications of one procedure are several rows with the same patient + time.
    groups: dict[tuple[str, dt.datetime], tuple[Record, dict[str, Any], list[Complication]]] = {}
    for record in table.records:
        c = Cells(record, issues)
        pid = c.text("patient_id", required=True)
        at = c.instant("performed_at", required=True)
        attrs: dict[str, Any] = {
            "site": c.choice("site", Site, required=True),
            "side": c.choice("side", Side) or Side.UNKNOWN,
            "indication": c.choice("indication", Indication) or Indication.OTHER,
            "operator": c.text("operator"),
            "anesthesia": c.choice("anesthesia", Anesthesia) or Anesthesia.LOCAL,
            "needle": c.text("needle", max_length=100),
            "duration_min": c.integer("duration_min", low=1, high=600),
        }
        kind = c.choice("complication", ComplicationKind)
        severity = c.choice("complication_severity", ComplicationSeverity)
        follow_up = c.text("complication_follow_up", max_length=2000)
        complication = None
        if kind is not None:
            if severity is None:
                c.error(
                    "complication_severity",
                    "complication_severity: required when complication is given",
                    "missing-value",
                )
            else:
                complication = Complication(kind, severity, follow_up)
        elif severity is not None or follow_up is not None:
            c.error(
                "complication",
                "complication: required with its severity/follow-up",
                "missing-value",
            )
        planning = _planning(c, attrs["anesthesia"], at)
        if c.failed or pid is None or at is None:
            continue
        key = (pid, at)
        attrs["planning"] = planning
        if key not in groups:
            groups[key] = (record, attrs, [])
        else:
            first, first_attrs, _ = groups[key]
            for name, value in attrs.items():
                if name == "planning" and value is None:
                    continue  # later rows of a procedure may leave the checklist blank
                if value != first_attrs[name]:
                    c.bad(
                        name,
                        value,
                        f"{first_attrs[name]} (as in row {first.row} for this procedure)",
                    )
        if complication is not None:
            groups[key][2].append(complication)
    for (pid, at), (record, attrs, complications) in groups.items():
        c = Cells(record, issues)
        planning = attrs.pop("planning")
        procedure = c.build(Procedure, performed_at=at, complications=tuple(complications), **attrs)
        if not c.failed:
            out.procedures.append(
                Located(procedure, record, {"patient": pid, "planning": planning})
            )


_CHECKLIST_COLUMNS = (
    "anticoagulant",
    "anticoagulant_last_dose",
    "antiplatelet",
    "antiplatelet_last_dose",
    "other_medications",
    "platelets",
    "inr",
    "allergies",
    "escort",
    "fasting",
    "mpn",
    "bleeding_disorder",
)
_CONSENT_COLUMNS = (
    "consent",
    "consent_giver_name",
    "consent_taken_by",
    "consent_at",
    "leaflet_version",
    "risks_discussed",
    "interpreter",
    "signature",
)


def _planning(c: Cells, sedation: Anesthesia | None, at: dt.datetime | None) -> Planning | None:
    """The checklist, consent and emergency reason of a procedure row (None: none given).

    A row with a checklist or consent needs a consent record or an emergency reason, as
    marking a planned procedure done does.
    """
    given = [n for n in (*_CHECKLIST_COLUMNS, *_CONSENT_COLUMNS) if c.record.get(n) is not None]
    emergency = c.text("emergency_reason", max_length=1000)
    if not given and emergency is None:
        return None
    checklist = None
    if any(n in _CHECKLIST_COLUMNS for n in given):
        medications: list[Medication] = []
        for cls, column in (
            (DrugClass.ANTICOAGULANT, "anticoagulant"),
            (DrugClass.ANTIPLATELET, "antiplatelet"),
        ):
            name = c.text(column, max_length=100)
            last = c.instant(f"{column}_last_dose")
            known = None if name is None else KNOWN_DRUGS.get(name.lower())
            if name is not None and known not in (None, cls):
                c.bad(column, name, f"an {cls} ({name} is an {known})")
            elif name is not None:
                drug = c.build(Medication, name, cls, last)
                if drug is not None:
                    medications.append(drug)
            elif last is not None:
                c.error(column, f"{column}: required with {column}_last_dose", "missing-value")
        for name in (c.text("other_medications", max_length=1000) or "").split(";"):
            known = KNOWN_DRUGS.get(name.strip().lower())
            if known is not None:
                c.bad("other_medications", name.strip(), f"not an {known}: use the {known} column")
            elif name.strip():
                drug = c.build(Medication, name.strip(), DrugClass.OTHER)
                if drug is not None:
                    medications.append(drug)
        allergies = c.text("allergies", max_length=1000) or ""
        checklist = c.build(
            Checklist,
            medications=tuple(medications),
            platelets=c.decimal("platelets"),
            inr=c.decimal("inr"),
            allergies=tuple(a.strip() for a in allergies.split(";") if a.strip()),
            sedation=sedation or Anesthesia.LOCAL,
            escort=c.text("escort"),
            fasting=c.choice("fasting", Fasting),
            mpn=bool(c.boolean("mpn")),
            bleeding_disorder=bool(c.boolean("bleeding_disorder")),
        )
    consent = None
    if any(n in _CONSENT_COLUMNS for n in given):
        giver = c.choice("consent", ConsentGiver, required=True)
        taken_by = c.text("consent_taken_by", required=True)
        consented_at = c.instant("consent_at", required=True)
        leaflet = c.text("leaflet_version", required=True, max_length=32)
        risks = []
        for part in (c.text("risks_discussed", required=True, max_length=1000) or "").split(";"):
            if part.strip():
                member = _members(Risk).get(_key(part.strip()))
                if member is None:
                    c.bad("risks_discussed", part.strip(), [r.value for r in Risk])
                else:
                    risks.append(member)
        signature = c.choice("signature", SignatureMethod) or SignatureMethod.WRITTEN
        if not c.failed:
            consent = c.build(
                Consent,
                given_by=giver,
                taken_by=taken_by,
                consented_at=consented_at,
                leaflet_version=leaflet,
                risks_discussed=tuple(risks),
                signature=signature,
                giver_name=c.text("consent_giver_name"),
                interpreter=c.text("interpreter"),
            )
            if consent is not None and at is not None and consent.consented_at > at:
                c.bad("consent_at", c.record.get("consent_at"), "before performed_at")
    if consent is None and emergency is None and not c.failed:
        c.error(
            "consent",
            "consent: a procedure with a checklist needs a consent record (consent, "
            "consent_taken_by, consent_at, leaflet_version, risks_discussed) or an "
            "emergency_reason",
            "missing-value",
        )
    if c.failed:
        return None
    return Planning(checklist, consent, emergency)


@dataclass(frozen=True)
class Planning:
    """What a procedure row says about its checklist and consent."""

    checklist: Checklist | None
    consent: Consent | None
    emergency_reason: str | None


def _specimens(table: Table, issues: list[Issue], out: Parsed) -> None:
    for record in table.records:
        c = Cells(record, issues)
        accession = c.text("accession", required=True, max_length=64)
        pid = c.text("patient_id", required=True)
        kind = c.choice("type", SpecimenType, required=True)
        at = c.instant("collected_at", required=True)
        procedure_at = c.instant("procedure_at")
        length = c.decimal("core_length_mm")
        specimen = c.build(
            Specimen,
            accession or "",
            kind or SpecimenType.ASPIRATE,
            at or dt.datetime.min.replace(tzinfo=dt.UTC),
            first_pull=c.boolean("first_pull"),
            spicules=c.boolean("spicules"),
            hemodilution=c.choice("hemodilution", Hemodilution),
            core_length_mm=length,
            fragmentation=c.choice("fragmentation", Fragmentation),
        )
        if not c.failed:
            out.specimens.append(
                Located(specimen, record, {"patient": pid, "procedure_at": procedure_at})
            )


def result_field_value(c: Cells, spec: ResultField, column: str = "value") -> Any:
    """Parse one result field from ``c.record[column]`` the way the clinical importer does.

    ``spec`` is the import template's declaration of the field
    (:data:`trephine.importers.template.RESULT_FIELDS`): quantities read their ``unit``, ``lod``
    and ``lloq`` cells beside ``column`` and are converted to the canonical unit, with
    qualifiers (``<``, ``>``, ``not detected``) understood; choices accept the enum's values
    case-insensitively; integers, decimals, booleans and text are range-checked. On bad input
    it returns ``None`` and records a located :class:`~trephine.errors.Issue` on ``c`` (check
    ``c.failed``), so the same rules apply to a spreadsheet row and to ``results amend --set``.
    """
    record = c.record
    match spec.kind:
        case FieldType.QUANTITY:
            assert spec.measure is not None
            unit = record.get("unit")
            if c.text(column, required=True) is None:
                return None
            if spec.unit_required and unit is None:
                c.bad("unit", None, spec.measure.allowed_units)
                return None
            try:
                qualifier, number = q.parse_qualified(record.get(column) or "", spec.measure.name)
                lod = c.decimal("lod")
                lloq = c.decimal("lloq")
                # No location: a refusal is re-located on this row's cell just below.
                return spec.measure.quantity(number, unit, qualifier, lod=lod, lloq=lloq)
            except ValidationError as exc:
                is_unit = exc.field.endswith(" unit")
                bad_column = "unit" if is_unit else column
                c.error(
                    bad_column,
                    str(ValidationError(exc.field, exc.value, exc.allowed, reason=exc.reason)),
                )
                return None
        case FieldType.INTEGER:
            return c.integer(column, required=True, high=10**10)
        case FieldType.DECIMAL:
            return c.decimal(column, required=True)
        case FieldType.BOOLEAN:
            return c.boolean(column, required=True)
        case FieldType.CHOICE:
            assert spec.enum is not None
            return c.choice(column, spec.enum, required=True)
        case _:
            return c.text(column, required=True, max_length=2000)


def _results(table: Table, issues: list[Issue], out: Parsed) -> None:
    # Long format: one row per field; rows with the same accession + kind + item form a result.
    groups: dict[tuple[str, ResultKind, str], tuple[Record, dict[str, Any], bool]] = {}
    broken: set[tuple[str, ResultKind, str]] = set()
    specs: dict[tuple[ResultKind, str], ResultField | None] = {}  # (kind, field cell) → field
    for record in table.records:
        c = Cells(record, issues)
        # The cells every row has, read inline (one Cells call each is ~1 µs over 5 cells of
        # every row); anything empty, too long or not a known kind goes through Cells, which
        # records the same issue at the same point as before.
        cells = record.values
        accession = cells.get("accession")
        if accession is None or len(accession) > 64:
            accession = c.text("accession", required=True, max_length=64)
        kind_text = cells.get("kind")
        kind: ResultKind | None = None
        if kind_text is not None and len(kind_text) <= 200:
            kind = _CHOSEN.get((ResultKind, kind_text))
        if kind is None:
            kind = c.choice("kind", ResultKind, required=True)
        item = cells.get("item")
        if item is None or len(item) > 200:
            item = c.text("item") or "1"
        status = cells.get("status")
        if status is None or len(status) > 200:
            status = c.text("status") or "verified"
        state = status.lower()
        if state not in {"draft", "verified"}:
            c.bad("status", status, ["draft", "verified"])
        field_name = cells.get("field")
        if field_name is None or len(field_name) > 200:
            field_name = c.text("field", required=True)
        if accession is None or kind is None or field_name is None:
            continue
        key = (accession, kind, item)
        try:
            spec = specs[kind, field_name]
        except KeyError:
            spec = specs[kind, field_name] = RESULT_FIELDS[kind].get(
                field_name.strip().lower().replace(" ", "_")
            )
        if spec is None:
            c.bad("field", field_name, sorted(RESULT_FIELDS[kind]))
            broken.add(key)
            continue
        if spec.kind is not FieldType.QUANTITY:
            for extra in ("unit", "lod", "lloq"):
                if c.values.get(extra) is not None:
                    c.bad(extra, c.values.get(extra), f"empty: {field_name} has no unit")
        value = result_field_value(c, spec)
        if c.failed:
            broken.add(key)
            continue
        verify = state == "verified"
        group = groups.get(key)
        if group is None:
            group = groups[key] = (record, {}, verify)
        first, values, first_verify = group
        if verify != first_verify:
            c.bad("status", status, f"the status of row {first.row} for this result")
            broken.add(key)
        if spec.target in values:
            c.bad("field", field_name, f"each field once per result (again after row {first.row})")
            broken.add(key)
        values[spec.target] = value
    # Two items that describe the same result (same specimen, kind and analyte) would silently
    # replace each other on write; refuse them here, naming both rows.
    seen: dict[tuple[str, ResultKind, str], Record] = {}
    for key, (record, values, verify) in groups.items():
        if key in broken:
            continue
        c = Cells(record, issues)
        kwargs: dict[str, Any] = {}
        for target, value in values.items():
            head, _, sub = target.partition(".")
            if sub:
                kwargs.setdefault(head, {})[sub] = value
            else:
                kwargs[head] = value
        cls = RESULT_TYPES[key[1]]
        if cls is AspirateDifferential and "cells_counted" not in kwargs and "counts" in kwargs:
            kwargs["cells_counted"] = sum(kwargs["counts"].values())
        value = c.build(_construct, cls, kwargs)
        if c.failed:
            continue
        natural = (key[0], key[1], value.analyte)
        if natural in seen:
            c.bad(
                "item",
                key[2],
                f"a different result: row {seen[natural].row} already gives {key[1]} "
                f"{value.analyte or ''} for {key[0]}".replace("  ", " "),
            )
            continue
        seen[natural] = record
        if isinstance(value, AspirateDifferential) and not value.adequate:
            issues.append(
                Issue(
                    Severity.WARNING,
                    "inadequate-differential",
                    f"differential of {value.cells_counted} cells; ICSH 2008 asks for ≥ 500",
                    record.at("field"),
                )
            )
        out.results.append(Located(value, record, {"accession": key[0], "verify": verify}))


def _construct(cls: type[ResultValue], kwargs: dict[str, Any]) -> ResultValue:
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field of the kind was not given
        missing = str(exc).split(":")[-1].strip() if "missing" in str(exc) else str(exc)
        raise ValidationError(
            "field", sorted(kwargs), f"also {missing}", reason=f"incomplete {cls.kind} result"
        ) from None


def _studies(table: Table, issues: list[Issue], out: Parsed) -> None:
    from trephine.domain.study import check_name

    for record in table.records:
        c = Cells(record, issues)
        study = c.text("study", required=True, max_length=64)
        title = c.text("title", required=True)
        description = c.text("description", max_length=2000)
        c.build(check_name, "study", study or "")
        if not c.failed:
            out.studies.append(Located((study, title, description), record))


def _study_arms(table: Table, issues: list[Issue], out: Parsed) -> None:
    from trephine.domain.study import check_name

    for record in table.records:
        c = Cells(record, issues)
        study = c.text("study", required=True, max_length=64)
        arm = c.text("arm", required=True, max_length=64)
        description = c.text("description", max_length=2000)
        c.build(check_name, "arm", arm or "")
        if not c.failed:
            out.study_arms.append(Located((study, arm, description), record))


def _study_visits(table: Table, issues: list[Issue], out: Parsed) -> None:
    from trephine.domain.study import MAX_DAY, MAX_WINDOW, Anchor, Visit

    for record in table.records:
        c = Cells(record, issues)
        study = c.text("study", required=True, max_length=64)
        name = c.text("visit", required=True, max_length=32)
        label = c.text("label", required=True)
        anchor = c.choice("anchor", Anchor, required=True)
        day = c.integer("day", required=True, low=-MAX_DAY, high=MAX_DAY)
        window = c.integer("window", required=True, low=0, high=MAX_WINDOW)
        visit = c.build(
            Visit, name or "", label or "", anchor or Anchor.ENROLMENT, day or 0, window or 0
        )
        if not c.failed:
            out.study_visits.append(Located((study, visit), record))


def _enrolments(table: Table, issues: list[Issue], out: Parsed) -> None:
    from trephine.domain.study import Enrolment

    for record in table.records:
        c = Cells(record, issues)
        study = c.text("study", required=True, max_length=64)
        pid = c.text("patient_id", required=True)
        arm = c.text("arm", required=True, max_length=64)
        on = c.date("enrolled_on", required=True)
        consent = c.boolean("research_consent", required=True)
        consent_on = c.date("consent_on")
        e = c.build(Enrolment, pid or "", arm or "", on or dt.date.min, bool(consent), consent_on)
        if not c.failed:
            out.enrolments.append(Located((study, e), record))


PARSERS: dict[str, Callable[[Table, list[Issue], Parsed], None]] = {
    "patients": _patients,
    "diagnoses": _diagnoses,
    "therapies": _therapies,
    "cellular_therapies": _cellular,
    "procedures": _procedures,
    "specimens": _specimens,
    "results": _results,
    "studies": _studies,
    "study_arms": _study_arms,
    "study_visits": _study_visits,
    "enrolments": _enrolments,
}


def parse_tables(tables: Sequence[Table]) -> tuple[Parsed, list[Issue]]:
    """Phase 1: tables → domain objects with locations, and every issue found."""
    issues: list[Issue] = []
    parsed = Parsed()
    seen: dict[str, str] = {}
    for table in tables:
        sheet = table.name.strip().lower().replace(" ", "_").replace("-", "_")
        if sheet not in SHEETS:
            issues.append(
                Issue(
                    Severity.ERROR,
                    "unknown-sheet",
                    str(ValidationError("sheet/file name", table.name, list(SHEETS))),
                    Location(table.source),
                )
            )
            continue
        if sheet in seen:
            issues.append(
                Issue(
                    Severity.ERROR,
                    "duplicate-sheet",
                    f"{sheet} given twice (also {seen[sheet]})",
                    Location(table.source),
                )
            )
            continue
        seen[sheet] = table.source
        if _check_header(table, sheet, issues):
            PARSERS[sheet](table, issues, parsed)
    return parsed, issues


# ----------------------------------------------------------------------- phase 2: write


#: Facts handed to a service's batch writer at once (progress is reported per batch).
WRITE_BATCH = 2000


def write_parsed(
    uow: Any,
    parsed: Parsed,
    report: ImportReport,
    progress: Callable[[int], None] | None = None,
) -> list[Issue]:
    """Phase 2 inside the caller's unit of work; returns the errors (caller rolls back).

    Each sheet goes to its service's batch writer (natural keys looked up in bulk, new rows
    inserted with executemany, audit events appended in batches, one per recorded fact), which
    answers per row: created, added to, unchanged, or the error that refuses it, located here.
    """
    from trephine.services import patients, procedures, results, studies
    from trephine.services._batch import Answer, Outcome, patient_ids

    errors: list[Issue] = []

    def specimens(batch: Sequence[Located]) -> list[Answer]:
        wanted = [
            (x.extra["patient"], x.extra["procedure_at"])
            for x in batch
            if x.extra["procedure_at"] is not None
        ]
        at = procedures.procedure_ids_at(uow, wanted)
        known = patient_ids(uow, {x.extra["patient"] for x in batch})
        answers: list[Answer | None] = [None] * len(batch)
        items: list[tuple[str, Any, int | None]] = []
        positions: list[int] = []
        for position, x in enumerate(batch):
            pid, procedure_at = x.extra["patient"], x.extra["procedure_at"]
            proc_id = None
            if procedure_at is not None:
                proc_id = at.get((pid, procedure_at))
                if pid not in known:
                    answers[position] = NotFound("patient", pid)
                    continue
                if proc_id is None:
                    answers[position] = NotFound(
                        "procedure", f"{pid} at {procedure_at.isoformat()}"
                    )
                    continue
            items.append((pid, x.item, proc_id))
            positions.append(position)
        for position, answer in zip(positions, procedures.add_specimens(uow, items), strict=True):
            answers[position] = answer
        return [a for a in answers if a is not None]

    def procedures_with_planning(batch: Sequence[Located]) -> list[Answer]:
        from trephine.services import procedure_plans

        answers = procedures.record_procedures(uow, [(x.extra["patient"], x.item) for x in batch])
        positions, planned = [], []
        for position, (x, answer) in enumerate(zip(batch, answers, strict=True)):
            planning = x.extra["planning"]
            if planning is None or isinstance(answer, TrephineError):
                continue
            positions.append(position)
            planned.append(
                procedure_plans.ImportedPlanning(
                    answer[0],
                    x.item,
                    planning.checklist,
                    planning.consent,
                    planning.emergency_reason,
                )
            )
        plans = procedure_plans.record_imported_many(uow, planned)
        for position, plan in zip(positions, plans, strict=True):
            if isinstance(plan, TrephineError):
                answers[position] = plan
        return answers

    writers: dict[str, Callable[[Sequence[Located]], list[Answer]]] = {
        "patients": lambda b: patients.register_patients(
            uow, [(x.item, x.extra["identity"]) for x in b]
        ),
        "diagnoses": lambda b: patients.add_diagnoses(
            uow, [(x.extra["patient"], x.item) for x in b]
        ),
        "therapies": lambda b: patients.record_therapy_lines(
            uow, [(x.extra["patient"], x.item) for x in b]
        ),
        "cellular_therapies": lambda b: patients.add_cellular_therapies(
            uow, [(x.extra["patient"], x.item) for x in b]
        ),
        "procedures": procedures_with_planning,
        "specimens": specimens,
        "results": lambda b: results.record_results(
            uow, [(x.extra["accession"], x.item, x.extra["verify"]) for x in b]
        ),
        "studies": lambda b: studies.define_many(uow, [x.item for x in b]),
        "study_arms": lambda b: studies.add_arms(uow, [x.item for x in b]),
        "study_visits": lambda b: studies.set_visits(uow, [x.item for x in b]),
        "enrolments": lambda b: studies.enrol_many(uow, [x.item for x in b]),
    }
    for sheet, items in parsed.sheets():
        for start in range(0, len(items), WRITE_BATCH):
            batch = items[start : start + WRITE_BATCH]
            for located, answer in zip(batch, writers[sheet](batch), strict=True):
                if isinstance(answer, TrephineError):
                    errors.append(_write_issue(answer, located))
                    continue
                _, outcome = answer
                counter = {
                    Outcome.CREATED: report.created,
                    Outcome.UPDATED: report.updated,
                    Outcome.UNCHANGED: report.unchanged,
                }[outcome]
                counter[sheet] += 1
            if progress is not None:
                progress(len(batch))
    return errors


def _write_issue(exc: TrephineError, located: Located) -> Issue:
    """A refusal from the services as an error located on the row that caused it."""
    code = "invalid-value"
    if isinstance(exc, Conflict):
        code = "conflict"
    elif isinstance(exc, NotFound):
        code = "not-found"
    return Issue(Severity.ERROR, code, str(exc), located.record.at())


def import_path(
    database: Any,
    path: Path,
    actor: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a CSV file, a folder of CSV files, or an XLSX workbook — all or nothing.

    ``progress(done, total)`` is called while writing. Raises :class:`ImportRejected` (nothing
    written) or :class:`~trephine.errors.ParseError` for an unreadable file.
    """
    return import_paths(database, [path], actor, progress=progress)


def import_paths(
    database: Any,
    paths: Sequence[Path],
    actor: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Several files (e.g. ``patients.csv results.csv``) as ONE import: all or nothing."""
    with collector_paused():
        tables = [table for path in paths for table in read_tables(path)]
        source = ", ".join(str(p) for p in paths)
        try:
            return import_tables(
                database, tables, source, digest(paths), actor, progress, dry_run=dry_run
            )
        finally:
            # Let the rows go before the collector resumes: its first collection walks every
            # object made while it was paused and still alive (~0.07 s per 30,000 results).
            del tables


def import_tables(
    database: Any,
    tables: Sequence[Table],
    source: str,
    sha256: str,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Validate, then write in one transaction; ``dry_run`` does everything and rolls back.

    A dry run reports what *would* be created, including the problems only the database can
    reveal, and leaves the database untouched.
    """
    with collector_paused():
        return _import_tables(database, tables, source, sha256, actor, progress, dry_run=dry_run)


def _import_tables(
    database: Any,
    tables: Sequence[Table],
    source: str,
    sha256: str,
    actor: str,
    progress: Callable[[int, int], None] | None,
    *,
    dry_run: bool,
) -> ImportReport:
    from trephine.store.database import lost_write_race

    parsed, issues = parse_tables(tables)
    errors = [i for i in issues if i.severity is Severity.ERROR]
    if errors:
        raise ImportRejected(source, issues)
    total = len(parsed)

    class _Rollback(TrephineError):
        pass

    for attempt in range(1, WRITE_ATTEMPTS + 1):
        report = ImportReport(source, sha256, warnings=list(issues))
        done = [0]

        def tick(n: int, done: list[int] = done) -> None:
            done[0] += n
            if progress is not None:
                progress(done[0], total)

        write_errors: list[Issue] = []
        try:
            with database.unit_of_work(actor) as uow:
                uow.context = {"import": source, "sha256": sha256}
                write_errors = write_parsed(uow, parsed, report, tick)
                if write_errors or dry_run:
                    raise _Rollback()
        except _Rollback:
            if write_errors:
                raise ImportRejected(source, issues + write_errors) from None
        except Exception as exc:
            # Another import (or user) wrote some of the same rows at the same moment: this
            # transaction was rolled back whole. Running it again reads what they committed.
            if not lost_write_race(exc):
                raise
            if attempt == WRITE_ATTEMPTS:
                raise ConcurrentWrite(source, WRITE_ATTEMPTS) from None
            continue
        return report
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


#: How often an import that lost a race with a concurrent writer is run again.
WRITE_ATTEMPTS = 4


class ConcurrentWrite(TrephineError):
    """The import kept colliding with other writers of the same rows; nothing was written."""

    def __init__(self, source: str, attempts: int) -> None:
        super().__init__(
            f"{source}: rejected, nothing imported: other writers changed the same records "
            f"at the same time ({attempts} attempts); run the import again"
        )


def digest(paths: Sequence[Path]) -> str:
    """SHA-256 over the imported bytes, recorded in the audit trail to identify the file."""
    sha = hashlib.sha256()
    for path in paths:
        for file in sorted(path.glob("*.csv")) if path.is_dir() else [path]:
            sha.update(file.read_bytes())
    return sha.hexdigest()
