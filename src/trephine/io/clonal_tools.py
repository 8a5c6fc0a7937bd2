"""Variant tables in the formats of published clonal-evolution tools: ClonEvol, TimeScape and
PyClone-VI.

Researchers already hold their serial-marrow data in these layouts, so ``trephine clonal track``
reads them as they are. None of them says which patient a sample belongs to or on which day it
was taken, so each needs the sample sheet (``sample_id, patient_id, day``) of
:func:`trephine.io.variants_tsv.read_samples_tsv`:

* **ClonEvol** (``variants`` data frame written as TSV): one row per variant, a ``<sample>.vaf``
  column per sample holding the VAF **in percent** — ClonEvol's documented unit, so the column's
  unit is known and converted, never guessed — with optional ``<sample>.ref.count``,
  ``<sample>.var.count`` and ``<sample>.depth``; ``cluster`` (kept as the clone label), ``gene``
  and ``variant_index`` (the mutation id; the row number when absent).
* **TimeScape** (``mutations`` CSV): ``chrom, coord, clone_id, timepoint, VAF`` with ``VAF`` a
  fraction and ``timepoint`` the sample name; no read counts (``--allow-missing-depth``); a VAF
  of ``NA`` means the mutation was not measured at that timepoint, and gives no observation.
* **PyClone-VI** (input TSV): ``mutation_id, sample_id, ref_counts, alt_counts, major_cn,
  minor_cn`` [+ ``tumour_content``, the specimen's purity when the sheet gives none]; VAF =
  alt / (ref + alt).

Every file imports whole or not at all: problems are collected as located :class:`Issue` s and
raised together as :class:`ImportRejected`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from trephine.analysis.clonal.records import SampleInfo, VariantObservation
from trephine.errors import ImportRejected, Issue, Location, Severity, option

#: Formats :func:`sniff` recognises, as named in messages and docs.
FORMATS = ("ClonEvol", "TimeScape", "PyClone-VI")
#: Largest read depth or copy number accepted: a sanity bound (far above any sequencing run or
#: locus), so a corrupt value cannot size an allocation.
MAX_DEPTH = 10**9
MAX_COPY_NUMBER = 100
_NA = {"", "na", "nan", "null"}


class _Issues:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[Issue] = []

    def error(self, message: str, row: int | None, column: str | None = None) -> None:
        loc = Location(source=self.source, row=row, column=column)
        self.issues.append(Issue(Severity.ERROR, "invalid", message, loc))

    def done(self) -> None:
        if self.issues:
            self.reject()

    def reject(self) -> NoReturn:
        raise ImportRejected(self.source, self.issues)


def sniff(header: list[str]) -> str | None:
    """The tool whose layout ``header`` (a file's column names) is, or None."""
    cols = {c.strip().lower() for c in header}
    if {"mutation_id", "sample_id", "ref_counts", "alt_counts"} <= cols:
        return "PyClone-VI"
    if {"chrom", "coord", "clone_id", "timepoint", "vaf"} <= cols:
        return "TimeScape"
    if "cluster" in cols and any(c.endswith(".vaf") for c in cols):
        return "ClonEvol"
    return None


def read_header(path: Path) -> list[str]:
    """The first line's column names (tab- or comma-separated), for :func:`sniff`."""
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    return next(csv.reader([first], delimiter="\t" if "\t" in first else ","), [])


def read_clonal_tool_file(
    path: str | Path,
    tool: str,
    sheet: Mapping[str, SampleInfo],
    *,
    allow_missing_depth: bool = False,
) -> list[VariantObservation]:
    """Observations from a ClonEvol, TimeScape or PyClone-VI file (``tool`` from :func:`sniff`)."""
    p = Path(path)
    issues = _Issues(str(p))
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.error(f"not UTF-8 text (byte {exc.start})", None)
        issues.reject()
    lines = text.splitlines()
    delimiter = "," if tool == "TimeScape" else "\t"
    rows = list(csv.DictReader(lines, delimiter=delimiter))
    reader = {"ClonEvol": _clonevol, "TimeScape": _timescape, "PyClone-VI": _pyclone}[tool]
    out = reader(rows, sheet, issues, allow_missing_depth)
    if not out and not issues.issues:
        issues.error("no variant rows", None)
    issues.done()
    return out


# ------------------------------------------------------------------------------ fields


def _number(
    text: str | None, column: str, row: int, issues: _Issues, *, low: float, high: float
) -> float | None:
    value = (text or "").strip()
    try:
        number = float(value)
    except ValueError:
        issues.error(f"{column} must be a number, got {value!r}", row, column)
        return None
    if not math.isfinite(number) or not low <= number <= high:
        issues.error(f"{column} must be between {low:g} and {high:g}, got {value!r}", row, column)
        return None
    return number


def _count(text: str | None, column: str, row: int, issues: _Issues, high: int) -> int | None:
    number = _number(text, column, row, issues, low=0, high=high)
    if number is None:
        return None
    if number != int(number):
        issues.error(f"{column} must be a whole number, got {text!r}", row, column)
        return None
    return int(number)


def _sample(
    name: str, sheet: Mapping[str, SampleInfo], row: int, column: str, issues: _Issues
) -> SampleInfo | None:
    info = sheet.get(name)
    if info is None:
        known = ", ".join(sorted(sheet)) or "(the sheet is empty)"
        issues.error(f"sample {name!r} is not in the sample sheet (it has {known})", row, column)
    return info


def _missing_depth(row: int, column: str, issues: _Issues) -> None:
    issues.error(
        f"no read counts (alt and depth); set {option('allow_missing_depth')} to track VAF only",
        row,
        column,
    )


# ----------------------------------------------------------------------------- readers


def _clonevol(
    rows: list[dict[str, str]],
    sheet: Mapping[str, SampleInfo],
    issues: _Issues,
    allow_missing_depth: bool,
) -> list[VariantObservation]:
    header = list(rows[0]) if rows else []
    samples = [c[: -len(".vaf")] for c in header if c.endswith(".vaf")]
    infos = {s: _sample(s, sheet, 1, f"{s}.vaf", issues) for s in samples}
    out: list[VariantObservation] = []
    for n, rec in enumerate(rows, start=2):
        mutation = (rec.get("variant_index") or "").strip() or f"row{n}"
        gene = (rec.get("gene") or "").strip() or "-"
        clone = (rec.get("cluster") or "").strip() or None
        for s in samples:
            info = infos[s]
            vaf_text = rec.get(f"{s}.vaf")
            if info is None or (vaf_text or "").strip().lower() in _NA:
                continue
            pct = _number(vaf_text, f"{s}.vaf", n, issues, low=0, high=100)
            alt_text, depth_text = rec.get(f"{s}.var.count"), rec.get(f"{s}.depth")
            alt = depth = None
            if (alt_text or "").strip() and (depth_text or "").strip():
                alt = _count(alt_text, f"{s}.var.count", n, issues, MAX_DEPTH)
                depth = _count(depth_text, f"{s}.depth", n, issues, MAX_DEPTH)
                if alt is not None and depth is not None and alt > depth:
                    issues.error(f"{s}.var.count {alt} exceeds {s}.depth {depth}", n, f"{s}.depth")
            elif not allow_missing_depth:
                _missing_depth(n, f"{s}.depth", issues)
            if pct is None:
                continue
            out.append(
                VariantObservation(
                    patient_id=info.patient_id,
                    sample_id=s,
                    day=info.day,
                    gene=gene,
                    mutation_id=mutation,
                    alt_count=alt,
                    depth=depth,
                    vaf=pct / 100.0,  # ClonEvol's VAF columns are percentages by definition
                    purity=info.purity,
                    clone=clone,
                    source=Location(source=issues.source, row=n, column=f"{s}.vaf"),
                )
            )
    return out


def _timescape(
    rows: list[dict[str, str]],
    sheet: Mapping[str, SampleInfo],
    issues: _Issues,
    allow_missing_depth: bool,
) -> list[VariantObservation]:
    out: list[VariantObservation] = []
    if rows and not allow_missing_depth:
        _missing_depth(2, "VAF", issues)
        return out
    for n, rec in enumerate(rows, start=2):
        vaf_text = rec.get("VAF") or rec.get("vaf")
        if (vaf_text or "").strip().lower() in _NA:
            continue  # not measured at this timepoint: no observation, not a zero
        info = _sample((rec.get("timepoint") or "").strip(), sheet, n, "timepoint", issues)
        vaf = _number(vaf_text, "VAF", n, issues, low=0, high=1)
        if info is None or vaf is None:
            continue
        chrom, coord = (rec.get("chrom") or "").strip(), (rec.get("coord") or "").strip()
        out.append(
            VariantObservation(
                patient_id=info.patient_id,
                sample_id=info.sample_id,
                day=info.day,
                gene="-",
                mutation_id=f"chr{chrom}:{coord}",
                alt_count=None,
                depth=None,
                vaf=vaf,
                purity=info.purity,
                clone=(rec.get("clone_id") or "").strip() or None,
                source=Location(source=issues.source, row=n, column="VAF"),
            )
        )
    return out


def _pyclone(
    rows: list[dict[str, str]],
    sheet: Mapping[str, SampleInfo],
    issues: _Issues,
    allow_missing_depth: bool,
) -> list[VariantObservation]:
    out: list[VariantObservation] = []
    for n, rec in enumerate(rows, start=2):
        info = _sample((rec.get("sample_id") or "").strip(), sheet, n, "sample_id", issues)
        ref = _count(rec.get("ref_counts"), "ref_counts", n, issues, MAX_DEPTH)
        alt = _count(rec.get("alt_counts"), "alt_counts", n, issues, MAX_DEPTH)
        major = _count(rec.get("major_cn"), "major_cn", n, issues, MAX_COPY_NUMBER)
        minor = _count(rec.get("minor_cn"), "minor_cn", n, issues, MAX_COPY_NUMBER)
        purity = info.purity if info is not None else None
        if purity is None and (rec.get("tumour_content") or "").strip():
            purity = _number(rec.get("tumour_content"), "tumour_content", n, issues, low=0, high=1)
        if info is None or ref is None or alt is None or major is None or minor is None:
            continue
        if ref + alt == 0:
            issues.error("ref_counts + alt_counts is 0: no reads", n, "alt_counts")
            continue
        out.append(
            VariantObservation(
                patient_id=info.patient_id,
                sample_id=info.sample_id,
                day=info.day,
                gene="-",
                mutation_id=(rec.get("mutation_id") or "").strip() or f"row{n}",
                alt_count=alt,
                depth=ref + alt,
                vaf=alt / (ref + alt),
                purity=purity,
                major_cn=major,
                minor_cn=minor,
                source=Location(source=issues.source, row=n, column="alt_counts"),
            )
        )
    return out
