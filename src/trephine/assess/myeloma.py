"""Myeloma on the stored timeline: IMWG 2016 response, progression and MRD.

Interpretations [I], stated for review: one response call per date with a paraprotein result
after the baseline (the latest paraprotein on or before the first therapy line starts; without
therapy lines, the first within 30 days of diagnosis). Serum/urine M-protein, IFE, FLC (involved /
uninvolved, κ/λ ratio formed with the involved chain), plasmacytoma status; marrow plasma cells
from a differential of the same day (so CR, which needs a marrow, is only called on a marrow day;
other days stop at VGPR — never a guessed CR). The rule set follows the baseline: serum M ≥ 1 g/dL
or urine M ≥ 200 mg/24 h → measurable-disease table; else dFLC ≥ 10 mg/dL → FLC-only table; else
the marrow plasma-cell fallback. Progression (PD) is checked from the nadir of every earlier value
since baseline, one ``progression`` call per paraprotein date.

A new line of therapy restarts both (:data:`~trephine.criteria.sets.imwg2016_mm.PER_LINE`, the
standard IMWG reading [R]: the spec measures PD from "the lowest confirmed value" and confirms
"before any new therapy", without saying which values a later line starts from). A stored
therapy line of intent consolidation or maintenance continues the line before it (planned
sequential therapy — induction, transplant, maintenance — is one IMWG line [R]); any other starts
a new line (e.g. salvage at relapse). Each line's baseline is the latest paraprotein on or
before its start (its marrow plasma cells from a marrow after the previous line's start), its
table is chosen by that baseline, and its paraprotein dates up to the next line's start
(inclusive) are measured from it and from the lowest value since. A later line's response and
progression calls add an evidence item saying so. A line without a paraprotein on or before its
start is not assessed. dFLC = involved − uninvolved, 0
when the involved chain is no longer in excess. MRD: a flow MRD result the same day as a CR/sCR
is "NGF", negative unless detected, sensitivity = the LOD as a fraction [I].

Confirmation (Durie 2006: every category needs two consecutive assessments before any new
therapy, :data:`~trephine.criteria.sets.imwg2016_mm.CONFIRMATION`): the PDs of consecutive
paraprotein assessments with no therapy line started between them (a line starting on the day
of the later sample does not part them: a sample of the first day of a line is taken before it,
as for the baseline) are one run. A run of one is ``PD_UNCONFIRMED`` ("to confirm"); every PD
of a longer run is ``PD_CONFIRMED``, the first of them too — the IMWG dates progression at the
first of the two [R] — each naming the assessment that confirms it or that it confirms. An
assessment between them that does not meet PD (``NOT_MET``, or ``NOT_EVALUABLE`` for want of a
marker) parts two runs [I]. The table's own PD/NOT_MET/NOT_EVALUABLE call of an assessment is
what is stored when it is not a PD, unchanged (same evidence, same digest). Alerts:
``MYELOMA_PROGRESSION`` on the first PD of each run ("confirm on a second consecutive
assessment"), ``MYELOMA_PROGRESSION_CONFIRMED`` on the assessment that confirms it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from trephine.assess.call import Alert, Call, Calls, digest_of, on_sample
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
from trephine.domain.therapy import TherapyIntent

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


@dataclass(frozen=True)
class _Line:
    """The paraprotein dates one therapy line is measured on: from its ``baseline`` (exclusive)
    to ``end`` (inclusive; None: no later line), ``number`` None before any therapy line."""

    number: int | None
    baseline: dt.date
    start: dt.date | None
    end: dt.date | None
    #: Marrows after this date (and on or before the baseline) may give the baseline's marrow
    #: plasma cells (None: any earlier marrow).
    marrows_after: dt.date | None

    @property
    def later(self) -> bool:
        """A line after the first: its calls say what they are measured from."""
        return self.marrows_after is not None


#: Stored therapy lines that continue the treatment before them (planned sequential therapy:
#: induction, transplant consolidation, maintenance are one IMWG line of therapy [R]); any
#: other starts a new line.
_SAME_LINE = frozenset({TherapyIntent.CONSOLIDATION, TherapyIntent.MAINTENANCE})


def _lines(inputs: PatientInputs, pp_dates: list[dt.date]) -> list[_Line]:
    """The lines of therapy with a paraprotein baseline, in order (module docstring): the first
    stored therapy line, then each one that is not a consolidation or maintenance. Each line's
    baseline is the latest paraprotein on or before its start (a sample of a line's first day
    is taken before it), and it is measured up to the next line's start. Without therapy
    lines, one line from the diagnostic baseline."""
    if not inputs.therapy_lines:
        baseline_on = diagnostic_date(pp_dates, inputs.diagnoses, ())
        return [] if baseline_on is None else [_Line(None, baseline_on, None, None, None)]
    numbers: dict[dt.date, int] = {}
    for n, line in enumerate(sorted(inputs.therapy_lines, key=lambda t: (t.start, t.line))):
        if n == 0 or line.intent not in _SAME_LINE:
            numbers.setdefault(line.start, line.line)
    starts = sorted(numbers)
    lines: list[_Line] = []
    for k, start in enumerate(starts):
        before = [d for d in pp_dates if d <= start]
        if before:
            end = starts[k + 1] if k + 1 < len(starts) else None
            after = starts[k - 1] if k else None
            lines.append(_Line(numbers[start], before[-1], start, end, after))
    return lines


def assess(inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
    grouped = inputs.by_date()
    days = {d: _mm_values(_paraprotein(rs), rs) for d, rs in grouped.items()}
    pp_dates = [d for d, rs in grouped.items() if _paraprotein(rs) is not None]
    out: list[Call] = []
    progression: list[int] = []  # where each date's progression call is in ``out``
    tables: list[RuleSet] = []
    # Without a pre-treatment M-protein no response can be measured: no line, no call.
    for line in _lines(inputs, pp_dates):
        tables.append(
            _assess_line(line, grouped, days, pp_dates, out, progression, inputs.sample_of, params)
        )
    alerts = _confirm(out, progression, [line.start for line in inputs.therapy_lines])
    not_evaluable = {t.not_evaluable for t in tables} | {"NOT_EVALUABLE_BY_BM_BRANCH"}
    best = min(
        (
            a.category
            for a in out
            if any(a.category in t.categories for t in tables)
            and a.category not in not_evaluable
            and a.category in imwg2016_mm.RESPONSE.categories
        ),
        key=imwg2016_mm.RESPONSE.categories.index,
        default=None,
    )
    return Calls(tuple(out), tuple(alerts), None, best)


def _assess_line(
    line: _Line,
    grouped: Mapping[dt.date, list[ResultRecord]],
    days: Mapping[dt.date, dict[str, Any]],
    pp_dates: Sequence[dt.date],
    out: list[Call],
    progression: list[int],
    sample_of: Callable[[ResultRecord], str | None],
    params: Mapping[str, Any],
) -> RuleSet:
    """The response, progression and MRD calls of one line's paraprotein dates, appended to
    ``out`` (``progression``: where its progression calls are; ``sample_of``: the sample an
    MRD result was measured on; ``params``: the site's, for every rule set); the response
    table its baseline chose."""
    baseline_on = line.baseline
    baseline = dict(days[baseline_on])
    # The diagnostic marrow may precede the serum sample by days: take its plasma cells.
    marrows = [
        d
        for d, v in days.items()
        if "bm_pc_pct" in v
        and d <= baseline_on
        and (line.marrows_after is None or d > line.marrows_after)
    ]
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
    note = _line_note(line) if line.later else None
    for date in pp_dates:
        if date <= baseline_on or (line.end is not None and date > line.end):
            continue
        values = days[date]
        where = f"{date.isoformat()} paraprotein"
        response = run(table, {**base_facts, **values}, where, params)
        out.append(_noted(call(date, "response", response), note))
        pd_values = {**values, **{f"nadir_{m}": v for m, v in nadir.items()}}
        progression.append(len(out))
        pd = call(date, "progression", run(imwg2016_mm.PROGRESSION, pd_values, where, params))
        out.append(_noted(pd, note))
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
                mrd_call = call(date, "mrd", run(imwg2016_mm.MRD, mrd, f"{where} MRD", params))
                out.append(on_sample(mrd_call, sample_of(r)))
    return table


def _line_note(line: _Line) -> dict[str, Any]:
    """The worded evidence item of a later line's calls: what they are measured from."""
    assert line.start is not None
    return {
        "input": "therapy_line",
        "value": line.number,
        "comparator": None,
        "threshold": None,
        "outcome": None,
        "sentence": (
            f"Therapy line {line.number} started on {line.start.isoformat()}: measured from "
            f"its baseline, the paraprotein of {line.baseline.isoformat()}, and the lowest "
            f"value since — {imwg2016_mm.PER_LINE}"
        ),
    }


def _noted(made: Call, note: Mapping[str, Any] | None) -> Call:
    """``made`` with the line's worded item added (its own digest), or as it is."""
    if note is None:
        return made
    return replace(
        made,
        evidence=(*made.evidence, dict(note)),
        digest=digest_of({"call": made.digest, "therapy_line": note}),
    )


#: The PROGRESSION table's category that the confirmation restates.
_PD = "PD"


def _confirm(out: list[Call], at: Sequence[int], line_starts: Sequence[dt.date]) -> list[Alert]:
    """Restate the table's PD calls (``out[i]`` for ``i`` in ``at``: one ``progression`` call
    per assessed date, in date order) as confirmed or to confirm, and the progression alerts:
    consecutive PDs with no therapy line started between them confirm one another (module
    docstring)."""
    runs: list[list[int]] = []  # each run of consecutive PDs, as positions in ``at``
    for k, i in enumerate(at):
        if out[i].category != _PD:
            continue
        # The previous assessment met PD too (it ends the last run) and no line started since.
        if (
            runs
            and runs[-1][-1] == k - 1
            and not any(out[at[k - 1]].date <= start < out[i].date for start in line_starts)
        ):
            runs[-1].append(k)
        else:
            runs.append([k])
    alerts: list[Alert] = []
    for members in runs:
        first = out[at[members[0]]]
        alerts.append(
            Alert(
                first.date,
                "MYELOMA_PROGRESSION",
                f"IMWG 2016 progression ({first.rule}); confirm on a second consecutive assessment",
            )
        )
        if len(members) == 1:
            out[at[members[0]]] = _restated(
                first,
                imwg2016_mm.PD_UNCONFIRMED,
                "Progressive disease met on this assessment: to confirm on the next one",
            )
            continue
        second = out[at[members[1]]]
        alerts.append(
            Alert(
                second.date,
                "MYELOMA_PROGRESSION_CONFIRMED",
                f"IMWG 2016 progression confirmed on a second consecutive assessment "
                f"({second.rule}; first met on {first.date.isoformat()}, {first.rule})",
            )
        )
        dated = first.date.isoformat()
        for n, k in enumerate(members):
            if n == 0:
                note = (
                    f"Confirmed by the next assessment, {second.date.isoformat()}, which also "
                    f"meets progressive disease ({second.rule}): progression dated {dated}, the "
                    "first of the two"
                )
            else:
                previous_call = out[at[members[n - 1]]]
                note = (
                    f"The previous assessment, {previous_call.date.isoformat()}, also met "
                    f"progressive disease ({previous_call.rule}): progression confirmed, dated "
                    f"{dated}"
                )
            out[at[k]] = _restated(out[at[k]], imwg2016_mm.PD_CONFIRMED, note)
    return alerts


def _restated(pd: Call, category: str, sentence: str) -> Call:
    """The table's PD call of one assessment as confirmed or to confirm: ``category``, the
    table's evidence and one worded item saying why (its own digest: a call that changes is
    stored as a new row, the table's call stays in the history)."""
    note = {
        "input": "consecutive_assessments",
        "value": category,
        "comparator": None,
        "threshold": None,
        "outcome": True if category == imwg2016_mm.PD_CONFIRMED else None,
        "sentence": f"{sentence} — {imwg2016_mm.CONFIRMATION}",
    }
    return replace(
        pd,
        category=category,
        evidence=(*pd.evidence, note),
        digest=digest_of({"call": pd.digest, "category": category, "confirmation": note}),
    )
