"""The one name of each result kind (:class:`trephine.domain.results.ResultKind`).

One home: the lab's entry forms and study page (``web/lab.py``), the patient timeline's and the
marrow report's result labels (:func:`trephine.present.results.label`, which adds a result's own
detail: "Flow cytometry MRD (LAIP)"), the FHIR Observation component texts
(``present/fhir.py``), the patient chart's series, the chronology and ``trephine results
list|show`` all read :func:`result_kind_name`. ``tests/domain/test_result_kind_names.py`` fails
when a kind has no name here or a second table names the kinds.

The names are the ones a haematologist and a marrow lab scientist both use. A kind's *name* says
what was measured; the lab's orderable studies (:data:`trephine.domain.orders.STUDIES`) name the
test ordered ("Myeloid NGS panel" reports NGS variants) and stay their own words. Where an order
and a kind name the same thing ("Flow cytometry MRD"), the words are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from trephine.domain.results import ResultKind

#: Every result kind's name, sentence case (as a heading starts). An abbreviation stays as the
#: lab prints it ("MRD", "NGS").
RESULT_KIND_NAMES: Mapping[ResultKind, str] = MappingProxyType(
    {
        ResultKind.BLOOD_COUNT: "Blood count",
        # The lab's term for the count of a marrow aspirate smear (ICSH 2008: 500 cells).
        ResultKind.DIFFERENTIAL: "Aspirate differential",
        # What the pathologist reports from the trephine biopsy section: cellularity, fibrosis,
        # iron, dysplasia, infiltrate (the marrow report's "Trephine core" section).
        ResultKind.CORE: "Trephine core",
        ResultKind.FLOW_MRD: "Flow cytometry MRD",
        ResultKind.MOLECULAR_MRD: "Molecular MRD",
        ResultKind.NGS_VARIANT: "NGS variant",
        ResultKind.KARYOTYPE: "Karyotype",
        ResultKind.CHIMERISM: "Donor chimerism",
        ResultKind.EXTRAMEDULLARY: "Extramedullary disease",
        ResultKind.PARAPROTEIN: "Paraprotein",
        ResultKind.IRON_STUDIES: "Iron studies",
        ResultKind.INFECTION_TEST: "Marrow infection test",
        ResultKind.POPULATION: "Cell population",
        ResultKind.MEASUREMENT: "Microenvironment measurement",
        ResultKind.CLINICAL_EXAM: "Clinical examination",
    }
)


def result_kind_name(kind: ResultKind | str) -> str:
    """The name of a result kind (a :class:`ResultKind` or its stored code). A code that is no
    kind raises ``ValueError`` naming the code: every stored kind has a name, a test holds it."""
    return RESULT_KIND_NAMES[ResultKind(kind)]


def result_kind_words(kind: ResultKind | str) -> str:
    """The name inside a sentence: "a signed-out flow cytometry MRD result", "NGS variant"."""
    name = result_kind_name(kind)
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


__all__ = ["RESULT_KIND_NAMES", "result_kind_name", "result_kind_words"]
