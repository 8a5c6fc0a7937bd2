"""Server-rendered pages: the patient list and the patient page (chart + timeline table)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from trephine.access import Permission
from trephine.api import readers
from trephine.api.deps import UnitOfWorkDep, require
from trephine.api.routers.assessments import AlertStatus, alert_items, assessment_items
from trephine.web.assets import PLOTLY_JS_URL
from trephine.web.chart import build_figure, figure_json
from trephine.web.render import render
from trephine.web.timeline_table import timeline_rows

router = APIRouter(include_in_schema=False, dependencies=[require(Permission.RECORDS_READ)])

PAGE_SIZE = 50


@router.get("/", response_class=HTMLResponse, name="patient_list_page")
def patient_list_page(
    request: Request,
    uow: UnitOfWorkDep,
    diagnosis: Annotated[str | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    page = readers.patient_page(uow, diagnosis=diagnosis, limit=PAGE_SIZE, offset=offset)
    chosen = readers.check_disease(diagnosis)

    def pager_query(new_offset: int) -> str:
        params: dict[str, str | int] = {"offset": max(new_offset, 0)}
        if chosen:
            params["diagnosis"] = chosen
        return urlencode(params)

    return render(
        request,
        "patients.html",
        {
            "page": page,
            "diagnosis": chosen,
            "diagnoses": readers.DISEASES,
            "pager_query": pager_query,
        },
    )


@router.get("/patients/{patient_id}", response_class=HTMLResponse, name="patient_page")
def patient_page(request: Request, uow: UnitOfWorkDep, patient_id: str) -> HTMLResponse:
    tl = readers.patient_timeline(uow, patient_id)
    return render(
        request,
        "patient.html",
        {
            "tl": tl,
            "figure": figure_json(build_figure(tl)),
            "rows": timeline_rows(tl),
            "plotly_js_url": PLOTLY_JS_URL,
            "patient_id": patient_id,
            "assessments": [a for a in assessment_items(uow, patient_id) if a.current],
            "alerts": alert_items(uow, "all", patient_id),
        },
    )


@router.get("/alerts", response_class=HTMLResponse, name="alerts_page")
def alerts_page(
    request: Request, uow: UnitOfWorkDep, status: Annotated[AlertStatus, Query()] = "open"
) -> HTMLResponse:
    return render(request, "alerts.html", {"alerts": alert_items(uow, status), "status": status})
