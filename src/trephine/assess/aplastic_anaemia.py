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
from decimal import Decimal
from typing import Any

from trephine.assess.call import Alert, Call, Calls
from trephine.assess.common import call, run
from trephine.assess.inputs import PatientInputs, ResultRecord, value_of
from trephine.assess.sentences import sentence
from trephine.criteria.model import with_roles
from trephine.criteria.sets import aa_response, diagnostics
from trephine.criteria.sets.aa_response import mds_type_abnormalities
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CoreFindings,
    Karyotype,
    TransfusionDependence,
)

RULESETS = (
    diagnostics.AA_SEVERITY,
    aa_response.RESPONSE,
    aa_response.RELAPSE,
    aa_response.CLONAL_EVOLUTION,
)


_AA_SAA = next(r for r in diagnostics.AA_SEVERITY.rules if r.id == "AA-SAA")
_AA_PR_NSAA = next(r for r in aa_response.RESPONSE.rules if r.id == "AA-PR-NSAA")


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
    out = severity_calls(inputs, params)
    after, alerts = after_ist(inputs, out, params)
    return Calls((*out, *after), tuple(alerts), None, None)


def severity_calls(inputs: PatientInputs, params: Mapping[str, Any]) -> list[Call]:
    """One ``severity`` call per marrow, under the site's ``params`` (``aa_retic_threshold``)."""
    out: list[Call] = []
    for date, results in inputs.by_date().items():
        if not any(isinstance(r.value, (CoreFindings, AspirateDifferential)) for r in results):
            continue  # a blood count alone is not a marrow: severity needs the cellularity
        values = _aa_values(results)
        a = run(diagnostics.AA_SEVERITY, values, f"{date.isoformat()} marrow", params)
        explanation = a.explanation()
        if a.category == "NON_SEVERE":
            # The non-severe row is "none of the above" and records nothing; the reader needs
            # the values that kept the marrow out of SAA, so record the SAA row's check instead.
            recorded = with_roles(_AA_SAA.when, a.facts, a.params, holds=False)
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
    return out


def _counts(results: list[ResultRecord]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for r in results:
        v = r.value
        if isinstance(v, BloodCount):
            for key, quantity in (
                ("hb", v.hemoglobin),
                ("anc", v.anc),
                ("plt", v.platelets),
                ("retic_abs", v.reticulocytes),
            ):
                if value_of(quantity) is not None:
                    values[key] = value_of(quantity)
            if v.reticulocyte_method is not None:
                values["retic_method"] = str(v.reticulocyte_method)
            if v.transfusion_dependence is not None:
                values["transfusion_independent"] = (
                    v.transfusion_dependence is TransfusionDependence.NONE
                )
    return values


def _pnh(results: list[ResultRecord]) -> Decimal | None:
    for r in results:
        if isinstance(r.value, BloodCount) and r.value.pnh_clone is not None:
            return r.value.pnh_clone.value if r.value.pnh_clone.detected else Decimal(0)
    return None


def after_ist(
    inputs: PatientInputs, severity: list[Call], params: Mapping[str, Any]
) -> tuple[list[Call], list[Alert]]:
    """Response to immunosuppressive therapy, relapse and clonal evolution (BSH 2016 [R]).

    Interpretations [I]: IST starts with the first therapy line; the baseline is the severity
    call and the blood count of the diagnostic marrow; every blood count after the start is a
    response assessment (the BSH landmarks are 3 and 6 months: the calls show the course);
    transfusion independence is the blood count's transfusion dependence "none"; a relapse is
    looked for only after a partial or complete response, and alerted once until the next
    response; clonal evolution compares each PNH clone and karyotype after the start with
    those before it.
    """
    out: list[Call] = []
    alerts: list[Alert] = []
    if not inputs.therapy_lines:
        return out, alerts
    start = min(line.start for line in inputs.therapy_lines)
    grouped = inputs.by_date()
    before = [c for c in severity if c.date <= start]
    baseline_call = before[-1] if before else None
    baseline = _counts(grouped.get(baseline_call.date, [])) if baseline_call else {}
    base: dict[str, Any] = {
        f"baseline_{k}": v for k, v in baseline.items() if k in ("hb", "anc", "plt")
    }
    if baseline_call is not None and baseline_call.category in ("SAA", "VSAA", "NON_SEVERE"):
        base["baseline_severe"] = baseline_call.category in ("SAA", "VSAA")
    pnh_before = any((_pnh(rs) or 0) > 0 for d, rs in grouped.items() if d <= start)
    karyotype_abnormal_before = any(
        mds_type_abnormalities(r.value.iscn)
        for d, rs in grouped.items()
        if d <= start
        for r in rs
        if isinstance(r.value, Karyotype)
    )
    responded = False
    relapsed = False
    evolved: set[str] = set()
    for date, results in grouped.items():
        if date <= start:
            continue
        where = f"{date.isoformat()} after IST"
        counts = _counts(results)
        if {"anc", "plt", "hb"} & counts.keys():
            sex = {} if inputs.sex is None else {"sex": inputs.sex}
            a = run(aa_response.RESPONSE, {**base, **counts, **sex}, where, params)
            if a.rule_id == "AA-NR":
                # "None" of non-severe AA is the table's last row and records nothing: record
                # the partial-response check that failed, so the call says why.
                explanation = a.explanation()
                recorded = with_roles(_AA_PR_NSAA.when, a.facts, a.params, holds=False)
                explanation["evidence"] = [e.as_dict() for e in recorded]
                out.append(
                    Call.of(
                        date,
                        "response",
                        explanation,
                        category=a.category,
                        edition=a.edition,
                        software_version=a.software_version,
                    )
                )
            else:
                out.append(call(date, "response", a))
            if a.category in ("PARTIAL_RESPONSE", "COMPLETE_RESPONSE"):
                responded, relapsed = True, False
            elif responded and not relapsed:
                rel = run(aa_response.RELAPSE, counts, where, params)
                out.append(call(date, "relapse", rel))
                if rel.category == "RELAPSE":
                    relapsed = True
                    alerts.append(
                        Alert(
                            date,
                            "AA_RELAPSE",
                            sentence(
                                rel, "aplastic anaemia relapse after response to IST", "JCAA [R]"
                            ),
                        )
                    )
        pnh = _pnh(results)
        karyotypes = [r.value for r in results if isinstance(r.value, Karyotype)]
        if pnh is not None or karyotypes:
            values: dict[str, Any] = {}
            if pnh is not None:
                values["pnh_clone_pct"] = pnh
                values["pnh_clone_before"] = pnh_before
            found = [name for k in karyotypes for name in mds_type_abnormalities(k.iscn)]
            if karyotypes:
                values["mds_type_abnormality"] = bool(found) and not karyotype_abnormal_before
            a = run(aa_response.CLONAL_EVOLUTION, values, where, params)
            out.append(call(date, "clonal_evolution", a))
            if a.category != "NO_CLONAL_EVOLUTION" and a.category not in evolved and a.evaluable:
                evolved.add(a.category)
                what = (
                    f"MDS-type cytogenetic abnormality ({', '.join(found)})"
                    if a.category == "MDS_TYPE_CYTOGENETIC_ABNORMALITY"
                    else f"a PNH clone ({pnh} %) where none was found before"
                )
                alerts.append(
                    Alert(
                        date,
                        "CLONAL_EVOLUTION",
                        f"Clonal evolution after IST: {what} (BSH 2016 [R])",
                    )
                )
            if pnh is not None and pnh > 0:
                pnh_before = True
    return out, alerts
