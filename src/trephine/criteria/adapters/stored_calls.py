"""Case adapters of the rule tables the stored-timeline calls chain (ALL / CAR-T response and
relapse, transplant graft, aplastic anaemia IST response, work-ups), each evaluable on its own.

Each adapter validates and converts a case's inputs (:mod:`trephine.criteria.facts`), picks
the rule sets the inputs call for and names the outputs like the case format's ``expect``
keys; the registrations at the end add its ruleset strings to
:data:`trephine.criteria.registry.REGISTRY`. Every threshold lives in
:mod:`trephine.criteria.sets`.
"""

from __future__ import annotations

from typing import Any

from trephine.criteria.adapters.diagnostics import simple_adapter
from trephine.criteria.registry import register
from trephine.criteria.sets import (
    aa_response,
    all_response,
    hct_graft,
    workups,
)

JSON = Any


# Issue 13: the stored-timeline calls of ALL / CAR-T, transplant, aplastic anaemia and the
# work-ups, each one rule table evaluable on its own (the timelines chain them).
for _name, _description, _rs, _key in (
    ("ALL-RESPONSE", "ALL morphological response (CR / CRi)", all_response.RESPONSE, "response"),
    ("ALL-RELAPSE", "ALL relapse after CR", all_response.RELAPSE, "relapse"),
    ("ALL-LANDMARK", "ALL refractory at the end of induction", all_response.LANDMARK, "landmark"),
    ("CAR-T-RELAPSE", "CD19 status of a relapse after CAR-T", all_response.CART_RELAPSE, "relapse"),
    ("HCT-RECOVERY-DAY", "Transplant: a recovery day", hct_graft.RECOVERY_DAY, "day"),
    ("HCT-GRAFT", "Transplant: graft failure, poor graft function", hct_graft.GRAFT, "graft"),
    ("AA-IST-RESPONSE", "Aplastic anaemia IST response", aa_response.RESPONSE, "response"),
    ("AA-RELAPSE", "Aplastic anaemia relapse", aa_response.RELAPSE, "relapse"),
    (
        "AA-CLONAL-EVOLUTION",
        "Aplastic anaemia clonal evolution",
        aa_response.CLONAL_EVOLUTION,
        "clonal_evolution",
    ),
    ("IRON-OVERLOAD", "Transfusional iron overload", workups.IRON_OVERLOAD, "iron"),
    ("MARROW-INFECTION", "Possible marrow infection", workups.MARROW_INFECTION, "infection"),
    ("ANAEMIA-WORKUP", "Anaemia work-up findings", workups.ANAEMIA_WORKUP, "workup"),
):
    register(_name, _description, (_rs,), simple_adapter(_rs, _key))
