"""The integrated marrow report: assemble, issue versions, record the talk with the patient.

One report per procedure. It reports every **signed-out** result (verified or amended) of the
procedure's specimens and never a draft; drafts are only counted as pending studies. Issuing a
version (:func:`issue_report`) freezes which result *versions* it reported (their row ids —
results are never edited in place, so an id is a fixed value), the signer's interpretation,
integrated diagnosis and comments, and a SHA-256 of that content; the ``report_version`` table is
append-only. Reading any version later (:func:`marrow_report`) shows exactly what was issued,
marks the current version, and marks each result that changed since the version before.

The criteria engine's stored calls for the procedure's date are returned as *suggestions* with
their reasons; the integrated diagnosis is only ever what a signer wrote.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from trephine.domain.patient import Classification, Diagnosis, Patient, PatientIdentity
from trephine.domain.quantity import Qualifier
from trephine.domain.report import ReportStatus, check_next
from trephine.domain.results import CoreFindings
from trephine.domain.therapy import CellularTherapy, TherapyLine
from trephine.errors import NotFound, ValidationError
from trephine.services import _rows, audit, patients
from trephine.services.assessments import current_assessments
from trephine.services.views import (
    PatientRecord,
    StoredAssessment,
    StoredProcedure,
    StoredResult,
)
from trephine.store.codec import encode_result
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    PatientRow,
    ProcedureRow,
    ReportDiscussionRow,
    ReportVersionRow,
    ResultRow,
    SpecimenRow,
)
from trephine.workflow import ResultState

#: Result states a report may show: signed out (verified, or a signed-out amendment).
SIGNED_OUT = frozenset({ResultState.VERIFIED, ResultState.AMENDED})
#: What a report version may carry in its free-text fields.
MAX_TEXT = 20_000


@dataclass(frozen=True)
class Discussion:
    """The results were discussed with the patient: by whom, with whom, when."""

    id: int
    discussed_by: str
    discussed_with: str
    discussed_at: dt.datetime
    note: str | None
    recorded_by: str
    recorded_at: dt.datetime


@dataclass(frozen=True)
class ReportVersion:
    id: int
    procedure_id: int
    version: int
    status: ReportStatus
    issued_by: str
    issued_at: dt.datetime
    reason: str | None
    interpretation: str | None
    diagnosis: str | None
    diagnosis_classification: str | None
    comments: str | None
    result_ids: tuple[int, ...]
    content_sha256: str
    discussions: tuple[Discussion, ...] = ()


@dataclass(frozen=True)
class ReportedResult:
    """A result as a report version shows it, with what changed since the version before."""

    result: StoredResult
    #: The version of the same result the previous report version showed, when it differed.
    previous: StoredResult | None = None
    #: True when the previous report version did not show this result at all.
    new: bool = False


@dataclass(frozen=True)
class CellularityForAge:
    """A core's cellularity against the age-expected band of one reference (spec §7.1)."""

    result_id: int
    reference: str
    category: str
    band_low: Decimal | None
    band_high: Decimal | None
    age: int
    citation: str


@dataclass(frozen=True)
class MarrowReport:
    """Everything one report (version) shows. ``shown`` is None for the working copy."""

    patient: Patient
    #: Only when the caller asked for the identified view (roles with identity:read).
    identity: PatientIdentity | None
    procedure: StoredProcedure
    diagnoses: tuple[Diagnosis, ...]
    therapy_lines: tuple[TherapyLine, ...]
    cellular_therapies: tuple[CellularTherapy, ...]
    results: tuple[ReportedResult, ...]
    #: Drafts on the procedure's specimens: counted, never shown (kind, accession).
    pending: tuple[tuple[str, str], ...]
    #: Stored criteria calls dated on the procedure day (suggestions only).
    suggestions: tuple[StoredAssessment, ...]
    versions: tuple[ReportVersion, ...]
    shown: ReportVersion | None
    #: Every stored call of the patient (for the FHIR export's disease status).
    assessments: tuple[StoredAssessment, ...] = field(default=())
    #: Each reported core's cellularity against both age references (age from birth year).
    cellularity_for_age: tuple[CellularityForAge, ...] = field(default=())

    @property
    def current(self) -> ReportVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def is_current(self) -> bool:
        return self.shown is not None and self.shown == self.current

    @property
    def previous(self) -> ReportVersion | None:
        if self.shown is None:
            return None
        earlier = [v for v in self.versions if v.version < self.shown.version]
        return earlier[-1] if earlier else None


@dataclass(frozen=True)
class PatientReports:
    """A patient's whole record with one report per procedure (FHIR bundle export)."""

    record: PatientRecord
    identity: PatientIdentity | None
    reports: tuple[MarrowReport, ...]


# --------------------------------------------------------------------------- reading


def _versions(uow: UnitOfWork, procedure_ids: Iterable[int]) -> dict[int, list[ReportVersion]]:
    ids = list(procedure_ids)
    if not ids:
        return {}
    rows = list(
        uow.session.scalars(
            select(ReportVersionRow)
            .where(ReportVersionRow.procedure_id.in_(ids))
            .order_by(ReportVersionRow.procedure_id, ReportVersionRow.version)
        )
    )
    talks: dict[int, list[Discussion]] = {}
    if rows:
        for t in uow.session.scalars(
            select(ReportDiscussionRow)
            .where(ReportDiscussionRow.report_version_id.in_([r.id for r in rows]))
            .order_by(ReportDiscussionRow.discussed_at, ReportDiscussionRow.id)
        ):
            talks.setdefault(t.report_version_id, []).append(
                Discussion(
                    t.id,
                    t.discussed_by,
                    t.discussed_with,
                    t.discussed_at,
                    t.note,
                    t.recorded_by,
                    t.recorded_at,
                )
            )
    out: dict[int, list[ReportVersion]] = {}
    for r in rows:
        out.setdefault(r.procedure_id, []).append(
            ReportVersion(
                id=r.id,
                procedure_id=r.procedure_id,
                version=r.version,
                status=ReportStatus(r.status),
                issued_by=r.issued_by,
                issued_at=r.issued_at,
                reason=r.reason,
                interpretation=r.interpretation,
                diagnosis=r.diagnosis,
                diagnosis_classification=r.diagnosis_classification,
                comments=r.comments,
                result_ids=tuple(int(i) for i in r.result_ids),
                content_sha256=r.content_sha256,
                discussions=tuple(talks.get(r.id, ())),
            )
        )
    return out


def _result_rows(uow: UnitOfWork, patient: str, ids: Iterable[int]) -> dict[int, StoredResult]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = (
        select(ResultRow, SpecimenRow.accession)
        .join(SpecimenRow, SpecimenRow.id == ResultRow.specimen_id)
        .where(ResultRow.id.in_(wanted))
    )
    return {
        row.id: _rows.to_result(row, patient, accession)
        for row, accession in uow.session.execute(query)
    }


def _key(r: StoredResult) -> tuple[str, str, str, dt.date]:
    return (r.accession, str(r.kind), r.analyte, r.collected_on)


def _order(r: StoredResult) -> tuple[object, ...]:
    return (r.collected_on, r.accession, str(r.kind), r.analyte)


def _reported(
    shown: Sequence[StoredResult], before: Sequence[StoredResult] | None
) -> tuple[ReportedResult, ...]:
    if before is None:
        return tuple(ReportedResult(r) for r in sorted(shown, key=_order))
    earlier = {_key(r): r for r in before}
    out = []
    for r in sorted(shown, key=_order):
        prior = earlier.get(_key(r))
        if prior is None:
            out.append(ReportedResult(r, new=True))
        elif prior.id != r.id:
            out.append(ReportedResult(r, previous=prior))
        else:
            out.append(ReportedResult(r))
    return tuple(out)


def _assemble(
    uow: UnitOfWork,
    record: PatientRecord,
    identity: PatientIdentity | None,
    procedure: StoredProcedure,
    versions: list[ReportVersion],
    version: int | None,
    stored: dict[int, StoredResult],
) -> MarrowReport:
    accessions = {s.specimen.accession for s in procedure.specimens}
    current = [r for r in record.results if r.accession in accessions]
    pending = tuple((str(r.kind), r.accession) for r in current if r.state is ResultState.DRAFT)
    if version is None:
        shown = None
        results = tuple(
            ReportedResult(r)
            for r in sorted((r for r in current if r.state in SIGNED_OUT), key=_order)
        )
    else:
        found = [v for v in versions if v.version == version]
        if not found:
            raise NotFound("report version", f"{procedure.id} v{version}")
        shown = found[0]
        earlier = [v for v in versions if v.version < version]
        before = [stored[i] for i in earlier[-1].result_ids if i in stored] if earlier else None
        results = _reported([stored[i] for i in shown.result_ids if i in stored], before)
    day = procedure.procedure.performed_on
    suggestions = tuple(
        s for s in current_assessments(record.assessments) if s.assessment.assessed_on == day
    )
    return MarrowReport(
        cellularity_for_age=_cellularity_for_age(record.patient, day, results),
        patient=record.patient,
        identity=identity,
        procedure=procedure,
        diagnoses=tuple(d for d in record.diagnoses if d.diagnosed_on <= day),
        therapy_lines=tuple(t for t in record.therapy_lines if t.start <= day),
        cellular_therapies=tuple(e for e in record.cellular_therapies if e.on <= day),
        results=results,
        pending=pending,
        suggestions=suggestions,
        versions=tuple(versions),
        shown=shown,
        assessments=record.assessments,
    )


def _cellularity_for_age(
    patient: Patient, day: dt.date, results: Sequence[ReportedResult]
) -> tuple[CellularityForAge, ...]:
    """Both age references of spec §7.1 for each core with an exact cellularity. The age is
    from the birth year only (the record keeps no birth date outside the identity table)."""
    from trephine.assess.common import run
    from trephine.criteria.sets import diagnostics

    if patient.birth_year is None:
        return ()
    age = day.year - patient.birth_year
    out = []
    for item in results:
        value = item.result.value
        if not isinstance(value, CoreFindings) or value.cellularity is None:
            continue
        if value.cellularity.qualifier is not Qualifier.EXACT:
            continue
        for rs in (diagnostics.CELLULARITY_LINEAR, diagnostics.CELLULARITY_WONG):
            ev = run(
                rs,
                {"age_years": age, "biopsy_cellularity_pct": value.cellularity.value},
                f"result {item.result.id} cellularity",
                {},  # the report quotes both references at their documented defaults
            )
            low, high = (ev.facts.get(k) for k in ("band_low_pct", "band_high_pct"))
            out.append(
                CellularityForAge(
                    item.result.id,
                    rs.title,
                    ev.category,
                    low if isinstance(low, Decimal) else None,
                    high if isinstance(high, Decimal) else None,
                    age,
                    ev.citation,
                )
            )
    return tuple(out)


def _patient_of(uow: UnitOfWork, procedure_id: int) -> str:
    found = uow.session.execute(
        select(PatientRow.external_id)
        .join(ProcedureRow, ProcedureRow.patient_id == PatientRow.id)
        .where(ProcedureRow.id == procedure_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("procedure", procedure_id)
    return found


def marrow_report(
    uow: UnitOfWork,
    procedure_id: int,
    *,
    version: int | str | None = "current",
    identified: bool = False,
) -> MarrowReport:
    """The report of ``procedure_id``: ``version`` ``"current"`` (the latest issued, or the
    working copy when none is), a number, or None (the working copy of current results).

    ``identified`` adds the patient's name, MRN and birth date (the caller decides by role;
    the identity read is audited). The record read is audited (``patients.patient_record``).
    """
    external_id = _patient_of(uow, procedure_id)
    record = patients.patient_record(uow, external_id)
    identity = patients.patient_identity(uow, external_id) if identified else None
    procedure = next(p for p in record.procedures if p.id == procedure_id)
    versions = _versions(uow, [procedure_id]).get(procedure_id, [])
    if version == "current":
        chosen = versions[-1].version if versions else None
    elif version is None:
        chosen = None
    else:
        chosen = int(version)
    stored = _result_rows(uow, external_id, (i for v in versions for i in v.result_ids))
    return _assemble(uow, record, identity, procedure, versions, chosen, stored)


def patient_reports(
    uow: UnitOfWork, external_id: str, *, identified: bool = False
) -> PatientReports:
    """The patient's record and, per procedure, its current report (or working copy)."""
    record = patients.patient_record(uow, external_id)
    identity = patients.patient_identity(uow, external_id) if identified else None
    versions = _versions(uow, (p.id for p in record.procedures))
    stored = _result_rows(
        uow, external_id, (i for vs in versions.values() for v in vs for i in v.result_ids)
    )
    reports = []
    for p in record.procedures:
        vs = versions.get(p.id, [])
        reports.append(
            _assemble(uow, record, identity, p, vs, vs[-1].version if vs else None, stored)
        )
    return PatientReports(record, identity, tuple(reports))


def versions_of(uow: UnitOfWork, procedure_id: int) -> list[ReportVersion]:
    _patient_of(uow, procedure_id)
    return _versions(uow, [procedure_id]).get(procedure_id, [])


# --------------------------------------------------------------------------- writing


def _text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ValidationError(name, f"{len(value)} characters", f"at most {MAX_TEXT} characters")
    return value or None


def _classification(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    for c in (Classification.WHO_5, Classification.ICC_2022):
        if value.strip().lower() == c.value.lower():
            return c.value
    raise ValidationError(
        "diagnosis_classification",
        value,
        f"{Classification.WHO_5.value} or {Classification.ICC_2022.value}",
    )


def _digest(content: dict[str, object]) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def issue_report(
    uow: UnitOfWork,
    procedure_id: int,
    status: ReportStatus,
    *,
    reason: str | None = None,
    interpretation: str | None = None,
    diagnosis: str | None = None,
    diagnosis_classification: str | None = None,
    comments: str | None = None,
) -> ReportVersion:
    """Issue the next version of the procedure's report, signed by the unit of work's actor.

    It reports the procedure's signed-out results as they are now. A text field left as None
    keeps the previous version's text (an empty string clears it). Refused: a status that may
    not follow the current one (``domain/report.py``), a version after the final without a
    reason, no signed-out result at all, or a version identical to the current one.
    """
    external_id = _patient_of(uow, procedure_id)
    report = marrow_report(uow, procedure_id, version=None)
    current = report.current
    check_next(None if current is None else current.status, status, reason)
    results = [r.result for r in report.results]
    if not results:
        raise ValidationError(
            "procedure",
            procedure_id,
            "a procedure with at least one signed-out result",
            reason="nothing to report: sign out a result first",
        )

    def carried(name: str, given: str | None) -> str | None:
        if given is not None:
            return _text(name, given)
        return None if current is None else getattr(current, name)

    text = {
        "interpretation": carried("interpretation", interpretation),
        "diagnosis": carried("diagnosis", diagnosis),
        "comments": carried("comments", comments),
    }
    cls = (
        _classification(diagnosis_classification)
        if diagnosis_classification is not None
        else (None if current is None else current.diagnosis_classification)
    )
    if text["diagnosis"] is None:
        cls = None
    ids = sorted(r.id for r in results)
    body: dict[str, object] = {
        **text,
        "diagnosis_classification": cls,
        "results": [{"id": r.id, "value": encode_result(r.value)} for r in results],
    }
    # A final may repeat its preliminary word for word; any other version must differ.
    repeats_preliminary = (
        current is not None
        and current.status is ReportStatus.PRELIMINARY
        and status is ReportStatus.FINAL
    )
    if current is not None and not repeats_preliminary:
        same = (
            list(current.result_ids) == ids
            and all(getattr(current, k) == v for k, v in text.items())
            and current.diagnosis_classification == cls
        )
        if same:
            raise ValidationError(
                "status",
                str(status),
                "a version that changes or adds something",
                reason=f"nothing differs from version {current.version}",
            )
    version = 1 if current is None else current.version + 1
    issued_at = uow.now()
    content = {
        **body,
        "procedure": procedure_id,
        "patient": external_id,
        "version": version,
        "status": str(status),
        "reason": _text("reason", reason),
        "issued_by": uow.actor,
        "issued_at": issued_at.isoformat(),
    }
    row = ReportVersionRow(
        procedure_id=procedure_id,
        version=version,
        status=str(status),
        issued_by=uow.actor,
        issued_at=issued_at,
        reason=_text("reason", reason),
        interpretation=text["interpretation"],
        diagnosis=text["diagnosis"],
        diagnosis_classification=cls,
        comments=text["comments"],
        result_ids=ids,
        content_sha256=_digest(content),
    )
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "issue",
            "report",
            f"{procedure_id}/v{version}",
            {
                "patient": external_id,
                "procedure": procedure_id,
                "version": version,
                "status": str(status),
                "reason": row.reason,
                "results": ids,
                "sha256": row.content_sha256,
            },
        ),
    )
    return _versions(uow, [procedure_id])[procedure_id][-1]


def record_discussion(
    uow: UnitOfWork,
    procedure_id: int,
    *,
    discussed_with: str,
    discussed_at: dt.datetime,
    discussed_by: str | None = None,
    note: str | None = None,
    version: int | None = None,
) -> Discussion:
    """Record that the report (``version``, default the current one) was discussed with the
    patient. ``discussed_by`` defaults to the acting user; the time is when it happened."""
    versions = versions_of(uow, procedure_id)
    if not versions:
        raise ValidationError(
            "procedure",
            procedure_id,
            "a procedure with an issued report",
            reason="issue the report before recording that it was discussed",
        )
    chosen = (
        versions[-1]
        if version is None
        else next((v for v in versions if v.version == version), None)
    )
    if chosen is None:
        raise NotFound("report version", f"{procedure_id} v{version}")
    who = (discussed_by or uow.actor).strip()
    whom = (discussed_with or "").strip()
    for name, value in (("discussed_by", who), ("discussed_with", whom)):
        if not value or len(value) > 200:
            raise ValidationError(name, value, "a name of 1-200 characters")
    if discussed_at.tzinfo is None:
        raise ValidationError("discussed_at", discussed_at, "a time with its UTC offset")
    if discussed_at < chosen.issued_at or discussed_at > uow.now():
        raise ValidationError(
            "discussed_at",
            discussed_at.isoformat(),
            f"between the issue of version {chosen.version} "
            f"({chosen.issued_at.isoformat(timespec='minutes')}) and now",
        )
    row = ReportDiscussionRow(
        report_version_id=chosen.id,
        discussed_by=who,
        discussed_with=whom,
        discussed_at=discussed_at.astimezone(dt.UTC),
        note=_text("note", note),
        recorded_by=uow.actor,
        recorded_at=uow.now(),
    )
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "create",
            "report_discussion",
            row.id,
            {
                "procedure": procedure_id,
                "version": chosen.version,
                "discussed_by": who,
                "discussed_at": row.discussed_at.isoformat(),
            },
        ),
    )
    return Discussion(
        row.id, who, whom, row.discussed_at, row.note, row.recorded_by, row.recorded_at
    )
