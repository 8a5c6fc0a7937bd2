"""Mutation Annotation Format (MAF) reader.

Reads the GDC/TCGA-style tab-separated MAF (``#`` comment lines allowed, ``.gz`` allowed) and the
12-column "MAF-like" files some papers publish. Column names are matched case-insensitively
(TCGA files spell ``End_position``). Required: ``Hugo_Symbol, Chromosome, Start_Position,
Reference_Allele, Tumor_Seq_Allele2, Tumor_Sample_Barcode``. Optional and used when present:
``t_alt_count``, ``t_ref_count``/``t_depth`` (read counts), a protein change column, and a VAF
column whose *name* states its unit: ``t_vaf``/``tumor_vaf`` (fraction) or ``i_TumorVAF_WU``
(percent, WashU's TCGA column — converted by name, documented, never guessed from values).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from trephine.analysis.clonal.records import SampleInfo, VariantObservation
from trephine.errors import ImportRejected, Issue, Location, Severity, option
from trephine.io.compressed import MAX_EXPANDED_BYTES, open_text

REQUIRED = (
    "Hugo_Symbol",
    "Chromosome",
    "Start_Position",
    "Reference_Allele",
    "Tumor_Seq_Allele2",
    "Tumor_Sample_Barcode",
)
_PROTEIN = ("HGVSp_Short", "Protein_Change", "amino_acid_change")
_VAF_FRACTION = ("t_vaf", "tumor_vaf")
_VAF_PERCENT = ("i_TumorVAF_WU",)
#: A position: ASCII digits only ("²100".isdigit() is True, but int() refuses it).
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class MafRecord:
    gene: str
    chromosome: str
    start: int | None
    end: int | None
    variant_classification: str
    variant_type: str
    reference: str
    alternate: str
    sample: str
    protein_change: str
    alt_count: int | None
    depth: int | None
    vaf: float | None
    location: Location

    @property
    def mutation_id(self) -> str:
        chrom = self.chromosome.removeprefix("chr")
        if self.start is None:
            return f"{self.gene}:chr{chrom}:{self.variant_classification or 'NA'}"
        return f"{self.gene}:chr{chrom}:{self.start}:{self.reference}>{self.alternate}"


def _lines(path: Path, max_expanded_bytes: int) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-comment, non-blank line, streamed (see io/compressed)."""
    with open_text(path, max_expanded_bytes=max_expanded_bytes) as stream:
        for n, line in enumerate(stream, start=1):
            line = line.rstrip("\n")
            if line and line[0] != "#":
                yield n, line


def read_maf(path: str | Path, *, max_expanded_bytes: int = MAX_EXPANDED_BYTES) -> list[MafRecord]:
    """Parse a MAF; every problem is collected and reported with its row and column.

    A ``.gz`` file is decompressed as it is read and refused past ``max_expanded_bytes``.
    """
    p = Path(path)
    src = str(p)
    issues: list[Issue] = []

    def err(msg: str, row: int | None, column: str | None = None) -> None:
        issues.append(
            Issue(Severity.ERROR, "maf", msg, Location(source=src, row=row, column=column))
        )

    try:
        records = _read_records(_lines(p, max_expanded_bytes), src, issues, err)
    except UnicodeDecodeError as exc:
        raise ImportRejected(
            src, [Issue(Severity.ERROR, "encoding", f"not UTF-8 text: {exc.reason}", Location(src))]
        ) from None
    if issues:
        raise ImportRejected(src, issues)
    return records


def _cells(line: str, row: int, err: Callable[..., None]) -> list[str] | None:
    if "\x00" in line:
        err("contains a NUL byte (a binary or corrupted file?)", row)
        return None
    try:
        return next(csv.reader([line], delimiter="\t"))
    except csv.Error as exc:
        err(f"unreadable line: {exc}", row)
        return None


def _read_records(
    lines: Iterator[tuple[int, str]], src: str, issues: list[Issue], err: Callable[..., None]
) -> list[MafRecord]:
    first = next(lines, None)
    if first is None:
        raise ImportRejected(src, [Issue(Severity.ERROR, "empty", "no header", Location(src))])
    header_line, header_text = first
    cells = _cells(header_text, header_line, err)
    if cells is None:
        raise ImportRejected(src, issues)
    header = cells
    lower = {h.strip().lower(): i for i, h in enumerate(header)}
    missing = [c for c in REQUIRED if c.lower() not in lower]
    if missing:
        err(
            f"missing MAF column(s) {', '.join(missing)}; required: {', '.join(REQUIRED)}",
            header_line,
        )
        raise ImportRejected(src, issues)

    def col(*names: str) -> int | None:
        for nm in names:
            if nm.lower() in lower:
                return lower[nm.lower()]
        return None

    c_end = col("End_Position")
    c_cls, c_type = col("Variant_Classification"), col("Variant_Type")
    c_prot = col(*_PROTEIN)
    c_alt, c_ref, c_depth = col("t_alt_count"), col("t_ref_count"), col("t_depth")
    c_vf, c_vp = col(*_VAF_FRACTION), col(*_VAF_PERCENT)
    out: list[MafRecord] = []

    def num(vals: list[str], i: int | None, row: int, name: str, integer: bool) -> float | None:
        if i is None:
            return None
        raw = vals[i].strip()
        if raw in ("", ".", "NA", "NaN", "nan"):
            return None
        try:
            v = float(raw)
        except ValueError:
            err(f"{name}={raw!r} is not a number", row, name)
            return None
        if not math.isfinite(v):
            err(f"{name}={raw!r} must be a finite number", row, name)
            return None
        if v < 0 or (integer and v != int(v)):
            err(
                f"{name}={raw!r} must be a non-negative {'integer' if integer else 'number'}",
                row,
                name,
            )
            return None
        return v

    for row, line in lines:
        found = _cells(line, row, err)
        if found is None:
            continue
        vals = found
        if len(vals) < len(header):
            err(f"has {len(vals)} fields, the header has {len(header)}", row)
            continue

        def get(name: str, vals: list[str] = vals) -> str:
            return vals[lower[name.lower()]].strip()

        start_raw = get("Start_Position")
        start: int | None = None
        if start_raw.upper() in ("NA", ""):
            # Published MAF-like files list FLT3-ITDs without coordinates (length varies per
            # patient); they still count for gene-level presence.
            pass
        elif _DIGITS.fullmatch(start_raw):
            start = int(start_raw)
        else:
            err(f"Start_Position={start_raw!r} is not an integer or NA", row, "Start_Position")
            continue
        alt = num(vals, c_alt, row, "t_alt_count", True)
        depth = num(vals, c_depth, row, "t_depth", True)
        ref = num(vals, c_ref, row, "t_ref_count", True)
        if depth is None and ref is not None and alt is not None:
            depth = alt + ref
        if alt is not None and depth is not None and alt > depth:
            err(f"t_alt_count={alt:g} exceeds the depth {depth:g}", row, "t_alt_count")
        vaf = num(vals, c_vf, row, header[c_vf] if c_vf is not None else "", False)
        if vaf is not None and vaf > 1:
            err(
                f"{header[c_vf or 0]}={vaf:g} is above 1; this column holds fractions 0..1",
                row,
                header[c_vf or 0],
            )
        if vaf is None and c_vp is not None:
            pct = num(vals, c_vp, row, header[c_vp], False)
            if pct is not None:
                if pct > 100:
                    err(f"{header[c_vp]}={pct:g} exceeds 100 %", row, header[c_vp])
                vaf = pct / 100.0  # the column is percent by its published definition
        end_raw = vals[c_end].strip() if c_end is not None else ""
        gene = get("Hugo_Symbol")
        barcode = get("Tumor_Sample_Barcode")
        if not gene or not barcode:
            err("Hugo_Symbol and Tumor_Sample_Barcode must not be empty", row)
            continue
        out.append(
            MafRecord(
                gene=gene,
                chromosome=get("Chromosome"),
                start=start,
                end=int(end_raw) if _DIGITS.fullmatch(end_raw) else None,
                variant_classification=vals[c_cls].strip() if c_cls is not None else "",
                variant_type=vals[c_type].strip() if c_type is not None else "",
                reference=get("Reference_Allele"),
                alternate=get("Tumor_Seq_Allele2"),
                sample=barcode,
                protein_change=vals[c_prot].strip() if c_prot is not None else "",
                alt_count=None if alt is None else int(alt),
                depth=None if depth is None else int(depth),
                vaf=vaf,
                location=Location(source=src, row=row),
            )
        )
    return out


def maf_observations(
    records: list[MafRecord],
    samples: dict[str, SampleInfo],
    *,
    allow_missing_depth: bool = False,
) -> list[VariantObservation]:
    """Map MAF rows to observations through the sample sheet (barcode → patient, day)."""
    issues: list[Issue] = []
    out: list[VariantObservation] = []
    seen: dict[tuple[str, str], int | None] = {}
    for r in records:
        info = samples.get(r.sample)
        loc = Location(source=r.location.source, row=r.location.row, column="Tumor_Sample_Barcode")
        if info is None:
            issues.append(
                Issue(
                    Severity.ERROR,
                    "sample",
                    f"sample {r.sample!r} is not in the "
                    f"sample sheet; allowed: {', '.join(sorted(samples))}",
                    loc,
                )
            )
            continue
        if r.depth is None and not (allow_missing_depth and r.vaf is not None):
            issues.append(
                Issue(
                    Severity.ERROR,
                    "missing_depth",
                    "no read counts (t_alt_count with t_depth or t_ref_count)"
                    + ("" if r.vaf is not None else " and no VAF column")
                    + f"; set {option('allow_missing_depth')} to use the VAF alone",
                    Location(source=r.location.source, row=r.location.row, column="t_depth"),
                )
            )
            continue
        key = (r.sample, r.mutation_id)
        if key in seen:
            issues.append(
                Issue(
                    Severity.ERROR,
                    "duplicate",
                    f"{r.mutation_id} in {r.sample} already on row {seen[key]}",
                    loc,
                )
            )
            continue
        seen[key] = r.location.row
        vaf = r.vaf if r.vaf is not None else (r.alt_count or 0) / (r.depth or 1)
        out.append(
            VariantObservation(
                patient_id=info.patient_id,
                sample_id=r.sample,
                day=info.day,
                gene=r.gene,
                mutation_id=r.mutation_id,
                alt_count=r.alt_count,
                depth=r.depth,
                vaf=vaf,
                purity=info.purity,
                source=r.location,
            )
        )
    if issues:
        raise ImportRejected(records[0].location.source or "MAF", issues)
    return out
