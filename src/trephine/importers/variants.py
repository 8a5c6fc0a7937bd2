"""Variant observations from a file: a long TSV, a MAF or a VCF (with a sample sheet), or a
ClonEvol, TimeScape or PyClone-VI table as those tools publish it (:mod:`trephine.io.clonal_tools`,
also with a sample sheet).

:func:`read_observations` is what ``trephine clonal track|plot|import`` read files with: the
format is told by the file's extension, then by its first bytes, and a MAF or VCF needs a
sample sheet (``sample_id``, ``patient_id``, ``day``) placing its samples on patients and days.
Errors name domain fields (``variant_file``, ``sample_sheet``); the CLI maps them to its
arguments (:mod:`trephine.cli.common`). The readers are imported inside the function.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from trephine.errors import ValidationError

if TYPE_CHECKING:
    from trephine.analysis.clonal.records import VariantObservation

VariantFormat = Literal["tsv", "vcf", "maf"]


def variant_format(file: Path) -> VariantFormat:
    """``vcf``, ``maf`` or ``tsv``: by extension (``.gz`` too), then by the header's content."""
    name = file.name.lower()
    if name.endswith((".vcf", ".vcf.gz")):
        return "vcf"
    if name.endswith((".maf", ".maf.gz")):
        return "maf"
    with file.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"##fileformat=VCF"):
        return "vcf"
    if b"Hugo_Symbol" in head and b"Tumor_Sample_Barcode" in head:
        return "maf"
    return "tsv"


def read_observations(
    file: Path, samples: Path | None = None, *, allow_missing_depth: bool = False
) -> list[VariantObservation]:
    """Read ``file`` as a long TSV, a MAF or a VCF (the latter two with the sample sheet
    ``samples``) into the clonal pipeline's observations."""
    if not file.is_file():
        raise ValidationError("variant_file", str(file), "an existing file")
    kind = variant_format(file)
    tool = None
    if kind == "tsv":
        # A published tool's table (ClonEvol, TimeScape, PyClone-VI) is told by its columns.
        from trephine.io.clonal_tools import read_header, sniff

        tool = sniff(read_header(file))
    if kind == "tsv" and tool is None:
        from trephine.io.variants_tsv import read_variants_tsv

        return read_variants_tsv(file, allow_missing_depth=allow_missing_depth)
    if samples is None:
        raise ValidationError(
            "sample_sheet",
            None,
            "a sample sheet (sample_id, patient_id, day) mapping the "
            f"{tool or kind.upper()} samples onto patients and days",
        )
    from trephine.io.variants_tsv import read_samples_tsv

    sheet = read_samples_tsv(samples)
    if tool is not None:
        from trephine.io.clonal_tools import read_clonal_tool_file

        return read_clonal_tool_file(file, tool, sheet, allow_missing_depth=allow_missing_depth)
    if kind == "vcf":
        from trephine.io.vcf import read_vcf, vcf_observations

        return vcf_observations(read_vcf(file), sheet, allow_missing_depth=allow_missing_depth)
    from trephine.io.maf import maf_observations, read_maf

    return maf_observations(read_maf(file), sheet, allow_missing_depth=allow_missing_depth)
