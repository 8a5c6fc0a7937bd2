"""REDCap export: a longitudinal project's data dictionary, arms, events, instrument–event
mappings and a records CSV, from a study's visit schedule. Pure: plain records in, files out.

Format rules followed (docs/research.md lists where each was checked):

- The data dictionary CSV has REDCap's 18 columns in their order (``DICTIONARY_COLUMNS``); the
  first field of the first form is the record id (``record_id``, type ``text``); the fields of one
  form are in contiguous rows.
- Variable names: lower-case letters, digits and ``_``, starting with a letter, unique in the
  project (REDCap's rule: its validation suite, vanderbilt-redcap/redcap_rsvc feature
  B.6.7.2200). At most 26 characters (``variable_name``) is Trephine's choice, not REDCap's
  rule: REDCap's Online Designer only *recommends* 26 ("because of the risk of them being
  truncated during analysis in a statistical software package") and allows longer names (the
  same feature's warning text). Field types only from ``FIELD_TYPES``; validations only
  ``date_ymd``, ``integer`` and ``number`` here.
- Events: one per visit and arm (``event_name`` = the visit's name, ``arm_num``, ``day_offset``,
  ``offset_min``, ``offset_max``, ``unique_event_name`` = ``<visit>_arm_<n>``); arms
  (``arm_num``, ``name``); instrument–event mappings (``arm_num``, ``unique_event_name``,
  ``form``).
- Records CSV: ``record_id``, ``redcap_event_name``, then the fields; one row per record and
  event; the patient form on the first event of the schedule, the visit form on every event;
  ``yesno`` as 1/0; empty cells for no value.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: REDCap's data dictionary columns, in order.
DICTIONARY_COLUMNS: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
FIELD_TYPES: frozenset[str] = frozenset(
    {
        "text",
        "notes",
        "dropdown",
        "radio",
        "checkbox",
        "yesno",
        "truefalse",
        "calc",
        "file",
        "slider",
        "descriptive",
        "sql",
    }
)
VARIABLE = re.compile(r"[a-z][a-z0-9_]{0,25}")
#: REDCap recommends (does not require) variable names of at most 26 characters so that
#: statistics packages do not truncate them (redcap_rsvc B.6.7.2200); the export keeps to it.
MAX_VARIABLE = 26
PATIENT_FORM = "patient"
VISIT_FORM = "visit"


@dataclass(frozen=True)
class Event:
    """A visit of the schedule as a REDCap event."""

    name: str
    label: str
    day: int
    window: int


@dataclass(frozen=True)
class Visit:
    event: str
    due: Any
    performed: Any
    how: str
    #: (result kind, field) → (value, unit): the values measured at the visit's biopsy.
    values: Mapping[tuple[str, str], tuple[Any, str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    record_id: str
    arm: str
    #: sex, age_at_diagnosis, disease, subtype, time_zero, enrolled (dates as the level shows)
    patient: Mapping[str, Any]
    research_consent: bool
    visits: Sequence[Visit]


@dataclass(frozen=True)
class Field:
    name: str
    form: str
    kind: str
    label: str
    validation: str = ""
    note: str = ""
    identifier: bool = False


def variable_name(text: str, taken: set[str]) -> str:
    """``text`` as a REDCap variable name not in ``taken`` (which it joins)."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "v"
    if not name[0].isalpha():
        name = "v_" + name
    name = name[:MAX_VARIABLE].rstrip("_")
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"_{n}"
        candidate = name[: MAX_VARIABLE - len(suffix)].rstrip("_") + suffix
    taken.add(candidate)
    return candidate


def _csv(rows: Sequence[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue().encode("utf-8")


def _value(v: Any) -> Any:
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def write_redcap(
    *,
    study: str,
    arms: Sequence[str],
    events: Sequence[Event],
    records: Sequence[Record],
    dates_as_days: bool,
    label: str,
) -> dict[str, bytes]:
    """The REDCap files of a study's cohort: dictionary, arms, events, mappings, records."""
    date_validation = "integer" if dates_as_days else "date_ymd"
    date_note = "days from the diagnosis (time zero)" if dates_as_days else "date"
    taken: set[str] = set()

    def f(
        name: str, form: str, kind: str, text: str, validation: str = "", note: str = ""
    ) -> Field:
        return Field(variable_name(name, taken), form, kind, text, validation, note)

    patient_fields = [
        f("record_id", PATIENT_FORM, "text", "Record ID (pseudonym when de-identified)"),
        f("arm", PATIENT_FORM, "text", "Study arm", note=", ".join(arms)),
        f("enrolled", PATIENT_FORM, "text", "Enrolled", date_validation, date_note),
        f("research_consent", PATIENT_FORM, "yesno", "Consented to research use of data"),
        f("sex", PATIENT_FORM, "text", "Sex", note="female, male, other, unknown"),
        f("age_at_diagnosis", PATIENT_FORM, "text", "Age at diagnosis (years; 90+ grouped)"),
        f("disease", PATIENT_FORM, "text", "Disease"),
        f("subtype", PATIENT_FORM, "text", "Subtype"),
        f("time_zero", PATIENT_FORM, "text", "Diagnosis (time zero)", date_validation, date_note),
    ]
    visit_fields = [
        f("visit_due", VISIT_FORM, "text", "Visit due", date_validation, date_note),
        f(
            "visit_biopsy",
            VISIT_FORM,
            "text",
            "Biopsy counted for the visit",
            date_validation,
            date_note,
        ),
        f(
            "visit_mapped",
            VISIT_FORM,
            "text",
            "How the biopsy was mapped",
            note="window, hand, none",
        ),
    ]
    # One variable per result (kind, field) seen at any visit; numbers validated as numbers.
    measures: dict[tuple[str, str], tuple[bool, set[str]]] = {}
    for r in records:
        for v in r.visits:
            for key, (value, unit) in v.values.items():
                numeric, units = measures.get(key, (True, set()))
                is_number = isinstance(value, int | float) and not isinstance(value, bool)
                measures[key] = (numeric and is_number, units | ({unit} if unit else set()))
    measure_var: dict[tuple[str, str], str] = {}
    for (kind, fld), (numeric, units) in sorted(measures.items()):
        unit = ", ".join(sorted(units))
        text = f"{kind} {fld}".replace("_", " ") + (f" ({unit})" if unit else "")
        made = f(f"{kind}_{fld}", VISIT_FORM, "text", text, "number" if numeric else "")
        visit_fields.append(made)
        measure_var[(kind, fld)] = made.name
    fields = patient_fields + visit_fields
    dictionary = [list(DICTIONARY_COLUMNS)]
    for fl in fields:
        row = [""] * len(DICTIONARY_COLUMNS)
        row[0], row[1], row[3], row[4] = fl.name, fl.form, fl.kind, fl.label
        row[6], row[7] = fl.note, fl.validation
        dictionary.append(row)

    arm_num = {a: i + 1 for i, a in enumerate(arms)}
    ordered = sorted(events, key=lambda e: e.day)
    event_rows: list[list[Any]] = [
        ["event_name", "arm_num", "day_offset", "offset_min", "offset_max", "unique_event_name"]
    ]
    mapping_rows: list[list[Any]] = [["arm_num", "unique_event_name", "form"]]
    for n in arm_num.values():
        for i, e in enumerate(ordered):
            unique = f"{e.name}_arm_{n}"
            event_rows.append([e.name, n, e.day, e.window, e.window, unique])
            if i == 0:
                mapping_rows.append([n, unique, PATIENT_FORM])
            mapping_rows.append([n, unique, VISIT_FORM])
    first = ordered[0].name if ordered else None

    names = [fl.name for fl in fields]
    records_rows: list[list[Any]] = [["record_id", "redcap_event_name", *names[1:]]]
    for r in records:
        n = arm_num[r.arm]
        by_event = {v.event: v for v in r.visits}
        for e in ordered:
            cells: dict[str, Any] = {}
            if e.name == first:
                p = r.patient
                cells.update(
                    {
                        "arm": r.arm,
                        "enrolled": p.get("enrolled"),
                        "research_consent": 1 if r.research_consent else 0,
                        "sex": p.get("sex"),
                        "age_at_diagnosis": p.get("age_at_diagnosis"),
                        "disease": p.get("disease"),
                        "subtype": p.get("subtype"),
                        "time_zero": p.get("time_zero"),
                    }
                )
            seen = by_event.get(e.name)
            if seen is not None:
                cells.update(
                    {
                        "visit_due": seen.due,
                        "visit_biopsy": seen.performed,
                        "visit_mapped": seen.how,
                    }
                )
                for key, (value, _) in seen.values.items():
                    cells[measure_var[key]] = _value(value)
            records_rows.append(
                [r.record_id, f"{e.name}_arm_{n}", *(cells.get(nm) for nm in names[1:])]
            )
    readme = (
        f"REDCap export of study {study}: a longitudinal project, one event per visit and arm.\n"
        f"{label}\n"
        "Upload in this order: redcap_arms.csv, redcap_events.csv (Define My Events), "
        "redcap_data_dictionary.csv, redcap_instrument_event_mappings.csv (Designate "
        "Instruments), then redcap_records.csv (Data Import Tool).\n"
    )
    return {
        "redcap_data_dictionary.csv": _csv(dictionary),
        "redcap_arms.csv": _csv([["arm_num", "name"], *([n, a] for a, n in arm_num.items())]),
        "redcap_events.csv": _csv(event_rows),
        "redcap_instrument_event_mappings.csv": _csv(mapping_rows),
        "redcap_records.csv": _csv(records_rows),
        "README.txt": readme.encode(),
    }
