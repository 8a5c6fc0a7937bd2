"""Myeloma on the stored timeline: IMWG 2016 response, progression and MRD.

Interpretations [I], stated for review: one response call per date with a paraprotein result
after the baseline (the latest paraprotein on or before the first therapy line starts; without
therapy lines, the first within 30 days of diagnosis). Serum/urine M-protein, IFE, FLC (involved /
uninvolved, κ/λ ratio formed with the involved chain), plasmacytoma status; marrow plasma cells
from a differential of the same day (so CR, which needs a marrow, is only called on a marrow day;
other days stop at VGPR — never a guessed CR). The rule set follows the baseline: serum M ≥ 1 g/dL
or urine M ≥ 200 mg/24 h → measurable-disease table; else dFLC ≥ 10 mg/dL → FLC-only table; else
the marrow plasma-cell fallback. Progression (PD) is checked from the nadir of every earlier value
since baseline; alert ``MYELOMA_PROGRESSION`` (IMWG needs two consecutive assessments to confirm —
the alert says so). dFLC = involved − uninvolved, 0 when the involved chain is no longer in
excess. MRD: a flow MRD result the same day as a CR/sCR is "NGF", negative unless detected,
sensitivity = the LOD as a fraction [I].
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from trephine.assess.call import Alert, Call, Calls
from trephine.assess.common import call, run
from trephine.assess.inputs import (
    PatientInputs,
    ResultRecord,
    detected,
    diagnostic_date,
    value_of,
)
from trephine.criteria.model import RuleSet
from trephine.criteria.sets import imwg2016_mm
from trephine.domain.results import (
    AspirateDifferential,
    CellClass,
    CoreFindings,
    FlowMRD,
    Paraprotein,
    PlasmacytomaStatus,
)

RULESETS = (
    imwg2016_mm.RESPONSE,
    imwg2016_mm.FLC_ONLY,
    imwg2016_mm.BM_ONLY,
    imwg2016_mm.PROGRESSION,
    imwg2016_mm.MRD,
)
_HUNDRED = Decimal(100)

_MM_MARKERS = ("serum_m_g_dl", "urine_m_mg_24h", "dflc_mg_dl", "bm_pc_pct")


def _paraprotein(results: list[ResultRecord]) -> Paraprotein | None:
    found = [r for r in results if isinstance(r.value, Paraprotein)]
    return None if not found else max(found, key=lambda r: r.id).value  # type: ignore[return-value]


def _mm_values(pp: Paraprotein | None, results: list[ResultRecord]) -> dict[str, Any]:
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
        elif isinstance(r.value, CoreFindings) and r.value.plasma_cell_kappa_lambda is not None:
            # Marrow plasma-cell clonality by IHC / flow (sCR needs no clonal plasma cells).
            values["ihc_kappa_lambda_ratio"] = r.value.plasma_cell_kappa_lambda
            values["ihc_pcs_counted"] = r.value.plasma_cells_assessed
    return values


def _mm_table(baseline: Mapping[str, Any]) -> RuleSet:
    serum, urine = baseline.get("serum_m_g_dl"), baseline.get("urine_m_mg_24h")
    if (serum is not None and serum >= 1) or (urine is not None and urine >= 200):
        return imwg2016_mm.RESPONSE
    dflc = baseline.get("dflc_mg_dl")
    if dflc is not None and dflc >= 10:
        return imwg2016_mm.FLC_ONLY
    return imwg2016_mm.BM_ONLY


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    grouped = inputs.by_date()
    days = {d: _mm_values(_paraprotein(rs), rs) for d, rs in grouped.items()}
    pp_dates = [d for d, rs in grouped.items() if _paraprotein(rs) is not None]
    if inputs.therapy_lines:
        start = min(line.start for line in inputs.therapy_lines)
        before = [d for d in pp_dates if d <= start]
        baseline_on = before[-1] if before else None
    else:
        baseline_on = diagnostic_date(pp_dates, inputs.diagnoses, ())
    out: list[Call] = []
    alerts: list[Alert] = []
    if baseline_on is None:
        # Without a pre-treatment M-protein no response can be measured: say so once.
        return Calls((), (), None, None)
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
        response = run(table, {**base_facts, **values}, where)
        out.append(call(date, "response", response))
        pd_values = {**values, **{f"nadir_{m}": v for m, v in nadir.items()}}
        pd = run(imwg2016_mm.PROGRESSION, pd_values, where)
        out.append(call(date, "progression", pd))
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
                out.append(call(date, "mrd", run(imwg2016_mm.MRD, mrd, f"{where} MRD")))
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
    return Calls(tuple(out), tuple(alerts), None, best)
