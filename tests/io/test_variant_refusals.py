"""Malformed or oversized variant files are refused with a location, never a traceback, and a
compressed file is read as a stream with a ceiling on how far it may expand.

The defects: VCF/MAF values ``inf``, ``NaN``, ``²100``, a misspelt ``Type=`` and a NUL in a header
escaped as OverflowError/ValueError/KeyError/SyntaxError; an unbounded ``major_cn`` drove
``clonal track`` to 24 GB; a small ``.maf.gz`` was decompressed whole in memory.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from trephine.analysis.clonal.clustering import count_matrix, log_likelihood_grid
from trephine.analysis.clonal.records import MAX_ALLELE_COPY_NUMBER, VariantObservation
from trephine.errors import ImportRejected, ValidationError
from trephine.io import compressed
from trephine.io.maf import read_maf
from trephine.io.variants_tsv import read_variants_tsv
from trephine.io.vcf import read_vcf

VCF_HEADER = (
    "##fileformat=VCFv4.2\n"
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fraction">\n'
    '##INFO=<ID=GENE,Number=1,Type=String,Description="Gene">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
)


def vcf(
    tmp_path: Path, ad: str = "90,10", dp: str = "100", af: str = "0.1", header: str = ""
) -> Path:
    path = tmp_path / "calls.vcf"
    record = f"chr1\t100\t.\tA\tT\t.\tPASS\tGENE=NPM1\tAD:DP:AF\t{ad}:{dp}:{af}\n"
    path.write_text((header or VCF_HEADER) + record, encoding="utf-8")
    return path


def refusal(path: Path, read: object = read_vcf) -> str:
    assert callable(read)
    with pytest.raises(ImportRejected) as refused:
        read(path)
    return str(refused.value)


def test_a_well_formed_vcf_still_reads(tmp_path: Path) -> None:
    (call,) = read_vcf(vcf(tmp_path)).calls
    assert (call.alt_count, call.depth, call.af) == (10, 100, 0.1)


@pytest.mark.parametrize("bad", ["inf", "NaN", "²100", "1e400", "-5"])
@pytest.mark.parametrize("field", ["AD", "DP", "AF"])
def test_a_bad_number_in_a_vcf_is_refused_at_its_row_and_field(
    tmp_path: Path, field: str, bad: str
) -> None:
    values = {"AD": "90,10", "DP": "100", "AF": "0.1"}
    values[field] = f"90,{bad}" if field == "AD" else bad
    said = refusal(vcf(tmp_path, values["AD"], values["DP"], values["AF"]))
    assert f"row 7, column '{field}'" in said and "sample S1" in said
    assert "not a number" in said or "allowed a finite number >= 0" in said


def test_a_misspelt_type_in_a_vcf_header_is_refused_at_its_line(tmp_path: Path) -> None:
    header = VCF_HEADER.replace("Number=1,Type=Integer", "Number=1,Typ=Integer")
    said = refusal(vcf(tmp_path, header=header))
    assert "row 3, column 'FORMAT'" in said and "lacks Type=" in said
    header = VCF_HEADER.replace("Type=Float", "Type=Decimal")
    assert "allowed: Integer, Float, Flag, Character, String" in refusal(
        vcf(tmp_path, header=header)
    )


def test_a_nul_in_a_vcf_header_is_refused_at_its_line(tmp_path: Path) -> None:
    header = VCF_HEADER.replace("Allelic depths", "Allelic\x00depths")
    said = refusal(vcf(tmp_path, header=header))
    assert "row 2" in said and "NUL byte" in said


MAF_HEADER = (
    "Hugo_Symbol\tChromosome\tStart_Position\tReference_Allele\tTumor_Seq_Allele2\t"
    "Tumor_Sample_Barcode\tt_alt_count\tt_depth\n"
)


def maf(tmp_path: Path, start: str = "100", alt: str = "10", depth: str = "100") -> Path:
    path = tmp_path / "calls.maf"
    path.write_text(
        "#version 2.4\n" + MAF_HEADER + f"NPM1\t5\t{start}\tA\tT\tS1\t{alt}\t{depth}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        ({"alt": "inf"}, "t_alt_count"),
        ({"depth": "1e400"}, "t_depth"),
        ({"alt": "²100"}, "t_alt_count"),
        ({"start": "²100"}, "Start_Position"),
        ({"depth": "-Infinity"}, "t_depth"),
    ],
)
def test_a_bad_number_in_a_maf_is_refused_at_its_row_and_column(
    tmp_path: Path, cells: dict[str, str], column: str
) -> None:
    said = refusal(maf(tmp_path, **cells), read_maf)
    assert f"row 3, column '{column}'" in said


def test_a_nul_in_a_maf_is_refused_at_its_row(tmp_path: Path) -> None:
    path = tmp_path / "nul.maf"
    path.write_text(MAF_HEADER.replace("Chromosome", "Chromo\x00some"), encoding="utf-8")
    assert "row 1" in refusal(path, read_maf) and "NUL byte" in refusal(path, read_maf)


def _bomb(path: Path, prefix: str, size: int) -> Path:
    """``prefix`` and then ``size`` bytes of repeated rows, gzip-compressed (tiny on disk)."""
    row = prefix.splitlines()[-1] + "\n"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(prefix)
        out.write(row * (size // len(row)))
    return path


def test_a_compressed_maf_is_streamed_and_refused_past_the_ceiling(tmp_path: Path) -> None:
    rows = MAF_HEADER + "NPM1\t5\t100\tA\tT\tS1\t10\t100\n"
    small = tmp_path / "ok.maf.gz"
    small.write_bytes(gzip.compress(rows.encode()))
    assert len(read_maf(small)) == 1
    bomb = _bomb(tmp_path / "bomb.maf.gz", rows, 4 * 2**20)
    assert bomb.stat().st_size < 64 * 2**10  # a small file on disk…
    with pytest.raises(ImportRejected) as refused:
        read_maf(bomb, max_expanded_bytes=2**20)  # …that expands past the ceiling
    said = str(refused.value)
    assert "expands to more than 1,048,576 bytes" in said and "MAX_EXPANDED_BYTES" in said
    assert compressed.MAX_EXPANDED_BYTES == 512 * 2**20  # the documented default


def test_a_compressed_vcf_is_refused_past_the_ceiling_and_a_broken_one_too(
    tmp_path: Path,
) -> None:
    record = "chr1\t100\t.\tA\tT\t.\tPASS\tGENE=NPM1\tAD:DP:AF\t90,10:100:0.1\n"
    bomb = _bomb(tmp_path / "bomb.vcf.gz", VCF_HEADER + record, 2 * 2**20)
    with pytest.raises(ImportRejected, match="expands to more than"):
        read_vcf(bomb, max_expanded_bytes=2**20)
    broken = tmp_path / "broken.vcf.gz"
    broken.write_bytes(gzip.compress((VCF_HEADER + record).encode())[:-12])
    with pytest.raises(ImportRejected, match="not a readable gzip file"):
        read_vcf(broken)


def test_an_unbounded_copy_number_is_refused_at_its_row(tmp_path: Path) -> None:
    path = tmp_path / "variants.tsv"
    path.write_text(
        "patient_id\tsample_id\tday\tgene\tmutation_id\talt_count\tdepth\tvaf\tmajor_cn\tminor_cn\n"
        "P1\tS1\t0\tNPM1\tNPM1:c.860\t40\t100\t0.4\t3000000\t1\n"
        f"P1\tS2\t30\tNPM1\tNPM1:c.860\t4\t100\t0.04\t{MAX_ALLELE_COPY_NUMBER}\t"
        f"{MAX_ALLELE_COPY_NUMBER + 1}\n",
        encoding="utf-8",
    )
    said = refusal(path, read_variants_tsv)
    assert "row 2, column 'major_cn'" in said and "major_cn='3000000'" in said
    assert f"allowed: whole numbers 0..{MAX_ALLELE_COPY_NUMBER}" in said
    assert "row 3, column 'minor_cn'" in said
    assert "row 3, column 'major_cn'" not in said  # the bound itself is allowed


def test_the_clustering_core_refuses_an_unbounded_copy_number_before_allocating() -> None:
    import numpy as np

    obs = [
        VariantObservation("P1", "S1", 0.0, "NPM1", "m1", 40, 100, 0.4, major_cn=3_000_000),
        VariantObservation("P1", "S1", 0.0, "DNMT3A", "m2", 20, 100, 0.2),
    ]
    with pytest.raises(ValidationError) as refused:
        log_likelihood_grid(count_matrix(obs), np.linspace(0, 1, 101))
    assert refused.value.field == "major_cn"
