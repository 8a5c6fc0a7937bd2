"""VCF reader: tumour/normal AD/DP/AF, Strelka tier counts, refusals."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from trephine.analysis.clonal.records import SampleInfo
from trephine.errors import ImportRejected
from trephine.io.vcf import read_vcf, vcf_observations

MUTECT = """##fileformat=VCFv4.2
##tumor_sample=DX
##normal_sample=GERM
##INFO=<ID=CSQ,Number=.,Type=String,Description="VEP. Format: Allele|Consequence|SYMBOL">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tGERM\tDX\tREL
chr13\t28018505\t.\tC\tA,G\t.\tPASS\tCSQ=A|missense_variant|FLT3\tGT:AD:DP:AF\t0/0:50,0,0:50:0,0\t0/1:60,30,10:100:0.3,0.1\t0/1:90,0,10:100:0,0.1
chr2\t25457242\t.\tC\tT\t.\tPASS\tGENE=DNMT3A\tGT:AD:DP:AF\t0/0:40,0:40:0\t0/1:55,45:100:0.45\t0/1:52,48:100:0.48
chr4\t1000\t.\tG\tT\t.\tweak_evidence\t.\tGT:AD:DP\t0/0:40,0:40\t0/1:99,1:100\t0/1:99,1:100
"""

SHEET = {"DX": SampleInfo("DX", "PT1", 0.0, 0.7), "REL": SampleInfo("REL", "PT1", 210.0)}


def test_tumour_normal_ad_dp_af(tmp_path: Path) -> None:
    p = tmp_path / "m2.vcf.gz"
    p.write_bytes(gzip.compress(MUTECT.encode()))
    vcf = read_vcf(p)
    assert vcf.tumor_sample == "DX" and vcf.normal_sample == "GERM"
    obs = vcf_observations(vcf, SHEET)
    got = sorted(
        (o.sample_id, o.gene, o.mutation_id.split(":")[-1], o.alt_count, o.depth) for o in obs
    )
    assert got == [
        ("DX", "DNMT3A", "C>T", 45, 100),
        ("DX", "FLT3", "C>A", 30, 100),
        ("DX", "FLT3", "C>G", 10, 100),
        ("REL", "DNMT3A", "C>T", 48, 100),
        ("REL", "FLT3", "C>A", 0, 100),
        ("REL", "FLT3", "C>G", 10, 100),
    ]
    assert all(o.sample_id != "GERM" for o in obs)  # the matched normal is left out
    assert next(o for o in obs if o.gene == "DNMT3A").chip
    assert len(vcf_observations(read_vcf(p, include_filtered=True), SHEET)) == 8


def test_strelka_tier_counts(tmp_path: Path) -> None:
    text = (
        "##fileformat=VCFv4.1\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR\n"
        "chr1\t5\t.\tA\tT\t.\tPASS\t.\tDP:AU:CU:GU:TU\t30:30,31:0,0:0,0:0,0\t80:60,61:0,0:0,0:20,22\n"
    )
    p = tmp_path / "s.vcf"
    p.write_text(text)
    obs = vcf_observations(read_vcf(p), {"TUMOR": SampleInfo("TUMOR", "P", 0.0)})
    assert [(o.alt_count, o.depth) for o in obs] == [(20, 80)]


def test_refusals(tmp_path: Path) -> None:
    p = tmp_path / "pct.vcf"
    p.write_text(MUTECT.replace(":0.45\t", ":45\t"))
    with pytest.raises(ImportRejected) as exc:
        read_vcf(p)
    issue = exc.value.issues[0]
    assert (issue.location.row, issue.location.column) == (
        7,
        "AF",
    ) and "percentage" in issue.message
    q = tmp_path / "af_only.vcf"
    q.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tDX\n"
        "chr1\t5\t.\tA\tT\t.\tPASS\t.\tAF\t0.2\n"
    )
    sheet = {"DX": SampleInfo("DX", "P", 0.0)}
    with pytest.raises(ImportRejected, match="no AD/DP read counts"):
        vcf_observations(read_vcf(q), sheet)
    assert vcf_observations(read_vcf(q), sheet, allow_missing_depth=True)[0].vaf == 0.2
    with pytest.raises(ImportRejected, match="not in the sample sheet"):
        vcf_observations(read_vcf(q), {"X": SampleInfo("X", "P", 0.0)})
    r = tmp_path / "not.vcf"
    r.write_text("hello\n")
    with pytest.raises(ImportRejected, match="not a readable VCF"):
        read_vcf(r)
    bad_pos = tmp_path / "pos.vcf"
    bad_pos.write_text(MUTECT.replace("chr4\t1000", "chr4\tx1000"))
    with pytest.raises(ImportRejected) as exc3:
        read_vcf(bad_pos)
    assert exc3.value.issues[0].location.row == 8
    assert "unreadable record" in exc3.value.issues[0].message
