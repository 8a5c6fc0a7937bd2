"""Research pages (issue 12): the cohort list, a cohort's page (definition, versions, members,
response rates with exact intervals, relapse-free survival by MRD at a landmark with the
at-risk table), a study's page (arms, enrolment, visit schedule with the mapped biopsies) and
the export form whose download is audited.

Every page reads patients' records (``records:read``) and is audited. A role without identity
access (researcher) sees keyed-hash pseudonyms (``TREPHINE_EXPORT_KEY``, the Safe Harbor
pseudonyms of the exports), never the record ids; no page shows a name, MRN or birth date.
"""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from trephine.access import Permission, Principal
from trephine.api.deps import PrincipalDep, UnitOfWorkDep, audit_read, require
from trephine.errors import Forbidden, ValidationError
from trephine.present.deidentify import LEVELS, Deidentifier, Level, level_of
from trephine.web.render import render

router = APIRouter(include_in_schema=False)
READ = [require(Permission.RECORDS_READ)]
#: Export formats offered by the form (all of `trephine export`).
FORMATS = ("csv", "parquet", "cbioportal", "fhir", "redcap")
GROUPS = ("none", "regimen", "disease", "arm")


def _view(principal: Principal, level: Level | None = None) -> Deidentifier:
    """How this user sees patients: record ids with identity access, else keyed pseudonyms."""
    from trephine.settings import get_settings

    if level is None:
        level = Level.NONE if principal.may(Permission.IDENTITY_READ) else Level.SAFE_HARBOR
    if level is Level.NONE:
        if not principal.may(Permission.IDENTITY_READ):
            raise Forbidden(str(Permission.IDENTITY_READ), str(principal.role))
        return Deidentifier(Level.NONE)
    key = get_settings().export_key
    try:
        return Deidentifier(level, key.get_secret_value().encode() if key else b"")
    except ValidationError as exc:
        raise ValidationError("TREPHINE_EXPORT_KEY", exc.value, exc.allowed) from None


@router.get("/research", response_class=HTMLResponse, name="research_page", dependencies=READ)
def research_page(request: Request, uow: UnitOfWorkDep) -> HTMLResponse:
    """The saved cohorts and the studies (no patient is shown)."""
    from trephine.services import cohorts, studies

    return render(
        request,
        "research.html",
        {"cohorts": cohorts.list_cohorts(uow), "studies": studies.list_studies(uow)},
    )


def _svg(figure: Any) -> str:
    buf = io.BytesIO()
    figure.savefig(buf, format="svg")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buf.getvalue()).decode()


@router.get(
    "/research/cohorts/{cohort}",
    response_class=HTMLResponse,
    name="cohort_page",
    dependencies=READ,
)
def cohort_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    cohort: str,
    landmark: Annotated[int, Query(ge=0, le=3650)] = 90,
    window: Annotated[int, Query(ge=0, le=365)] = 30,
    by: Annotated[str, Query(max_length=16)] = "none",
) -> HTMLResponse:
    """Definition, versions, members, response rates, relapse-free survival by landmark MRD."""
    from trephine.analysis.cohort.outcomes import TimeRow
    from trephine.analysis.cohort.plots import km_figure
    from trephine.services import cohorts, research

    if by not in GROUPS:
        raise ValidationError("by", by, GROUPS)
    deid = _view(principal)
    ev = cohorts.evaluate(uow, cohort)
    audit_read(request, uow, f"cohort page {cohort}", ev.members, query=True)
    versions = [cohorts.get(uow, cohort, v) for v in range(ev.cohort.version, 0, -1)]
    evaluations = cohorts.evaluations(uow, cohort)[:10]
    report: dict[str, Any] | None = None
    km_svg = None
    at: list[float] = [0, 90, 180, 365, 730]
    if ev.members:
        report = research.analyse(uow, ev, landmark_day=landmark, window=window, at=at, group_by=by)
        rows = [TimeRow(**r) for r in report["landmark"]["rows"]]
        if rows:
            km_svg = _svg(
                km_figure(
                    rows,
                    title=f"Relapse-free survival from day {landmark} by MRD status",
                    xlabel=f"days from day {landmark}",
                )
            )
    return render(
        request,
        "cohort.html",
        {
            "ev": ev,
            "members": sorted(deid.patient(m) for m in ev.members),
            "pseudonymised": not deid.identified,
            "versions": versions,
            "evaluations": evaluations,
            "report": report,
            "km_svg": km_svg,
            "at": at,
            "landmark": landmark,
            "window": window,
            "by": by,
            "groups": GROUPS,
        },
    )


@router.get(
    "/research/studies/{study}",
    response_class=HTMLResponse,
    name="study_page",
    dependencies=READ,
)
def study_page(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, study: str
) -> HTMLResponse:
    """Arms, enrolment and each enrolment's visits with the biopsy that counts for each."""
    from trephine.present.studies import shown_enrolments
    from trephine.services import studies

    deid = _view(principal)
    view = studies.view(uow, study, deid.patient)
    audit_read(request, uow, f"study page {study}", view.patients, query=True)
    return render(
        request,
        "study.html",
        {
            "view": view,
            "rows": shown_enrolments(view, deid),
            "pseudonymised": not deid.identified,
        },
    )


@router.get(
    "/research/cohorts/{cohort}/export",
    response_class=HTMLResponse,
    name="export_page",
    dependencies=READ,
)
def export_page(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, cohort: str
) -> HTMLResponse:
    """The export form: format and de-identification level (no patient is shown)."""
    from trephine.services import cohorts

    c = cohorts.get(uow, cohort)
    levels = [lv for lv in LEVELS if lv != "none" or principal.may(Permission.IDENTITY_READ)]
    return render(
        request,
        "cohort_export.html",
        {"cohort": c, "formats": FORMATS, "levels": levels},
    )


@router.post(
    "/research/cohorts/{cohort}/export",
    name="export_download",
    dependencies=READ,
)
def export_download(
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    cohort: str,
    fmt: Annotated[str, Form(alias="format", max_length=16)],
    deidentify: Annotated[str, Form(max_length=16)],
) -> Response:
    """The export as a zip of its files; audited like `trephine export` (who, cohort, level,
    format, patients, every file's SHA-256). ``none`` needs identity access."""
    from trephine.present.research_tables import WRITERS
    from trephine.services import cohorts, exports

    if fmt not in FORMATS:
        raise ValidationError("format", fmt, FORMATS)
    deid = _view(principal, level_of(deidentify))
    ev = cohorts.evaluate(uow, cohort)
    if fmt == "fhir":
        files = exports.fhir_files(uow, ev, deid)
        files["README.txt"] = f"FHIR R4 bundles, one per patient.\n{deid.label}\n".encode()
    elif fmt == "redcap":
        files = exports.redcap_files(uow, ev, deid)
    else:
        files = WRITERS[fmt](exports.build(uow, ev, deid), exports.LOINC)
    exports.record(uow, ev, deid, fmt, files)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            z.writestr(name, data)
    filename = f"{ev.cohort.name}-v{ev.cohort.version}-{fmt}-{deid.level}.zip"
    return Response(
        buf.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
