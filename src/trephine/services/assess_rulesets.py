"""Stored-timeline calls for diagnoses other than AML: ALL MRD, CLL MRD (iwCLL 2018), MDS
(IWG 2023). The AML timeline (ELN 2022 + ELN 2021) lives in :mod:`trephine.criteria.timeline`.

Each stored result is mapped onto its rule set's inputs and evaluated by the one criteria
engine, date by date; what is not stored stays missing and the call names it (never a guess).
Interpretations [I], stated for review:

* **ALL MRD** — one call per flow or molecular MRD result: method MFC (flow) or qPCR
  (molecular), detected unless "not detected", level in %, quantifiable unless below the LLOQ,
  sensitivity = the result's LLOQ in % (flow) or the assay sensitivity (molecular); marrow blasts
  from a differential of the same day; the time point is not stored, so it stays missing.
* **CLL MRD** — one call per flow MRD result: leukocytes analysed = events acquired, CLL events
  = abnormal events.
* **MDS IWG 2023** — one call per marrow after the diagnostic one: blasts, blood counts of the
  same day, baselines from the diagnostic marrow's day; transfusion history is not stored.
* **Alert** ``MRD_CONVERSION`` when an MRD call of the same method turns from negative
  (``MRD_CR`` / ``UNDETECTABLE_MRD4``) to positive (``MRD_FAILURE`` / ``MRD_POSITIVE``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from trephine.criteria.cases import build_facts, specs_of
from trephine.criteria.engine import evaluate
from trephine.criteria.model import Assessment, RuleSet
from trephine.criteria.sets import all_mrd, iwcll_cll, iwg2023_mds
from trephine.criteria.timeline import Alert, DatedAssessment, TimelineResult
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    FlowMRD,
    MolecularMRD,
)
from trephine.services.assess_mapping import (
    ASSESSED_STATES,
    PatientInputs,
    detected,
    diagnostic_date,
    value_of,
)
from trephine.services.views import StoredResult

ALL_RULESET = "ALL-MRD-2021"
CLL_RULESET = "iwCLL2018-MRD"
MDS_RULESET = "IWG2023"
_NEGATIVE = {"MRD_CR", "UNDETECTABLE_MRD4"}
_POSITIVE = {"MRD_FAILURE", "MRD_POSITIVE"}
_HUNDRED = Decimal(100)


def _dated(date: dt.date, kind: str, a: Assessment) -> DatedAssessment:
    return DatedAssessment(date, kind, a.category, a.edition, a.software_version, a.explanation())


def _run(rs: RuleSet, values: Mapping[str, Any], where: str) -> Assessment:
    return evaluate(rs, build_facts(values, specs_of(rs), where))


def _by_date(inputs: PatientInputs) -> dict[dt.date, list[StoredResult]]:
    grouped: dict[dt.date, list[StoredResult]] = defaultdict(list)
    for r in inputs.results:
        if r.state in ASSESSED_STATES:
            grouped[r.collected_on].append(r)
    return dict(sorted(grouped.items()))


def _blasts(results: list[StoredResult]) -> Decimal | None:
    for r in results:
        if isinstance(r.value, AspirateDifferential):
            return r.value.blast_percent
    return None


def _mrd_calls(
    inputs: PatientInputs, rs: RuleSet, values_of: Callable[[Any, list[StoredResult]], Any]
) -> TimelineResult:
    out: list[DatedAssessment] = []
    alerts: list[Alert] = []
    last: dict[str, str] = {}
    for date, results in _by_date(inputs).items():
        for r in sorted(results, key=lambda r: (str(r.kind), r.analyte, r.id)):
            values = values_of(r.value, results)
            if values is None:
                continue
            a = _run(rs, values, f"{date.isoformat()} {r.kind} {r.analyte}".strip())
            out.append(_dated(date, "mrd", a))
            method = str(values.get("mrd_method", r.kind))
            if last.get(method) in _NEGATIVE and a.category in _POSITIVE:
                alerts.append(
                    Alert(date, "MRD_CONVERSION", f"{method} MRD negative → {a.category}")
                )
            if a.category in _NEGATIVE | _POSITIVE:
                last[method] = a.category
    return TimelineResult(tuple(out), tuple(alerts), None, None)


def _all_values(value: Any, same_day: list[StoredResult]) -> dict[str, Any] | None:
    blasts = _blasts(same_day)
    values: dict[str, Any] = {} if blasts is None else {"bm_blasts_pct": blasts}
    if isinstance(value, FlowMRD):
        q = value.mrd
        values.update(mrd_method="MFC", mrd_detected=detected(q))
        if q.lloq is not None:
            values["sensitivity_pct"] = q.lloq
    elif isinstance(value, MolecularMRD):
        q = value.ratio
        values.update(mrd_method="qPCR", mrd_detected=detected(q))
        if value.sensitivity is not None:
            values["sensitivity_pct"] = value.sensitivity * _HUNDRED
    else:
        return None
    if detected(q):
        values["mrd_level_pct"] = q.value
        values["mrd_quantifiable"] = not q.below_lloq
    return values


def _cll_values(value: Any, _same_day: list[StoredResult]) -> dict[str, Any] | None:
    if not isinstance(value, FlowMRD):
        return None
    return {
        "leukocytes_analysed": value.events_acquired,
        "cll_events": value.abnormal_events,
    }


def _blood(results: list[StoredResult]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for r in results:
        if isinstance(r.value, BloodCount):
            for key, quantity in (
                ("hb", r.value.hemoglobin),
                ("plt", r.value.platelets),
                ("anc", r.value.anc),
                ("pb_blasts_pct", r.value.circulating_blasts),
            ):
                if value_of(quantity) is not None:
                    values[key] = value_of(quantity)
    return values


def mds_calls(inputs: PatientInputs) -> TimelineResult:
    grouped = _by_date(inputs)
    marrows = [d for d, rs in grouped.items() if _blasts(rs) is not None]
    diagnostic = diagnostic_date(marrows, inputs.diagnoses, inputs.therapy_lines)
    baseline: dict[str, Any] = {}
    if diagnostic is not None:
        base = grouped[diagnostic]
        baseline["baseline_bm_blasts_pct"] = _blasts(base)
        for key, value in _blood(base).items():
            if key in ("hb", "plt", "anc"):
                baseline[f"baseline_{key}"] = value
    out: list[DatedAssessment] = []
    for date in marrows:
        if date == diagnostic:
            continue
        values = {**baseline, "bm_blasts_pct": _blasts(grouped[date]), **_blood(grouped[date])}
        values = {k: v for k, v in values.items() if v is not None}
        out.append(_dated(date, "response", _run(iwg2023_mds.RESPONSE, values, f"{date} marrow")))
    rs = iwg2023_mds.RESPONSE
    best = min(
        (a.category for a in out if a.category in rs.categories and a.category != rs.not_evaluable),
        key=rs.categories.index,
        default=None,
    )
    blasts = baseline.get("baseline_bm_blasts_pct")
    return TimelineResult(tuple(out), (), blasts, best)


def all_calls(inputs: PatientInputs) -> TimelineResult:
    return _mrd_calls(inputs, all_mrd.RESPONSE, _all_values)


def cll_calls(inputs: PatientInputs) -> TimelineResult:
    return _mrd_calls(inputs, iwcll_cll.MRD, _cll_values)


#: Rule-set label (stored with alerts) → per-date evaluator.
EVALUATORS: dict[str, Callable[[PatientInputs], TimelineResult]] = {
    ALL_RULESET: all_calls,
    CLL_RULESET: cll_calls,
    MDS_RULESET: mds_calls,
}
