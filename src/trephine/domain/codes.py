"""Terminology anchors (LOINC, SNOMED CT, HGNC) attached to result kinds and procedures.

The codes come from ``shared/spec/clinical-systems.md`` §5. That table warns that third-party code
lists contain wrong codes, so every :class:`Code` says whether it was verified against more than one
independent source (``verified``); exports must not present an unverified code as authoritative.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CodeSystem(StrEnum):
    LOINC = "http://loinc.org"
    SNOMED = "http://snomed.info/sct"
    HGNC = "http://www.genenames.org"
    LOCAL = "urn:trephine:local"


@dataclass(frozen=True)
class Code:
    system: CodeSystem
    code: str
    display: str
    #: True when clinical-systems.md marks the code as confirmed by more than one source.
    verified: bool = False

    def __str__(self) -> str:
        return f"{self.system.name}:{self.code}"


# LOINC (clinical-systems.md §5). "verified" mirrors the "verified" column of that table.
LOINC_BM_ASPIRATION_REPORT = Code(
    CodeSystem.LOINC, "48807-2", "Bone marrow aspiration report", verified=True
)
LOINC_BM_BIOPSY_REPORT = Code(
    CodeSystem.LOINC, "33721-2", "Bone marrow Pathology biopsy report", verified=True
)
LOINC_FLOW_IMMUNOPHENOTYPING = Code(
    CodeSystem.LOINC, "101119-6", "Leukemia/lymphoma immunophenotyping", verified=True
)
LOINC_BM_BLASTS = Code(CodeSystem.LOINC, "11150-0", "Blasts/cells in Bone marrow")
LOINC_ME_RATIO = Code(
    CodeSystem.LOINC, "11138-5", "Myeloid cells/Erythroid cells [# Ratio] in Bone marrow"
)
LOINC_FLOW_MRD = Code(
    CodeSystem.LOINC, "67128-9", "Abnormal leukocytes/Leukocytes in Specimen by Flow cytometry"
)
LOINC_CHIMERISM = Code(
    CodeSystem.LOINC,
    "102113-8",
    "Mixed chimerism post SCT [Ratio] (deprecated in LOINC; no replacement found)",
    verified=True,
)
LOINC_KARYOTYPE_BM = Code(
    CodeSystem.LOINC, "33893-9", "Karyotype [Identifier] in Bone marrow Nominal", verified=True
)
LOINC_GENETIC_VARIANT = Code(
    CodeSystem.LOINC, "69548-6", "Genetic variant assessment", verified=True
)
LOINC_VAF = Code(CodeSystem.LOINC, "81258-6", "Sample variant allelic frequency", verified=True)
LOINC_NPM1_BM = Code(
    CodeSystem.LOINC, "75034-9", "NPM1 gene mutations found in Bone marrow", verified=True
)
LOINC_CANCER_DISEASE_STATUS = Code(
    CodeSystem.LOINC, "97509-4", "Cancer disease status", verified=True
)

# SNOMED CT procedures and specimens.
SNOMED_BM_ASPIRATION = Code(
    CodeSystem.SNOMED, "49401003", "Bone marrow aspiration procedure", verified=True
)
SNOMED_BM_SAMPLING = Code(CodeSystem.SNOMED, "234326005", "Bone marrow sampling", verified=True)
SNOMED_BM_NEEDLE_BIOPSY = Code(
    CodeSystem.SNOMED, "56241004", "Bone marrow biopsy, needle or trocar"
)
SNOMED_STERNUM = Code(CodeSystem.SNOMED, "56873002", "Bone structure of sternum")
SNOMED_CURATIVE_INTENT = Code(
    CodeSystem.SNOMED, "373808002", "Curative - procedure intent", verified=True
)


def hgnc_symbol(symbol: str) -> Code:
    """A gene named by its HGNC symbol (the symbol is the identifier we store; no numeric id)."""
    return Code(CodeSystem.HGNC, symbol, symbol)
