"""ALL and CD19 CAR-T on the stored timeline: morphological response, relapse, refractoriness,
MRD (interpreted only in CR), B-cell aplasia and the CD19 status of a relapse after CAR-T.

Per marrow (a date with an aspirate differential; blood count, film blasts and the
extramedullary statement of the same date join it) after the diagnostic marrow:

* ``response`` — ALL CR / CRi / no response (:data:`all_response.RESPONSE`).
* ``relapse`` — once a CR/CRi was reached, every later marrow (or blood film with blasts) is
  checked for relapse (≥ 5 % marrow blasts, blasts in blood, extramedullary disease); a relapse
  raises ``HEMATOLOGIC_RELAPSE`` (or ``EXTRAMEDULLARY_RELAPSE``) and a new CR must be reached
  before another relapse can be called. After a CD19 CAR-T infusion the relapse also gets a
  ``cart_relapse`` call with the CD19 status of the blasts when flow recorded it (alert
  ``CAR_T_RELAPSE``).
* ``landmark`` — on the end-of-induction marrow: refractory when no CR/CRi (alert ``REFRACTORY``).
* ``mrd`` — each flow / molecular MRD result of the date, with ``hematologic_cr`` from that
  marrow's response: MRD is interpreted only in CR (else ``NOT_APPLICABLE``, with the blasts that
  made it so). Alerts: ``MRD_FAILURE`` on every MRD failure in CR, its message naming the
  time point (end of induction, end of consolidation, CAR-T day 28 / month 3, or interim;
  on an interim marrow a reappearance is alerted as such instead); ``MRD_CONVERSION`` when MRD
  reappears (any detectable MRD) after an MRD-negative CR.
* ``b_cell_aplasia`` — each blood count with CD19 values after a CAR-T infusion; a loss raises
  ``B_CELL_APLASIA_LOSS`` (unconfirmed) and, on the next sample that is still lost,
  ``B_CELL_APLASIA_LOSS_CONFIRMED`` (spec §5: "confirmed on a later sample").

Time points [I], stated for review: the **end-of-induction** marrow is the last marrow after an
induction line starts and before the next line starts; the **end-of-consolidation** marrow the
same for a consolidation line (or, when no line follows, the first marrow after it ended). After
CAR-T, a marrow 21–35 days after the infusion is the **day-28** marrow and 76–104 days the
**month-3** marrow (the spec's day 28 / month 3, ±1–2 weeks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from trephine.assess.call import Alert, Call, Calls, on_sample
from trephine.assess.common import call, run
from trephine.assess.inputs import (
    PatientInputs,
    ResultRecord,
    blasts,
    detected,
    diagnostic_date,
    value_of,
)
from trephine.assess.sentences import sentence
from trephine.assess.story import one_story
from trephine.criteria.categories import ALL_RELAPSE_CATEGORIES
from trephine.criteria.model import Evaluation, RuleSet
from trephine.criteria.sets import all_mrd, all_response
from trephine.domain.results import (
    BloodCount,
    Extramedullary,
    FlowMRD,
    MolecularMRD,
)
from trephine.domain.therapy import CarTInfusion, TherapyIntent, TherapyLine

RULESETS = (
    all_response.RESPONSE,
    all_response.RELAPSE,
    all_response.LANDMARK,
    all_response.CART_RELAPSE,
    all_mrd.RESPONSE,
    all_mrd.B_CELL_APLASIA,
)
_HUNDRED = Decimal(100)
_CR = frozenset({"CR", "CRi"})
_MRD_NEGATIVE = "MRD_CR"
#: Decision time points an MRD failure alert names (spec §5: end of induction / consolidation;
#: after CAR-T: day 28 and month 3).
_DECISION_POINTS = frozenset(
    {"end_of_induction", "end_of_consolidation", "car_t_day_28", "car_t_month_3"}
)
CAR_T_DAY_28 = (21, 35)  # [I] days after infusion
CAR_T_MONTH_3 = (76, 104)  # [I]


def _line_window(lines: Sequence[TherapyLine], line: TherapyLine) -> tuple[dt.date, dt.date | None]:
    later = [x.start for x in lines if x.start > line.start]
    return line.start, min(later) if later else None


def _phase_marrows(lines: Sequence[TherapyLine], marrows: Sequence[dt.date]) -> dict[dt.date, str]:
    found: dict[dt.date, str] = {}
    for intent, name in (
        (TherapyIntent.INDUCTION, "end_of_induction"),
        (TherapyIntent.CONSOLIDATION, "end_of_consolidation"),
    ):
        for line in (x for x in lines if x.intent is intent):
            start, until = _line_window(lines, line)
            if until is not None:
                inside = [d for d in marrows if start < d < until]
                if inside:
                    found.setdefault(inside[-1], name)
            elif line.end is not None:
                after = [d for d in marrows if d >= line.end]
                if after:
                    found.setdefault(after[0], name)
    return found


def _car_t_point(date: dt.date, infusions: Sequence[dt.date]) -> tuple[str | None, dt.date | None]:
    before = [d for d in infusions if d <= date]
    if not before:
        return None, None
    days = (date - before[-1]).days
    if CAR_T_DAY_28[0] <= days <= CAR_T_DAY_28[1]:
        return "car_t_day_28", before[-1]
    if CAR_T_MONTH_3[0] <= days <= CAR_T_MONTH_3[1]:
        return "car_t_month_3", before[-1]
    return None, before[-1]


def _only(rs: RuleSet, values: Mapping[str, Any]) -> dict[str, Any]:
    names = {spec.name for spec in rs.inputs}
    return {k: v for k, v in values.items() if k in names}


def _marrow_values(results: Sequence[ResultRecord]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    marrow_blasts = blasts(results)
    if marrow_blasts is not None:
        values["bm_blasts_pct"] = marrow_blasts
    emd: list[bool] = []
    for r in results:
        v = r.value
        if isinstance(v, BloodCount):
            for key, quantity in (("anc", v.anc), ("plt", v.platelets)):
                if value_of(quantity) is not None:
                    values[key] = value_of(quantity)
            if v.circulating_blasts is not None:
                values["circulating_blasts"] = detected(v.circulating_blasts)
        elif isinstance(v, Extramedullary):
            emd.append(v.present)
    if emd:
        values["extramedullary"] = any(emd)
    return values


def _mrd_values(value: Any) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
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


def _cd19_status(results: Sequence[ResultRecord]) -> str | None:
    for r in results:
        if isinstance(r.value, FlowMRD) and r.value.cd19_on_blasts is not None:
            return str(r.value.cd19_on_blasts)
    return None


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    grouped = inputs.by_date()
    marrows = [d for d, rs in grouped.items() if blasts(rs) is not None]
    diagnostic = diagnostic_date(marrows, inputs.diagnoses, inputs.therapy_lines)
    phases = _phase_marrows(inputs.therapy_lines, marrows)
    infusions = sorted(e.on for e in inputs.cellular_therapies if isinstance(e, CarTInfusion))
    out: list[Call] = []
    alerts: list[Alert] = []
    in_remission = False  # CR/CRi reached and not relapsed since
    ever_cr = False
    mrd_negative = False  # an MRD-negative CR since the last relapse
    bca_lost = False
    refractory_alerted = False
    for date, results in grouped.items():
        where = f"{date.isoformat()} marrow"
        is_marrow = date in marrows and date != diagnostic
        car_t_point, infused = _car_t_point(date, infusions)
        point = phases.get(date) or car_t_point or "other"
        values = _marrow_values(results)
        hematologic_cr: bool | None = None
        if is_marrow:
            response = run(all_response.RESPONSE, values, where, params)
            out.append(call(date, "response", response))
            if in_remission:
                relapse = run(
                    all_response.RELAPSE, _only(all_response.RELAPSE, values), where, params
                )
                out.append(call(date, "relapse", relapse))
                if relapse.category in ALL_RELAPSE_CATEGORIES:
                    _relapse(date, relapse, infused, results, out, alerts, params)
                    in_remission, mrd_negative = False, False
            elif response.category in _CR:
                in_remission, ever_cr = True, True
            if response.category != all_response.RESPONSE.not_evaluable:
                hematologic_cr = in_remission and response.category in _CR
            if point == "end_of_induction":
                lm = run(
                    all_response.LANDMARK,
                    {"cr_achieved": ever_cr, "end_of_induction": True},
                    where,
                    params,
                )
                out.append(call(date, "landmark", lm))
                if lm.category == "REFRACTORY" and not refractory_alerted:
                    refractory_alerted = True
                    alerts.append(
                        Alert(
                            date,
                            "REFRACTORY",
                            "No CR or CRi on the end-of-induction marrow: refractory ALL "
                            f"(NCCN ALL [R]; {response.category})",
                        )
                    )
        elif in_remission and values.get("circulating_blasts") is True:
            relapse = run(
                all_response.RELAPSE,
                _only(all_response.RELAPSE, values),
                f"{date.isoformat()} blood",
                params,
            )
            out.append(call(date, "relapse", relapse))
            if relapse.category in ALL_RELAPSE_CATEGORIES:
                _relapse(date, relapse, infused, results, out, alerts, params)
                in_remission, mrd_negative = False, False
        for r in sorted(results, key=lambda r: (str(r.kind), r.analyte, r.id)):
            mrd = _mrd_values(r.value)
            if mrd is None:
                continue
            # MRD is read only in haematologic CR (spec §5): this marrow's response; when that
            # is not evaluable (counts or EMD not recorded), the spec's prerequisite itself —
            # marrow blasts < 5 %; on a day without a marrow, whether the patient is in CR.
            if hematologic_cr is not None:
                mrd["hematologic_cr"] = hematologic_cr
            elif not is_marrow:
                mrd["hematologic_cr"] = in_remission
            if "bm_blasts_pct" in values:
                mrd["bm_blasts_pct"] = values["bm_blasts_pct"]
            mrd["timepoint"] = point
            # The site's parameters (TREPHINE_ASSESS_PARAMS: mrd_threshold_pct) apply here as
            # they do in every other assessor; they were accepted and then not passed.
            where_mrd = f"{date.isoformat()} {r.kind} {r.analyte}".strip()
            a = run(all_mrd.RESPONSE, mrd, where_mrd, params)
            out.append(on_sample(call(date, "mrd", a), inputs.sample_of(r)))
            reappeared = mrd_negative and mrd["mrd_detected"] and a.category != "NOT_APPLICABLE"
            if a.category == "MRD_FAILURE" and (point in _DECISION_POINTS or not reappeared):
                # Every MRD failure in CR is alerted; the message says whether the marrow is a
                # decision time point (spec §5) or an interim one, so the reader weighs it.
                when = (
                    f"at {point.replace('_', ' ')}"
                    if point in _DECISION_POINTS
                    else "on an interim marrow (not end of induction or consolidation, nor "
                    "CAR-T day 28 or month 3 [I])"
                )
                alerts.append(
                    Alert(
                        date,
                        "MRD_FAILURE",
                        f"{sentence(a, 'MRD failure', 'ASH 2021 Table 1')} {when}",
                    )
                )
            elif reappeared:
                alerts.append(
                    Alert(
                        date,
                        "MRD_CONVERSION",
                        f"MRD reappeared after an MRD-negative CR: {a.category} "
                        f"({mrd['mrd_method']}, {mrd.get('mrd_level_pct', 'detected')} %)",
                    )
                )
                mrd_negative = False
            if a.category == _MRD_NEGATIVE:
                mrd_negative = True
        if infused is not None:
            bca = _b_cells(results)
            if bca is not None:
                a = run(all_mrd.B_CELL_APLASIA, bca, f"{date.isoformat()} blood CD19", params)
                out.append(call(date, "b_cell_aplasia", a))
                if a.category == "LOSS_OF_B_CELL_APLASIA_UNCONFIRMED":
                    code = "B_CELL_APLASIA_LOSS_CONFIRMED" if bca_lost else "B_CELL_APLASIA_LOSS"
                    what = (
                        "loss of B-cell aplasia confirmed on a later sample"
                        if bca_lost
                        else "loss of B-cell aplasia (confirm on a later sample)"
                    )
                    alerts.append(Alert(date, code, sentence(a, what, "spec §5, S36")))
                    bca_lost = True
                elif a.category == "B_CELL_APLASIA":
                    bca_lost = False
    calls = one_story(out)
    best = next((c.category for c in calls if c.kind == "response" and c.category == "CR"), None)
    if best is None and ever_cr:
        best = "CRi"
    return Calls(calls, tuple(sorted(alerts, key=lambda a: (a.date, a.code))), None, best)


def _b_cells(results: Sequence[ResultRecord]) -> dict[str, Any] | None:
    for r in results:
        v = r.value
        if isinstance(v, BloodCount) and (v.cd19_percent is not None or v.cd19_count is not None):
            values: dict[str, Any] = {}
            if value_of(v.cd19_percent) is not None:
                values["cd19_pct_pb"] = value_of(v.cd19_percent)
            if value_of(v.cd19_count) is not None:
                values["cd19_abs_per_ul"] = value_of(v.cd19_count)
            return values
    return None


def _relapse(
    date: dt.date,
    relapse: Evaluation,
    infused: dt.date | None,
    results: Sequence[ResultRecord],
    out: list[Call],
    alerts: list[Alert],
    params: Mapping[str, Any],
) -> None:
    what = (
        "extramedullary relapse after CR"
        if relapse.category == "EXTRAMEDULLARY_RELAPSE"
        else "haematological relapse after CR"
    )
    alerts.append(Alert(date, relapse.category, sentence(relapse, what, "NCCN ALL [R]")))
    if infused is None:
        return
    cd19 = _cd19_status(results)
    where = f"{date.isoformat()} relapse after CAR-T"
    cd19_values = {} if cd19 is None else {"cd19_on_blasts": cd19}
    status = run(all_response.CART_RELAPSE, cd19_values, where, params)
    out.append(call(date, "cart_relapse", status))
    days = (date - infused).days
    cd19_text = {
        "CD19_NEGATIVE_RELAPSE": "CD19-negative",
        "CD19_POSITIVE_RELAPSE": "CD19-positive",
    }.get(status.category, "CD19 status not recorded")
    alerts.append(
        Alert(
            date,
            "CAR_T_RELAPSE",
            f"Relapse {days} days after CAR-T infusion ({infused.isoformat()}): {cd19_text}",
        )
    )
