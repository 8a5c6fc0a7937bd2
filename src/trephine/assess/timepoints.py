"""Dated time points: a patient's stored results as the observations the AML evaluator reads.

:func:`timepoints` is pure: it turns :class:`~trephine.assess.inputs.PatientInputs` into
:class:`TimePoint` records (any order; :func:`in_order` sorts them). Interpretations, stated here
so they can be reviewed:

* A **marrow** time point is a date with an aspirate differential. Blood counts, core
  cellularity, extramedullary findings and specimen quality of the same date join it.
* The **diagnostic marrow** is :func:`~trephine.assess.inputs.diagnostic_date`.
* **Courses completed** at a marrow: the cycles (a line without cycles counts as one course)
  that started before the marrow date; intensity is that of the latest line started before it;
  days since start count from the first line's start.
* A **blood** time point is a blood count with circulating blasts on a date without a marrow.
* **MRD**: molecular qPCR/ddPCR (target = marker, detected unless "not detected", level = ratio
  in %) and flow MRD (method MFC, % of leukocytes, CD45 events = events acquired). NGS MRD
  needs its variant list and is left to the variant tracking (``trephine clonal track``).
* **Chimerism**: unsorted (whole blood or bone marrow) donor % only; lineage-sorted values are
  not compared with unsorted ones.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from trephine.assess.inputs import (
    PatientInputs,
    ResultRecord,
    detected,
    diagnostic_date,
    value_of,
)
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    Chimerism,
    ChimerismLineage,
    CoreFindings,
    Extramedullary,
    FlowMRD,
    MolecularMethod,
    MolecularMRD,
    ResultKind,
)
from trephine.domain.specimen import SpecimenType
from trephine.domain.therapy import Intensity as LineIntensity
from trephine.domain.therapy import TherapyLine


class ObservationKind(StrEnum):
    # Declaration order is the same-day processing order: an MRD result first, so that the
    # marrow response of that day can carry its MRD qualifier (CR_MRD-).
    MRD = "mrd"  # one ELN 2021 MRD result (MFC, qPCR/dPCR, NGS)
    MARROW = "marrow"  # aspirate/trephine: blasts, counts taken the same day, adequacy
    BLOOD = "blood"  # peripheral blood: circulating blasts
    CHIMERISM = "chimerism"  # donor % (unsorted or a lineage fraction)


class Intensity(StrEnum):
    INTENSIVE = "intensive"
    LESS_INTENSIVE = "less_intensive"


@dataclass(frozen=True)
class TherapyContext:
    """Where the observation sits in treatment: courses completed, intensity, days since start."""

    courses_completed: int | None = None
    intensity: Intensity | None = None
    days_since_start: int | None = None


@dataclass(frozen=True)
class TimePoint:
    """One dated observation. ``values`` uses the case-format input keys of its kind."""

    date: dt.date
    kind: ObservationKind
    values: Mapping[str, Any]
    therapy: TherapyContext | None = None
    diagnostic: bool = False  # the diagnostic (pre-treatment) marrow
    tissue: str | None = None  # "BM" or "PB" for MRD

    def sort_key(self) -> tuple[dt.date, int, str]:
        # Same-day observations in kind order, then a canonical text of the values, so that the
        # order in which they were given never matters.
        return (self.date, _KIND_ORDER[self.kind], _canonical(self.values))


_KIND_ORDER = {kind: i for i, kind in enumerate(ObservationKind)}


def _canonical(values: Mapping[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def in_order(points: Iterable[TimePoint]) -> list[TimePoint]:
    """Points by :meth:`TimePoint.sort_key`, computing the canonical text of the values only
    for same-date same-kind ties (the JSON text of every point was a tenth of the time of a
    whole assessment, and ties are rare: two MRD results of one day)."""
    ordered = sorted(points, key=lambda p: (p.date, _KIND_ORDER[p.kind]))
    i = 0
    while i < len(ordered):
        j = i + 1
        head = ordered[i]
        while j < len(ordered) and ordered[j].date == head.date and ordered[j].kind is head.kind:
            j += 1
        if j - i > 1:
            ordered[i:j] = sorted(ordered[i:j], key=lambda p: _canonical(p.values))
        i = j
    return ordered


_DIFFERENTIAL = ResultKind.DIFFERENTIAL  # enum member lookups are slow on the hot path
_POINT_KINDS = (MolecularMRD, FlowMRD, Chimerism)
_UNSORTED = (ChimerismLineage.WHOLE_BLOOD, ChimerismLineage.MARROW)
_PCR = {MolecularMethod.QPCR: "qPCR", MolecularMethod.DDPCR: "dPCR"}
_INTENSITY = {
    LineIntensity.INTENSIVE: Intensity.INTENSIVE,
    LineIntensity.LESS_INTENSIVE: Intensity.LESS_INTENSIVE,
}


def _courses(lines: Sequence[TherapyLine], before: dt.date) -> TherapyContext | None:
    started = [line for line in lines if line.start < before]
    if not started:
        return None
    courses = 0
    for line in started:
        courses += sum(1 for c in line.cycles if c.start < before) if line.cycles else 1
    latest = max(started, key=lambda line: line.start)
    first = min(line.start for line in started)
    return TherapyContext(courses, _INTENSITY.get(latest.intensity), (before - first).days)


def timepoints(inputs: PatientInputs) -> list[TimePoint]:
    """The time points of one patient (pure; the order of ``inputs.results`` is irrelevant)."""
    by_date = inputs.by_date()
    marrow_dates = sorted(
        d for d, rs in by_date.items() if any(r.kind is _DIFFERENTIAL for r in rs)
    )
    is_marrow = set(marrow_dates)
    diagnostic_on = diagnostic_date(marrow_dates, inputs.diagnoses, inputs.therapy_lines)
    points: list[TimePoint] = []
    for date in sorted(by_date):
        day_results = by_date[date]
        if date in is_marrow:
            points.append(_marrow(inputs, date, day_results, date == diagnostic_on))
        else:
            blood = _blood(date, day_results)
            if blood is not None:
                points.append(blood)
        for result in day_results:
            value = result.value
            if not isinstance(value, _POINT_KINDS):
                continue  # counts, differentials, cores joined the marrow/blood point above
            tissue = _tissue(inputs, result)
            if isinstance(value, MolecularMRD) and value.method in _PCR:
                mrd: dict[str, Any] = {
                    "method": _PCR[value.method],
                    "target": value.marker,
                    "detected": detected(value.ratio),
                }
                if detected(value.ratio):
                    mrd["level_pct"] = value.ratio.value
                if value.sensitivity is not None:
                    mrd["sensitivity"] = value.sensitivity
                points.append(TimePoint(date, ObservationKind.MRD, mrd, tissue=tissue))
            elif isinstance(value, FlowMRD):
                flow: dict[str, Any] = {
                    "method": "MFC",
                    "pct": value.mrd.value if detected(value.mrd) else Decimal(0),
                }
                if value.events_acquired is not None:
                    flow["cd45_events"] = value.events_acquired
                    # The laboratory's own LOD / LLOQ as events (ELN 2021 M6: the sensitivity
                    # a negative result states), instead of the 20 / 50-event defaults.
                    for key, limit in (
                        ("lod_events", value.mrd.lod),
                        ("lloq_events", value.mrd.lloq),
                    ):
                        if limit is not None:
                            flow[key] = limit * value.events_acquired / 100
                points.append(TimePoint(date, ObservationKind.MRD, flow, tissue=tissue))
            elif isinstance(value, Chimerism) and value.lineage in _UNSORTED:
                points.append(
                    TimePoint(
                        date,
                        ObservationKind.CHIMERISM,
                        {"donor_pct": value.donor_percent.value},
                    )
                )
    return points


def _tissue(inputs: PatientInputs, result: ResultRecord) -> str | None:
    specimen = inputs.specimens.get(result.accession)
    if specimen is None:
        return None
    return "PB" if specimen.type is SpecimenType.PERIPHERAL_BLOOD else "BM"


def _marrow(
    inputs: PatientInputs, date: dt.date, results: Iterable[ResultRecord], diagnostic: bool
) -> TimePoint:
    values: dict[str, Any] = {}
    emd: list[bool] = []
    for result in results:
        value = result.value
        if isinstance(value, AspirateDifferential):
            values["bm_blasts_pct"] = value.blast_percent
            values["cells_counted"] = value.cells_counted
            spicules = inputs.specimens.get(result.accession)
            if spicules is not None and spicules.spicules is not None:
                values["spicules_present"] = spicules.spicules
        elif isinstance(value, BloodCount):
            for key, quantity in (("anc", value.anc), ("plt", value.platelets)):
                if value_of(quantity) is not None:
                    values[key] = value_of(quantity)
            if value.circulating_blasts is not None:
                values["circulating_blasts"] = detected(value.circulating_blasts)
        elif isinstance(value, CoreFindings) and value_of(value.cellularity) is not None:
            values["biopsy_cellularity_pct"] = value_of(value.cellularity)
        elif isinstance(value, Extramedullary):
            emd.append(value.present)
    if emd:
        values["extramedullary"] = any(emd)
    therapy = None if diagnostic else _courses(inputs.therapy_lines, date)
    return TimePoint(date, ObservationKind.MARROW, values, therapy, diagnostic=diagnostic)


def _blood(date: dt.date, results: Iterable[ResultRecord]) -> TimePoint | None:
    for result in results:
        if isinstance(result.value, BloodCount) and result.value.circulating_blasts is not None:
            return TimePoint(
                date,
                ObservationKind.BLOOD,
                {"circulating_blasts": detected(result.value.circulating_blasts)},
            )
    return None
