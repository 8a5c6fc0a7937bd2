"""The marrow report in the browser: read any version, download its PDF, issue the next version
with an electronic signature (the signer re-enters their password), record that it was
discussed with the patient.

Each route declares its one permission (docs/security.md): reading needs records:read (the
patient's identity only for roles with identity:read), issuing results:write, recording the
discussion reports:discuss. Every read is audited like the other pages.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trephine.access import Permission, Principal
from trephine.api.deps import (
    PrincipalDep,
    UnitOfWorkDep,
    audit_read,
    client_address,
    get_database,
    require,
)
from trephine.domain.report import NEXT, ReportStatus, parse_status
from trephine.errors import NotAuthenticated, ValidationError
from trephine.web import oidc
from trephine.web.render import render

if TYPE_CHECKING:
    from trephine.present.report import Document
    from trephine.services.reports import MarrowReport
    from trephine.store.database import UnitOfWork

router = APIRouter(include_in_schema=False)


def _version(text: str | None) -> int | str | None:
    if text is None or text == "" or text == "current":
        return "current"
    if text == "working":
        return None
    if not text.isdigit():
        raise ValidationError("version", text, "a version number, 'current' or 'working'")
    return int(text)


def _document(
    request: Request, uow: UnitOfWork, principal: Principal, procedure_id: int, version: str | None
) -> tuple[MarrowReport, Document]:
    from trephine import __version__
    from trephine.present import report as present
    from trephine.services import reports

    identified = principal.may(Permission.IDENTITY_READ)
    found = reports.marrow_report(
        uow, procedure_id, version=_version(version), identified=identified
    )
    settings = request.app.state.settings
    doc = present.document(found, lab=settings.lab_name, software=__version__)
    return found, doc


@router.get(
    "/procedures/{procedure_id}/report",
    response_class=HTMLResponse,
    name="report_page",
    dependencies=[require(Permission.RECORDS_READ)],
)
def report_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    procedure_id: int,
    version: Annotated[str | None, Query(max_length=12)] = None,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    from markupsafe import Markup

    from trephine.present import report as present
    from trephine.services import signatures

    found, doc = _document(request, uow, principal, procedure_id, version)
    audit_read(request, uow, "marrow report page", [found.patient.external_id])
    signed = (
        []
        if found.shown is None
        else signatures.signatures_of_report(uow, procedure_id).get(found.shown.version, [])
    )
    current = found.current
    allowed = [s for s in ReportStatus if s in NEXT[None if current is None else current.status]]
    query = {} if version is None else {"version": version}
    return render(
        request,
        "report.html",
        {
            "doc": doc,
            "body": Markup(present.body(doc)),
            "css": Markup(present.css()),
            "report": found,
            "signed": signed,
            "procedure_id": procedure_id,
            "patient_id": found.patient.external_id,
            "pdf_url": f"/procedures/{procedure_id}/report.pdf"
            + (f"?{urlencode(query)}" if query else ""),
            "may_issue": principal.may(Permission.RESULTS_WRITE),
            "may_discuss": principal.may(Permission.REPORTS_DISCUSS) and current is not None,
            # An account without a password re-identifies at the provider (web/oidc.py).
            "signs_with_provider": principal.may(Permission.RESULTS_WRITE)
            and oidc.provider_subject(request, principal) is not None,
            "statuses": [s.value for s in allowed],
            "current": current,
            "has_results": bool(found.results) if found.shown is None else True,
            "done": {
                "discussed": "Recorded: discussed with the patient.",
                "wrong-password": "The password was not right; nothing was issued.",
                "not-signed": "Signing in again at your organisation did not succeed; "
                "nothing was issued.",
            }.get(
                done or "",
                f"Issued version {done[len('issued-v') :]}."
                if done and done.startswith("issued-v")
                else "",
            ),
        },
    )


@router.get(
    "/procedures/{procedure_id}/report.pdf",
    name="report_pdf",
    dependencies=[require(Permission.RECORDS_READ)],
)
def report_pdf(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    procedure_id: int,
    version: Annotated[str | None, Query(max_length=12)] = None,
) -> Response:
    from trephine.present import report as present

    found, doc = _document(request, uow, principal, procedure_id, version)
    audit_read(request, uow, "marrow report PDF", [found.patient.external_id])
    shown = "working-copy" if found.shown is None else f"v{found.shown.version}"
    name = f"marrow-report-{procedure_id}-{shown}.pdf"
    return Response(
        content=present.pdf(doc),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.post(
    "/procedures/{procedure_id}/report/versions",
    name="report_issue",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def report_issue(
    request: Request,
    principal: PrincipalDep,
    procedure_id: int,
    status: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=1024)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    interpretation: Annotated[str, Form(max_length=20000)] = "",
    diagnosis: Annotated[str, Form(max_length=2000)] = "",
    classification: Annotated[str, Form(max_length=32)] = "",
    comments: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """Issue the next version, signed: the signer re-enters their password (21 CFR 11.200), or
    an account of the identity provider without one signs in there again (web/oidc.py)."""
    from trephine.services import accounts, signatures

    database = get_database(request)
    chosen = parse_status(status)
    detail = {
        "procedure": procedure_id,
        "status": chosen.value,
        "reason": reason,
        "interpretation": interpretation,
        "diagnosis": diagnosis,
        "classification": classification,
        "comments": comments,
    }
    # What to issue waits in the database for an identity-provider signer's fresh login.
    at_provider = oidc.sign_at_provider(
        request,
        principal,
        password,
        ISSUE,
        detail,
        what=f"the {chosen.value} version of this report",
        back=f"/procedures/{procedure_id}/report",
    )
    if at_provider is not None:
        return at_provider
    try:
        # An electronic signature: the signer proves again who they are (the sign-in throttle
        # applies; a failure is audited as signature-failed), never the session alone.
        accounts.reauthenticate(
            database,
            principal.name,
            password,
            client_address(request),
            request.app.state.throttle,
        )
    except NotAuthenticated:
        # Back to the report, saying why; nothing was issued (the failure is audited).
        return RedirectResponse(
            f"/procedures/{procedure_id}/report?done=wrong-password", status_code=303
        )
    return _issue(request, principal, detail, signatures.PASSWORD)


def _issue(request: Request, principal: Principal, detail: dict[str, Any], method: str) -> Response:
    """Issue the report version ``detail`` describes, signed by ``principal`` with ``method``."""
    from trephine.services import signatures

    procedure_id = int(detail["procedure"])
    with get_database(request).unit_of_work(principal.name) as uow:
        uow.context.update(role=str(principal.role), client=client_address(request))
        v, _ = signatures.sign_report(
            uow,
            procedure_id,
            parse_status(str(detail["status"])),
            reason=str(detail["reason"]) or None,
            interpretation=str(detail["interpretation"]),
            diagnosis=str(detail["diagnosis"]),
            diagnosis_classification=str(detail["classification"]) or None,
            comments=str(detail["comments"]),
            method=method,
        )
    return RedirectResponse(
        f"/procedures/{procedure_id}/report?done=issued-v{v.version}", status_code=303
    )


def _issue_refused(
    _request: Request, _principal: Principal, detail: dict[str, Any], _why: str
) -> Response:
    # Back to the report, saying so; nothing was issued (the failure is audited).
    return RedirectResponse(
        f"/procedures/{int(detail['procedure'])}/report?done=not-signed", status_code=303
    )


#: A report version waiting for an identity-provider signer's fresh login (web/oidc.py).
ISSUE = oidc.signing_action(
    "report-issue",
    lambda request, principal, detail: _issue(request, principal, detail, oidc.SIGNATURE_METHOD),
    _issue_refused,
)


@router.post(
    "/procedures/{procedure_id}/report/discussions",
    name="report_discussed",
    dependencies=[require(Permission.REPORTS_DISCUSS)],
)
def report_discussed(
    uow: UnitOfWorkDep,
    procedure_id: int,
    discussed_with: Annotated[str, Form(max_length=200)] = "patient",
    discussed_on: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Record that the current version was discussed with the patient (by the signed-in user)."""
    from trephine.services import reports

    when = uow.now()
    if discussed_on.strip():
        try:
            when = dt.datetime.fromisoformat(discussed_on.strip())
        except ValueError:
            raise ValidationError(
                "discussed_on", discussed_on, "a date and time, e.g. 2026-12-03T10:30"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    reports.record_discussion(
        uow, procedure_id, discussed_with=discussed_with, discussed_at=when, note=note or None
    )
    return RedirectResponse(f"/procedures/{procedure_id}/report?done=discussed", status_code=303)
