"""Stored results → the criteria timeline's inputs (the mapping half of ``trephine assess``).

:func:`load_inputs` reads what one patient's assessment needs through the store (signed-out
results only: ``verified`` and ``amended``, i.e. the latest non-superseded version — a draft is
not yet a result a clinician may act on). :func:`timepoints` is pure: it turns those records
into :class:`~trephine.criteria.timeline.TimepointInput` objects, so the benchmark and tests can
run it without a database.

Units are already canonical (the domain converts at ingestion: counts in 10^9/L, blasts, MRD,
VAF and donor chimerism in %), so the mapping only renames fields. Interpretations, stated
here so they can be reviewed:

* A **marrow** time point is a date with an aspirate differential. Blood counts, core
  cellularity, extramedullary findings and specimen quality of the same date join it.
* The **diagnostic marrow** is the earliest marrow on or before the first therapy line starts
  (without therapy lines: the earliest marrow within 30 days of the diagnosis date).
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
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from trephine.criteria.timeline import (
    Intensity as TimelineIntensity,
)
from trephine.criteria.timeline import (
    ObservationKind,
    TherapyContext,
    TimepointInput,
)
from trephine.domain.patient import Diagnosis
from trephine.domain.quantity import Quantity
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
from trephine.domain.therapy import Intensity, TherapyLine
from trephine.services import _rows
from trephine.services.views import StoredResult
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    DiagnosisRow,
    PatientRow,
    ResultRow,
    SpecimenRow,
    TherapyLineRow,
)
from trephine.workflow import REPORTED_STATES

_DIFFERENTIAL = ResultKind.DIFFERENTIAL  # enum member lookups are slow on the hot path
_TIMELINE_KINDS = (MolecularMRD, FlowMRD, Chimerism)

#: Only signed-out versions are assessed (a superseded version is never "current").
ASSESSED_STATES = REPORTED_STATES
DIAGNOSTIC_WINDOW_DAYS = 30
_UNSORTED = (ChimerismLineage.WHOLE_BLOOD, ChimerismLineage.MARROW)
_PCR = {MolecularMethod.QPCR: "qPCR", MolecularMethod.DDPCR: "dPCR"}
_INTENSITY = {
    Intensity.INTENSIVE: TimelineIntensity.INTENSIVE,
    Intensity.LESS_INTENSIVE: TimelineIntensity.LESS_INTENSIVE,
}


@dataclass(frozen=True)
class SpecimenFacts:
    accession: str
    type: SpecimenType
    spicules: bool | None = None


@dataclass(frozen=True)
class PatientInputs:
    """Everything one patient's timeline assessment reads from the store."""

    patient_id: str
    diagnoses: tuple[Diagnosis, ...]
    therapy_lines: tuple[TherapyLine, ...]
    specimens: dict[str, SpecimenFacts]
    results: tuple[StoredResult, ...]

    @property
    def result_ids(self) -> tuple[int, ...]:
        return tuple(sorted(r.id for r in self.results))


def value_of(quantity: Quantity | None) -> Decimal | None:
    return None if quantity is None else quantity.value


def detected(quantity: Quantity) -> bool:
    return quantity.detected and quantity.value is not None and quantity.value > 0


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


def diagnostic_date(
    marrow_dates: Sequence[dt.date], diagnoses: Sequence[Diagnosis], lines: Sequence[TherapyLine]
) -> dt.date | None:
    if not marrow_dates:
        return None
    first = marrow_dates[0]
    if lines:
        start = min(line.start for line in lines)
        return first if first <= start else None
    if diagnoses:
        diagnosed = min(d.diagnosed_on for d in diagnoses)
        return first if abs((first - diagnosed).days) <= DIAGNOSTIC_WINDOW_DAYS else None
    return None


def timepoints(inputs: PatientInputs) -> list[TimepointInput]:
    """The timeline inputs of one patient (pure; the order of ``inputs.results`` is irrelevant)."""
    by_date: dict[dt.date, list[StoredResult]] = defaultdict(list)
    for result in inputs.results:
        if result.state in ASSESSED_STATES:
            by_date[result.collected_on].append(result)
    marrow_dates = sorted(
        d for d, rs in by_date.items() if any(r.kind is _DIFFERENTIAL for r in rs)
    )
    is_marrow = set(marrow_dates)
    diagnostic_on = diagnostic_date(marrow_dates, inputs.diagnoses, inputs.therapy_lines)
    points: list[TimepointInput] = []
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
            if not isinstance(value, _TIMELINE_KINDS):
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
                points.append(TimepointInput(date, ObservationKind.MRD, mrd, tissue=tissue))
            elif isinstance(value, FlowMRD):
                flow: dict[str, Any] = {
                    "method": "MFC",
                    "pct": value.mrd.value if detected(value.mrd) else Decimal(0),
                }
                if value.events_acquired is not None:
                    flow["cd45_events"] = value.events_acquired
                points.append(TimepointInput(date, ObservationKind.MRD, flow, tissue=tissue))
            elif isinstance(value, Chimerism) and value.lineage in _UNSORTED:
                points.append(
                    TimepointInput(
                        date,
                        ObservationKind.CHIMERISM,
                        {"donor_pct": value.donor_percent.value},
                    )
                )
    return points


def _tissue(inputs: PatientInputs, result: StoredResult) -> str | None:
    specimen = inputs.specimens.get(result.accession)
    if specimen is None:
        return None
    return "PB" if specimen.type is SpecimenType.PERIPHERAL_BLOOD else "BM"


def _marrow(
    inputs: PatientInputs, date: dt.date, results: Iterable[StoredResult], diagnostic: bool
) -> TimepointInput:
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
    return TimepointInput(date, ObservationKind.MARROW, values, therapy, diagnostic=diagnostic)


def _blood(date: dt.date, results: Iterable[StoredResult]) -> TimepointInput | None:
    for result in results:
        if isinstance(result.value, BloodCount) and result.value.circulating_blasts is not None:
            return TimepointInput(
                date,
                ObservationKind.BLOOD,
                {"circulating_blasts": detected(result.value.circulating_blasts)},
            )
    return None


def load_inputs(uow: UnitOfWork, external_id: str) -> PatientInputs:
    """Read one patient's diagnoses, therapy lines, specimens and signed-out results."""
    patient = _rows.patient_row(uow, external_id)
    session = uow.session
    diagnoses = tuple(
        _rows.to_diagnosis(r)
        for r in session.scalars(
            select(DiagnosisRow)
            .where(DiagnosisRow.patient_id == patient.id)
            .order_by(DiagnosisRow.diagnosed_on, DiagnosisRow.id)
        )
    )
    lines = tuple(
        _rows.to_therapy_line(r)
        for r in session.scalars(
            select(TherapyLineRow)
            .where(TherapyLineRow.patient_id == patient.id)
            .order_by(TherapyLineRow.line)
        )
    )
    specimen_rows = list(
        session.scalars(select(SpecimenRow).where(SpecimenRow.patient_id == patient.id))
    )
    specimens = {
        s.accession: SpecimenFacts(s.accession, SpecimenType(s.type), s.spicules)
        for s in specimen_rows
    }
    accession = {s.id: s.accession for s in specimen_rows}
    results = tuple(
        _rows.to_result(r, external_id, accession[r.specimen_id])
        for r in session.scalars(
            select(ResultRow)
            .where(
                ResultRow.patient_id == patient.id,
                ResultRow.state.in_([str(s) for s in ASSESSED_STATES]),
            )
            .order_by(ResultRow.collected_on, ResultRow.id)
        )
    )
    return PatientInputs(external_id, diagnoses, lines, specimens, results)


def load_all_inputs(uow: UnitOfWork) -> dict[str, PatientInputs]:
    """Every patient's inputs in five queries (not five per patient): for cohort-wide runs and
    the benchmark. Same content as :func:`load_inputs` for each patient."""
    session = uow.session
    ids = {row.id: row.external_id for row in session.scalars(select(PatientRow))}
    diagnoses: dict[int, list[Diagnosis]] = defaultdict(list)
    for d in session.scalars(
        select(DiagnosisRow).order_by(DiagnosisRow.diagnosed_on, DiagnosisRow.id)
    ):
        diagnoses[d.patient_id].append(_rows.to_diagnosis(d))
    lines: dict[int, list[TherapyLine]] = defaultdict(list)
    for t in session.scalars(select(TherapyLineRow).order_by(TherapyLineRow.line)):
        lines[t.patient_id].append(_rows.to_therapy_line(t))
    specimens: dict[int, dict[str, SpecimenFacts]] = defaultdict(dict)
    accession: dict[int, str] = {}
    for s in session.scalars(select(SpecimenRow)):
        specimens[s.patient_id][s.accession] = SpecimenFacts(
            s.accession, SpecimenType(s.type), s.spicules
        )
        accession[s.id] = s.accession
    found: dict[int, list[StoredResult]] = defaultdict(list)
    for r in session.scalars(
        select(ResultRow)
        .where(ResultRow.state.in_([str(s) for s in ASSESSED_STATES]))
        .order_by(ResultRow.collected_on, ResultRow.id)
    ):
        found[r.patient_id].append(_rows.to_result(r, ids[r.patient_id], accession[r.specimen_id]))
    return {
        external: PatientInputs(
            external,
            tuple(diagnoses[pid]),
            tuple(lines[pid]),
            specimens[pid],
            tuple(found[pid]),
        )
        for pid, external in sorted(ids.items(), key=lambda item: item[1])
    }
