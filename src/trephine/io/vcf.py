"""VCF reader for somatic calls: per-sample read counts from AD/DP/AF (and Strelka tier counts).

Handles single-sample callers and tumour/normal pairs (Mutect2 writes ``##tumor_sample=`` and
``##normal_sample=``; Strelka names the columns NORMAL and TUMOR). Multi-allelic records are split
per alternate allele. Gene symbols come from INFO ``GENE=``, SnpEff ``ANN`` or VEP ``CSQ``
(``SYMBOL``) when present. Records whose FILTER is neither ``PASS`` nor ``.`` are skipped unless
``include_filtered``.

Only the fields the clonal pipeline needs are decoded; this is not a general VCF library (pysam /
cyvcf2 need htslib, which a lab workstation may not have, and we read a handful of fields).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from trephine.analysis.clonal.records import SampleInfo, VariantObservation
from trephine.errors import ImportRejected, Issue, Location, Severity


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


def _lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)  # bgzip is gzip-compatible
    return raw.decode("utf-8").splitlines()


def _gene(info: str, csq_symbol_index: int | None) -> str:
    fields: dict[str, str] = {}
    for kv in info.split(";"):
        k, _, v = kv.partition("=")
        fields[k] = v
    if fields.get("GENE"):
        return fields["GENE"]
    if fields.get("ANN"):
        parts = fields["ANN"].split(",")[0].split("|")
        if len(parts) > 3 and parts[3]:
            return parts[3]
    if fields.get("CSQ") and csq_symbol_index is not None:
        parts = fields["CSQ"].split(",")[0].split("|")
        if len(parts) > csq_symbol_index and parts[csq_symbol_index]:
            return parts[csq_symbol_index]
    return "-"


def read_vcf(path: str | Path, *, include_filtered: bool = False) -> VcfFile:
    p = Path(path)
    src = str(p)
    issues: list[Issue] = []

    def err(msg: str, row: int, column: str | None = None) -> None:
        issues.append(
            Issue(Severity.ERROR, "vcf", msg, Location(source=src, row=row, column=column))
        )

    try:
        lines = _lines(p)
    except (OSError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise ImportRejected(src, [Issue(Severity.ERROR, "read", str(exc), Location(src))]) from exc
    if not lines or not lines[0].startswith("##fileformat=VCF"):
        raise ImportRejected(
            src,
            [
                Issue(
                    Severity.ERROR,
                    "format",
                    "first line is not ##fileformat=VCF...",
                    Location(source=src, row=1),
                )
            ],
        )
    tumor = normal = None
    csq_idx: int | None = None
    samples: list[str] = []
    calls: list[VcfCall] = []
    header_seen = False
    for n, line in enumerate(lines, start=1):
        if line.startswith("##"):
            if line.startswith("##tumor_sample="):
                tumor = line.split("=", 1)[1].strip()
            elif line.startswith("##normal_sample="):
                normal = line.split("=", 1)[1].strip()
            elif line.startswith("##INFO=<ID=CSQ") and "Format: " in line:
                csq_fmt = line.split("Format: ", 1)[1].rstrip('">').split("|")
                csq_idx = csq_fmt.index("SYMBOL") if "SYMBOL" in csq_fmt else None
            continue
        if line.startswith("#CHROM"):
            cols = line.split("\t")
            samples = cols[9:]
            header_seen = True
            if not samples:
                err("no sample columns: read counts need FORMAT/sample data", n)
            continue
        if not line.strip():
            continue
        if not header_seen:
            err("data line before the #CHROM header", n)
            break
        f = line.split("\t")
        if len(f) != 9 + len(samples):
            err(f"has {len(f)} fields, expected {9 + len(samples)}", n)
            continue
        chrom, pos_raw, _id, ref, alts, _q, filt, info, fmt = f[:9]
        if filt not in ("PASS", ".") and not include_filtered:
            continue
        if not pos_raw.isdigit():
            err(f"POS={pos_raw!r} is not a positive integer", n, "POS")
            continue
        keys = fmt.split(":")
        gene = _gene(info, csq_idx)
        alt_list = alts.split(",")
        for s_name, s_raw in zip(samples, f[9:], strict=True):
            vals = dict(zip(keys, s_raw.split(":"), strict=False))
            dp = _int_field(vals.get("DP"))
            ad = [_int_field(x) for x in vals.get("AD", ".").split(",")]
            afs = [_float_field(x) for x in vals.get("AF", ".").split(",")]
            for ai, alt in enumerate(alt_list):
                a_cnt: int | None = None
                depth = dp
                if len(ad) == len(alt_list) + 1 and all(x is not None for x in ad):
                    a_cnt = ad[ai + 1]
                    depth = sum(x for x in ad if x is not None) if dp is None else dp
                elif len(ref) == 1 and len(alt) == 1 and f"{alt}U" in vals:
                    # Strelka SNVs: tier-1 counts per base in <BASE>U, e.g. "TU=12,14".
                    a_cnt = _int_field(vals[f"{alt}U"].split(",")[0])
                af = afs[ai] if ai < len(afs) else None
                if af is not None and af > 1:
                    err(
                        f"AF={af:g} for sample {s_name} is above 1 (a percentage?); allowed: "
                        "a fraction 0..1",
                        n,
                        "AF",
                    )
                    af = None
                if a_cnt is not None and depth is not None and a_cnt > depth:
                    err(f"alt count {a_cnt} exceeds depth {depth} for sample {s_name}", n, "AD")
                    continue
                calls.append(
                    VcfCall(
                        chrom,
                        int(pos_raw),
                        ref,
                        alt,
                        gene,
                        s_name,
                        a_cnt,
                        depth,
                        af,
                        Location(source=src, row=n, field=s_name),
                    )
                )
    if not header_seen:
        err("no #CHROM header line", len(lines))
    if issues:
        raise ImportRejected(src, issues)
    return VcfFile(src, tuple(samples), tumor, normal, tuple(calls))


def _int_field(raw: str | None) -> int | None:
    if raw is None or raw in (".", ""):
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _float_field(raw: str | None) -> float | None:
    if raw is None or raw in (".", ""):
        return None
    try:
        return float(raw)
    except ValueError:
        return None


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
                    + "; pass --allow-missing-depth to use AF alone",
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
