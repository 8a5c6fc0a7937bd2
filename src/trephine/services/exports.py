"""Research exports of a cohort: tidy tables, de-identified as asked, written by a format of
``present/``, and audited (who, cohort, version, level, format, every file's SHA-256).

The tables never read ``patient_identity``: names, MRNs and birth dates are not exported at any
level. Results are exported one row per value (``field``, ``value`` or ``value_text``, ``unit``,
``qualifier``, ``lod``, ``lloq``) from the current version of each result (drafts included and
marked by ``state``; superseded and cancelled versions left out).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, select

from trephine.assess.current import current_rows
from trephine.present.deidentify import Deidentifier
from trephine.services import audit
from trephine.services.assessments import CALL_ROW_COLUMNS, CALL_ROW_KEYS, call_sample
from trephine.services.cohorts import Evaluation
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    AssessmentRow,
    CellularTherapyRow,
    DiagnosisRow,
    PatientRow,
    ProcedureRow,
    ResultRow,
    SpecimenRow,
    TherapyLineRow,
)
from trephine.workflow import CURRENT_STATES


@dataclass
class Tables:
    """Table name → rows (dicts with the same keys, in column order) and the dictionary."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: (table, column) → (type, unit, description)
    dictionary: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    label: str = ""
    cohort: str = ""
    version: int = 0


#: Descriptions of the columns (the data dictionary's text); types are inferred from the values.
DESCRIPTIONS: Mapping[str, str] = {
    "patient_id": "patient (the record's id, or a keyed-hash pseudonym when de-identified)",
    "specimen_id": "specimen (accession, or a keyed-hash pseudonym when de-identified)",
    "sex": "sex as recorded: female, male, other, unknown",
    "birth_year": "year of birth (identified and limited exports only)",
    "age_at_diagnosis": "age in whole years at the time-zero diagnosis (90+ under Safe Harbor)",
    "time_zero": "the cohort's time zero: the matching diagnosis (days count from it)",
    "disease": "disease (AML, MDS, MDS/MPN, myeloma, CLL, ALL, aplastic anemia, ...)",
    "classification": "classification edition (WHO 5th, ICC 2022, WHO 2016)",
    "subtype": "disease subtype as classified",
    "karyotype": "karyotype (ISCN) at diagnosis",
    "marker": "genetic marker tested at diagnosis",
    "status": "detected / not detected / ...",
    "detail": "detail of the genetic finding",
    "line": "therapy line number",
    "regimen": "regimen",
    "intent": "intent of therapy",
    "intensity": "intensity of therapy",
    "kind": "kind of record",
    "donor_type": "donor type (transplant)",
    "conditioning": "conditioning intensity",
    "target": "CAR-T target",
    "site": "biopsy site",
    "side": "side",
    "indication": "indication for the biopsy",
    "anesthesia": "anaesthesia",
    "duration_min": "procedure duration",
    "type": "specimen type",
    "first_pull": "first-pull aspirate",
    "spicules": "spicules present",
    "hemodilution": "haemodilution grade",
    "core_length_mm": "trephine core length",
    "fragmentation": "core fragmentation",
    "analyte": "what the result measures (gene + HGVS, MRD marker, lineage, ...)",
    "state": "result lifecycle state (draft, verified, amended)",
    "version": "result version",
    "field": "the value's field within the result (dotted path)",
    "value": "numeric value",
    "value_text": "non-numeric value",
    "unit": "UCUM-style unit of the value",
    "qualifier": "=, <, >, not detected",
    "lod": "limit of detection, in the value's unit",
    "lloq": "lower limit of quantification, in the value's unit",
    "call_kind": "which call of the timeline (response, relapse, mrd, landmark, ...)",
    "category": "the call's category (CR, CR_MRD-, HEMATOLOGIC_RELAPSE, NEGATIVE, ...)",
    "sample": "the sample an MRD call rests on: bone marrow or peripheral blood (empty for "
    "other calls, and for an MRD call stored before calls named their sample); a day may have "
    "one MRD call of each",
    "current": "true for a call the patient's pages show now: a row of the call's latest "
    "revision, not superseded by the same marrow's relapse or progression; false for history "
    "(an earlier revision of the call, or a superseded call). A call is a patient's date, call "
    "kind, rule set and edition",
    "revision": "the call's revision: 1, then one more each time the call was computed "
    "differently and stored again (the rows of older revisions are history)",
    "ruleset": "criteria rule set",
    "criteria_edition": "criteria edition",
    "software_version": "Trephine version that made the call",
    "matched_rule": "the rule that matched",
    "gene": "gene symbol (HGNC)",
    "hgvs": "HGVS c. notation",
    "hgvs_protein": "HGVS p. notation",
    "vaf": "variant allele fraction",
    "depth": "read depth",
}
UNITS = {"duration_min": "min", "core_length_mm": "mm", "age_at_diagnosis": "years"}
#: LOINC codes the dictionary names (only those verified in the FHIR/LOINC work of issue 10
#: should be added here; none is claimed yet).
LOINC: Mapping[str, str] = {}


def _columns(table: Any, *names: str) -> Any:
    """``SELECT`` of these columns only: plain rows, not ORM objects (an export reads hundreds
    of thousands of rows, and building an identity-mapped object for each was most of its
    time)."""
    return select(*(getattr(table, n) for n in names))


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), 900):
        yield ids[i : i + 900]


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaves of a stored result value; a quantity ({value, unit, qualifier, ...}) is one leaf."""
    if isinstance(value, dict):
        if "value" in value and "unit" in value:
            yield prefix, value
            return
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        if value:
            yield prefix, "; ".join(str(v) for v in value)
    elif value is not None:
        yield prefix, value


def _num(text: Any) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def build(uow: UnitOfWork, evaluation: Evaluation, deid: Deidentifier) -> Tables:
    """The tidy tables of the cohort's members at the requested level."""
    out = Tables(label=deid.label, cohort=evaluation.cohort.name, version=evaluation.cohort.version)
    members = set(evaluation.members)
    rows = uow.session.execute(
        select(PatientRow.id, PatientRow.external_id, PatientRow.sex, PatientRow.birth_year)
    ).all()
    pats = {r.id: r for r in rows if r.external_id in members}
    ids = sorted(pats)
    zero = {pid: evaluation.time_zero[pats[pid].external_id] for pid in ids}

    # One keyed hash per patient, not one per row (the export of 10,000 patients is timed in
    # benchmarks/bench_export.py).
    pseudonym = {pid: deid.patient(pats[pid].external_id) for pid in ids}
    pid_of = pseudonym.__getitem__

    def when(internal: int, value: Any) -> Any:
        return deid.date(pats[internal].external_id, value, zero[internal])

    # The columns a table drops at this level, decided once per set of columns (and per
    # result field name): the level's rules are not asked again for every row.
    dropped: dict[tuple[str, ...], tuple[str, ...]] = {}
    kept: dict[str, bool] = {}

    def keeps(name: str) -> bool:
        found = kept.get(name)
        if found is None:
            found = kept[name] = deid.keeps(name)
        return found

    def put(table: str, row: dict[str, Any]) -> None:
        columns = tuple(row)
        drop = dropped.get(columns)
        if drop is None:
            drop = dropped[columns] = tuple(c for c in columns if not deid.keeps(c))
        for c in drop:
            del row[c]
        out.tables.setdefault(table, []).append(row)

    for pid in ids:
        p = pats[pid]
        row: dict[str, Any] = {"patient_id": pid_of(pid), "sex": p.sex}
        if deid.identified or deid.level == "limited":
            row["birth_year"] = p.birth_year if deid.identified else None
        row["age_at_diagnosis"] = deid.age(p.birth_year, zero[pid])
        row[deid.date_column("time_zero_on")] = when(pid, zero[pid])
        put("patients", row)
    specimen_ids: dict[int, str | None] = {}
    for chunk in _chunks(ids):
        for d in uow.session.execute(
            _columns(
                DiagnosisRow,
                "patient_id",
                "disease",
                "classification",
                "subtype",
                "diagnosed_on",
                "karyotype",
                "genetics",
            )
            .where(DiagnosisRow.patient_id.in_(chunk))
            .order_by(DiagnosisRow.id)
        ):
            put(
                "diagnoses",
                {
                    "patient_id": pid_of(d.patient_id),
                    "disease": d.disease,
                    "classification": d.classification,
                    "subtype": d.subtype,
                    deid.date_column("diagnosed_on"): when(d.patient_id, d.diagnosed_on),
                    "karyotype": d.karyotype,
                },
            )
            for g in d.genetics or []:
                put(
                    "genetics",
                    {
                        "patient_id": pid_of(d.patient_id),
                        deid.date_column("diagnosed_on"): when(d.patient_id, d.diagnosed_on),
                        "marker": g.get("marker"),
                        "status": g.get("status"),
                        "detail": g.get("detail"),
                    },
                )
        for t in uow.session.execute(
            _columns(
                TherapyLineRow,
                "patient_id",
                "line",
                "regimen",
                "intent",
                "intensity",
                "start",
                "end",
            )
            .where(TherapyLineRow.patient_id.in_(chunk))
            .order_by(TherapyLineRow.patient_id, TherapyLineRow.line)
        ):
            put(
                "therapy",
                {
                    "patient_id": pid_of(t.patient_id),
                    "line": t.line,
                    "regimen": t.regimen,
                    "intent": t.intent,
                    "intensity": t.intensity,
                    deid.date_column("start_on"): when(t.patient_id, t.start),
                    deid.date_column("end_on"): when(t.patient_id, t.end),
                },
            )
        for c in uow.session.execute(
            _columns(
                CellularTherapyRow,
                "patient_id",
                "kind",
                "given_on",
                "donor_type",
                "conditioning",
                "product",
                "target",
            ).where(CellularTherapyRow.patient_id.in_(chunk))
        ):
            put(
                "cellular_therapy",
                {
                    "patient_id": pid_of(c.patient_id),
                    "kind": c.kind,
                    deid.date_column("given_on"): when(c.patient_id, c.given_on),
                    "donor_type": c.donor_type,
                    "conditioning": c.conditioning,
                    "product": c.product,
                    "target": c.target,
                },
            )
        for pr in uow.session.execute(
            _columns(
                ProcedureRow,
                "patient_id",
                "performed_at",
                "site",
                "side",
                "indication",
                "operator",
                "anesthesia",
                "needle",
                "duration_min",
            )
            .where(ProcedureRow.patient_id.in_(chunk))
            .order_by(ProcedureRow.id)
        ):
            put(
                "procedures",
                {
                    "patient_id": pid_of(pr.patient_id),
                    deid.date_column("performed_on"): when(pr.patient_id, pr.performed_at),
                    "site": pr.site,
                    "side": pr.side,
                    "indication": pr.indication,
                    "operator": pr.operator,
                    "anesthesia": pr.anesthesia,
                    "needle": pr.needle,
                    "duration_min": pr.duration_min,
                },
            )
        for s in uow.session.execute(
            _columns(
                SpecimenRow,
                "id",
                "patient_id",
                "accession",
                "type",
                "collected_at",
                "first_pull",
                "spicules",
                "hemodilution",
                "core_length_mm",
                "fragmentation",
            )
            .where(SpecimenRow.patient_id.in_(chunk))
            .order_by(SpecimenRow.id)
        ):
            specimen_ids[s.id] = deid.specimen(s.accession)
            put(
                "specimens",
                {
                    "specimen_id": specimen_ids[s.id],
                    "patient_id": pid_of(s.patient_id),
                    "type": s.type,
                    deid.date_column("collected_on"): when(s.patient_id, s.collected_at),
                    "first_pull": s.first_pull,
                    "spicules": s.spicules,
                    "hemodilution": s.hemodilution,
                    "core_length_mm": None if s.core_length_mm is None else float(s.core_length_mm),
                    "fragmentation": s.fragmentation,
                },
            )
        for r in uow.session.execute(
            _columns(
                ResultRow,
                "patient_id",
                "specimen_id",
                "kind",
                "analyte",
                "collected_on",
                "state",
                "version",
                "value",
            )
            .where(
                ResultRow.patient_id.in_(chunk),
                ResultRow.state.in_([str(s) for s in CURRENT_STATES]),
            )
            .order_by(ResultRow.id)
        ):
            base = {
                "patient_id": pid_of(r.patient_id),
                "specimen_id": specimen_ids.get(r.specimen_id),
                "kind": r.kind,
                "analyte": r.analyte,
                deid.date_column("collected_on"): when(r.patient_id, r.collected_on),
                "state": r.state,
                "version": r.version,
            }
            for path, leaf in _flatten(r.value):
                if not keeps(path.rsplit(".", 1)[-1]):
                    continue
                if isinstance(leaf, dict):
                    value, text = _num(leaf.get("value")), None
                    unit, qual = leaf.get("unit"), leaf.get("qualifier")
                    lod, lloq = _num(leaf.get("lod")), _num(leaf.get("lloq"))
                else:
                    number = (
                        leaf
                        if isinstance(leaf, int | float) and not isinstance(leaf, bool)
                        else None
                    )
                    value = None if number is None else float(number)
                    text = None if number is not None else str(leaf)
                    unit = qual = lod = lloq = None
                put(
                    "results",
                    {
                        **base,
                        "field": path,
                        "value": value,
                        "value_text": text,
                        "unit": unit,
                        "qualifier": qual,
                        "lod": lod,
                        "lloq": lloq,
                    },
                )
            if r.kind == "ngs_variant":
                v = r.value
                vaf = v.get("vaf") or {}
                put(
                    "variants",
                    {
                        "patient_id": pid_of(r.patient_id),
                        "specimen_id": specimen_ids.get(r.specimen_id),
                        deid.date_column("collected_on"): when(r.patient_id, r.collected_on),
                        "gene": v.get("gene"),
                        "hgvs": v.get("hgvs"),
                        "hgvs_protein": v.get("hgvs_protein"),
                        "vaf": _num(vaf.get("value")),
                        "unit": vaf.get("unit"),
                        "depth": v.get("depth"),
                        "state": r.state,
                    },
                )
        # Every stored call, history included, each marked ``current`` by the pages' one rule
        # (trephine.assess.current) and an MRD call with its sample — found by the database
        # inside the evidence list (services/assessments.call_sample), none decoded here.
        calls = uow.session.execute(
            select(
                *CALL_ROW_COLUMNS,
                AssessmentRow.software_version,
                AssessmentRow.matched_rule,
                case((AssessmentRow.call_kind == "mrd", call_sample(uow)), else_=None).label(
                    "sample"
                ),
            )
            .where(AssessmentRow.patient_id.in_(chunk))
            .order_by(AssessmentRow.patient_id, AssessmentRow.assessed_on, AssessmentRow.id)
        ).all()
        now = {a.id for a in current_rows(calls, **CALL_ROW_KEYS)}
        for a in calls:
            put(
                "assessments",
                {
                    "patient_id": pid_of(a.patient_id),
                    deid.date_column("assessed_on"): when(a.patient_id, a.assessed_on),
                    "call_kind": a.call_kind,
                    "sample": a.sample,
                    "category": a.category,
                    "current": a.id in now,
                    "revision": a.revision,
                    "ruleset": a.ruleset,
                    "criteria_edition": a.criteria_edition,
                    "software_version": a.software_version,
                    "matched_rule": a.matched_rule,
                },
            )
    _dictionary(out, deid)
    return out


def _dictionary(out: Tables, deid: Deidentifier) -> None:
    for table, rows in out.tables.items():
        for column in rows[0]:
            if column.endswith("_day"):
                kind, unit = "integer", "days from time zero"
                text = DESCRIPTIONS.get(column.removesuffix("_day"), "") or (
                    f"{column.removesuffix('_day').replace('_', ' ')}, as days from time zero"
                )
            elif column.endswith("_on"):
                kind, unit = "date", "" if deid.identified else "shifted per patient"
                text = DESCRIPTIONS.get(column.removesuffix("_on"), "") or (
                    column.removesuffix("_on").replace("_", " ") + " date"
                )
            else:
                # One pass over the column: the set of value types decides (no list built).
                kind = _type({type(v) for r in rows if (v := r[column]) is not None})
                unit = UNITS.get(column, "")
                text = DESCRIPTIONS.get(column, column.replace("_", " "))
            out.dictionary[(table, column)] = (kind, unit, text)


def _type(types: set[type]) -> str:
    """The dictionary type of a column whose values have these Python types."""
    if not types:
        return "text"
    if types == {bool}:
        return "boolean"
    if types == {int}:
        return "integer"
    if types <= {int, float}:
        return "number"
    return "text"


def record(
    uow: UnitOfWork,
    evaluation: Evaluation,
    deid: Deidentifier,
    fmt: str,
    files: Mapping[str, bytes],
) -> dict[str, str]:
    """Audit an export: who (the unit of work's actor), cohort and version, level, format, the
    members exported and every file's SHA-256. Returns file → hash."""
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    audit.append(
        uow,
        audit.Entry(
            "export",
            "cohort",
            f"{evaluation.cohort.name} v{evaluation.cohort.version}",
            {
                "level": str(deid.level),
                "format": fmt,
                "patients": list(evaluation.members),
                "files": hashes,
            },
        ),
    )
    return hashes


def fhir_files(uow: UnitOfWork, evaluation: Evaluation, deid: Deidentifier) -> dict[str, bytes]:
    """One FHIR R4 Bundle per member (``present/fhir.py``, validated there), de-identified as
    asked: Safe Harbor dates to the year and a pseudonymous Patient without birth year; limited
    data sets shifted by the patient's secret offset; ``none`` exact dates. Never a name or MRN."""
    from trephine.present import fhir
    from trephine.services import reports

    files: dict[str, bytes] = {}
    for ext in evaluation.members:
        found = reports.patient_reports(uow, ext, identified=False)
        if deid.identified:
            ref, dates = fhir.pseudonymised_patient(found.record.patient), fhir.EXACT
        else:
            ref = fhir.pseudonymised_patient(
                found.record.patient, deid.patient(ext), birth_year=False
            )
            dates = (
                fhir.YearOnly()
                if deid.level == "safe-harbor"
                else fhir.Shifted(deid.shift_days(ext))
            )
        bundle = fhir.patient_bundle(found, patient=ref, dates=dates)
        files[f"{deid.patient(ext)}.json"] = fhir.dumps(bundle).encode()
    return files


def redcap_files(uow: UnitOfWork, evaluation: Evaluation, deid: Deidentifier) -> dict[str, bytes]:
    """A REDCap longitudinal project of the cohort's study (``present/redcap.py``): the
    cohort must select on a study (``--study``), whose arms become REDCap arms and whose visits
    become events; each visit's biopsy (by window or by hand, ``services/studies.py``) gives the
    values measured on its specimens. De-identified like the tidy tables."""
    from trephine.errors import ValidationError, option
    from trephine.present import redcap
    from trephine.services import studies

    study = evaluation.cohort.definition.study
    if study is None:
        raise ValidationError(
            "format",
            "redcap",
            f"a cohort that selects on a study (its {option('study')} criterion): its visits "
            "are the REDCap events",
        )
    members = set(evaluation.members)
    by_pseudonym = {deid.patient(m): m for m in members}
    view = studies.view(uow, study, deid.patient)
    tables = build(uow, evaluation, deid)
    patients = {r["patient_id"]: r for r in tables.tables.get("patients", [])}
    diagnoses: dict[str, dict[str, Any]] = {}
    zero_col = deid.date_column("time_zero_on")
    dx_col = deid.date_column("diagnosed_on")
    for d in tables.tables.get("diagnoses", []):
        p = patients.get(d["patient_id"])
        if p is not None and d.get(dx_col) == p.get(zero_col):
            diagnoses[d["patient_id"]] = d
    measured_at = visit_values(uow, view, tables, deid)
    zero = evaluation.time_zero
    records = []
    for e in view.enrolments:
        ext = by_pseudonym.get(e.patient)
        if ext is None:
            continue  # enrolled, but not in this cohort
        p = patients.get(e.patient, {})
        d = diagnoses.get(e.patient, {})
        visits = []
        for s in e.visits:
            measured = measured_at.get((e.patient, s.visit), {})
            visits.append(
                redcap.Visit(
                    s.visit,
                    deid.date(ext, s.due_on, zero[ext]),
                    deid.date(ext, s.performed_on, zero[ext]),
                    s.how,
                    measured,
                )
            )
        records.append(
            redcap.Record(
                e.patient,
                e.arm,
                {
                    "sex": p.get("sex"),
                    "age_at_diagnosis": p.get("age_at_diagnosis"),
                    "disease": d.get("disease"),
                    "subtype": d.get("subtype"),
                    "time_zero": p.get(zero_col),
                    "enrolled": deid.date(ext, e.enrolled_on, zero[ext]),
                },
                e.research_consent,
                visits,
            )
        )
    return redcap.write_redcap(
        study=study,
        arms=[a for a, _, _ in view.arms],
        events=[redcap.Event(v.name, v.label, v.day, v.window) for v in view.schedule],
        records=records,
        dates_as_days=deid.level == "safe-harbor",
        label=deid.label,
    )


Measured = dict[tuple[str, str], tuple[Any, str | None]]


def visit_values(
    uow: UnitOfWork, view: Any, tables: Tables, deid: Deidentifier
) -> dict[tuple[str, str], Measured]:
    """(patient as shown, visit) → {(result kind, field): (value, unit)} measured on the
    specimens of the biopsy that counts for the visit (``studies.view``: by window or by
    hand). Sequencing variants are left out (many per specimen)."""
    # The specimens of each mapped procedure, as the tables name them.
    proc_ids = {s.procedure_id for e in view.enrolments for s in e.visits if s.procedure_id}
    specimens: dict[int, set[str | None]] = {}
    for chunk in _chunks(sorted(proc_ids)):
        for proc_id, accession in uow.session.execute(
            select(SpecimenRow.procedure_id, SpecimenRow.accession).where(
                SpecimenRow.procedure_id.in_(chunk)
            )
        ):
            if proc_id is not None:
                specimens.setdefault(proc_id, set()).add(deid.specimen(accession))
    values: dict[str | None, dict[tuple[str, str], tuple[Any, str | None]]] = {}
    for r in tables.tables.get("results", []):
        if r["kind"] == "ngs_variant":
            continue  # many per specimen: the variants table of the csv/parquet export
        value = r["value"] if r["value"] is not None else r["value_text"]
        if value is None:
            continue
        values.setdefault(r["specimen_id"], {})[(r["kind"], r["field"] or "value")] = (
            value,
            r["unit"],
        )
    out: dict[tuple[str, str], Measured] = {}
    for e in view.enrolments:
        for st in e.visits:
            if st.procedure_id is None:
                continue
            got: Measured = {}
            for spec in specimens.get(st.procedure_id, set()):
                got.update(values.get(spec, {}))
            out[(e.patient, st.visit)] = got
    return out
