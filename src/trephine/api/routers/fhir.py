"""``/fhir/r4/``: a read-only FHIR R4 API (Patient, DiagnosticReport, Observation, Specimen).

The resources are the ones ``trephine fhir bundle`` writes (``present/fhir.py``), with relative
references (``Patient/ID``). Reads return one resource; searches (``patient`` required, ``code``
and ``date`` optional) return a ``searchset`` Bundle. The same permission as the rest of the
record API (records:read), the Patient resource identified only for roles with identity:read,
and every response an audited read (docs/security.md). Errors use the API's one error shape.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from trephine.access import Permission, Principal
from trephine.api.deps import PrincipalDep, UnitOfWorkDep, audit_read, require
from trephine.api.schemas.errors import ErrorResponse
from trephine.errors import NotFound, ValidationError
from trephine.store.database import UnitOfWork

router = APIRouter(
    prefix="/fhir/r4",
    tags=["fhir"],
    dependencies=[require(Permission.RECORDS_READ)],
    responses={
        404: {"model": ErrorResponse, "description": "No such resource or patient"},
        422: {"model": ErrorResponse, "description": "A search parameter is not allowed"},
    },
)

FHIR_JSON = "application/fhir+json"
_DATE = re.compile(r"^(eq|ge|le|gt|lt)?(\d{4}-\d{2}-\d{2})$")
#: What a search's ``date`` compares, per resource type.
_DATE_FIELD = {
    "DiagnosticReport": ("effectiveDateTime",),
    "Observation": ("effectiveDateTime",),
    "Specimen": ("collection", "collectedDateTime"),
}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/r4"


def _bundle_for(uow: UnitOfWork, request: Request, principal: Principal, patient: str) -> Any:
    from trephine.present import fhir
    from trephine.services import reports

    identified = principal.may(Permission.IDENTITY_READ)
    found = reports.patient_reports(uow, patient, identified=identified)
    ref = (
        fhir.identified_patient(found.record.patient, found.identity)
        if identified
        else fhir.pseudonymised_patient(found.record.patient)
    )
    return fhir.patient_bundle(found, patient=ref, references="relative", base_url=_base(request))


def _json(doc: Any) -> Response:
    """A resource or bundle this module built (validated when it was built) as FHIR JSON."""
    from trephine.present import fhir

    return Response(content=fhir.dumps(doc), media_type=FHIR_JSON)


def _date_filter(text: str | None) -> tuple[str, dt.date] | None:
    if text is None or not text.strip():
        return None
    match = _DATE.match(text.strip())
    if match is None:
        raise ValidationError(
            "date", text, "YYYY-MM-DD, optionally prefixed by eq, ge, le, gt or lt"
        )
    return match.group(1) or "eq", dt.date.fromisoformat(match.group(2))


def _matches_date(resource: dict[str, Any], kind: str, wanted: tuple[str, dt.date]) -> bool:
    value: Any = resource
    for key in _DATE_FIELD[kind]:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or len(value) < 10:
        return False
    day = dt.date.fromisoformat(value[:10])
    op, when = wanted
    return {
        "eq": day == when,
        "ge": day >= when,
        "le": day <= when,
        "gt": day > when,
        "lt": day < when,
    }[op]


def _matches_code(resource: dict[str, Any], code: str) -> bool:
    system, _, value = code.rpartition("|")
    for c in resource.get("code", {}).get("coding", []):
        if c.get("code") == value and (not system or c.get("system") == system):
            return True
    return False


def _search(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    kind: str,
    patient: str,
    code: str | None,
    date: str | None,
) -> Response:
    from trephine.present import fhir

    when = _date_filter(date)
    bundle = _bundle_for(uow, request, principal, patient)
    hits = []
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] != kind:
            continue
        if code and not _matches_code(res, code):
            continue
        if when is not None and not _matches_date(res, kind, when):
            continue
        hits.append({**entry, "search": {"mode": "match"}})
    audit_read(request, uow, f"FHIR {kind} search", [patient])
    out = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(hits),
        "link": [{"relation": "self", "url": str(request.url)}],
        "entry": hits,
    }
    fhir.validate(out)
    return _json(out)


def _owner(uow: UnitOfWork, kind: str, resource_id: str) -> str:
    """The patient a resource id belongs to (ids name the stored record they come from)."""
    from sqlalchemy import select

    from trephine.store.tables import PatientRow, ProcedureRow, ResultRow, SpecimenRow

    patterns = {
        "Observation": (r"^res-(\d+)-", ResultRow),
        "Specimen": (r"^spec-(\d+)$", SpecimenRow),
        "DiagnosticReport": (r"^report-(\d+)-v\d+$", ProcedureRow),
    }
    pattern, table = patterns[kind]
    match = re.match(pattern, resource_id)
    if match is None:
        raise NotFound(kind, resource_id)
    found = uow.session.execute(
        select(PatientRow.external_id)
        .join(table, table.patient_id == PatientRow.id)  # type: ignore[attr-defined]
        .where(table.id == int(match.group(1)))  # type: ignore[attr-defined]
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(kind, resource_id)
    return str(found)


def _read(
    request: Request, uow: UnitOfWork, principal: Principal, kind: str, resource_id: str
) -> Response:
    patient = _owner(uow, kind, resource_id)
    if kind == "DiagnosticReport":
        from trephine.present import fhir
        from trephine.services import reports

        match = re.match(r"^report-(\d+)-v(\d+)$", resource_id)
        assert match is not None
        identified = principal.may(Permission.IDENTITY_READ)
        doc = reports.marrow_report(
            uow, int(match.group(1)), version=int(match.group(2)), identified=identified
        )
        ref = (
            fhir.identified_patient(doc.patient, doc.identity)
            if identified
            else fhir.pseudonymised_patient(doc.patient)
        )
        bundle = fhir.report_bundle(
            doc, patient=ref, references="relative", base_url=_base(request)
        )
    else:
        bundle = _bundle_for(uow, request, principal, patient)
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == kind and res["id"] == resource_id:
            audit_read(request, uow, f"FHIR {kind}", [patient])
            return _json(res)
    raise NotFound(kind, resource_id)


PatientQ = Annotated[str, Query(max_length=64, description="The patient's research id")]
CodeQ = Annotated[
    str | None, Query(max_length=200, description="A code, or system|code (e.g. LOINC)")
]
DateQ = Annotated[
    str | None, Query(max_length=12, description="YYYY-MM-DD with optional eq/ge/le/gt/lt")
]


@router.get("/Patient/{patient_id}", response_class=JSONResponse)
def read_patient(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, patient_id: str
) -> Response:
    from trephine.present import fhir
    from trephine.services import patients

    identified = principal.may(Permission.IDENTITY_READ)
    record = patients.patient_record(uow, patient_id)
    identity = patients.patient_identity(uow, patient_id) if identified else None
    ref = (
        fhir.identified_patient(record.patient, identity)
        if identified
        else fhir.pseudonymised_patient(record.patient)
    )
    audit_read(request, uow, "FHIR Patient", [patient_id])
    return _json(fhir.patient_resource(ref))


@router.get("/DiagnosticReport", response_class=JSONResponse)
def search_reports(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    patient: PatientQ,
    code: CodeQ = None,
    date: DateQ = None,
) -> Response:
    return _search(request, uow, principal, "DiagnosticReport", patient, code, date)


@router.get("/DiagnosticReport/{resource_id}", response_class=JSONResponse)
def read_report(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, resource_id: str
) -> Response:
    return _read(request, uow, principal, "DiagnosticReport", resource_id)


@router.get("/Observation", response_class=JSONResponse)
def search_observations(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    patient: PatientQ,
    code: CodeQ = None,
    date: DateQ = None,
) -> Response:
    return _search(request, uow, principal, "Observation", patient, code, date)


@router.get("/Observation/{resource_id}", response_class=JSONResponse)
def read_observation(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, resource_id: str
) -> Response:
    return _read(request, uow, principal, "Observation", resource_id)


@router.get("/Specimen", response_class=JSONResponse)
def search_specimens(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    patient: PatientQ,
    code: CodeQ = None,
    date: DateQ = None,
) -> Response:
    return _search(request, uow, principal, "Specimen", patient, code, date)


@router.get("/Specimen/{resource_id}", response_class=JSONResponse)
def read_specimen(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, resource_id: str
) -> Response:
    return _read(request, uow, principal, "Specimen", resource_id)
