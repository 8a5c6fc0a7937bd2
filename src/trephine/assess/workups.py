"""Work-ups every patient gets on the stored timeline, whatever the disease: iron status,
possible marrow infection, anaemia work-up (:mod:`trephine.criteria.sets.workups`).

* ``iron`` — one call per date with iron studies (ferritin, liver iron); transfusion dependence
  from the latest blood count on or before that date. Alert ``TRANSFUSIONAL_IRON_OVERLOAD``.
* ``infection`` — one call per date with granulomas on the core or a marrow microbiology
  result; alert ``POSSIBLE_MARROW_INFECTION`` (a review flag, never a diagnosis).
* ``anaemia_workup`` — on a marrow whose same-day haemoglobin is below 10 g/dL (the WHO 2016 /
  IPSS cytopenia threshold, spec §6.2 [V]): absent iron stores, ring sideroblasts ≥ 15 %,
  megaloblastic change and infiltration gathered into one explained call. Hypocellularity for
  age compares the core's cellularity with the 100 − age band (spec §7.1), age from the year of
  birth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from trephine.assess.call import Alert, Call, Calls
from trephine.assess.common import call, run
from trephine.assess.inputs import PatientInputs, ResultRecord, value_of
from trephine.assess.sentences import sentence
from trephine.criteria.sets import diagnostics, workups
from trephine.domain.results import (
    BloodCount,
    CoreFindings,
    InfectionOutcome,
    InfectionTest,
    IronScale,
    IronStudies,
    TransfusionDependence,
)

RULESETS = (workups.IRON_OVERLOAD, workups.MARROW_INFECTION, workups.ANAEMIA_WORKUP)
ANAEMIA_HB = Decimal(10)  # g/dL, WHO 2016 / IPSS cytopenia (spec §6.2 [V])


def _transfusion(results: Sequence[ResultRecord], on: dt.date) -> bool | None:
    counts = [
        r
        for r in results
        if isinstance(r.value, BloodCount)
        and r.value.transfusion_dependence is not None
        and r.collected_on <= on
    ]
    if not counts:
        return None
    latest = max(counts, key=lambda r: (r.collected_on, r.id)).value
    assert isinstance(latest, BloodCount)
    return latest.transfusion_dependence is not TransfusionDependence.NONE


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    grouped = inputs.by_date()
    every = [r for rs in grouped.values() for r in rs]
    out: list[Call] = []
    alerts: list[Alert] = []
    for date, results in grouped.items():
        iron = [r.value for r in results if isinstance(r.value, IronStudies)]
        if iron:
            values: dict[str, Any] = {}
            for v in iron:
                if value_of(v.ferritin) is not None:
                    values["ferritin_ug_l"] = value_of(v.ferritin)
                if value_of(v.liver_iron) is not None:
                    values["liver_iron_mg_g"] = value_of(v.liver_iron)
            transfused = _transfusion(every, date)
            if transfused is not None:
                values["transfusion_dependent"] = transfused
            a = run(workups.IRON_OVERLOAD, values, f"{date.isoformat()} iron studies", params)
            out.append(call(date, "iron", a))
            if a.category == "TRANSFUSIONAL_IRON_OVERLOAD":
                alerts.append(
                    Alert(
                        date,
                        "TRANSFUSIONAL_IRON_OVERLOAD",
                        sentence(a, "transfusional iron overload", "BSH 2014 [R]"),
                    )
                )
        cores = [r.value for r in results if isinstance(r.value, CoreFindings)]
        tests = [r.value for r in results if isinstance(r.value, InfectionTest)]
        granulomas = next((c.granulomas for c in cores if c.granulomas is not None), None)
        if granulomas or tests:
            values = {
                "infection_tested": bool(tests),
                "infection_test_positive": any(
                    t.outcome is InfectionOutcome.POSITIVE for t in tests
                ),
            }
            if granulomas is not None:
                values["granulomas"] = granulomas
            a = run(workups.MARROW_INFECTION, values, f"{date.isoformat()} marrow", params)
            out.append(call(date, "infection", a))
            if a.category == "POSSIBLE_MARROW_INFECTION":
                positive = ", ".join(
                    f"{t.test} positive" + (f" ({t.organism})" if t.organism else "")
                    for t in tests
                    if t.outcome is InfectionOutcome.POSITIVE
                )
                alerts.append(
                    Alert(
                        date,
                        "POSSIBLE_MARROW_INFECTION",
                        ("Granulomas and " if granulomas else "")
                        + f"{positive}: possible marrow infection (e.g. disseminated "
                        "tuberculosis) — for review",
                    )
                )
        hb = next(
            (
                value_of(r.value.hemoglobin)
                for r in results
                if isinstance(r.value, BloodCount) and value_of(r.value.hemoglobin) is not None
            ),
            None,
        )
        if cores and hb is not None and hb < ANAEMIA_HB:
            core = cores[0]
            values = {}
            if core.iron_grade is not None:
                values["iron_stores_absent"] = core.iron_grade == 0 and core.iron_scale in (
                    IronScale.GALE,
                    IronScale.PLUS,
                )
            if value_of(core.ring_sideroblasts) is not None:
                values["ring_sideroblasts_pct"] = value_of(core.ring_sideroblasts)
            if core.megaloblastic_change is not None:
                values["megaloblastic_change"] = core.megaloblastic_change
            if core.infiltrate_type is not None or core.infiltrate is not None:
                values["infiltrated"] = True
            hypocellular = _hypocellular(
                inputs.birth_year, date, value_of(core.cellularity), params
            )
            if hypocellular is not None:
                values["hypocellular"] = hypocellular
            if values:
                a = run(workups.ANAEMIA_WORKUP, values, f"{date.isoformat()} marrow", params)
                if a.category == "MARROW_FINDINGS":  # a summary of findings, not of absences
                    out.append(call(date, "anaemia_workup", a))
    return Calls(tuple(out), tuple(alerts))


def _hypocellular(
    birth_year: int | None, on: dt.date, cellularity: Decimal | None, params: Mapping[str, Any]
) -> bool | None:
    category = cellularity_for_age(birth_year, on, cellularity, params)
    return None if category is None else category == "HYPOCELLULAR"


def cellularity_for_age(
    birth_year: int | None, on: dt.date, cellularity: Decimal | None, params: Mapping[str, Any]
) -> str | None:
    """NORMOCELLULAR / HYPOCELLULAR / HYPERCELLULAR against the age-expected band (spec §7.1,
    100 − age ± 10 points), or None when age or cellularity is not stored. Age in whole years
    from the year of birth only (the store keeps no birth date outside the identity table), so
    it may be one year high [I]. ``params``: the site's (the rule set takes those it declares)."""
    if birth_year is None or cellularity is None:
        return None
    a = run(
        diagnostics.CELLULARITY_LINEAR,
        {"age_years": on.year - birth_year, "biopsy_cellularity_pct": cellularity},
        f"{on.isoformat()} cellularity",
        params,
    )
    return None if a.category == "NOT_EVALUABLE" else a.category
