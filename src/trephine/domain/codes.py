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
LOINC_FLT3_BM = Code(
    CodeSystem.LOINC,
    "54447-8",
    "FLT3 gene mutation analysis in Bone marrow by Molecular genetics method Narrative",
    verified=True,
)
LOINC_DISCRETE_VARIANT = Code(
    CodeSystem.LOINC, "81252-9", "Discrete genetic variant", verified=True
)
LOINC_REFERENCE_SEQUENCE = Code(
    CodeSystem.LOINC, "48013-7", "Genomic reference sequence ID", verified=True
)
#: Single source in clinical-systems.md §5 (a third-party alias table): unverified.
LOINC_IRON_STAIN = Code(
    CodeSystem.LOINC,
    "101225-1",
    "Hemosiderin [Presence] in Blood or Marrow by Prussian blue stain",
)
# Blood count (not in clinical-systems.md §5; looked up for the FHIR export, issue 10).
# "verified" only where two independent published FHIR artefacts agree: the CIBMTR reporting
# IG's CBC value set (nmdp-ig/cibmtr-reporting-ig, cbc-blood-automated-valueset.fsh) and the
# Vulcan SoA connectathon's haematology ObservationDefinitions (glow-mdsol/
# vulcan-soa-connectathon-37) or the French EDSH core-variable profiles. One source: unverified.
LOINC_HEMOGLOBIN = Code(
    CodeSystem.LOINC, "718-7", "Hemoglobin [Mass/volume] in Blood", verified=True
)
LOINC_WBC = Code(
    CodeSystem.LOINC,
    "6690-2",
    "Leukocytes [#/volume] in Blood by Automated count",
    verified=True,
)
LOINC_PLATELETS = Code(
    CodeSystem.LOINC, "777-3", "Platelets [#/volume] in Blood by Automated count"
)
LOINC_NEUTROPHILS = Code(
    CodeSystem.LOINC, "751-8", "Neutrophils [#/volume] in Blood by Automated count"
)
LOINC_LYMPHOCYTES = Code(
    CodeSystem.LOINC, "731-0", "Lymphocytes [#/volume] in Blood by Automated count"
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
