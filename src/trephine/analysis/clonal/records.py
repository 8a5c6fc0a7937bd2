"""Plain records the clonal pipeline consumes.

Parsers in :mod:`trephine.io` (long TSV, MAF, VCF) produce these; the pipeline (track → cluster →
tree → plot) never sees a file format or a database row. The future NGS-result integration maps
stored variant results onto :class:`VariantObservation` the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from trephine.errors import Location

#: Genes whose mutations are most often clonal haematopoiesis ("DTA" genes). ELN 2021 MRD
#: recommendation M12 (Heuser et al., Blood 2021; spec ``clinical-criteria.md`` §1.4, rule M12)
#: excludes them from NGS-MRD calls.
CHIP_GENES: frozenset[str] = frozenset({"DNMT3A", "TET2", "ASXL1"})


#: The largest major/minor (allele-specific) copy number accepted. Clustering tries every
#: multiplicity 1..major_cn for each mutation, so its likelihood tensor grows linearly with it (a
#: stray 3,000,000 once asked for 24 GB). Focal amplifications in marrow neoplasms stay far below
#: this; a larger value is refused where it is read, with its row and column. [I] our choice.
MAX_ALLELE_COPY_NUMBER = 50


@dataclass(frozen=True)
class SampleInfo:
    """One sequenced specimen: which patient, on which day from diagnosis, and its purity."""

    sample_id: str
    patient_id: str
    day: float
    #: Tumour (blast) fraction of the specimen in [0, 1], e.g. marrow blast % / 100; None = unknown.
    purity: float | None = None


@dataclass(frozen=True)
class VariantObservation:
    """One mutation measured in one specimen.

    ``vaf`` is always a fraction in [0, 1] (parsers refuse percentages rather than rescale them).
    ``alt_count``/``depth`` may be None only when the caller explicitly allowed VAF-only input;
    the depth-aware call is then reported as unknown.
    """

    patient_id: str
    sample_id: str
    day: float
    gene: str
    mutation_id: str
    alt_count: int | None
    depth: int | None
    vaf: float
    purity: float | None = None
    #: A clone/cluster label assigned upstream (e.g. by a published analysis); None = infer.
    clone: str | None = None
    #: Total and major copy number at the locus in the tumour; None = copy-neutral (1 + 1).
    #: At most :data:`MAX_ALLELE_COPY_NUMBER` each.
    major_cn: int | None = None
    minor_cn: int | None = None
    source: Location | None = None

    @property
    def chip(self) -> bool:
        """Likely clonal haematopoiesis (DNMT3A/TET2/ASXL1), kept out of MRD."""
        return self.gene.upper() in CHIP_GENES
