"""Research export formats: tidy CSV and Parquet tables with a data dictionary, and a cBioPortal
study folder. Pure: tables in (``services.exports.Tables``-shaped), file name → bytes out.

- ``csv``: one UTF-8 CSV per table, ``data_dictionary.csv`` (table, field, type, unit,
  description, loinc) and ``README.txt`` carrying the de-identification label.
- ``parquet``: the same tables as Parquet files (pyarrow, typed columns), with the same
  dictionary and label.
- ``cbioportal``: a study folder in cBioPortal's documented file formats (meta_study.txt,
  clinical patient and sample attribute files with their four header lines, a timeline, and a
  mutation file in MAF columns with its meta file).
"""

from __future__ import annotations

import csv
import io
import operator
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

FORMATS: tuple[str, ...] = ("csv", "parquet", "cbioportal")


class TableSet(Protocol):
    tables: dict[str, list[dict[str, Any]]]
    dictionary: dict[tuple[str, str], tuple[str, str, str]]
    label: str
    cohort: str
    version: int


def _csv(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    delimiter: str = ",",
    booleans: Sequence[str] | None = None,
) -> bytes:
    """Rows as CSV: empty cells for None (the csv module's own rule), ``true``/``false`` for
    booleans. ``booleans`` names the columns that may hold them (else every cell is looked at);
    the export of 10,000 patients spends most of its time here (benchmarks/bench_export.py)."""
    buf = io.StringIO()
    cols = list(columns if columns is not None else (rows[0] if rows else []))
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(cols)
    if not cols:
        return buf.getvalue().encode("utf-8")
    pick = operator.itemgetter(*cols)
    try:
        table: list[Any] = [pick(r) for r in rows]
        if len(cols) == 1:
            table = [(v,) for v in table]
    except KeyError:
        table = [tuple(r.get(c) for c in cols) for r in rows]
    flagged = (
        [i for i, c in enumerate(cols) if c in booleans]
        if booleans is not None
        else sorted({i for row in table for i, v in enumerate(row) if v is True or v is False})
    )
    if flagged:
        table = [list(row) for row in table]
        for row in table:
            for i in flagged:
                v = row[i]
                if v is True or v is False:
                    row[i] = "true" if v else "false"
    w.writerows(table)
    return buf.getvalue().encode("utf-8")


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return repr(v)
    return str(v)


def _dictionary(t: TableSet, loinc: Mapping[str, str]) -> bytes:
    rows = [
        {
            "table": table,
            "field": col,
            "type": kind,
            "unit": unit,
            "description": text,
            "loinc": loinc.get(col, ""),
        }
        for (table, col), (kind, unit, text) in t.dictionary.items()
    ]
    return _csv(rows, ["table", "field", "type", "unit", "description", "loinc"])


def _readme(t: TableSet, fmt: str) -> bytes:
    return (
        f"Trephine research export of cohort {t.cohort} (version {t.version}), format {fmt}.\n"
        f"{t.label}\n"
        "Tables: " + ", ".join(sorted(t.tables)) + ". Field definitions: data_dictionary.csv.\n"
    ).encode()


def write_csv(t: TableSet, loinc: Mapping[str, str] | None = None) -> dict[str, bytes]:
    files = {
        f"{name}.csv": _csv(
            rows,
            booleans=[c for (tb, c), d in t.dictionary.items() if tb == name and d[0] == "boolean"],
        )
        for name, rows in sorted(t.tables.items())
    }
    files["data_dictionary.csv"] = _dictionary(t, loinc or {})
    files["README.txt"] = _readme(t, "csv")
    return files


def arrow_table(t: TableSet, name: str) -> Any:
    """One table as a typed pyarrow Table (types from the data dictionary)."""
    import pyarrow as pa

    rows = t.tables[name]
    cols = list(rows[0])
    types = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
    arrays = {}
    for c in cols:
        kind = t.dictionary[(name, c)][0]
        values = [r[c] for r in rows]
        typ = types.get(kind, pa.string())
        if typ == pa.string():
            values = [None if v is None else str(v) for v in values]
        arrays[c] = pa.array(values, type=typ)
    return pa.table(arrays)


def write_parquet(t: TableSet, loinc: Mapping[str, str] | None = None) -> dict[str, bytes]:
    import pyarrow.parquet as pq

    files = {}
    for name in sorted(t.tables):
        buf = io.BytesIO()
        pq.write_table(arrow_table(t, name), buf)
        files[f"{name}.parquet"] = buf.getvalue()
    files["data_dictionary.csv"] = _dictionary(t, loinc or {})
    files["README.txt"] = _readme(t, "parquet")
    return files


# ----------------------------------------------------------------------------- cBioPortal

#: https://docs.cbioportal.org/file-formats/ : the clinical data files start with four header
#: lines (display names, descriptions, datatypes, priorities), each prefixed with '#', then the
#: attribute ids in upper case; datatypes are STRING, NUMBER or BOOLEAN.
CBIO_TYPES = {"integer": "NUMBER", "number": "NUMBER", "boolean": "BOOLEAN", "text": "STRING"}
MAF_COLUMNS = (
    "Hugo_Symbol",
    "Tumor_Sample_Barcode",
    "HGVSc",
    "HGVSp_Short",
    "t_alt_count",
    "t_ref_count",
    "Variant_Classification",
)


def _study_id(t: TableSet) -> str:
    return "trephine_" + "".join(ch if ch.isalnum() else "_" for ch in t.cohort.lower())


def _meta(pairs: Sequence[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\n" for k, v in pairs).encode()


def _clinical(
    attrs: Sequence[tuple[str, str, str, str]], rows: Sequence[Mapping[str, Any]]
) -> bytes:
    """``attrs``: (ATTRIBUTE_ID, display name, description, datatype)."""
    head = [
        "#" + "\t".join(a[1] for a in attrs),
        "#" + "\t".join(a[2] for a in attrs),
        "#" + "\t".join(a[3] for a in attrs),
        "#" + "\t".join("1" for _ in attrs),
        "\t".join(a[0] for a in attrs),
    ]
    body = [
        "\t".join("NA" if r.get(a[0]) is None else _text(r[a[0]]).replace("\t", " ") for a in attrs)
        for r in rows
    ]
    return ("\n".join(head + body) + "\n").encode()


def write_cbioportal(t: TableSet, loinc: Mapping[str, str] | None = None) -> dict[str, bytes]:
    """A cBioPortal study folder. Sample ids are specimen ids; days are from time zero."""
    sid = _study_id(t)
    patients = t.tables.get("patients", [])
    day_col = next((c for c in (patients[0] if patients else {}) if c.startswith("time_zero")), "")
    dx = {r["patient_id"]: r for r in t.tables.get("diagnoses", [])}
    prow = []
    for p in patients:
        d = dx.get(p["patient_id"], {})
        prow.append(
            {
                "PATIENT_ID": p["patient_id"],
                "SEX": p.get("sex"),
                "AGE": p.get("age_at_diagnosis"),
                "DISEASE": d.get("disease"),
                "SUBTYPE": d.get("subtype"),
            }
        )
    ages_text = any(isinstance(r["AGE"], str) for r in prow)
    pattrs = [
        ("PATIENT_ID", "Patient Identifier", "Patient identifier", "STRING"),
        ("SEX", "Sex", "Sex as recorded", "STRING"),
        (
            "AGE",
            "Age at diagnosis",
            "Age in years at diagnosis",
            "STRING" if ages_text else "NUMBER",
        ),
        ("DISEASE", "Disease", "Disease", "STRING"),
        ("SUBTYPE", "Subtype", "Disease subtype", "STRING"),
    ]
    specimens = t.tables.get("specimens", [])
    when = next((c for c in (specimens[0] if specimens else {}) if c.startswith("collected")), "")
    srow = [
        {
            "PATIENT_ID": s["patient_id"],
            "SAMPLE_ID": s["specimen_id"],
            "SAMPLE_TYPE": s["type"],
            "COLLECTED": s.get(when),
        }
        for s in specimens
    ]
    sattrs = [
        ("PATIENT_ID", "Patient Identifier", "Patient identifier", "STRING"),
        ("SAMPLE_ID", "Sample Identifier", "Specimen identifier", "STRING"),
        ("SAMPLE_TYPE", "Sample type", "Specimen type", "STRING"),
        ("COLLECTED", "Collected", "Collection (days from diagnosis, or date)", "STRING"),
    ]
    files: dict[str, bytes] = {
        "meta_study.txt": _meta(
            [
                ("type_of_cancer", "mnm"),
                ("cancer_study_identifier", sid),
                ("name", f"Trephine cohort {t.cohort} v{t.version}"),
                ("description", t.label),
                ("short_name", t.cohort),
            ]
        ),
        "meta_clinical_patient.txt": _meta(
            [
                ("cancer_study_identifier", sid),
                ("genetic_alteration_type", "CLINICAL"),
                ("datatype", "PATIENT_ATTRIBUTES"),
                ("data_filename", "data_clinical_patient.txt"),
            ]
        ),
        "data_clinical_patient.txt": _clinical(pattrs, prow),
        "meta_clinical_sample.txt": _meta(
            [
                ("cancer_study_identifier", sid),
                ("genetic_alteration_type", "CLINICAL"),
                ("datatype", "SAMPLE_ATTRIBUTES"),
                ("data_filename", "data_clinical_sample.txt"),
            ]
        ),
        "data_clinical_sample.txt": _clinical(sattrs, srow),
    }
    # Timeline: START_DATE in days relative to time zero (cBioPortal's convention), which needs
    # day columns; with real or shifted dates the days are computed against each patient's zero.
    events = []
    zero_of = {p["patient_id"]: p.get(day_col) for p in patients}
    for name, col_prefix, etype in (
        ("therapy", "start", "TREATMENT"),
        ("procedures", "performed", "SPECIMEN"),
        ("assessments", "assessed", "STATUS"),
    ):
        for r in t.tables.get(name, []):
            if r.get("current") is False:
                # A call's history (an earlier revision, a superseded call) is in the export's
                # assessments table; the timeline shows what the patient's pages show.
                continue
            col = next((c for c in r if c.startswith(col_prefix)), None)
            start = _days(r.get(col) if col else None, zero_of.get(r["patient_id"]))
            if start is None:
                continue
            end = ""
            if name == "therapy":
                ecol = next((c for c in r if c.startswith("end")), None)
                e = _days(r.get(ecol) if ecol else None, zero_of.get(r["patient_id"]))
                end = "" if e is None else str(e)
            label = r.get("regimen") or r.get("category") or r.get("site") or ""
            events.append([r["patient_id"], str(start), end, etype, str(label).replace("\t", " ")])
    if events:
        body = ["PATIENT_ID\tSTART_DATE\tSTOP_DATE\tEVENT_TYPE\tLABEL"] + [
            "\t".join(e) for e in events
        ]
        files["data_timeline.txt"] = ("\n".join(body) + "\n").encode()
        files["meta_timeline.txt"] = _meta(
            [
                ("cancer_study_identifier", sid),
                ("genetic_alteration_type", "CLINICAL"),
                ("datatype", "TIMELINE"),
                ("data_filename", "data_timeline.txt"),
            ]
        )
    variants = t.tables.get("variants", [])
    if variants:
        body = ["\t".join(MAF_COLUMNS)]
        for v in variants:
            protein = v.get("hgvs_protein") or ""
            body.append(
                "\t".join(
                    [
                        v.get("gene") or "",
                        v.get("specimen_id") or "",
                        v.get("hgvs") or "",
                        protein,
                        "",
                        "",
                        "Unknown",
                    ]
                )
            )
        files["data_mutations.txt"] = ("\n".join(body) + "\n").encode()
        files["meta_mutations.txt"] = _meta(
            [
                ("cancer_study_identifier", sid),
                ("genetic_alteration_type", "MUTATION_EXTENDED"),
                ("datatype", "MAF"),
                ("stable_id", "mutations"),
                ("show_profile_in_analysis_tab", "true"),
                ("profile_name", "Mutations"),
                ("profile_description", "Variants stored in Trephine"),
                ("data_filename", "data_mutations.txt"),
            ]
        )
    files["README.txt"] = _readme(t, "cbioportal")
    return files


def _days(value: Any, zero: Any) -> int | None:
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, int):
        return value  # already days from time zero (Safe Harbor)
    if zero is None or isinstance(zero, int):
        return None
    return (dt.date.fromisoformat(str(value)[:10]) - dt.date.fromisoformat(str(zero)[:10])).days


WRITERS = {"csv": write_csv, "parquet": write_parquet, "cbioportal": write_cbioportal}
