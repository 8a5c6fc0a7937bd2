"""A result typed into the browser's entry form, read by the clinical importer's own rules.

The form sends one text per field of the kind (the import template's declaration,
:data:`~trephine.importers.template.RESULT_FIELDS`), and for measured fields its unit and, where
the form offers them, its LOD and LLOQ (``<field>__unit``, ``<field>__lod``, ``<field>__lloq``).
Each filled field becomes one row of a ``results`` table in the long format and the table goes
through :func:`trephine.importers.clinical.parse_tables` — so the form accepts and refuses
exactly what a ``results.csv`` row would (units converted, qualifiers ``<``/``not detected``,
ranges, enum values, the kind's own checks such as the differential's total), and every error
is located on the field that caused it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from trephine.domain.results import ClinicalExam, ResultKind, ResultValue
from trephine.errors import Severity
from trephine.importers.clinical import parse_tables
from trephine.importers.template import RESULT_FIELDS, SHEETS, FieldType
from trephine.io.tabular import Record, Table, control_character

SOURCE = "entry form"
#: Suffixes of the extra inputs of a measured field.
EXTRAS = ("unit", "lod", "lloq")


@dataclass(frozen=True)
class FormProblem:
    """One error or warning, on a field of the form (``None``: the result as a whole)."""

    field: str | None
    message: str
    warning: bool = False


def field_names(kind: ResultKind) -> list[str]:
    """Every input name the form of ``kind`` may send."""
    names = []
    for name, spec in RESULT_FIELDS[kind].items():
        names.append(name)
        if spec.kind is FieldType.QUANTITY:
            names.extend(f"{name}__{extra}" for extra in EXTRAS)
    return names


def parse_entry(
    kind: ResultKind, accession: str, form: Mapping[str, str]
) -> tuple[ResultValue | None, list[FormProblem]]:
    """The result the form describes, or None and every problem located on its field. Text
    with a control character is refused on its field, as an import cell is (PostgreSQL cannot
    store a NUL, and no edge accepts one)."""
    declared = RESULT_FIELDS[kind]
    for name, text in form.items():
        found = control_character(text or "")
        if found is not None:
            message = f"{name}: control characters are not allowed (found {found})"
            return None, [FormProblem(name.partition("__")[0], message)]
    records: list[Record] = []
    row_field: dict[int, str] = {}
    header = tuple(c.name for c in SHEETS["results"])
    for name, spec in declared.items():
        text = (form.get(name) or "").strip()
        extras = {
            extra: (form.get(f"{name}__{extra}") or "").strip() or None
            for extra in EXTRAS
            if spec.kind is FieldType.QUANTITY
        }
        if not text:
            continue
        row = len(records) + 2  # as a spreadsheet counts: row 1 is the header
        row_field[row] = name
        records.append(
            Record(
                SOURCE,
                row,
                {
                    "accession": accession,
                    "kind": str(kind),
                    "item": "1",
                    "field": name,
                    "value": text,
                    "unit": extras.get("unit"),
                    "lod": extras.get("lod"),
                    "lloq": extras.get("lloq"),
                    "status": "draft",
                },
            )
        )
    if not records:
        return None, [FormProblem(None, "nothing entered: fill in the result's fields")]
    if kind is ResultKind.KARYOTYPE:
        from trephine.domain.iscn import EXAMPLE, iscn_problem

        problem = iscn_problem(form.get("iscn") or "")
        if problem is not None:
            text = (form.get("iscn") or "").strip()
            message = f"iscn: {text!r} is not well-formed ISCN: {problem} (e.g. {EXAMPLE})"
            return None, [FormProblem("iscn", message)]
    parsed, issues = parse_tables([Table("results", SOURCE, header, tuple(records))])
    problems = [
        FormProblem(
            _named_field(issue.message, declared) or row_field.get(issue.location.row or -1),
            issue.message,
            warning=issue.severity is not Severity.ERROR,
        )
        for issue in issues
    ]
    if any(not p.warning for p in problems) or not parsed.results:
        if not any(not p.warning for p in problems):
            problems.append(FormProblem(None, "the entries do not make a complete result"))
        return None, problems
    value: ResultValue = parsed.results[0].item
    return value, problems


def _named_field(message: str, declared: Mapping[str, object]) -> str | None:
    """The form field a message is about when it names one (``count: 600 is not allowed …``).

    A check of the whole result (a population's count above its parent's, a total count
    without its total) is raised while the value is built from all its rows, so its issue sits
    on the result's first row; the field it names is where the lab must correct it."""
    head, sep, _ = message.partition(":")
    name = head.strip().replace(" ", "_")
    return name if sep and name in declared else None


def parse_clinical_exam(form: Mapping[str, str]) -> tuple[ClinicalExam | None, list[FormProblem]]:
    """A clinical examination from the form's (or the command line's) texts, by the import
    template's ``clinical_exam`` rules: the examination form of the web app and ``trephine exams
    record``/``amend`` accept and refuse what a ``results.csv`` row would. An examination has no
    specimen; the accession of the one-row table is a placeholder the parser only checks for
    form."""
    value, problems = parse_entry(ResultKind.CLINICAL_EXAM, "EXAM", form)
    assert value is None or isinstance(value, ClinicalExam)
    return value, problems
