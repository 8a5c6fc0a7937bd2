"""VCF reader for somatic calls: per-sample read counts from AD/DP/AF (and Strelka tier counts).

Parsing (header, BGZF/gzip, typed FORMAT/INFO fields) is done by ``vcfpy``; this module only maps
records onto the counts the clonal pipeline needs. Handles single-sample callers and
tumour/normal pairs (Mutect2 writes ``##tumor_sample=`` and ``##normal_sample=``; Strelka names
the columns NORMAL and TUMOR). Multi-allelic records are split per alternate allele. Gene
symbols come from INFO ``GENE=``, SnpEff ``ANN`` or VEP ``CSQ`` (``SYMBOL``) when present.
Records whose FILTER is neither ``PASS`` nor ``.`` are skipped unless ``include_filtered``.

Rows in locations are file line numbers, counted as header lines + record index (vcfpy does not
report line numbers; VCF forbids blank lines, so the count is exact for valid files).
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import vcfpy

from trephine.analysis.clonal.records import SampleInfo, VariantObservation
from trephine.errors import ImportRejected, Issue, Location, Severity, option
from trephine.io.compressed import MAX_EXPANDED_BYTES, open_text

#: What vcfpy raises on malformed input besides its own exceptions (e.g. ``KeyError`` for an
#: undeclared key, ``OverflowError`` for "inf" where an integer belongs, ``SyntaxError`` for a
#: NUL byte): each becomes a located refusal, never a traceback.
_PARSER_ERRORS = (
    vcfpy.VCFPyException,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    OverflowError,
    SyntaxError,
    AttributeError,
)


@dataclass(frozen=True)
class VcfCall:
    chrom: str
    pos: int
    ref: str
    alt: str
    gene: str
    sample: str
    alt_count: int | None
    depth: int | None
    af: float | None
    location: Location

    @property
    def mutation_id(self) -> str:
        return f"{self.gene}:chr{self.chrom.removeprefix('chr')}:{self.pos}:{self.ref}>{self.alt}"


@dataclass(frozen=True)
class VcfFile:
    source: str
    samples: tuple[str, ...]
    tumor_sample: str | None
    normal_sample: str | None
    calls: tuple[VcfCall, ...]


def _values(raw: object) -> list[object]:
    """FORMAT values as a list (vcfpy gives scalars for Number=1, lists otherwise)."""
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        return list(raw)
    if isinstance(raw, str) and "," in raw:
        return list(raw.split(","))
    return [raw]


#: What a ``##INFO``/``##FORMAT`` line must declare, and the types VCF 4.x allows.
_DECLARED_KEYS = ("ID", "Number", "Type")
_TYPES = ("Integer", "Float", "Flag", "Character", "String")
_KEY = re.compile(r"(?:^|,)\s*([A-Za-z_][A-Za-z0-9_]*)=")


class _Values:
    """Strict numbers from one record: a value that is not a finite, non-negative number is
    reported at the record's row and FORMAT field (the caller's numbers are read, never guessed)."""

    def __init__(self, row: int, sample: str, err: Callable[..., None]) -> None:
        self.row, self.sample, self.err = row, sample, err

    def number(self, raw: object, field: str) -> float | None:
        if raw is None or raw in (".", ""):
            return None
        try:
            value = float(str(raw))
        except ValueError:
            self.err(f"{field}={raw!r} for sample {self.sample} is not a number", self.row, field)
            return None
        if not math.isfinite(value) or value < 0:
            self.err(
                f"{field}={raw!r} for sample {self.sample}: allowed a finite number >= 0",
                self.row,
                field,
            )
            return None
        return value

    def count(self, raw: object, field: str) -> int | None:
        value = self.number(raw, field)
        if value is None:
            return None
        if value != int(value):
            self.err(
                f"{field}={raw!r} for sample {self.sample} is not a whole read count",
                self.row,
                field,
            )
            return None
        return int(value)


def _check_header_lines(stream: Iterable[str], err: Callable[..., None]) -> int:
    """Check the ``##`` meta lines before vcfpy parses them (it fails with a bare ``KeyError``
    on a misspelt ``Type=`` and a ``SyntaxError`` on a NUL byte). Returns the number of meta
    lines read."""
    count = 0
    for n, line in enumerate(stream, start=1):
        if not line.startswith("##"):
            return count
        count = n
        if "\x00" in line:
            err("the header line contains a NUL byte (a binary or corrupted file?)", n)
            continue
        for kind in ("INFO", "FORMAT"):
            if not line.startswith(f"##{kind}=<"):
                continue
            keys = set(_KEY.findall(line.strip()[len(kind) + 4 : -1]))
            missing = [k for k in _DECLARED_KEYS if k not in keys]
            if missing:
                err(
                    f"##{kind} line lacks {', '.join(k + '=' for k in missing)} (misspelt?); "
                    f"a {kind} declaration needs {', '.join(k + '=' for k in _DECLARED_KEYS)}",
                    n,
                    kind,
                )
                continue
            declared = re.search(r"Type=([^,>]*)", line)
            if declared is not None and declared.group(1) not in _TYPES:
                err(
                    f"##{kind} Type={declared.group(1)!r}; allowed: {', '.join(_TYPES)}",
                    n,
                    kind,
                )
    return count


def _first(info: dict[str, object], key: str) -> str:
    vals = _values(info.get(key))
    return str(vals[0]) if vals and vals[0] is not None else ""


def _gene(info: dict[str, object], csq_symbol_index: int | None) -> str:
    if _first(info, "GENE"):
        return _first(info, "GENE")
    ann = _first(info, "ANN").split("|")
    if len(ann) > 3 and ann[3]:
        return ann[3]
    csq = _first(info, "CSQ").split("|")
    if csq_symbol_index is not None and len(csq) > csq_symbol_index and csq[csq_symbol_index]:
        return csq[csq_symbol_index]
    return "-"


def _header_value(header: vcfpy.Header, key: str) -> str | None:
    lines = list(header.get_lines(key))
    return str(lines[0].value).strip() if lines else None


def _csq_symbol_index(header: vcfpy.Header) -> int | None:
    for line in header.get_lines("INFO"):
        mapping = getattr(line, "mapping", {})
        desc = str(mapping.get("Description", ""))
        if mapping.get("ID") == "CSQ" and "Format: " in desc:
            fields = desc.split("Format: ", 1)[1].strip('" ').split("|")
            return fields.index("SYMBOL") if "SYMBOL" in fields else None
    return None


def read_vcf(
    path: str | Path,
    *,
    include_filtered: bool = False,
    max_expanded_bytes: int = MAX_EXPANDED_BYTES,
) -> VcfFile:
    """Parse a VCF into per-sample calls, or raise :class:`ImportRejected` with locations.

    A ``.vcf.gz`` (gzip or BGZF) is decompressed as it is read and refused past
    ``max_expanded_bytes`` (see :mod:`trephine.io.compressed`).
    """
    p = Path(path)
    src = str(p)
    issues: list[Issue] = []

    def err(msg: str, row: int | None, column: str | None = None) -> None:
        loc = Location(source=src, row=row, column=column)
        issues.append(Issue(Severity.ERROR, "vcf", msg, loc))

    def refuse(message: str) -> ImportRejected:
        return ImportRejected(src, [Issue(Severity.ERROR, "format", message, Location(src))])

    try:
        with open_text(p, max_expanded_bytes=max_expanded_bytes) as stream:
            meta_lines = _check_header_lines(stream, err)
    except UnicodeDecodeError as exc:
        raise refuse(f"not a readable VCF: not UTF-8 text ({exc.reason})") from None
    if issues:
        raise ImportRejected(src, issues)
    calls: list[VcfCall] = []
    # Undeclared FORMAT/INFO fields (common in caller output) are read as strings; vcfpy warns
    # for each, which is noise for a user who cannot change the caller.
    with (
        warnings.catch_warnings(),
        open_text(p, max_expanded_bytes=max_expanded_bytes) as stream,
    ):
        warnings.simplefilter("ignore")
        try:
            reader = vcfpy.Reader.from_stream(stream, path=src)
        except (UnicodeDecodeError, *_PARSER_ERRORS) as exc:
            raise refuse(f"not a readable VCF: {exc}") from None
        header = reader.header
        samples = tuple(header.samples.names)
        if not samples:
            err("no sample columns: read counts need FORMAT/sample data", meta_lines + 1)
        csq_idx = _csq_symbol_index(header)
        first_row = meta_lines + 2  # all ## lines, then #CHROM; 1-based
        records = iter(reader)
        for index in itertools.count():
            row = first_row + index
            try:
                rec = next(records, None)
                if rec is None:
                    break
                calls.extend(_record_calls(rec, row, src, csq_idx, include_filtered, err))
            except UnicodeDecodeError as exc:
                err(f"not UTF-8 text ({exc.reason})", row)
                break
            except _PARSER_ERRORS as exc:
                err(f"unreadable record: {exc}", row)
                break
    if issues:
        raise ImportRejected(src, issues)
    return VcfFile(
        src,
        samples,
        _header_value(header, "tumor_sample"),
        _header_value(header, "normal_sample"),
        tuple(calls),
    )


def _record_calls(
    rec: vcfpy.Record,
    row: int,
    src: str,
    csq_idx: int | None,
    include_filtered: bool,
    err: Callable[..., None],
) -> Iterable[VcfCall]:
    filters = list(rec.FILTER or [])
    if filters and filters != ["PASS"] and not include_filtered:
        return []
    gene = _gene(dict(rec.INFO), csq_idx)
    # Symbolic and breakend alleles (<DEL>, ]chr2:5]A) carry no per-allele VAF we can track.
    alts = [str(a.value) if isinstance(a, vcfpy.Substitution) else None for a in rec.ALT]
    if not any(alts):
        return []
    out: list[VcfCall] = []
    for call in rec.calls:
        if not isinstance(call, vcfpy.Call):
            continue
        data = dict(call.data)
        values = _Values(row, str(call.sample), err)
        dp = values.count(data.get("DP"), "DP")
        ad = [values.count(x, "AD") for x in _values(data.get("AD"))]
        afs = [values.number(x, "AF") for x in _values(data.get("AF"))]
        for ai, alt in enumerate(alts):
            if alt is None:
                continue
            a_cnt: int | None = None
            depth = dp
            if len(ad) == len(alts) + 1 and all(x is not None for x in ad):
                a_cnt = ad[ai + 1]
                depth = sum(x for x in ad if x is not None) if dp is None else dp
            elif len(rec.REF) == 1 and len(alt) == 1 and f"{alt}U" in data:
                # Strelka SNVs: tier-1 counts per base in <BASE>U, e.g. "TU=12,14".
                a_cnt = values.count(_values(data[f"{alt}U"])[0], f"{alt}U")
            af = afs[ai] if ai < len(afs) else None
            if af is not None and af > 1:
                err(
                    f"AF={af:g} for sample {call.sample} is above 1 (a percentage?); allowed: "
                    "a fraction 0..1",
                    row,
                    "AF",
                )
                af = None
            if a_cnt is not None and depth is not None and a_cnt > depth:
                err(f"alt count {a_cnt} exceeds depth {depth} for sample {call.sample}", row, "AD")
                continue
            out.append(
                VcfCall(
                    str(rec.CHROM),
                    int(rec.POS),
                    str(rec.REF),
                    alt,
                    gene,
                    str(call.sample),
                    a_cnt,
                    depth,
                    af,
                    Location(source=src, row=row, field=str(call.sample)),
                )
            )
    return out


def vcf_observations(
    vcf: VcfFile, samples: dict[str, SampleInfo], *, allow_missing_depth: bool = False
) -> list[VariantObservation]:
    """Observations for the sample-sheet samples; the matched normal is left out."""
    issues: list[Issue] = []
    skip = {s for s in (vcf.normal_sample, "NORMAL") if s}
    unknown = [s for s in vcf.samples if s not in samples and s not in skip]
    if unknown:
        issues.append(
            Issue(
                Severity.ERROR,
                "sample",
                f"VCF sample(s) {', '.join(unknown)} not in the sample sheet; "
                f"allowed: {', '.join(sorted(samples))}",
                Location(source=vcf.source, field="#CHROM"),
            )
        )
    out: list[VariantObservation] = []
    seen: set[tuple[str, str]] = set()
    for c in vcf.calls:
        info = samples.get(c.sample)
        if info is None or c.sample in skip:
            continue
        if (c.depth is None or c.alt_count is None) and not (
            allow_missing_depth and c.af is not None
        ):
            issues.append(
                Issue(
                    Severity.ERROR,
                    "missing_depth",
                    f"sample {c.sample}: no AD/DP read counts"
                    + ("" if c.af is not None else " and no AF")
                    + f"; set {option('allow_missing_depth')} to use AF alone",
                    c.location,
                )
            )
            continue
        key = (c.sample, c.mutation_id)
        if key in seen:
            issues.append(
                Issue(
                    Severity.ERROR,
                    "duplicate",
                    f"{c.mutation_id} repeated for sample {c.sample}",
                    c.location,
                )
            )
            continue
        seen.add(key)
        if c.alt_count is not None and c.depth:
            vaf = c.alt_count / c.depth
        else:
            vaf = c.af if c.af is not None else 0.0
        out.append(
            VariantObservation(
                patient_id=info.patient_id,
                sample_id=c.sample,
                day=info.day,
                gene=c.gene,
                mutation_id=c.mutation_id,
                alt_count=c.alt_count if c.depth is not None else None,
                depth=c.depth if c.alt_count is not None else None,
                vaf=vaf,
                purity=info.purity,
                source=c.location,
            )
        )
    if issues:
        raise ImportRejected(vcf.source, issues)
    return out
