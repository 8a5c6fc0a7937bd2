"""The long variant TSV: one row per mutation per specimen.

Required columns: ``patient_id, sample_id, day, gene, mutation_id, alt_count, depth, vaf``
(``day`` = days from diagnosis, ``vaf`` a *fraction*). Optional: ``purity`` (fraction) or
``blast_pct`` (percent, the marrow blast count — the column name says the unit), ``clone`` (a
cluster label assigned upstream), ``major_cn``/``minor_cn``.

The file imports whole or not at all: every problem is collected as a located :class:`Issue`
and an :class:`ImportRejected` lists them. VAFs that look like percentages are refused, never
rescaled — a silent ×100 error would turn a 0.5 % MRD-level clone into a 50 % founder.

Also reads the sample sheet (``sample_id, patient_id, day`` [, ``purity``/``blast_pct``]) that maps
VCF/MAF sample names onto patients and real days.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NoReturn

from trephine.analysis.clonal.records import (
    MAX_ALLELE_COPY_NUMBER,
    SampleInfo,
    VariantObservation,
)
from trephine.errors import ImportRejected, Issue, Location, Severity, option

REQUIRED = ("patient_id", "sample_id", "day", "gene", "mutation_id", "alt_count", "depth", "vaf")
OPTIONAL = ("purity", "blast_pct", "clone", "major_cn", "minor_cn")
SAMPLE_REQUIRED = ("sample_id", "patient_id", "day")

#: Rows whose alt/depth ratio is at least this large can tell a fraction from a percentage
#: (``100 * r`` and ``r`` are then at least 0.01 apart, far beyond rounding of a printed VAF).
_PERCENT_INFORMATIVE_RATIO = 0.0001


class _Collector:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[Issue] = []
        #: Line of the header in the file (after any ``#`` comment or blank lines).
        self.header_row = 1

    def error(self, code: str, message: str, row: int | None, column: str | None = None) -> None:
        loc = Location(source=self.source, row=row, column=column)
        self.issues.append(Issue(Severity.ERROR, code, message, loc))

    def raise_if_errors(self) -> None:
        if any(i.severity is Severity.ERROR for i in self.issues):
            self.reject()

    def reject(self) -> NoReturn:
        """Refuse the file with the issues so far; for problems after which reading cannot go
        on (NoReturn lets the type checker see that, without an 'unreachable' assertion)."""
        raise ImportRejected(self.source, self.issues)


def _read_rows(path: Path, col: _Collector) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        col.error("encoding", f"not UTF-8 text (byte {exc.start})", None)
        col.reject()
    # Row numbers are the file's own line numbers (1-based, comment and blank lines counted), so
    # "row 6" is line 6 in an editor and row 6 in a spreadsheet, however many '#' lines precede
    # the header.
    lines = [
        (n, ln)
        for n, ln in enumerate(text.splitlines(), start=1)
        if ln.strip() and not ln.startswith("#")
    ]
    if not lines:
        col.error("empty", "no header line", None)
        col.reject()
    col.header_row = lines[0][0]
    header = [h.strip() for h in next(csv.reader([lines[0][1]], delimiter="\t"))]
    rows: list[tuple[int, dict[str, str]]] = []
    for n, line in lines[1:]:
        values = next(csv.reader([line], delimiter="\t"))
        if len(values) != len(header):
            col.error(
                "columns",
                f"has {len(values)} fields, the header has {len(header)}",
                n,
            )
            continue
        rows.append((n, {h: v.strip() for h, v in zip(header, values, strict=True)}))
    return header, rows


def _check_header(header: Sequence[str], required: Iterable[str], col: _Collector) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        col.error(
            "header",
            f"missing column(s) {', '.join(missing)}; required: {', '.join(required)}",
            col.header_row,
        )
        col.reject()


def _float(
    raw: str, name: str, row: int, col: _Collector, *, lo: float | None = None
) -> float | None:
    if raw == "" or raw.upper() in {"NA", "NAN", "."}:
        return None
    try:
        value = float(raw)
    except ValueError:
        col.error("number", f"{name}={raw!r} is not a number", row, name)
        return None
    if not math.isfinite(value) or (lo is not None and value < lo):
        col.error("range", f"{name}={raw!r} must be a finite number >= {lo}", row, name)
        return None
    return value


def _int(raw: str, name: str, row: int, col: _Collector) -> int | None:
    value = _float(raw, name, row, col, lo=0)
    if value is None:
        return None
    if value != int(value):
        col.error("integer", f"{name}={raw!r} must be a whole read count", row, name)
        return None
    return int(value)


def _purity(rec: dict[str, str], header: Sequence[str], row: int, col: _Collector) -> float | None:
    purity: float | None = None
    if "purity" in header:
        purity = _float(rec["purity"], "purity", row, col, lo=0)
        if purity is not None and purity > 1:
            col.error(
                "percent",
                f"purity={rec['purity']!r} is above 1; purity is a fraction in (0, 1] — "
                "give the marrow blast percentage in a 'blast_pct' column instead",
                row,
                "purity",
            )
            return None
    if purity is None and "blast_pct" in header:
        pct = _float(rec["blast_pct"], "blast_pct", row, col, lo=0)
        if pct is not None:
            if pct > 100:
                col.error("range", f"blast_pct={rec['blast_pct']!r} exceeds 100", row, "blast_pct")
                return None
            purity = pct / 100.0
    if purity is not None and purity == 0:
        col.error("range", "purity 0 leaves no tumour cells to measure", row, "purity")
        return None
    return purity


def read_variants_tsv(
    path: str | Path, *, allow_missing_depth: bool = False
) -> list[VariantObservation]:
    """Parse the long TSV into observations, or raise :class:`ImportRejected`.

    ``allow_missing_depth`` accepts rows with an empty ``depth``/``alt_count`` *and* a ``vaf``
    (published tables sometimes lack counts for a few sites); those rows get no depth-aware call
    and enter clustering with the sample's median depth as a stand-in precision.
    """
    p = Path(path)
    col = _Collector(str(p))
    header, rows = _read_rows(p, col)
    _check_header(header, REQUIRED, col)
    out: list[VariantObservation] = []
    seen: dict[tuple[str, str, str], int] = {}
    percent_votes: list[tuple[int, bool]] = []
    for n, rec in rows:
        for key in ("patient_id", "sample_id", "mutation_id"):
            if not rec[key]:
                col.error("missing", f"{key} is empty", n, key)
        day = _float(rec["day"], "day", n, col)
        if rec["day"] == "":
            col.error("missing", "day is empty; days from diagnosis are required", n, "day")
        alt = _int(rec["alt_count"], "alt_count", n, col)
        depth = _int(rec["depth"], "depth", n, col)
        vaf = _float(rec["vaf"], "vaf", n, col, lo=0)
        if depth is None and rec["depth"] == "" and not allow_missing_depth:
            col.error(
                "missing_depth",
                "depth is empty; read depth is needed for the depth-aware call and for "
                f"clustering (set {option('allow_missing_depth')} to accept VAF-only rows "
                "explicitly)",
                n,
                "depth",
            )
        if depth is not None and alt is None and rec["alt_count"] == "":
            col.error("missing", "alt_count is empty while depth is given", n, "alt_count")
        if alt is not None and depth is not None and alt > depth:
            col.error(
                "alt_gt_depth",
                f"alt_count={alt} exceeds depth={depth}; allowed: 0 <= alt_count <= depth",
                n,
                "alt_count",
            )
        if depth == 0 and alt == 0 and vaf is None:
            col.error("missing", "depth 0 and no vaf: nothing was measured", n, "depth")
        if vaf is not None and vaf > 1:
            col.error(
                "vaf_percent",
                f"vaf={rec['vaf']!r} is above 1 — it looks like a percentage; allowed: a "
                "fraction 0..1 (divide by 100 in the source file; Trephine does not rescale)",
                n,
                "vaf",
            )
            vaf = None
        if vaf is None and rec["vaf"] == "":
            if alt is not None and depth:
                vaf = alt / depth
            else:
                col.error("missing", "vaf is empty and there are no read counts", n, "vaf")
        if vaf is not None and alt is not None and depth:
            r = alt / depth
            if r >= _PERCENT_INFORMATIVE_RATIO and 100 * r <= 1.0:
                percent_votes.append((n, abs(vaf - 100 * r) < abs(vaf - r)))
        purity = _purity(rec, header, n, col)
        major = _int(rec.get("major_cn", ""), "major_cn", n, col) if "major_cn" in header else None
        minor = _int(rec.get("minor_cn", ""), "minor_cn", n, col) if "minor_cn" in header else None
        if major is not None and major == 0:
            col.error("range", "major_cn 0 cannot carry a mutation", n, "major_cn")
        for name, value in (("major_cn", major), ("minor_cn", minor)):
            if value is not None and value > MAX_ALLELE_COPY_NUMBER:
                col.error(
                    "range",
                    f"{name}={rec[name]!r} is out of range; allowed: whole numbers "
                    f"0..{MAX_ALLELE_COPY_NUMBER} (trephine.analysis.clonal.records."
                    "MAX_ALLELE_COPY_NUMBER)",
                    n,
                    name,
                )
                major, minor = (None, minor) if name == "major_cn" else (major, None)
        dup = (rec["patient_id"], rec["sample_id"], rec["mutation_id"])
        if dup in seen:
            col.error(
                "duplicate",
                f"mutation {dup[2]!r} in sample {dup[1]!r} of patient {dup[0]!r} "
                f"already given on row {seen[dup]}",
                n,
                "mutation_id",
            )
            continue
        seen[dup] = n
        if day is None or vaf is None:
            continue
        out.append(
            VariantObservation(
                patient_id=rec["patient_id"],
                sample_id=rec["sample_id"],
                day=day,
                gene=rec["gene"] or "-",
                mutation_id=rec["mutation_id"],
                alt_count=alt,
                depth=depth,
                vaf=vaf,
                purity=purity,
                clone=(rec.get("clone") or None) if "clone" in header else None,
                major_cn=major,
                minor_cn=minor,
                source=Location(source=str(p), row=n),
            )
        )
    _check_percent_column(percent_votes, col)
    _check_consistency(out, col)
    col.raise_if_errors()
    return out


def _check_percent_column(votes: list[tuple[int, bool]], col: _Collector) -> None:
    """Refuse a VAF column that tracks ``100 * alt / depth`` while every value stays <= 1.

    That happens when all variants are below 1 % (MRD-level data) and the column is in percent:
    no single value is out of range, but the column as a whole matches the percent reading.
    """
    # Even one informative row decides: a VAF that equals 100*alt/depth and not alt/depth is a
    # percentage whatever the file's size (a two-row MRD file must not slip through).
    if not votes:
        return
    hits = [n for n, is_pct in votes if is_pct]
    if len(hits) * 2 > len(votes):
        col.error(
            "vaf_percent",
            f"vaf matches 100*alt_count/depth on {len(hits)} of {len(votes)} rows with "
            f"informative counts (first: row {hits[0]}): the column looks like percentages; "
            "allowed: fractions 0..1 (Trephine does not rescale)",
            hits[0],
            "vaf",
        )


def _check_consistency(obs: Sequence[VariantObservation], col: _Collector) -> None:
    """One sample has one patient and one day; one mutation has one gene."""
    sample_meta: dict[str, tuple[str, float, int | None]] = {}
    gene_of: dict[tuple[str, str], tuple[str, int | None]] = {}
    for o in obs:
        row = o.source.row if o.source else None
        prev = sample_meta.setdefault(o.sample_id, (o.patient_id, o.day, row))
        if prev[:2] != (o.patient_id, o.day):
            col.error(
                "sample_conflict",
                f"sample {o.sample_id!r} has patient/day {o.patient_id!r}/{o.day:g} here but "
                f"{prev[0]!r}/{prev[1]:g} on row {prev[2]}",
                row,
                "sample_id",
            )
        g = gene_of.setdefault((o.patient_id, o.mutation_id), (o.gene, row))
        if g[0] != o.gene:
            col.error(
                "gene_conflict",
                f"mutation {o.mutation_id!r} is gene {o.gene!r} here but {g[0]!r} on row {g[1]}",
                row,
                "gene",
            )


def read_samples_tsv(path: str | Path) -> dict[str, SampleInfo]:
    """Parse a sample sheet ``sample_id, patient_id, day`` [+ ``purity`` or ``blast_pct``]."""
    p = Path(path)
    col = _Collector(str(p))
    header, rows = _read_rows(p, col)
    _check_header(header, SAMPLE_REQUIRED, col)
    out: dict[str, SampleInfo] = {}
    for n, rec in rows:
        sid = rec["sample_id"]
        if not sid or not rec["patient_id"]:
            col.error("missing", "sample_id and patient_id must not be empty", n, "sample_id")
            continue
        day = _float(rec["day"], "day", n, col)
        if day is None:
            if rec["day"] == "":
                col.error("missing", "day is empty", n, "day")
            continue
        if sid in out:
            col.error("duplicate", f"sample {sid!r} listed twice", n, "sample_id")
            continue
        out[sid] = SampleInfo(sid, rec["patient_id"], day, _purity(rec, header, n, col))
    col.raise_if_errors()
    return out


def write_variants_tsv(obs: Iterable[VariantObservation], path: str | Path) -> None:
    """Write observations in the long format (used by converters and tests), with every
    declared column, so the file reads back into the same observations.

    An observation keeps its tumour fraction as ``purity`` whichever column it was read from, so
    ``blast_pct`` is written empty: filling both would store one number twice, and an edit to
    one of them would be silently overruled by the other (the reader prefers ``purity``).
    """

    def fmt(v: object) -> str:
        return "" if v is None else (f"{v:.10g}" if isinstance(v, float) else str(v))

    cols = [*REQUIRED, *OPTIONAL]
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(cols)
        for o in obs:
            w.writerow([fmt(getattr(o, c, None)) for c in cols])
