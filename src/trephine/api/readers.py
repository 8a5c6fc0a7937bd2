"""Read use cases shared by the JSON API and the pages: services in, public schemas out.

Route handlers stay thin (parse the request, call one of these, return or render), and the API
and the pages can never disagree about what a patient looks like.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal

from trephine.api.schemas.assessments import AlertPublic, AssessmentPublic
from trephine.api.schemas.patients import (
    PatientDetail,
    PatientList,
    TimelinePublic,
)
from trephine.domain.patient import Disease
from trephine.errors import ValidationError
from trephine.present import results as presenters
from trephine.present.assessments import alert_dict, assessment_dict
from trephine.services import alerts, assessments, patient_search, patients, results
from trephine.services.patient_search import PatientHits
from trephine.services.views import (
    PatientRecord,
    StoredAlert,
    StoredAssessment,
    StoredResult,
)
from trephine.store.database import UnitOfWork

#: The diagnoses one can filter the list by (the domain's disease enum).
DISEASES: tuple[str, ...] = tuple(str(d) for d in Disease)
MAX_PAGE = patient_search.MAX_LIMIT


def check_disease(diagnosis: str | None) -> str | None:
    """Normalise a diagnosis filter; unknown values are an error naming what is allowed."""
    if diagnosis is None or diagnosis.strip() == "":
        return None
    wanted = diagnosis.strip()
    for d in DISEASES:
        if d.lower() == wanted.lower():
            return d
    raise ValidationError("diagnosis", diagnosis, DISEASES)


def patient_hits(uow: UnitOfWork, query: patient_search.PatientQuery) -> PatientHits:
    """One page of the patient search (filters, sorting and paging done by the database)."""
    return patient_search.search(uow, query)


def response_categories(uow: UnitOfWork) -> list[str]:
    return patient_search.response_categories(uow)


def patient_page(
    uow: UnitOfWork, *, diagnosis: str | None = None, limit: int = 50, offset: int = 0, **more: Any
) -> PatientList:
    """One page of the research patient list (see :class:`patient_search.PatientQuery`)."""
    query = patient_search.PatientQuery(
        diagnosis=check_disease(diagnosis), limit=limit, offset=offset, **more
    )
    return presenters.patient_list(patient_search.search(uow, query))


def _version_key(r: StoredResult) -> tuple[str, str, str, str]:
    return (r.accession, str(r.kind), r.analyte, r.collected_on.isoformat())


def patient_timeline(uow: UnitOfWork, patient_id: str) -> TimelinePublic:
    """Everything on the patient page, amendment histories included (two reads in all)."""
    return _timeline(uow, patients.patient_record(uow, patient_id))


def patient_view(uow: UnitOfWork, patient_id: str) -> tuple[TimelinePublic, list[AssessmentPublic]]:
    """The patient page: its timeline and stored assessments (each marked current or not)
    from one read of the record. The page shows no result's ``detail`` (the API's exact JSON of
    the value, a sixth of presenting a result), so this timeline leaves it empty."""
    record = patients.patient_record(uow, patient_id)
    return _timeline(uow, record, details=False), _assessments_public(record.assessments)


def _timeline(uow: UnitOfWork, record: PatientRecord, *, details: bool = True) -> TimelinePublic:
    """The record as the timeline. A result's versions are the current ones (the record's) and
    the superseded ones (read here); a cancelled draft was entered in error and withdrawn: it
    is no version of the result that replaced it (it shares only the natural key) and is not
    public, so it stays out."""
    versions: dict[tuple[str, str, str, str], list[StoredResult]] = defaultdict(list)
    superseded = results.superseded_results(uow, record.patient.external_id)
    for r in (*record.results, *superseded):
        versions[_version_key(r)].append(r)
    histories = {r.id: versions[_version_key(r)] for r in record.results}
    return presenters.timeline(record, histories, details=details)


def patient_detail(uow: UnitOfWork, patient_id: str) -> PatientDetail:
    record = patients.patient_record(uow, patient_id)
    return PatientDetail(
        patient=presenters.patient_from_record(record),
        diagnoses=[presenters.diagnosis(d) for d in record.diagnoses],
    )


AlertStatus = Literal["open", "acknowledged", "withdrawn", "all"]


def alert_public(alert: StoredAlert) -> AlertPublic:
    return AlertPublic.model_validate(alert_dict(alert))


def alert_items(
    uow: UnitOfWork,
    status: AlertStatus,
    patient: str | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[AlertPublic]:
    """Alerts by status (open, acknowledged, withdrawn or all), optionally one patient's and
    one page: the database filters and pages."""
    rows = alerts.list_alerts(uow, patient=patient, status=status, limit=limit, offset=offset)
    return [alert_public(a) for a in rows]


def alert_total(uow: UnitOfWork, status: AlertStatus, patient: str | None = None) -> int:
    return alerts.count_alerts(uow, status=status, patient=patient)


def assessment_items(uow: UnitOfWork, patient_id: str) -> list[AssessmentPublic]:
    """A patient's stored assessments, each marked current or not."""
    return _assessments_public(assessments.patient_assessments(uow, patient_id))


def _assessments_public(stored: Sequence[StoredAssessment]) -> list[AssessmentPublic]:
    current = {s.id for s in assessments.current_assessments(stored)}
    return [
        AssessmentPublic.model_validate(assessment_dict(s, current=s.id in current)) for s in stored
    ]
