"""Microenvironment results (issue 14): storing computed populations and measurements as drafts,
and reading them back for the paired comparisons and the niche view.

Everything is recorded through :func:`trephine.services.results.record_results` (the batch
writer), so the lifecycle (draft → verified → amended), the natural key and the audit events are
the ones every other result kind has. Storing the same computation again changes nothing;
storing a different one edits the draft, and is refused once the result is signed out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trephine.domain.results import Measurement, Population
from trephine.errors import TrephineError
from trephine.services import _rows, results
from trephine.services._batch import Outcome
from trephine.services.views import StoredResult
from trephine.store.database import UnitOfWork

if TYPE_CHECKING:
    from trephine.analysis.microenvironment.paired import Pair


def check_specimen(uow: UnitOfWork, accession: str) -> None:
    """The specimen exists (else NotFound naming it): what populations and measurements are
    stored on (any specimen type: flow, single-cell, IHC and images alike)."""
    _rows.specimen_row(uow, accession)


def record_drafts(
    uow: UnitOfWork, items: Sequence[tuple[str, Population | Measurement]]
) -> list[tuple[StoredResult, bool]]:
    """Record ``(accession, value)`` items as drafts, all or nothing: the first refusal raises
    (the unit of work then rolls back every item). Answers ``(stored, created)`` per item."""
    for accession in {a for a, _ in items}:
        check_specimen(uow, accession)
    answers = results.record_results(uow, [(a, v, False) for a, v in items])
    ids: list[tuple[int, bool]] = []
    for answer in answers:
        if isinstance(answer, TrephineError):
            raise answer
        row_id, outcome = answer
        ids.append((row_id, outcome is Outcome.CREATED))
    views = _views(uow, [row_id for row_id, _ in ids])
    return [(views[row_id], created) for row_id, created in ids]


def _views(uow: UnitOfWork, ids: Sequence[int]) -> dict[int, StoredResult]:
    """The stored results ``ids``, read with their patient and accession in one query per
    thousand (one ``get_result`` per row cost three lookups each: 1.8 s of a 720-result
    h5ad import)."""
    from sqlalchemy import select

    from trephine.services._batch import chunks
    from trephine.store.tables import PatientRow, ResultRow, SpecimenRow

    out: dict[int, StoredResult] = {}
    for batch in chunks(sorted(set(ids))):
        rows = uow.session.execute(
            select(ResultRow, PatientRow.external_id, SpecimenRow.accession)
            .join(PatientRow, PatientRow.id == ResultRow.patient_id)
            .join(SpecimenRow, SpecimenRow.id == ResultRow.specimen_id)
            .where(ResultRow.id.in_(batch))
        )
        for row, patient, accession in rows:
            out[row.id] = _rows.to_result(row, patient, accession)
    return out


def stored_accessions(uow: UnitOfWork, accessions: Sequence[str]) -> set[str]:
    """Which of ``accessions`` are stored specimens (one query per thousand)."""
    from sqlalchemy import select

    from trephine.services._batch import chunks
    from trephine.store.tables import SpecimenRow

    found: set[str] = set()
    for batch in chunks(sorted(set(accessions))):
        found.update(
            uow.session.scalars(
                select(SpecimenRow.accession).where(SpecimenRow.accession.in_(batch))
            )
        )
    return found


def _feature(value: Population | Measurement, measure: str) -> tuple[str, str, float] | None:
    if isinstance(value, Population):
        if measure == "percent_of_total":
            share = value.percent_of_total
            if share is None or value.total is None:
                return None
            return f"{value.population} (% of {value.total})", "%", float(share)
        return f"{value.population} (% of {value.parent})", "%", float(value.percent_of_parent)
    number = value.value.value
    if number is None:
        return None
    return value.index, value.value.unit, float(number)


#: How the two values of a patient are chosen (:func:`paired_features`).
PAIRINGS = ("therapy", "relapse")
#: Which patients are compared by their response (:func:`paired_features`).
RESPONSE_GROUPS = ("responders", "non-responders")


def paired_features(
    uow: UnitOfWork,
    *,
    measure: str = "percent_of_parent",
    diagnosis: str | None = None,
    include_drafts: bool = False,
    pairs: str = "therapy",
    response: str | None = None,
) -> tuple[dict[str, tuple[str, list[Pair]]], list[str]]:
    """Pairs per feature across patients, around each patient's FIRST therapy line.

    ``pairs="therapy"``: before = the latest value collected on or before the line's start,
    after = the earliest value collected after it. ``pairs="relapse"`` (diagnosis vs relapse):
    before as above (the marrow before treatment), after = the earliest value collected on or
    after the patient's first relapse call (a stored ``relapse`` call of a relapse category, or
    a confirmed myeloma progression, :data:`trephine.criteria.categories.RELAPSE_CATEGORIES`,
    after the line's start); patients
    without one are left out. ``response``: only ``responders`` (a stored response call in the
    complete remission family at any time, :data:`trephine.criteria.categories.CR_CATEGORIES`) or
    ``non-responders`` (response calls, none of them in that family); patients without a
    response call are in neither. Populations give % of parent (or of total), measurements
    their value. Signed-out results only unless ``include_drafts``. Returns the features and
    the patients read (for the audit event of whoever shows them)."""
    from sqlalchemy import func, select

    from trephine.analysis.microenvironment.paired import Pair
    from trephine.domain.results import ResultKind
    from trephine.errors import ValidationError
    from trephine.store.tables import DiagnosisRow, PatientRow, TherapyLineRow
    from trephine.workflow import ResultState

    if pairs not in PAIRINGS:
        raise ValidationError("pairs", pairs, PAIRINGS)
    if response is not None and response not in RESPONSE_GROUPS:
        raise ValidationError("response", response, RESPONSE_GROUPS)

    states = {ResultState.VERIFIED, ResultState.AMENDED}
    if include_drafts:
        states.add(ResultState.DRAFT)
    rows = results.list_results(
        uow, kinds=(ResultKind.POPULATION, ResultKind.MEASUREMENT), states=states
    )
    starts = dict(
        uow.session.execute(
            select(PatientRow.external_id, func.min(TherapyLineRow.start))
            .join(TherapyLineRow, TherapyLineRow.patient_id == PatientRow.id)
            .group_by(PatientRow.external_id)
        ).all()
    )
    if diagnosis is not None:
        wanted = set(
            uow.session.scalars(
                select(PatientRow.external_id)
                .join(DiagnosisRow, DiagnosisRow.patient_id == PatientRow.id)
                .where(DiagnosisRow.disease == diagnosis)
            )
        )
        rows = [r for r in rows if r.patient_id in wanted]
    if response is not None:
        responders, called = _responders(uow)
        group = responders if response == "responders" else called - responders
        rows = [r for r in rows if r.patient_id in group]
    series: dict[tuple[str, str], list[tuple[dt.date, float]]] = {}
    units: dict[str, str] = {}
    for r in rows:
        if not isinstance(r.value, Population | Measurement):
            continue
        feature = _feature(r.value, measure)
        if feature is None:
            continue
        name, unit, number = feature
        units[name] = unit
        series.setdefault((name, r.patient_id), []).append((r.collected_on, number))
    relapses = _first_relapses(uow) if pairs == "relapse" else {}
    features: dict[str, tuple[str, list[Pair]]] = {}
    read: set[str] = set()
    for (name, patient), values in sorted(series.items()):
        start = starts.get(patient)
        if start is None:
            continue
        before = [v for v in values if v[0] <= start]
        if pairs == "relapse":
            relapse = relapses.get(patient)
            if relapse is None or relapse <= start:
                continue
            after = [v for v in values if v[0] >= relapse]
        else:
            after = [v for v in values if v[0] > start]
        if not before or not after:
            continue
        b = max(before, key=lambda v: v[0])
        a = min(after, key=lambda v: v[0])
        features.setdefault(name, (units[name], []))[1].append(Pair(patient, b[1], a[1]))
        read.add(patient)
    return features, sorted(read)


def _responders(uow: UnitOfWork) -> tuple[set[str], set[str]]:
    """(patients with a current response call in the complete-remission family, patients with
    any current response call). A response call superseded by a relapse of the same marrow
    (:mod:`trephine.assess.story`) does not count."""
    from sqlalchemy import select

    from trephine.assess.story import SUPERSEDED
    from trephine.criteria.categories import CR_CATEGORIES
    from trephine.store.tables import AssessmentRow, PatientRow

    query = (
        select(PatientRow.external_id, AssessmentRow.category, AssessmentRow.flags)
        .join(AssessmentRow, AssessmentRow.patient_id == PatientRow.id)
        .where(AssessmentRow.call_kind == "response")
    )
    responders: set[str] = set()
    called: set[str] = set()
    for patient, category, flags in uow.session.execute(query).all():
        if SUPERSEDED in (flags or ()):
            continue
        called.add(patient)
        if category in CR_CATEGORIES:
            responders.add(patient)
    return responders, called


def _first_relapses(uow: UnitOfWork) -> dict[str, dt.date]:
    """Each patient's first relapse: the earliest stored ``relapse`` call whose category is a
    relapse (the others say that remission continues), or confirmed ``progression`` (dated at
    the first of the assessments that confirm it)."""
    from sqlalchemy import func, select

    from trephine.store.tables import AssessmentRow, PatientRow

    query = (
        select(PatientRow.external_id, func.min(AssessmentRow.assessed_on))
        .join(AssessmentRow, AssessmentRow.patient_id == PatientRow.id)
        .where(_rows.relapse_call())
        .group_by(PatientRow.external_id)
    )
    return {patient: day for patient, day in uow.session.execute(query).all()}


def niche_series(uow: UnitOfWork, patient: str) -> list[dict[str, Any]]:
    """A patient's marrow niche over time (aplastic anaemia view): core cellularity, adipocyte
    area fraction, microvessel density and CD271+ stromal cells, one row per date."""
    from trephine.domain.results import CoreFindings, ResultKind

    rows = results.patient_results(uow, patient, (ResultKind.CORE, ResultKind.MEASUREMENT))
    by_date: dict[str, dict[str, str]] = {}
    states: dict[str, set[str]] = {}
    for r in rows:
        day = r.collected_on.isoformat()
        values = by_date.setdefault(day, {})
        if isinstance(r.value, CoreFindings) and r.value.cellularity is not None:
            values["cellularity (%)"] = str(r.value.cellularity.value)
        elif isinstance(r.value, Measurement):
            values[f"{r.value.index} ({r.value.value.unit})"] = str(r.value.value.value)
        else:
            continue
        states.setdefault(day, set()).add(str(r.state))
    return [
        {"date": day, "values": by_date[day], "states": sorted(states[day])}
        for day in sorted(by_date)
        if by_date[day]
    ]


#: The niche measurements of the aplastic-anaemia view, in the order shown.
NICHE_COLUMNS = (
    "cellularity (%)",
    "adipocyte area fraction (%)",
    "microvessel density (vessels/mm2)",
    "CD271+ stromal cells (cells/mm2)",
)


def niche_by_patient(
    uow: UnitOfWork, diagnosis: str = "aplastic anemia"
) -> tuple[list[tuple[str, list[dict[str, Any]]]], list[str]]:
    """The niche over time (:func:`niche_series`) of every patient with ``diagnosis`` that has
    one, each row's date replaced by its day from the patient's first diagnosis (``day``), so
    every view shows the same thing. Returns ``[(patient, rows)]`` and the patients read."""
    from sqlalchemy import func, select

    from trephine.store.tables import DiagnosisRow, PatientRow

    first = dict(
        uow.session.execute(
            select(PatientRow.external_id, func.min(DiagnosisRow.diagnosed_on))
            .join(DiagnosisRow, DiagnosisRow.patient_id == PatientRow.id)
            .where(DiagnosisRow.disease == diagnosis)
            .group_by(PatientRow.external_id)
        ).all()
    )
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for patient in sorted(first):
        rows = niche_series(uow, patient)
        if not rows:
            continue
        zero = first[patient]
        out.append(
            (
                patient,
                [
                    {
                        "day": (dt.date.fromisoformat(r["date"]) - zero).days,
                        "values": r["values"],
                        "states": r["states"],
                    }
                    for r in rows
                ],
            )
        )
    return out, [p for p, _ in out]
