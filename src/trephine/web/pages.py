"""Server-rendered pages: patient search, the patient page (chart + timeline table), alerts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from trephine.access import Permission, Principal
from trephine.api import readers
from trephine.api.deps import PrincipalDep, UnitOfWorkDep, audit_read, require
from trephine.api.readers import AlertStatus, alert_items, alert_total
from trephine.errors import ValidationError
from trephine.services.patient_search import PatientQuery, SortKey
from trephine.web.assets import PLOTLY_JS_URL
from trephine.web.chart import figure_data
from trephine.web.render import render
from trephine.web.timeline_table import timeline_rows

#: Alerts shown per page of the inbox (the database pages; the rest is one link away).
ALERTS_PER_PAGE = 50

router = APIRouter(include_in_schema=False, dependencies=[require(Permission.RECORDS_READ)])

PAGE_SIZE = 50
#: The sortable columns of the patient list and their headings.
COLUMNS: tuple[tuple[SortKey, str], ...] = (
    ("id", "Patient"),
    ("diagnosis", "Diagnosis"),
    ("last_biopsy", "Last biopsy"),
    ("response", "Latest response"),
    ("alerts", "Open alerts"),
)


def identified(principal: Principal) -> bool:
    """Whether the page may show identity (name, MRN) and search by it (docs/security.md)."""
    return principal.may(Permission.IDENTITY_READ)


def _date(field: str, text: str | None) -> dt.date | None:
    if text is None or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, text, "a date as YYYY-MM-DD") from None


@router.get("/", response_class=HTMLResponse, name="patient_list_page")
def patient_list_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    diagnosis: Annotated[str | None, Query()] = None,
    response: Annotated[str | None, Query()] = None,
    alerts: Annotated[Literal["", "open", "none"], Query()] = "",
    biopsy_from: Annotated[str | None, Query()] = None,
    biopsy_to: Annotated[str | None, Query()] = None,
    sort: Annotated[SortKey, Query()] = "id",
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    who_may = identified(principal)
    query = PatientQuery(
        text=q or None,
        diagnosis=readers.check_disease(diagnosis),
        response=response or None,
        open_alerts={"": None, "open": True, "none": False}[alerts],
        biopsy_from=_date("biopsy_from", biopsy_from),
        biopsy_to=_date("biopsy_to", biopsy_to),
        sort=sort,
        descending=order == "desc",
        limit=PAGE_SIZE,
        offset=offset,
        identified=who_may,
    )
    hits = readers.patient_hits(uow, query)
    audit_read(request, uow, "patient list page", [h.patient_id for h in hits.items], query=True)
    form = {
        "q": q or "",
        "diagnosis": query.diagnosis or "",
        "response": response or "",
        "alerts": alerts,
        "biopsy_from": biopsy_from or "",
        "biopsy_to": biopsy_to or "",
    }
    kept = {k: v for k, v in form.items() if v}

    def link(**change: Any) -> str:
        params: dict[str, Any] = {**kept, "sort": sort, "order": order, "offset": offset}
        params.update(change)
        if params.get("offset") == 0:
            params.pop("offset")
        if params.get("sort") == "id" and params.get("order") == "asc":
            params.pop("sort")
            params.pop("order")
        return "?" + urlencode(params)

    def sort_link(key: str) -> str:
        flip = "desc" if sort == key and order == "asc" else "asc"
        return link(sort=key, order=flip, offset=0)

    return render(
        request,
        "patients.html",
        {
            "hits": hits,
            "identified": who_may,
            "query": query,
            "form": form,
            "filtered": bool(kept),
            "diagnoses": readers.DISEASES,
            "responses": readers.response_categories(uow),
            "columns": COLUMNS,
            "sort": sort,
            "order": order,
            "link": link,
            "sort_link": sort_link,
        },
    )


@router.get("/patients/{patient_id}", response_class=HTMLResponse, name="patient_page")
def patient_page(request: Request, uow: UnitOfWorkDep, patient_id: str) -> HTMLResponse:
    tl, stored = readers.patient_view(uow, patient_id)
    assessments = [a for a in stored if a.current]
    audit_read(request, uow, "patient page", [patient_id])
    return render(
        request,
        "patient.html",
        {
            "tl": tl,
            "figure": figure_data(tl, assessments=assessments),
            "rows": timeline_rows(tl),
            "plotly_js_url": PLOTLY_JS_URL,
            "patient_id": patient_id,
            "assessments": assessments,
            "alerts": alert_items(uow, "all", patient_id),
        },
    )


@router.get("/alerts", response_class=HTMLResponse, name="alerts_page")
def alerts_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    status: Annotated[AlertStatus, Query()] = "open",
    done: Annotated[Literal["acknowledged", "withdrawn"] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> HTMLResponse:
    shown = alert_items(uow, status, limit=ALERTS_PER_PAGE, offset=offset)
    total = alert_total(uow, status)
    audit_read(request, uow, "alerts page", [a.patient for a in shown], query=True)
    return render(
        request,
        "alerts.html",
        {
            "alerts": shown,
            "status": status,
            "total": total,
            "offset": offset,
            "per_page": ALERTS_PER_PAGE,
            "may_acknowledge": principal.may(Permission.ALERTS_ACKNOWLEDGE),
            "done": None
            if done is None
            else f"Alert {done}; you are recorded as the one who did it.",
        },
    )
