"""Which call categories are a complete remission and which are a relapse: one home, read off
the rule sets that emit them (:mod:`trephine.criteria.sets`).

Everything that groups stored calls by meaning imports from here: the stored-timeline story (a
relapse supersedes the same marrow's response call, :mod:`trephine.assess.story`), the ALL
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
- :data:`RELAPSE_CATEGORIES`: all of them (a stored ``relapse`` call of one of these is a relapse,
  and so is a cohort outcome's relapse event: ALL's extramedullary relapse, MDS and aplastic
  anaemia relapse after response included; a molecular (MRD) relapse is an MRD event, not a
  relapse). Progressive disease (``PD``) of a response table (IWG 2006 MDS, iwCLL) is the same
  category as IMWG's and counts alike.
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

RELAPSE_CATEGORIES: frozenset[str] = frozenset(
    c for categories in RELAPSE_BY_RULESET.values() for c in categories
)

__all__ = [
    "AA_CR",
    "ALL_RELAPSE_CATEGORIES",
    "CR_CATEGORIES",
    "IMWG_CR",
    "RELAPSE_BY_RULESET",
    "RELAPSE_CATEGORIES",
]
