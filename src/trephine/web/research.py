"""Research pages (issue 12): the cohort list, a cohort's page (definition, versions, members,
response rates with exact intervals, relapse-free survival by MRD at a landmark with the
at-risk table), a study's page (arms, enrolment, visit schedule with the mapped biopsies) and
the export form whose download is audited.

Every page reads patients' records (``records:read``) and is audited. A role without identity
access (researcher) sees keyed-hash pseudonyms (the database's export key, the Safe Harbor
pseudonyms of the exports), never the record ids; no page shows a name, MRN or birth date.
"""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trephine.access import Permission, Principal
from trephine.api.deps import PrincipalDep, UnitOfWorkDep, audit_read, get_database, require
from trephine.errors import Forbidden, ValidationError
from trephine.present.deidentify import LEVELS, Deidentifier, Level, level_of
from trephine.present.paired import number as paired_number
from trephine.store.database import UnitOfWork
from trephine.web.render import render

router = APIRouter(include_in_schema=False)
READ = [require(Permission.RECORDS_READ)]
#: Export formats offered by the form (all of `trephine export`).
FORMATS = ("csv", "parquet", "cbioportal", "fhir", "redcap")
GROUPS = ("none", "regimen", "disease", "arm")


def _view(request: Request, principal: Principal, level: Level | None = None) -> Deidentifier:
    """How this user sees patients: record ids with identity access, else keyed pseudonyms
    (the database's export key: ``services/site_secret.py``)."""
    from trephine.services.site_secret import deidentifier

    if level is None:
        level = Level.NONE if principal.may(Permission.IDENTITY_READ) else Level.SAFE_HARBOR
    if level is Level.NONE and not principal.may(Permission.IDENTITY_READ):
        raise Forbidden(str(Permission.IDENTITY_READ), str(principal.role))
    return deidentifier(get_database(request), level)


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
    deid = _view(request, principal)
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
                    at=at,  # the table's days, so plot and table give the same numbers
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
    "/research/cohorts/{cohort}/paired",
    response_class=HTMLResponse,
    name="paired_page",
    dependencies=READ,
)
def paired_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    cohort: str,
    before: Annotated[str, Query(max_length=32)] = "",
    after: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    """Paired samples of a cohort: each member's clonal comparison between their first and
    last sequenced specimens (``clonal compare --patient``), and — for a cohort that selects on
    a study — the paired Wilcoxon tests of every stored measurement between two visits with
    Benjamini–Hochberg q-values (``cohort paired``); numbers and sentences. Audited; pseudonyms
    and days from diagnosis for roles without identity access."""
    from trephine.present import paired
    from trephine.services import cohorts, research, studies

    deid = _view(request, principal)
    ev = cohorts.evaluate(uow, cohort)
    specimens, read = research.paired_specimens(uow, ev, deid)
    study = ev.cohort.definition.study
    schedule = studies.schedule(uow, study) if study else ()
    names = [v.name for v in schedule]
    before = before or (names[0] if names else "")
    after = after or (names[1] if len(names) > 1 else "")
    results: list[Any] = []
    labels = ("", "")
    if study and before and after:
        results, read_visits = research.paired_visits(uow, ev, deid, before=before, after=after)
        read = sorted(set(read) | set(read_visits))
        label = {v.name: v.label for v in schedule}
        labels = (label[before], label[after])
    audit_read(request, uow, f"cohort paired page {cohort}", read, query=True)
    tested = paired.tested_count(results)
    return render(
        request,
        "cohort_paired.html",
        {
            "ev": ev,
            "pseudonymised": not deid.identified,
            "specimens": specimens,
            "members": len(ev.members),
            "schedule": schedule,
            "before": before,
            "after": after,
            "labels": labels,
            "results": results,
            "tested": tested,
            "sentences": [paired.paired_test_sentence(c, labels, tested) for c in results],
            "clonal_sentence": paired.clonal_sentence,
            "number": paired.number,
            "signed": paired.signed,
            "vaf": paired.vaf,
            "day": paired.day,
            "status_words": paired.STATUS_WORDS,
        },
    )


#: What a population contributes to the before/after comparison (``microenv compare --measure``).
MICROENV_MEASURES = ("percent_of_parent", "percent_of_total")


@router.get(
    "/research/microenvironment",
    response_class=HTMLResponse,
    name="microenvironment_page",
    dependencies=READ,
)
def microenvironment_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    measure: Annotated[str, Query(max_length=32)] = "percent_of_parent",
    diagnosis: Annotated[str, Query(max_length=64)] = "",
    drafts: bool = False,
    pairs: Annotated[str, Query(max_length=16)] = "therapy",
    response: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    """Populations and measurements before vs after each patient's first therapy line, or at
    diagnosis vs at first relapse (``pairs=relapse``) (issue 14 §5, as ``trephine microenv
    compare [--pairs relapse]``): paired Wilcoxon per feature with the rank-biserial
    effect size, Benjamini–Hochberg q-values across features, and the paired-lines plot; and
    the aplastic-anaemia niche over time (``microenv niche``), in days from diagnosis. Audited;
    pseudonyms for roles without identity access."""
    from trephine.analysis.microenvironment.paired import Pair, compare, paired_lines_figure
    from trephine.services.microenvironment import (
        NICHE_COLUMNS,
        PAIRINGS,
        RESPONSE_GROUPS,
        niche_by_patient,
        paired_features,
    )

    if measure not in MICROENV_MEASURES:
        raise ValidationError("measure", measure, list(MICROENV_MEASURES))
    if pairs not in PAIRINGS:
        raise ValidationError("pairs", pairs, list(PAIRINGS))
    if response and response not in RESPONSE_GROUPS:
        raise ValidationError("response", response, ["", *RESPONSE_GROUPS])
    deid = _view(request, principal)
    features, read = paired_features(
        uow,
        measure=measure,
        diagnosis=diagnosis or None,
        include_drafts=drafts,
        pairs=pairs,
        response=response or None,
    )
    niche, niche_read = niche_by_patient(uow)
    audit_read(
        request, uow, "microenvironment comparison page", sorted({*read, *niche_read}), query=True
    )
    shown = {
        name: (unit, [Pair(deid.patient(p.patient), p.before, p.after) for p in pairs])
        for name, (unit, pairs) in features.items()
    }
    comparisons = compare(shown)
    plot = _svg(paired_lines_figure(comparisons)) if comparisons else None
    return render(
        request,
        "microenvironment.html",
        {
            "comparisons": comparisons,
            "plot": plot,
            "measure": measure,
            "measures": MICROENV_MEASURES,
            "diagnosis": diagnosis,
            "drafts": drafts,
            "pairs": pairs,
            "pairings": PAIRINGS,
            "response": response,
            "response_groups": RESPONSE_GROUPS,
            "pseudonymised": not deid.identified,
            "patients": len(read),
            "niche": [
                (deid.patient(p), [r for r in rows if any(c in r["values"] for c in NICHE_COLUMNS)])
                for p, rows in niche
            ],
            "niche_columns": NICHE_COLUMNS,
            "number": paired_number,
        },
    )


@router.get(
    "/research/studies/{study}",
    response_class=HTMLResponse,
    name="study_page",
    dependencies=READ,
)
def study_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    study: str,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """Arms, enrolment and each enrolment's visits with the biopsy that counts for each."""
    from trephine.present.studies import shown_enrolments
    from trephine.services import studies

    deid = _view(request, principal)
    view = studies.view(uow, study, deid.patient)
    audit_read(request, uow, f"study page {study}", view.patients, query=True)
    return render(
        request,
        "study.html",
        {
            "view": view,
            "rows": shown_enrolments(view, deid),
            "pseudonymised": not deid.identified,
            "may_enrol": deid.identified and principal.may(Permission.STUDIES_ENROL),
            "done": DONE.get(done or ""),
        },
    )


# --------------------------------------------------------------------------- study forms
#: Enrolling and mapping by hand name a patient's record (``studies:enrol``: clinicians).
ENROL = [require(Permission.STUDIES_ENROL)]
DONE = {
    "enrolled": "Patient enrolled. The enrolment is in the audit trail.",
    "unchanged": "That patient was already enrolled so; nothing changed.",
    "mapped": "Visit mapped by hand; it overrides the window. You, the time and the reason "
    "are recorded in the audit trail.",
}
#: The form field a service error names (the rest show above the form).
ENROL_FIELDS = {
    "patient": "patient_id",
    "arm": "arm",
    "enrolled_on": "enrolled_on",
    "research_consent": "research_consent",
    "consent_on": "consent_on",
}
MAP_FIELDS = {"visit": "visit", "procedure": "procedure", "reason": "reason"}


def _form_date(field: str, text: str, errors: dict[str, str], *, required: bool) -> Any:
    """A ``<input type=date>`` value, or an error for the field."""
    import datetime as dt

    if not text.strip():
        if required:
            errors[field] = "Required: a date (YYYY-MM-DD)."
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        errors[field] = f"'{text.strip()}' is not a date; give it as YYYY-MM-DD."
        return None


def _message(exc: Exception) -> str:
    text = str(exc)
    return text[0].upper() + text[1:] if text else text


def _identified(principal: Principal) -> None:
    """The forms name record ids and show dates: identity access is needed too."""
    if not principal.may(Permission.IDENTITY_READ):
        raise Forbidden(str(Permission.IDENTITY_READ), str(principal.role))


def _enrol_form(
    request: Request,
    uow: UnitOfWork,
    study: str,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    from trephine.services import studies

    found, arms = studies.describe(uow, study)
    return render(
        request,
        "study_enrol.html",
        {"study": found, "arms": arms, "values": values, "errors": errors},
        status_code=status_code,
    )


@router.get(
    "/research/studies/{study}/enrol",
    response_class=HTMLResponse,
    name="enrol_page",
    dependencies=ENROL,
)
def enrol_page(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, study: str
) -> HTMLResponse:
    """The enrolment form: patient, arm, date, consent to research use of their data."""
    _identified(principal)
    return _enrol_form(request, uow, study, {}, {})


@router.post("/research/studies/{study}/enrol", name="enrol_patient", dependencies=ENROL)
def enrol_patient(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    study: str,
    patient_id: Annotated[str, Form(max_length=64)] = "",
    arm: Annotated[str, Form(max_length=64)] = "",
    enrolled_on: Annotated[str, Form(max_length=20)] = "",
    research_consent: Annotated[str, Form(max_length=5)] = "",
    consent_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Enrol a patient (audited), or show the form again with each error next to its field.
    Nothing is written unless every field is right (the service checks before it writes)."""
    from trephine.domain.study import Enrolment
    from trephine.errors import Conflict, NotFound, TrephineError
    from trephine.services import studies
    from trephine.services._batch import Outcome

    _identified(principal)
    values = {
        "patient_id": patient_id,
        "arm": arm,
        "enrolled_on": enrolled_on,
        "research_consent": research_consent,
        "consent_on": consent_on,
    }
    errors: dict[str, str] = {}
    if not patient_id.strip():
        errors["patient_id"] = "Required: the patient's record id."
    if not arm.strip():
        errors["arm"] = "Required: choose the arm."
    on = _form_date("enrolled_on", enrolled_on, errors, required=True)
    if research_consent not in ("yes", "no"):
        errors["research_consent"] = "Required: yes or no."
    consent_date = _form_date("consent_on", consent_on, errors, required=False)
    if not errors:
        try:
            _, outcome = studies.enrol(
                uow,
                study,
                Enrolment(
                    patient_id.strip(), arm.strip(), on, research_consent == "yes", consent_date
                ),
            )
        except NotFound as exc:
            if exc.kind != "patient":
                raise
            errors["patient_id"] = f"No patient has the record id '{patient_id.strip()}'."
        except Conflict as exc:
            what = exc.field.removesuffix("_id").replace("_", " ")
            errors["patient_id"] = (
                f"Already enrolled on {study} with another {what}; an enrolment is not "
                "changed here."
            )
        except ValidationError as exc:
            errors[ENROL_FIELDS.get(exc.field, "form")] = _message(exc)
        except TrephineError as exc:
            errors["form"] = _message(exc)
        else:
            done = "unchanged" if outcome is Outcome.UNCHANGED else "enrolled"
            return RedirectResponse(
                f"{request.url_for('study_page', study=study).path}?done={done}", status_code=303
            )
    return _enrol_form(request, uow, study, values, errors, status_code=422)


def _map_form(
    request: Request,
    uow: UnitOfWork,
    study: str,
    patient_id: str,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    from trephine.errors import NotFound
    from trephine.present.studies import shown_enrolment
    from trephine.services import studies

    view = studies.view(uow, study)
    enrolment = next((e for e in view.enrolments if e.record == patient_id), None)
    if enrolment is None:
        raise NotFound("enrolment", f"{patient_id} on {study}")
    audit_read(request, uow, f"study visits {study}", [patient_id])
    return render(
        request,
        "study_map.html",
        {
            "view": view,
            "row": shown_enrolment(enrolment, Deidentifier(Level.NONE)),
            "biopsies": studies.enrolment_biopsies(uow, study, patient_id),
            "history": studies.hand_mappings(uow, study, patient_id),
            "values": values,
            "errors": errors,
            "done": DONE.get(done or ""),
        },
        status_code=status_code,
    )


@router.get(
    "/research/studies/{study}/patients/{patient_id}/map",
    response_class=HTMLResponse,
    name="map_page",
    dependencies=ENROL,
)
def map_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    study: str,
    patient_id: str,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """One enrolment's visits, the patient's biopsies, the hand mappings so far (who, when,
    why) and the form to map a visit by hand."""
    _identified(principal)
    return _map_form(request, uow, study, patient_id, {}, {}, done=done)


@router.post(
    "/research/studies/{study}/patients/{patient_id}/map",
    name="map_visit_by_hand",
    dependencies=ENROL,
)
def map_visit_by_hand(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    study: str,
    patient_id: str,
    visit: Annotated[str, Form(max_length=64)] = "",
    procedure: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Map a visit to a biopsy (or to none) by hand with a reason; it overrides the window.
    Audited with who and when (the signed-in user, the server's clock)."""
    from trephine.errors import TrephineError
    from trephine.services import studies

    _identified(principal)
    values = {"visit": visit, "procedure": procedure, "reason": reason}
    errors: dict[str, str] = {}
    if not visit.strip():
        errors["visit"] = "Required: choose the visit."
    procedure_id: int | None = None
    if procedure == "none":
        procedure_id = None
    elif procedure.strip().isdigit():
        procedure_id = int(procedure.strip())
    else:
        errors["procedure"] = "Required: choose the biopsy that counts, or none."
    if not reason.strip():
        errors["reason"] = "Required: why the visit is mapped by hand."
    if not errors:
        try:
            studies.map_visit(uow, study, patient_id, visit.strip(), procedure_id, reason)
        except ValidationError as exc:
            errors[MAP_FIELDS.get(exc.field, "form")] = _message(exc)
        except TrephineError as exc:
            errors["form"] = _message(exc)
        else:
            path = request.url_for("map_page", study=study, patient_id=patient_id).path
            return RedirectResponse(f"{path}?done=mapped", status_code=303)
    return _map_form(request, uow, study, patient_id, values, errors, status_code=422)


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
    request: Request,
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
    deid = _view(request, principal, level_of(deidentify))
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
