"""Which call categories are a complete remission and which are a relapse: one home, read off
the rule sets that emit them (:mod:`trephine.criteria.sets`).

Everything that groups stored calls by meaning imports from here: the stored-timeline story (a
relapse or a progression supersedes the same date's response call, :mod:`trephine.assess.story`),
the patient list's latest response (migration 0029's triggers, a frozen copy), the ALL
timeline, the cohort outcomes (:mod:`trephine.analysis.cohort.outcomes`: response rates,
relapse-free survival) and the microenvironment comparisons (responders, first relapse). A new
relapse or progression rule set adds its line to :data:`RELAPSE_BY_RULESET`; a test checks that
every category named here is one its rule set can emit.

- :data:`CR_CATEGORIES`: the ELN 2022 CR family (CR, CRh, CRi, each also with the ELN 2021 MRD
  annotation ``_MRD-`` or ``_MRD-LL``), IMWG 2016 sCR / CR and the aplastic anaemia complete
  response (``COMPLETE_RESPONSE``). ALL, MDS (IWG 2006) and CLL (iwCLL) name theirs ``CR`` /
  ``CRi`` too, so they are in the set by name.
- :data:`RELAPSE_BY_RULESET`: per relapse (or progression) rule table, the categories that mean
  relapse; its other categories say that remission continues (``NOT_MET``,
  ``CONTINUED_REMISSION``, ``RESPONSE_MAINTAINED``) or that the marrow cannot tell. The CD19
  status of a relapse after CAR-T (``CAR-T-RELAPSE``) describes a relapse already called, so it
  is not one.
- :data:`RELAPSE_CATEGORIES`: all of them, and IMWG's confirmed progression (a stored ``relapse``
  or ``progression`` call of one of these is a relapse, and so is a cohort outcome's relapse
  event: ALL's extramedullary relapse, MDS and aplastic anaemia relapse after response
  included; a molecular (MRD) relapse is an MRD event, not a relapse). Progressive disease
  (``PD``) of a response table (IWG 2006 MDS, iwCLL) is the same category as IMWG's and counts
  alike.
- :data:`CONFIRMATION_BY_RULESET`: a relapse table whose relapse counts only once a second
  consecutive assessment confirms it (IMWG 2016 progression: Durie 2006's footnote, every
  category needs two consecutive assessments before any new therapy). The stored timeline
  names the table's ``PD`` of one assessment ``PD_UNCONFIRMED`` (:data:`TO_CONFIRM_CATEGORIES`:
  shown as the patient's latest state, to confirm, but no relapse event) and the PDs of two or
  more consecutive assessments ``PD_CONFIRMED`` (a relapse, dated at the first of them, as the
  IMWG dates progression [R]).
- :data:`SUPERSEDING_CATEGORIES`: the relapses and the progression to confirm: a call of one of
  these wins over the response call of the same date (:mod:`trephine.assess.story`) and stands
  for the patient's latest response until a later one (the patient list).

And how a category reads, the one wording of every page, list, report and stored sentence:
:func:`category_words` (``PD``: "Progressive disease", ``HEMATOLOGIC_RELAPSE``: "Haematologic
relapse", ``CRi_MRD-``: "CRi MRD-") and, inside a sentence, :func:`mid_sentence`. The pages
reach it through :func:`trephine.present.explain.category_label`; the story's supersession
sentence (stored in the evidence) through this module, since the core never imports
:mod:`trephine.present`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from trephine.criteria.sets import aa_response, all_response, eln2022_aml, imwg2016_mm, iwg2006_mds

#: IMWG 2016 response categories that are a complete response (sCR, CR).
IMWG_CR = tuple(c for c in imwg2016_mm.RESPONSE.categories if c in ("sCR", "CR"))

#: Aplastic anaemia: the complete response of its response table.
AA_CR = tuple(c for c in aa_response.RESPONSE.categories if c == "COMPLETE_RESPONSE")

CR_CATEGORIES: frozenset[str] = (
    frozenset(eln2022_aml.CR_FAMILY) | frozenset(IMWG_CR) | frozenset(AA_CR)
)

#: ``{rule set key: its categories that mean relapse}``.
RELAPSE_BY_RULESET: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        eln2022_aml.RELAPSE.key: ("HEMATOLOGIC_RELAPSE",),
        all_response.RELAPSE.key: ("HEMATOLOGIC_RELAPSE", "EXTRAMEDULLARY_RELAPSE"),
        iwg2006_mds.RELAPSE.key: ("RELAPSE",),
        aa_response.RELAPSE.key: ("RELAPSE",),
        imwg2016_mm.PROGRESSION.key: ("PD",),
    }
)

#: ALL relapse after CR / CRi: haematologic or extramedullary (the ALL timeline's relapse).
ALL_RELAPSE_CATEGORIES: frozenset[str] = frozenset(RELAPSE_BY_RULESET[all_response.RELAPSE.key])

#: ``{rule set key: (its relapse met once, to confirm; confirmed on consecutive assessments)}``:
#: the states the stored timeline gives a relapse category of that table.
CONFIRMATION_BY_RULESET: Mapping[str, tuple[str, str]] = MappingProxyType(
    {imwg2016_mm.PROGRESSION.key: (imwg2016_mm.PD_UNCONFIRMED, imwg2016_mm.PD_CONFIRMED)}
)

#: Relapse or progression called (confirmed where the criteria ask for it).
RELAPSE_CATEGORIES: frozenset[str] = frozenset(
    c for categories in RELAPSE_BY_RULESET.values() for c in categories
) | frozenset(confirmed for _, confirmed in CONFIRMATION_BY_RULESET.values())

#: Progression met on one assessment, to be confirmed on the next: no relapse (yet).
TO_CONFIRM_CATEGORIES: frozenset[str] = frozenset(
    once for once, _ in CONFIRMATION_BY_RULESET.values()
)

#: What wins over the same date's response call and stands for the latest response.
SUPERSEDING_CATEGORIES: frozenset[str] = RELAPSE_CATEGORIES | TO_CONFIRM_CATEGORIES

#: Categories whose words are not those of their code: ELN's spelling of NOT_EVALUABLE (one
#: concept, one wording); the categories that are also an alert (an alert's headline on the
#: pages, ``trephine.present.explain.ALERTS``, starts with these words and reads them from here,
#: as the procedure's safety decision does; a test holds every other table to reading them);
#: progressive disease whatever the rule set (IWG 2006 MDS, iwCLL, IMWG), and IMWG's progression
#: of one assessment and of two or more consecutive ones (stored myeloma progression calls).
CATEGORY_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "NON_EVALUABLE": "Not evaluable",
        "NON_SEVERE": "Non-severe",
        "HEMATOLOGIC_RELAPSE": "Haematologic relapse",
        "REFRACTORY": "Refractory disease",
        "PD": "Progressive disease",
        imwg2016_mm.PD_UNCONFIRMED: "Progressive disease (to confirm)",
        imwg2016_mm.PD_CONFIRMED: "Progressive disease",
    }
)

#: Parts of a category code read as printed in the criteria (CR MRD-, VGPR, MLFS, SAA): every
#: other all-capitals word of a code is an English word written in capitals (NO_RESPONSE).
ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "BM", "CR", "FLC", "HI", "HTB", "LTB", "MDS", "MGUS", "MLFS", "MR", "MRD", "NGS",
        "NTD", "PD", "PNH", "PR", "SAA", "SD", "VGPR", "VSAA",
    }
)  # fmt: skip


def category_words(category: str) -> str:
    """A call category as a clinician reads it: the criteria's abbreviations as printed
    (``CR``, ``CRi MRD-``, ``sCR``, ``VGPR``), anything else in words (``NO_RESPONSE``: "No
    response"), and :data:`CATEGORY_WORDS` where the code's letters would not read right."""
    code = str(category)
    if code in CATEGORY_WORDS:
        return CATEGORY_WORDS[code]
    parts = code.split("_")
    words = [
        p.lower() if p.isalpha() and p.isupper() and len(p) > 1 and p not in ABBREVIATIONS else p
        for p in parts
    ]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if words[0] != parts[0] else text


def mid_sentence(words: str) -> str:
    """A category's words inside a sentence: words start lower case ("the partial response
    criterion", "progressive disease (to confirm) was called"); an abbreviation stays as the
    criteria print it ("the CR criterion", "the CRi MRD- call", "the sCR criterion")."""
    if len(words) > 1 and words[0].isupper() and words[1].islower():
        return words[0].lower() + words[1:]
    return words


__all__ = [
    "AA_CR",
    "ABBREVIATIONS",
    "ALL_RELAPSE_CATEGORIES",
    "CATEGORY_WORDS",
    "CR_CATEGORIES",
    "IMWG_CR",
    "RELAPSE_BY_RULESET",
    "RELAPSE_CATEGORIES",
    "category_words",
    "mid_sentence",
]
