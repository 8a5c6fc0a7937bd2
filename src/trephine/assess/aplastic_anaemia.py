"""Aplastic anaemia on the stored timeline: Camitta / BSH 2016 severity per marrow.

Interpretation [I], stated for review: one severity call (non-severe / SAA / VSAA) per marrow (a
date with a core or an aspirate differential): biopsy cellularity from the core, ANC, platelets,
absolute reticulocytes and the reticulocyte method (manual → 20, automated → 60 ×10^9/L) from the
blood count of the same day; residual haematopoietic cells (needed only when cellularity is
25–50 %) from the core's own estimate — never derived from the aspirate differential, so a core
without it is not evaluable naming it. Without a same-day count the call is not evaluable and
names the counts. No "best response": severity is not a response scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trephine.assess.call import Call, Calls
from trephine.assess.common import run
from trephine.assess.inputs import PatientInputs, ResultRecord, value_of
from trephine.criteria.model import Evidence
from trephine.criteria.sets import diagnostics
from trephine.domain.results import AspirateDifferential, BloodCount, CoreFindings

RULESETS = (diagnostics.AA_SEVERITY,)


_AA_SAA = next(r for r in diagnostics.AA_SEVERITY.rules if r.id == "AA-SAA")


def _aa_values(results: list[ResultRecord]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for r in results:
        if isinstance(r.value, CoreFindings):
            for key, quantity in (
                ("biopsy_cellularity_pct", r.value.cellularity),
                ("residual_hematopoietic_cells_pct", r.value.residual_hematopoietic_cells),
            ):
                if value_of(quantity) is not None:
                    values[key] = value_of(quantity)
        elif isinstance(r.value, BloodCount):
            for key, quantity in (
                ("anc", r.value.anc),
                ("plt", r.value.platelets),
                ("retic_abs", r.value.reticulocytes),
            ):
                if value_of(quantity) is not None:
                    values[key] = value_of(quantity)
            if r.value.reticulocyte_method is not None:
                values["retic_method"] = str(r.value.reticulocyte_method)
    return values


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    out: list[Call] = []
    for date, results in inputs.by_date().items():
        if not any(isinstance(r.value, (CoreFindings, AspirateDifferential)) for r in results):
            continue  # a blood count alone is not a marrow: severity needs the cellularity
        values = _aa_values(results)
        a = run(diagnostics.AA_SEVERITY, values, f"{date.isoformat()} marrow")
        explanation = a.explanation()
        if a.category == "NON_SEVERE":
            # The non-severe row is "none of the above" and records nothing; the reader needs
            # the values that kept the marrow out of SAA, so record the SAA row's check instead.
            recorded: list[Evidence] = []
            _AA_SAA.when.check(a.facts, a.params, recorded, set())
            explanation["evidence"] = [e.as_dict() for e in recorded]
        out.append(
            Call.of(
                date,
                "severity",
                explanation,
                category=a.category,
                edition=a.edition,
                software_version=a.software_version,
            )
        )
    return Calls(tuple(out), (), None, None)
