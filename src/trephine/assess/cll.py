"""CLL on the stored timeline: iwCLL 2018 response per marrow after treatment starts, and MRD
(iwCLL 2018), one call per flow MRD result.

Response (Hallek et al., Blood 2018;131:2745): blood counts, the marrow (differential
lymphocytes, core nodules and CLL infiltrate, cellularity for age), the clinical examination
(largest lymph node, liver and spleen, spleen length on imaging, constitutional symptoms) and
circulating clonal B cells (flow on a blood specimen). Nothing absent is assumed normal: the call
names every missing element. Choices [I], stated for review: the examination read for a marrow
is the nearest one within :data:`EXAM_WINDOW_DAYS` days (the latest one before the marrow
first); "no circulating clonal B cells" is a flow result on peripheral blood of the same day
that did not detect them; cellularity is classified against 100 − age ± 10 points (spec §7.1).

Changes from the start of treatment (the iwCLL table's "fall/rise ≥ 50 %", spec §4.1 [V]; what
is compared with what is ours [I], stated here and in each call's evidence):

- the reference is the pre-treatment value: the latest examination or blood count on or before
  the first therapy line's start, at most :data:`BASELINE_WINDOW_DAYS` days before it;
- lymph nodes: the largest node's longest diameter (the only node measure stored; iwCLL's sum of
  the products of up to six nodes is not) → ``node_change_pct``, both ways;
- neutrophils, platelets, haemoglobin: a rise → ``anc/plt/hb_change_pct`` (partial-response
  group B). A fall is not derived: it counts towards progression only when due to CLL (the table's
  wording), which the store does not record, so the call names it as missing instead;
- circulating clonal B cells: the absolute lymphocyte count stands in for them; only a fall is
  derived (``clonal_b_change_pct``): a rise on BTK/PI3K inhibitors is redistribution, not
  progression, unless a clinician says so [R, iwCLL 2018];
- liver and spleen: not derived (iwCLL measures the enlargement, not the stored spleen length);
- marrow (successive marrows after treatment starts): the change of marrow lymphocyte % from
  the previous marrow stands in for the 2018 "CLL cells up ≥ 50 % on successive biopsies" →
  ``marrow_cll_cells_change_pct`` (the 2008 "lymphocytes rise to > 30 %" is not a 2018
  criterion, docs/criteria/verification.md).

MRD interpretation [I]: leukocytes analysed = events acquired, CLL events = abnormal events.
Alert ``MRD_CONVERSION`` when a call turns from ``UNDETECTABLE_MRD4`` to ``MRD_POSITIVE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from trephine.assess.call import Call, Calls
from trephine.assess.common import call, mrd_calls, run
from trephine.assess.inputs import PatientInputs, ResultRecord, blasts, detected, value_of
from trephine.assess.workups import cellularity_for_age
from trephine.criteria.sets import iwcll_cll
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    ClinicalExam,
    CoreFindings,
    FlowMRD,
    TransfusionDependence,
)
from trephine.domain.specimen import SpecimenType

RULESETS = (iwcll_cll.IWCLL2018, iwcll_cll.MRD)
#: How far from a marrow its clinical examination may be, in days [I].
EXAM_WINDOW_DAYS = 30
#: How long before treatment starts a value still serves as the baseline, in days [I].
BASELINE_WINDOW_DAYS = 90
_ONE_PLACE = Decimal("0.1")


def _values(value: Any, _same_day: list[ResultRecord]) -> dict[str, Any] | None:
    if not isinstance(value, FlowMRD):
        return None
    return {
        "leukocytes_analysed": value.events_acquired,
        "cll_events": value.abnormal_events,
    }


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    mrd = mrd_calls(inputs, iwcll_cll.MRD, _values, params)
    return Calls((*responses(inputs, params), *mrd.calls), mrd.alerts)


def _response_values(
    inputs: PatientInputs, date: dt.date, results: list[ResultRecord], params: Mapping[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for r in results:
        v = r.value
        if isinstance(v, BloodCount):
            for key, quantity in (("anc", v.anc), ("plt", v.platelets), ("hb", v.hemoglobin)):
                if value_of(quantity) is not None:
                    values[key] = value_of(quantity)
            if v.transfusion_dependence is not None:
                values["hb_transfused_or_epo"] = v.transfusion_dependence in (
                    TransfusionDependence.RED_CELLS,
                    TransfusionDependence.BOTH,
                )
        elif isinstance(v, AspirateDifferential):
            values["marrow_lymphocytes_pct"] = v.percent(CellClass.LYMPHOCYTE)
        elif isinstance(v, CoreFindings):
            if v.lymphoid_nodules is not None:
                values["marrow_b_nodules"] = v.lymphoid_nodules
            if v.infiltrate is not None and v.infiltrate_type and "CLL" in v.infiltrate_type:
                values["cll_infiltrate_present"] = bool(v.infiltrate.detected)
            category = cellularity_for_age(inputs.birth_year, date, value_of(v.cellularity), params)
            if category is not None:
                values["marrow_cellularity"] = category.lower()
        elif isinstance(v, FlowMRD) and _on_blood(inputs, r):
            values["circulating_clonal_b"] = detected(v.mrd)
    exam = _exam(inputs, date)
    if exam is not None:
        if exam.largest_node is not None and exam.largest_node.value is not None:
            values["largest_node_cm"] = exam.largest_node.value
        if exam.liver_spleen_normal is not None:
            values["liver_spleen_normal"] = exam.liver_spleen_normal
        if exam.spleen_length is not None and exam.spleen_length.value is not None:
            values["spleen_cm"] = exam.spleen_length.value
        if exam.constitutional_symptoms is not None:
            values["constitutional_symptoms"] = exam.constitutional_symptoms
    return values


def _on_blood(inputs: PatientInputs, r: ResultRecord) -> bool:
    specimen = inputs.specimens.get(r.accession)
    return specimen is not None and specimen.type is SpecimenType.PERIPHERAL_BLOOD


def _exam(inputs: PatientInputs, date: dt.date) -> ClinicalExam | None:
    """The examination read for the marrow of ``date``: the nearest within
    :data:`EXAM_WINDOW_DAYS` days, the latest one on or before the marrow first [I]. Recorded
    by a clinician or imported on a specimen, alike (:meth:`PatientInputs.clinical_exams`)."""
    best: tuple[int, int, ClinicalExam] | None = None
    for on, exam in inputs.clinical_exams():
        gap = (date - on).days
        if abs(gap) > EXAM_WINDOW_DAYS:
            continue
        rank = (0 if gap >= 0 else 1, abs(gap))
        if best is None or rank < best[:2]:
            best = (*rank, exam)
    return None if best is None else best[2]


def responses(inputs: PatientInputs, params: Mapping[str, Any]) -> list[Call]:
    """iwCLL 2018 response per marrow after treatment starts, from what is stored (see the
    module docstring); every element not stored is named as missing, never assumed normal."""
    if not inputs.therapy_lines:
        return []
    start = min(line.start for line in inputs.therapy_lines)
    ends = [line.end for line in inputs.therapy_lines if line.end is not None]
    baseline = _baseline(inputs, start)
    previous_lymphocytes: Decimal | None = None
    out: list[Call] = []
    for date, results in inputs.by_date().items():
        if date <= start or blasts(results) is None:
            continue
        values = _response_values(inputs, date, results, params)
        values.update(_changes(baseline, values, _alc(results), previous_lymphocytes))
        previous_lymphocytes = values.get("marrow_lymphocytes_pct", previous_lymphocytes)
        if ends and date > max(ends):
            values["months_after_end_of_therapy"] = Decimal((date - max(ends)).days) / Decimal(
                "30.4375"
            )
        a = run(iwcll_cll.IWCLL2018, values, f"{date.isoformat()} marrow", params)
        out.append(call(date, "response", a))
    return out


def _baseline(inputs: PatientInputs, start: dt.date) -> dict[str, Decimal]:
    """The pre-treatment values the changes are measured from: for each, the latest on or
    before ``start`` and at most :data:`BASELINE_WINDOW_DAYS` days before it [I]."""
    found: dict[str, Decimal] = {}
    for on, results in inputs.by_date().items():  # date order: later values overwrite
        if on > start or (start - on).days > BASELINE_WINDOW_DAYS:
            continue
        for r in results:
            v = r.value
            if isinstance(v, BloodCount):
                for key, quantity in (
                    ("anc", v.anc),
                    ("plt", v.platelets),
                    ("hb", v.hemoglobin),
                    ("alc", v.alc),
                ):
                    value = value_of(quantity)
                    if value is not None:
                        found[key] = value
    for on, exam in inputs.clinical_exams():  # date order: later values overwrite
        if on > start or (start - on).days > BASELINE_WINDOW_DAYS:
            continue
        node = value_of(exam.largest_node)
        if node is not None:
            found["largest_node_cm"] = node
    return found


def _percent_change(now: Decimal, before: Decimal) -> Decimal | None:
    if before <= 0:
        return None  # no change in percent from nothing (e.g. no palpable node at baseline)
    return ((now - before) / before * 100).quantize(_ONE_PLACE)


def _alc(results: list[ResultRecord]) -> Decimal | None:
    for r in results:
        if isinstance(r.value, BloodCount) and value_of(r.value.alc) is not None:
            return value_of(r.value.alc)
    return None


def _changes(
    baseline: Mapping[str, Decimal],
    values: Mapping[str, Any],
    alc: Decimal | None,
    previous_lymphocytes: Decimal | None,
) -> dict[str, Any]:
    """The iwCLL changes derivable from the stored values (module docstring: what is compared
    with what, and which directions are withheld and why)."""
    out: dict[str, Any] = {}
    if "largest_node_cm" in values and "largest_node_cm" in baseline:
        change = _percent_change(values["largest_node_cm"], baseline["largest_node_cm"])
        if change is not None:
            out["node_change_pct"] = change
    for key in ("anc", "plt", "hb"):
        if key in values and key in baseline:
            change = _percent_change(values[key], baseline[key])
            if change is not None and change >= 0:  # a fall: due to CLL? not recorded
                out[f"{key}_change_pct"] = change
    if alc is not None and "alc" in baseline:
        change = _percent_change(alc, baseline["alc"])
        if change is not None and change <= 0:  # a rise may be redistribution: not derived
            out["clonal_b_change_pct"] = change
    lymphocytes = values.get("marrow_lymphocytes_pct")
    if lymphocytes is not None and previous_lymphocytes is not None:
        change = _percent_change(lymphocytes, previous_lymphocytes)
        if change is not None:
            out["marrow_cll_cells_change_pct"] = change
    return out
