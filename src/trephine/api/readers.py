"""Read use cases shared by the JSON API and the pages: services in, public schemas out.

Route handlers stay thin (parse the request, call one of these, return or render), and the API
and the pages can never disagree about what a patient looks like.
"""

from __future__ import annotations

from collections import defaultdict

from trephine.api import presenters
from trephine.api.schemas.patients import (
    PatientDetail,
    PatientList,
    PatientPublic,
    TimelinePublic,
)
from trephine.domain.patient import Disease
from trephine.domain.results import ResultKind
from trephine.errors import ValidationError
from trephine.services import patients, results
from trephine.services.views import PatientSummary, StoredResult
from trephine.store.database import UnitOfWork
from trephine.workflow import ResultState

#: The diagnoses one can filter the list by (the domain's disease enum).
DISEASES: tuple[str, ...] = tuple(str(d) for d in Disease)
MAX_PAGE = 500


def check_disease(diagnosis: str | None) -> str | None:
    """Normalise a diagnosis filter; unknown values are an error naming what is allowed."""
    if diagnosis is None or diagnosis.strip() == "":
        return None
    wanted = diagnosis.strip()
    for d in DISEASES:
        if d.lower() == wanted.lower():
            return d
    raise ValidationError("diagnosis", diagnosis, DISEASES)


def _matches(summary: PatientSummary, disease: str | None) -> bool:
    return disease is None or disease in summary.diseases


def patient_page(
    uow: UnitOfWork, *, diagnosis: str | None = None, limit: int = 50, offset: int = 0
) -> PatientList:
    """One page of the research patient list, optionally only one diagnosis."""
    disease = check_disease(diagnosis)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", limit, f"1–{MAX_PAGE}")
    if offset < 0:
        raise ValidationError("offset", offset, "an integer ≥ 0")
    summaries = [s for s in patients.list_patients(uow) if _matches(s, disease)]
    page = summaries[offset : offset + limit]
    items = []
    for s in page:
        # Only the differentials of the patients on this page are read (one query each).
        diffs = results.patient_results(uow, s.patient_id, (ResultKind.DIFFERENTIAL,))
        items.append(
            PatientPublic(
                id=s.patient_id,
                sex=s.sex,
                birth_year=s.birth_year,
                diagnosis=s.diseases[-1] if s.diseases else None,
                last_biopsy=s.last_procedure_on,
                last_marrow_blasts=presenters.last_marrow_blasts(diffs),
            )
        )
    return PatientList(items=items, total=len(summaries), limit=limit, offset=offset)


def _version_key(r: StoredResult) -> tuple[str, str, str, str]:
    return (r.accession, str(r.kind), r.analyte, r.collected_on.isoformat())


def patient_timeline(uow: UnitOfWork, patient_id: str) -> TimelinePublic:
    """Everything on the patient page, amendment histories included (two reads in all)."""
    record = patients.patient_record(uow, patient_id)
    versions: dict[tuple[str, str, str, str], list[StoredResult]] = defaultdict(list)
    for r in results.patient_results(uow, patient_id, current_only=False):
        # A cancelled draft was entered in error and withdrawn; it is no version of the result
        # that replaced it (it shares only the natural key) and is not public, so it stays out.
        if r.state is not ResultState.CANCELLED:
            versions[_version_key(r)].append(r)
    histories = {r.id: versions[_version_key(r)] for r in record.results}
    return presenters.timeline(record, histories)


def patient_detail(uow: UnitOfWork, patient_id: str) -> PatientDetail:
    record = patients.patient_record(uow, patient_id)
    return PatientDetail(
        patient=presenters.patient_from_record(record),
        diagnoses=[presenters.diagnosis(d) for d in record.diagnoses],
    )
