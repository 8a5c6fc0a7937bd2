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
* **Myeloma IMWG 2016** — one response call per date with a paraprotein result after the
  baseline (the latest paraprotein on or before the first therapy line starts; without therapy
  lines, the first within 30 days of diagnosis). Serum/urine M-protein, IFE, FLC (involved /
  uninvolved, κ/λ ratio formed with the involved chain), plasmacytoma status; marrow plasma
  cells from a differential of the same day (so CR, which needs a marrow, is only called on a
  marrow day; other days stop at VGPR — never a guessed CR). The rule set follows the baseline:
  serum M ≥ 1 g/dL or urine M ≥ 200 mg/24 h → measurable-disease table; else dFLC ≥ 10 mg/dL →
  FLC-only table; else the marrow plasma-cell fallback. Progression (PD) is checked from the
  nadir of every earlier value since baseline; alert ``MYELOMA_PROGRESSION`` (IMWG needs two
  consecutive assessments to confirm — the alert says so). dFLC = involved − uninvolved, 0 when
  the involved chain is no longer in excess. MRD: a flow MRD result the same day
  as a CR/sCR is "NGF", negative unless detected, sensitivity = the LOD as a fraction [I].
* **Aplastic anaemia (Camitta / BSH 2016)** — one severity call (non-severe / SAA / VSAA) per
  marrow (a date with a core or an aspirate differential): biopsy cellularity from the core, ANC,
  platelets, absolute reticulocytes and the reticulocyte method (manual → 20, automated →
  60 ×10^9/L) from the blood count of the same day; residual haematopoietic cells (needed only
  when cellularity is 25–50 %) from the core's own estimate — never derived from the aspirate
  differential, so a core without it is not evaluable naming it. Without a same-day count the
  call is not evaluable and names the counts. No "best response": severity is not a response scale.
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
from trephine.criteria.model import Assessment, Evidence, RuleSet
from trephine.criteria.sets import all_mrd, diagnostics, imwg2016_mm, iwcll_cll, iwg2023_mds
from trephine.criteria.timeline import Alert, DatedAssessment, TimelineResult
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    CoreFindings,
    FlowMRD,
    MolecularMRD,
    Paraprotein,
    PlasmacytomaStatus,
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
MM_RULESET = "IMWG2016"
AA_RULESET = "AA-Camitta/BSH"
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


_MM_MARKERS = ("serum_m_g_dl", "urine_m_mg_24h", "dflc_mg_dl", "bm_pc_pct")


def _paraprotein(results: list[StoredResult]) -> Paraprotein | None:
    found = [r for r in results if isinstance(r.value, Paraprotein)]
    return None if not found else max(found, key=lambda r: r.id).value  # type: ignore[return-value]


def _mm_values(pp: Paraprotein | None, results: list[StoredResult]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if pp is not None:
        for key, quantity in (
            ("serum_m_g_dl", pp.serum_m_protein),
            ("urine_m_mg_24h", pp.urine_m_protein),
            ("involved_flc_mg_dl", pp.involved_flc),
            ("uninvolved_flc_mg_dl", pp.uninvolved_flc),
        ):
            if value_of(quantity) is not None:
                values[key] = value_of(quantity)
        if pp.flc_ratio is not None:
            values["flc_ratio"] = pp.flc_ratio
        if "involved_flc_mg_dl" in values and "uninvolved_flc_mg_dl" in values:
            # dFLC is the excess of the involved chain; in remission the involved chain can
            # fall below the uninvolved one, which is no excess (0), not a negative amount [I].
            values["dflc_mg_dl"] = max(
                Decimal(0), values["involved_flc_mg_dl"] - values["uninvolved_flc_mg_dl"]
            )
        for key, ife in (("serum_ife", pp.serum_ife), ("urine_ife", pp.urine_ife)):
            if ife is not None:
                values[key] = str(ife)
        if pp.plasmacytoma is not None:
            values["plasmacytoma"] = pp.plasmacytoma is PlasmacytomaStatus.PRESENT
    for r in results:
        if isinstance(r.value, AspirateDifferential):
            values["bm_pc_pct"] = r.value.percent(CellClass.PLASMA_CELL)
    return values


def _mm_table(baseline: Mapping[str, Any]) -> RuleSet:
    serum, urine = baseline.get("serum_m_g_dl"), baseline.get("urine_m_mg_24h")
    if (serum is not None and serum >= 1) or (urine is not None and urine >= 200):
        return imwg2016_mm.RESPONSE
    dflc = baseline.get("dflc_mg_dl")
    if dflc is not None and dflc >= 10:
        return imwg2016_mm.FLC_ONLY
    return imwg2016_mm.BM_ONLY


def myeloma_calls(inputs: PatientInputs) -> TimelineResult:
    grouped = _by_date(inputs)
    days = {d: _mm_values(_paraprotein(rs), rs) for d, rs in grouped.items()}
    pp_dates = [d for d, rs in grouped.items() if _paraprotein(rs) is not None]
    if inputs.therapy_lines:
        start = min(line.start for line in inputs.therapy_lines)
        before = [d for d in pp_dates if d <= start]
        baseline_on = before[-1] if before else None
    else:
        baseline_on = diagnostic_date(pp_dates, inputs.diagnoses, ())
    out: list[DatedAssessment] = []
    alerts: list[Alert] = []
    if baseline_on is None:
        # Without a pre-treatment M-protein no response can be measured: say so once.
        return TimelineResult((), (), None, None)
    baseline = dict(days[baseline_on])
    # The diagnostic marrow may precede the serum sample by days: take its plasma cells.
    marrows = [d for d, v in days.items() if "bm_pc_pct" in v and d <= baseline_on]
    if "bm_pc_pct" not in baseline and marrows:
        baseline["bm_pc_pct"] = days[marrows[-1]]["bm_pc_pct"]
    table = _mm_table(baseline)
    base_facts = {
        f"baseline_{k}": v
        for k, v in baseline.items()
        if k in (*_MM_MARKERS, "involved_flc_mg_dl", "uninvolved_flc_mg_dl")
    }
    nadir: dict[str, Decimal] = {
        m: baseline[m] for m in _MM_MARKERS if isinstance(baseline.get(m), Decimal)
    }
    progressed = False
    for date in pp_dates:
        if date <= baseline_on:
            continue
        values = days[date]
        where = f"{date.isoformat()} paraprotein"
        response = _run(table, {**base_facts, **values}, where)
        out.append(_dated(date, "response", response))
        pd_values = {**values, **{f"nadir_{m}": v for m, v in nadir.items()}}
        pd = _run(imwg2016_mm.PROGRESSION, pd_values, where)
        out.append(_dated(date, "progression", pd))
        if pd.category == "PD" and not progressed:
            progressed = True
            alerts.append(
                Alert(
                    date,
                    "MYELOMA_PROGRESSION",
                    f"IMWG 2016 progression ({pd.rule_id}); confirm on a second consecutive "
                    "assessment",
                )
            )
        for m in _MM_MARKERS:
            if isinstance(values.get(m), Decimal) and (m not in nadir or values[m] < nadir[m]):
                nadir[m] = values[m]
        cr = response.category in ("CR", "sCR")
        for r in grouped[date]:
            if isinstance(r.value, FlowMRD) and cr:
                q = r.value.mrd
                mrd = {
                    "cr_achieved": True,
                    "mrd_method": "NGF",
                    "mrd_result": "positive" if detected(q) else "negative",
                }
                if q.lod is not None:
                    mrd["mrd_sensitivity"] = q.lod / _HUNDRED
                out.append(_dated(date, "mrd", _run(imwg2016_mm.MRD, mrd, f"{where} MRD")))
    best = min(
        (
            a.category
            for a in out
            if a.category in table.categories
            and a.category not in (table.not_evaluable, "NOT_EVALUABLE_BY_BM_BRANCH")
            and a.category in imwg2016_mm.RESPONSE.categories
        ),
        key=imwg2016_mm.RESPONSE.categories.index,
        default=None,
    )
    return TimelineResult(tuple(out), tuple(alerts), None, best)


_AA_SAA = next(r for r in diagnostics.AA_SEVERITY.rules if r.id == "AA-SAA")


def _aa_values(results: list[StoredResult]) -> dict[str, Any]:
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


def aplastic_anaemia_calls(inputs: PatientInputs) -> TimelineResult:
    out: list[DatedAssessment] = []
    for date, results in _by_date(inputs).items():
        if not any(isinstance(r.value, (CoreFindings, AspirateDifferential)) for r in results):
            continue  # a blood count alone is not a marrow: severity needs the cellularity
        values = _aa_values(results)
        a = _run(diagnostics.AA_SEVERITY, values, f"{date.isoformat()} marrow")
        explanation = a.explanation()
        if a.category == "NON_SEVERE":
            # The non-severe row is "none of the above" and records nothing; the reader needs
            # the values that kept the marrow out of SAA, so record the SAA row's check instead.
            recorded: list[Evidence] = []
            _AA_SAA.when.check(a.facts, a.params, recorded, set())
            explanation["evidence"] = [e.as_dict() for e in recorded]
        out.append(
            DatedAssessment(
                date, "severity", a.category, a.edition, a.software_version, explanation
            )
        )
    return TimelineResult(tuple(out), (), None, None)


#: Rule-set label (stored with alerts) → per-date evaluator.
EVALUATORS: dict[str, Callable[[PatientInputs], TimelineResult]] = {
    ALL_RULESET: all_calls,
    CLL_RULESET: cll_calls,
    MDS_RULESET: mds_calls,
    MM_RULESET: myeloma_calls,
    AA_RULESET: aplastic_anaemia_calls,
}
