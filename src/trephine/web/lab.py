"""The lab's pages (issue 10 §1-§2): orders and specimen tracking, work lists, turnaround,
result entry for every result kind, and sign-out / amendment with an electronic signature.

Each route declares its one permission (docs/security.md): reading pages ``records:read``;
ordering, collecting and cancelling ``orders:write``; receiving, starting, entering, signing and
amending ``results:write``. Forms carry the session's CSRF token (checked by ``require``). Every
page that shows a patient's data audits the read. Entry forms go through the clinical importer's
rules (:mod:`trephine.importers.entry_form`); signing re-asks the signer's password
(:func:`trephine.services.accounts.reauthenticate`) and stores a Part 11 signature
(:mod:`trephine.services.signatures`).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trephine.access import Permission, Principal
from trephine.api.deps import (
    DatabaseDep,
    PrincipalDep,
    UnitOfWorkDep,
    audit_read,
    client_address,
    get_database,
    require,
)
from trephine.domain.orders import STUDIES, Section, StudyAction, parse_section
from trephine.domain.quantity import Quantity
from trephine.domain.result_kinds import result_kind_name, result_kind_words
from trephine.domain.results import (
    AspirateDifferential,
    CellClass,
    Population,
    ResultKind,
    ResultValue,
)
from trephine.errors import (
    FileQuirkWarning,
    TrephineError,
    TrephineWarning,
    ValidationError,
)
from trephine.importers.entry_form import FormProblem, parse_entry
from trephine.importers.template import RESULT_FIELDS, FieldType, ResultField
from trephine.present.differential import summarise_counts
from trephine.present.turnaround import turnaround_rows, waited_text
from trephine.services import entry_drafts, orders, results, signatures
from trephine.services.views import StoredResult
from trephine.store.database import UnitOfWork
from trephine.web import oidc
from trephine.web.render import render
from trephine.workflow import REPORTED_STATES, ResultState

router = APIRouter(include_in_schema=False)

#: The kinds the lab enters in the browser, in the order of the CAP marrow template.
ENTRY_KINDS: tuple[ResultKind, ...] = (
    ResultKind.BLOOD_COUNT,
    ResultKind.DIFFERENTIAL,
    ResultKind.CORE,
    ResultKind.FLOW_MRD,
    ResultKind.MOLECULAR_MRD,
    ResultKind.KARYOTYPE,
    ResultKind.NGS_VARIANT,
    ResultKind.CHIMERISM,
    ResultKind.POPULATION,
    ResultKind.MEASUREMENT,
)
#: Measured fields whose assay limits (LOD, LLOQ) the form asks for.
LIMIT_KINDS = frozenset({ResultKind.FLOW_MRD, ResultKind.MOLECULAR_MRD, ResultKind.CHIMERISM})
MAX_UPLOAD = 50 * 1024 * 1024


def _entry_kind(kind: str) -> ResultKind:
    try:
        found = ResultKind(kind)
    except ValueError:
        found = None
    if found not in ENTRY_KINDS:
        raise ValidationError("kind", kind, [k.value for k in ENTRY_KINDS])
    assert found is not None
    return found


def _label(name: str) -> str:
    return name.replace("__", " ").replace("_", " ")


# --------------------------------------------------------------------------- value ↔ form


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def value_fields(value: ResultValue) -> dict[str, str]:
    """The form inputs that describe ``value`` (the inverse of :func:`parse_entry`)."""
    out: dict[str, str] = {}
    for name, spec in RESULT_FIELDS[value.kind].items():
        head, _, sub = spec.target.partition(".")
        found = getattr(value, head, None)
        if sub:
            mapping = found or {}
            found = next((v for k, v in mapping.items() if _text(k) == sub), None)
        if found is None:
            continue
        if isinstance(found, Quantity):
            if found.qualifier.value == "not detected":
                out[name] = "not detected"
            else:
                prefix = "" if found.qualifier.value == "=" else found.qualifier.value
                out[name] = f"{prefix}{_text(found.value)}"
            out[f"{name}__unit"] = found.unit
            if found.lod is not None:
                out[f"{name}__lod"] = _text(found.lod)
            if found.lloq is not None:
                out[f"{name}__lloq"] = _text(found.lloq)
        else:
            out[name] = _text(found)
    if isinstance(value, AspirateDifferential):
        out.pop("cells_counted", None)  # computed from the counts
    return out


def _hint(spec: ResultField) -> str:
    if spec.measure is not None:
        return f"{spec.measure.allowed_range}"
    if spec.kind is FieldType.INTEGER:
        return "whole number"
    if spec.kind is FieldType.DECIMAL:
        return "number"
    if spec.kind is FieldType.BOOLEAN:
        return "yes or no"
    return ""


def form_fields(kind: ResultKind) -> list[dict[str, Any]]:
    """What the template needs to draw each input of ``kind``'s form."""
    fields = []
    for name, spec in RESULT_FIELDS[kind].items():
        if kind is ResultKind.DIFFERENTIAL:
            continue  # drawn as the counting grid
        choices = [str(m.value) for m in spec.enum] if spec.enum is not None else []
        # A text field with a controlled vocabulary (a population's cell type, parent and
        # total: trephine.domain.populations) is chosen from it, as an enum is.
        choices = choices or list(spec.allowed)
        fields.append(
            {
                "name": name,
                "label": _label(name),
                "type": "choice" if choices else str(spec.kind),
                "hint": _hint(spec),
                "units": list(spec.measure.allowed_units) if spec.measure is not None else [],
                "default_unit": spec.measure.unit if spec.measure is not None else "",
                "choices": choices,
                "limits": spec.measure is not None and kind in LIMIT_KINDS,
                "unit_required": spec.unit_required,
            }
        )
    return fields


def _counts(form: dict[str, str]) -> dict[CellClass, int]:
    counts: dict[CellClass, int] = {}
    for cls in CellClass:
        name = cls.value.replace(" ", "_")
        text = (form.get(name) or "").strip()
        if text.isdigit():
            counts[cls] = int(text)
    return counts


# --------------------------------------------------------------------------- orders & studies


def _may(principal: Principal, permission: Permission) -> bool:
    return principal.may(permission)


@router.get(
    "/lab/worklist",
    response_class=HTMLResponse,
    name="lab_worklist",
    dependencies=[require(Permission.RECORDS_READ)],
)
def worklist_page(
    request: Request,
    uow: UnitOfWorkDep,
    section: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    chosen = parse_section(section) if section else None
    items = orders.worklist(uow, chosen)
    audit_read(request, uow, "lab work list", orders.patients_of(items), query=True)
    now = uow.now()

    def age(view: orders.StudyView) -> str:
        return waited_text((now - view.waiting_since).total_seconds() / 3600)

    return render(
        request,
        "lab_worklist.html",
        {
            "items": items,
            "sections": [s.value for s in Section],
            "section": "" if chosen is None else chosen.value,
            "age": age,
        },
    )


@router.get(
    "/lab/turnaround",
    response_class=HTMLResponse,
    name="lab_turnaround",
    dependencies=[require(Permission.RECORDS_READ)],
)
def turnaround_page(request: Request, uow: UnitOfWorkDep) -> HTMLResponse:
    result = orders.turnaround(uow)
    rows = turnaround_rows(result)
    return render(
        request,
        "lab_turnaround.html",
        {
            "result": result,
            "groups": {
                by: [r for r in rows if r["by"] == by] for by in ("study", "section", "month")
            },
        },
    )


@router.get(
    "/lab/orders",
    response_class=HTMLResponse,
    name="lab_orders",
    dependencies=[require(Permission.RECORDS_READ)],
)
def orders_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    patient: Annotated[str | None, Query(max_length=64)] = None,
    done: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    patient = (patient or "").strip() or None
    found = orders.list_orders(uow, patient=patient)
    if patient is None:
        found = found[-100:]
    lines = orders.procedures_of(uow, patient) if patient else []
    shown = [o.patient for o in found] + ([patient] if patient else [])
    audit_read(request, uow, "lab orders", shown, query=True)
    by_procedure = {o.procedure_id: o for o in found}
    return render(
        request,
        "lab_orders.html",
        {
            "patient": patient or "",
            "orders": list(reversed(found)),
            "procedures": lines,
            "by_procedure": by_procedure,
            "studies": list(STUDIES.values()),
            "may_order": _may(principal, Permission.ORDERS_WRITE),
            "done": done,
        },
    )


@router.post(
    "/lab/orders", name="lab_order_create", dependencies=[require(Permission.ORDERS_WRITE)]
)
def order_create(
    uow: UnitOfWorkDep,
    procedure_id: Annotated[int, Form()],
    patient: Annotated[str, Form(max_length=64)],
    study: Annotated[list[str], Form()],
    indication: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    order = orders.order_studies(uow, procedure_id, study, indication=indication or None)
    done = f"Order {order.id}: {len(order.studies)} studies on procedure {procedure_id}."
    query = urlencode({"patient": order.patient or patient, "done": done})
    return RedirectResponse(f"/lab/orders?{query}", status_code=303)


def _study_page(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    study_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    study = orders.get_study(uow, study_id)
    specimens = [
        line for line in orders.procedures_of(uow, study.patient) if line.id == study.procedure_id
    ]
    found: list[StoredResult] = []
    if study.specimen:
        found = [
            r
            for r in results.list_results(uow, patient=study.patient)
            if r.accession == study.specimen and str(r.kind) in study.kinds
        ]
    audit_read(request, uow, "lab study", [study.patient])
    return render(
        request,
        "lab_study.html",
        {
            "study": study,
            "final": orders.final_time_of(uow, study_id),
            "specimens": specimens[0].specimens if specimens else (),
            "results": found,
            "may_order": _may(principal, Permission.ORDERS_WRITE),
            "may_lab": _may(principal, Permission.RESULTS_WRITE),
            "error": error,
            "entry_kinds": [k for k in ENTRY_KINDS if k.value in study.kinds],
            "kind_titles": {k.value: result_kind_name(k) for k in ResultKind},
            # "a signed-out flow cytometry MRD result": the kinds in their one name.
            "reported_by": " or ".join(result_kind_words(k) for k in sorted(study.kinds)),
        },
        status_code=status,
    )


@router.get(
    "/lab/studies/{study_id}",
    response_class=HTMLResponse,
    name="lab_study",
    dependencies=[require(Permission.RECORDS_READ)],
)
def study_page(
    request: Request, uow: UnitOfWorkDep, principal: PrincipalDep, study_id: int
) -> HTMLResponse:
    return _study_page(request, uow, principal, study_id)


def _step(
    request: Request,
    database: Any,
    principal: Principal,
    study_id: int,
    action: StudyAction,
    **kw: Any,
) -> Response:
    """One lifecycle step in its own transaction; a refusal re-shows the study with the reason
    (nothing written), as the signed-in user."""
    try:
        with _acting(request, database, principal) as uow:
            orders.advance(uow, study_id, action, **kw)
    except TrephineError as exc:
        with _acting(request, database, principal) as uow:
            return _study_page(request, uow, principal, study_id, error=str(exc), status=409)
    return RedirectResponse(f"/lab/studies/{study_id}", status_code=303)


@router.post(
    "/lab/studies/{study_id}/collect",
    name="lab_study_collect",
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def study_collect(
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    study_id: int,
    specimen: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    return _step(
        request, database, principal, study_id, StudyAction.COLLECT, specimen=specimen or None
    )


@router.post(
    "/lab/studies/{study_id}/cancel",
    name="lab_study_cancel",
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def study_cancel(
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    study_id: int,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _step(request, database, principal, study_id, StudyAction.CANCEL, reason=reason)


@router.post(
    "/lab/studies/{study_id}/receive",
    name="lab_study_receive",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def study_receive(
    request: Request, database: DatabaseDep, principal: PrincipalDep, study_id: int
) -> Response:
    return _step(request, database, principal, study_id, StudyAction.RECEIVE)


@router.post(
    "/lab/studies/{study_id}/start",
    name="lab_study_start",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def study_start(
    request: Request, database: DatabaseDep, principal: PrincipalDep, study_id: int
) -> Response:
    return _step(request, database, principal, study_id, StudyAction.START)


# --------------------------------------------------------------------------- result entry


def _typed_fields(raw: Any, kind: ResultKind) -> dict[str, str]:
    """The posted inputs that are fields of ``kind``'s form (``name`` or ``name__unit``/
    ``__lod``/``__lloq``), as typed; anything else (files, other names, over-long text) is
    left out."""
    allowed = set(RESULT_FIELDS[kind])
    return {
        k: v
        for k, v in raw.items()
        if isinstance(v, str) and k.split("__", 1)[0] in allowed and len(v) <= 2000
    }


@contextmanager
def _acting(request: Request, database: Any, principal: Principal) -> Iterator[UnitOfWork]:
    """A unit of work as the signed-in user; its audit events name their role and address."""
    with database.unit_of_work(principal.name) as uow:
        uow.context.update(role=str(principal.role), client=client_address(request))
        yield uow


def _entry_page(
    request: Request,
    uow: UnitOfWork,
    accession: str,
    kind: ResultKind,
    *,
    form: dict[str, str] | None = None,
    problems: list[FormProblem] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    specimen = entry_drafts.specimen(uow, accession)
    saved = entry_drafts.saved_form(uow, accession, kind)
    draft = entry_drafts.current_draft(uow, accession, kind)
    resumed = None
    if form is None:
        if saved is not None:
            form = dict(saved.fields)
            resumed = f"Resumed the form saved by {saved.saved_by} at " + saved.saved_at.astimezone(
                dt.UTC
            ).strftime("%Y-%m-%d %H:%M UTC")
        elif draft is not None:
            form = value_fields(draft.value)
        else:
            form = {}
    summary = summarise_counts(_counts(form)) if kind is ResultKind.DIFFERENTIAL else None
    problems = problems or []
    studies = orders.studies_of_specimen(uow, accession)
    variants = []
    if kind is ResultKind.NGS_VARIANT:
        variants = [
            r
            for r in results.list_results(uow, patient=specimen.patient)
            if r.accession == accession and r.kind is ResultKind.NGS_VARIANT
        ]
    audit_read(request, uow, "result entry", [specimen.patient])
    return render(
        request,
        "lab_entry.html",
        {
            "accession": accession,
            "specimen_type": specimen.type,
            "patient": specimen.patient,
            "kind": kind.value,
            "title": result_kind_name(kind),
            "fields": form_fields(kind),
            "cell_classes": [(c.value.replace(" ", "_"), c.value) for c in CellClass],
            "form": form,
            "summary": summary,
            "errors": {p.field: p.message for p in problems if p.field and not p.warning},
            "general": [p.message for p in problems if not p.field and not p.warning],
            "warnings": [p.message for p in problems if p.warning],
            "problems": [p for p in problems if not p.warning],
            "notice": notice or resumed,
            "draft": draft,
            "studies": studies,
            "variants": variants,
            "kinds": [(k.value, result_kind_name(k)) for k in ENTRY_KINDS],
        },
        status_code=status,
    )


@router.get(
    "/lab/entry/{accession}/{kind}",
    response_class=HTMLResponse,
    name="lab_entry",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def entry_page(request: Request, uow: UnitOfWorkDep, accession: str, kind: str) -> HTMLResponse:
    return _entry_page(request, uow, accession, _entry_kind(kind))


@router.post(
    "/lab/entry/{accession}/{kind}",
    response_class=HTMLResponse,
    name="lab_entry_save",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
async def entry_save(
    request: Request, database: DatabaseDep, principal: PrincipalDep, accession: str, kind: str
) -> Response:
    """``intent=draft`` keeps the form as typed (resumable, unvalidated); ``intent=save``
    checks it as the importer would and records a draft result (or edits the current draft)."""
    chosen = _entry_kind(kind)
    raw = await request.form()
    form = _typed_fields(raw, chosen)
    intent = str(raw.get("intent") or "save")
    with _acting(request, database, principal) as uow:
        entry_drafts.specimen(uow, accession)  # NotFound before anything else
        if intent == "draft":
            try:
                kept = entry_drafts.save_form(uow, accession, chosen, form)
            except ValidationError as exc:
                return _entry_page(
                    request,
                    uow,
                    accession,
                    chosen,
                    form=form,
                    problems=[FormProblem(exc.field.partition("__")[0], str(exc))],
                    status=422,
                )
            when = kept.saved_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            return _entry_page(
                request,
                uow,
                accession,
                chosen,
                form=form,
                notice=f"Form saved at {when} (not a result yet); open this page again to resume.",
            )
        value, problems = parse_entry(chosen, accession, form)
        if value is None:
            return _entry_page(
                request, uow, accession, chosen, form=form, problems=problems, status=422
            )
        try:
            stored, _ = results.record_result(uow, accession, value)
        except TrephineError as exc:
            return _entry_page(
                request,
                uow,
                accession,
                chosen,
                form=form,
                problems=[FormProblem(None, str(exc))],
                status=409,
            )
        entry_drafts.discard_form(uow, accession, chosen)
    return RedirectResponse(f"/results/{stored.id}", status_code=303)


async def _spool(upload: UploadFile, folder: Path, field: str) -> Path:
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise ValidationError(field, upload.filename, f"a file of at most {MAX_UPLOAD} bytes")
    name = Path(upload.filename or field).name or field
    path = folder / name
    path.write_bytes(data)
    return path


@contextmanager
def _refusing_doubts(folder: Path, fcs_name: str) -> Iterator[None]:
    """Refuse (``ValidationError`` on ``fcs``) when the block warned about the data itself (a
    :class:`TrephineWarning` other than a file-format quirk); the upload folder is left out."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    doubts = [
        str(w.message).replace(f"{folder}/", "")
        for w in caught
        if issubclass(w.category, TrephineWarning) and not issubclass(w.category, FileQuirkWarning)
    ]
    if doubts:
        raise ValidationError(
            "fcs",
            fcs_name,
            "the FCS file the strategy was made for",
            reason="; ".join(dict.fromkeys(doubts)) + "; nothing was stored",
        )


@router.post(
    "/lab/entry/{accession}/flow_mrd/fcs",
    response_class=HTMLResponse,
    name="lab_entry_fcs",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
async def entry_fcs(
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    accession: str,
    fcs: Annotated[UploadFile, File()],
    strategy: Annotated[UploadFile, File()],
    denominator: Annotated[str, Form(max_length=200)],
    abnormal: Annotated[str, Form(max_length=200)],
    method: Annotated[str, Form(max_length=32)] = "LAIP",
    criteria: Annotated[str, Form(max_length=16)] = "AML",
    panel: Annotated[str, Form(max_length=200)] = "",
    sample: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Flow MRD computed from an uploaded FCS tube and its Gating-ML strategy or FlowJo
    workspace by the same engine as ``trephine flow mrd`` (``importers/flow_mrd.py``)."""
    from trephine.domain.results import FlowMethod
    from trephine.importers import flow_mrd as tube

    problem: str | None = None
    stored = None
    with tempfile.TemporaryDirectory(prefix="trephine-fcs-") as tmp:
        folder = Path(tmp)
        try:
            fcs_path = await _spool(fcs, folder, "fcs")
            strategy_path = await _spool(strategy, folder, "strategy")
            try:
                chosen_method = FlowMethod(method)
            except ValueError:
                raise ValidationError("method", method, [m.value for m in FlowMethod]) from None
            crit = tube.criteria_for(criteria)
            is_flowjo = strategy_path.suffix.lower() == ".wsp"
            # What `trephine flow mrd` warns about (FlowJo recorded another event count for the
            # sample: the wrong FCS file; compensation asked for but absent) would make the
            # stored counts meaningless: refused, nothing stored, from a form nobody reads twice.
            with _refusing_doubts(folder, fcs_path.name):
                loaded, gates = tube.load_tube(
                    fcs_path,
                    gating_ml=None if is_flowjo else strategy_path,
                    flowjo=strategy_path if is_flowjo else None,
                    sample=sample or None,
                )
            with _refusing_doubts(folder, fcs_path.name):
                res = tube.quantify(
                    loaded,
                    gates,
                    denominator.strip(),
                    abnormal.strip(),
                    crit,
                    source=strategy_path.name,
                )
            value = tube.tube_value(
                res,
                fcs_path=fcs_path,
                gating_path=strategy_path,
                method=chosen_method.value,
                panel=panel.strip() or None,
            )
            with _acting(request, database, principal) as uow:
                stored, _ = results.record_result(uow, accession, value)
        except (TrephineError, OSError) as exc:
            problem = str(exc)
    if problem is not None or stored is None:
        with _acting(request, database, principal) as uow:
            return _entry_page(
                request,
                uow,
                accession,
                ResultKind.FLOW_MRD,
                problems=[FormProblem(None, f"FCS upload: {problem}")],
                status=422,
            )
    return RedirectResponse(f"/results/{stored.id}", status_code=303)


@router.post(
    "/lab/entry/{accession}/ngs_variant/file",
    response_class=HTMLResponse,
    name="lab_entry_variants",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
async def entry_variants(
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    accession: str,
    variants: Annotated[UploadFile, File()],
    samples: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """NGS variants from a TSV, VCF or MAF (with its sample sheet) through
    ``importers/variants.py``, all or nothing, as drafts on this specimen. A file of one sample
    is put on this specimen whatever the sample is called; several samples must be named by
    their accessions (or the sheet's ``accession`` column)."""
    from trephine.importers.variants import read_observations
    from trephine.services import variants as variant_service

    notice: str | None = None
    problems: list[FormProblem] = []
    with tempfile.TemporaryDirectory(prefix="trephine-ngs-") as tmp:
        folder = Path(tmp)
        try:
            path = await _spool(variants, folder, "variants")
            sheet = None
            if samples is not None and samples.filename:
                sheet = await _spool(samples, folder, "samples")
            observations = read_observations(path, sheet)
            mapping = variant_service.read_accession_map(sheet) if sheet is not None else {}
            names = {o.sample_id for o in observations}
            if not mapping and len(names) == 1:
                mapping = {next(iter(names)): accession}
            with _acting(request, database, principal) as uow:
                done = variant_service.import_variants(uow, observations, path.name, mapping)
            notice = (
                f"{path.name}: {done.created} variant(s) recorded as drafts, "
                f"{done.unchanged} already recorded."
            )
        except TrephineError as exc:
            issues = getattr(exc, "issues", None)
            if issues:
                problems = [FormProblem(None, f"{i.location}: {i.message}") for i in issues]
            else:
                problems = [FormProblem(None, str(exc))]
    with _acting(request, database, principal) as uow:
        return _entry_page(
            request,
            uow,
            accession,
            ResultKind.NGS_VARIANT,
            problems=problems,
            notice=notice,
            status=422 if problems else 200,
        )


# --------------------------------------------------------------------------- result, sign, amend


def _result_page(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    result_id: int,
    *,
    amend_form: dict[str, str] | None = None,
    problems: list[FormProblem] | None = None,
    error: str | None = None,
    done: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    result = results.get_result(uow, result_id)
    versions = results.history(uow, result_id)
    fields = list(RESULT_FIELDS[result.kind])
    table = []
    for version in versions:
        table.append(value_fields(version.value))
    rows = []
    for name in fields:
        cells = [t.get(name, "") for t in table]
        units = [t.get(f"{name}__unit", "") for t in table]
        if not any(cells):
            continue
        shown = [f"{c} {u}".strip() if c else "" for c, u in zip(cells, units, strict=True)]
        changed = [i > 0 and shown[i] != shown[i - 1] for i in range(len(shown))]
        rows.append({"field": _label(name), "cells": shown, "changed": changed})
    sigs = {v.id: signatures.signatures_of_result(uow, v.id) for v in versions}
    summary = None
    if isinstance(result.value, AspirateDifferential):
        summary = summarise_counts(dict(result.value.counts))
    population = None
    if isinstance(result.value, Population):
        # The shares with their 95 % Wilson intervals (issue 14 §4), as reports and JSON say.
        from trephine.present.results import summary as result_summary

        population = result_summary(result.value)
    audit_read(request, uow, "result page", [result.patient_id])
    may_lab = _may(principal, Permission.RESULTS_WRITE)
    current_signed = result.state in REPORTED_STATES
    return render(
        request,
        "lab_result.html",
        {
            "result": result,
            "title": result_kind_name(result.kind),
            "versions": versions,
            "rows": rows,
            "signatures": sigs,
            "summary": summary,
            "population": population,
            "may_sign": may_lab and result.state is ResultState.DRAFT,
            "may_amend": may_lab and current_signed,
            # An account without a password re-identifies at the provider (web/oidc.py).
            "signs_with_provider": may_lab
            and oidc.provider_subject(request, principal) is not None,
            "entry_kind": result.kind in ENTRY_KINDS,
            "amend_fields": form_fields(result.kind)
            if result.kind is not ResultKind.DIFFERENTIAL
            else [],
            "cell_classes": [(c.value.replace(" ", "_"), c.value) for c in CellClass],
            "amend_form": amend_form if amend_form is not None else value_fields(result.value),
            "errors": {p.field: p.message for p in (problems or []) if p.field and not p.warning},
            "general": [p.message for p in (problems or []) if not p.field and not p.warning]
            + ([error] if error else []),
            "done": done,
            "studies": orders.studies_of_specimen(uow, result.accession),
        },
        status_code=status,
    )


@router.get(
    "/results/{result_id}",
    response_class=HTMLResponse,
    name="lab_result",
    dependencies=[require(Permission.RECORDS_READ)],
)
def result_page(
    request: Request,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    result_id: int,
    done: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    return _result_page(request, uow, principal, result_id, done=done)


def _reauthenticate(request: Request, database: Any, principal: Principal, password: str) -> None:
    from trephine.services import accounts

    accounts.reauthenticate(
        database, principal.name, password, client_address(request), request.app.state.throttle
    )


@router.post(
    "/results/{result_id}/sign",
    response_class=HTMLResponse,
    name="lab_result_sign",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def result_sign(
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    result_id: int,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Sign out a draft: the signer re-enters their password (or, an account of the identity
    provider without one, signs in there again: web/oidc.py); signer, time and the meaning
    "verified" are stored with a hash of the signed content."""
    at_provider = oidc.sign_at_provider(
        request,
        principal,
        password,
        SIGN_OUT,
        {"result": result_id},
        what=f"result {result_id} (verified)",
        back=f"/results/{result_id}",
    )
    if at_provider is not None:
        return at_provider
    try:
        _reauthenticate(request, database, principal, password)
    except TrephineError as exc:
        return _result_refused(request, database, principal, result_id, str(exc))
    return _sign_out(request, database, principal, result_id, signatures.PASSWORD)


def _result_refused(
    request: Request, database: Any, principal: Principal, result_id: int, error: str
) -> Response:
    with _acting(request, database, principal) as uow:
        return _result_page(request, uow, principal, result_id, error=error, status=422)


def _sign_out(
    request: Request, database: Any, principal: Principal, result_id: int, method: str
) -> Response:
    """The signature itself, the signer having just re-identified (``method`` says how)."""
    try:
        with _acting(request, database, principal) as uow:
            signatures.sign_result(uow, result_id, method=method)
    except TrephineError as exc:
        return _result_refused(request, database, principal, result_id, str(exc))
    return RedirectResponse(
        f"/results/{result_id}?{urlencode({'done': 'Signed out with your electronic signature.'})}",
        status_code=303,
    )


def _sign_out_pending(request: Request, principal: Principal, detail: dict[str, Any]) -> Response:
    return _sign_out(
        request, get_database(request), principal, int(detail["result"]), oidc.SIGNATURE_METHOD
    )


def _sign_out_refused(
    request: Request, principal: Principal, detail: dict[str, Any], why: str
) -> Response:
    return _result_refused(request, get_database(request), principal, int(detail["result"]), why)


#: A result's sign-out waiting for an identity-provider signer's fresh login (web/oidc.py).
SIGN_OUT = oidc.signing_action("result-sign-out", _sign_out_pending, _sign_out_refused)


@router.post(
    "/results/{result_id}/amend",
    response_class=HTMLResponse,
    name="lab_result_amend",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
async def result_amend(
    request: Request, database: DatabaseDep, principal: PrincipalDep, result_id: int
) -> Response:
    """Amend a signed-out result: the corrected fields, a reason and the password; the new
    version is signed, the old one kept and shown beside it."""
    raw = await request.form()
    reason = str(raw.get("reason") or "")
    password = str(raw.get("password") or "")
    with _acting(request, database, principal) as uow:
        kind = results.get_result(uow, result_id).kind
    form = _typed_fields(raw, kind)
    detail = {"result": result_id, "form": form, "reason": reason}
    amendment = _Amendment(request, principal, detail)
    if amendment.value is None:
        return amendment.refused(request, None)
    if not reason.strip():
        return amendment.refused(
            request,
            str(ValidationError("reason", reason, "a non-empty reason for the amendment")),
        )
    # The amended fields wait in the database for an identity-provider signer's fresh login.
    at_provider = oidc.sign_at_provider(
        request,
        principal,
        password,
        AMEND,
        detail,
        what=f"the amendment of result {result_id}",
        back=f"/results/{result_id}",
    )
    if at_provider is not None:
        return at_provider
    try:
        _reauthenticate(request, database, principal, password)
    except TrephineError as exc:
        return amendment.refused(request, str(exc))
    return amendment.sign(request, signatures.PASSWORD)


class _Amendment:
    """An amendment of a signed-out result: ``detail`` holds the result id, the fields as typed
    and the reason (all a pending signature keeps); the value is parsed from them again."""

    def __init__(self, request: Request, principal: Principal, detail: dict[str, Any]) -> None:
        self.database = get_database(request)
        self.principal = principal
        self.result_id = int(detail["result"])
        self.form: dict[str, str] = {str(k): str(v) for k, v in dict(detail["form"]).items()}
        self.reason = str(detail["reason"])
        with _acting(request, self.database, principal) as uow:
            found = results.get_result(uow, self.result_id)
        self.value, self.problems = parse_entry(found.kind, found.accession, self.form)

    def refused(self, request: Request, error: str | None) -> Response:
        with _acting(request, self.database, self.principal) as uow:
            return _result_page(
                request,
                uow,
                self.principal,
                self.result_id,
                amend_form=self.form,
                problems=self.problems,
                error=error,
                status=422,
            )

    def sign(self, request: Request, method: str) -> Response:
        if self.value is None or not self.reason.strip():
            return self.refused(request, None)
        try:
            with _acting(request, self.database, self.principal) as uow:
                stored, _ = signatures.sign_amendment(
                    uow, self.result_id, self.value, self.reason, method=method
                )
        except TrephineError as exc:
            return self.refused(request, str(exc))
        message = "Amended and signed; the superseded version is kept beside it."
        return RedirectResponse(
            f"/results/{stored.id}?{urlencode({'done': message})}", status_code=303
        )


#: An amendment waiting for an identity-provider signer's fresh login (web/oidc.py).
AMEND = oidc.signing_action(
    "result-amend",
    lambda request, principal, detail: _Amendment(request, principal, detail).sign(
        request, oidc.SIGNATURE_METHOD
    ),
    lambda request, principal, detail, why: _Amendment(request, principal, detail).refused(
        request, why
    ),
)


def entry_link(accession: str, kind: str) -> str:
    return f"/lab/entry/{quote(accession)}/{kind}"
