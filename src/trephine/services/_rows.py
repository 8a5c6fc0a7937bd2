"""Row ↔ domain conversions shared by the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, select

from trephine.assess.call import Call
from trephine.domain.assessment import Assessment
from trephine.domain.patient import Classification, Diagnosis, Disease, Patient, Sex
from trephine.domain.procedure import (
    Anesthesia,
    Complication,
    ComplicationKind,
    ComplicationOutcome,
    ComplicationSeverity,
    Indication,
    Procedure,
    Side,
    Site,
)
from trephine.domain.results import ResultKind, ResultValue
from trephine.domain.specimen import Fragmentation, Hemodilution, Specimen, SpecimenType
from trephine.domain.therapy import (
    CarTInfusion,
    CellularTherapy,
    Cycle,
    DonorType,
    EventKind,
    Intensity,
    TherapyIntent,
    TherapyLine,
    Transplant,
)
from trephine.errors import NotFound
from trephine.services.views import StoredAssessment, StoredResult
from trephine.store.codec import decode_genetics, decode_result, json_text
from trephine.store.database import UnitOfWork
from trephine.store.tables import (
    AssessmentRow,
    CellularTherapyRow,
    DiagnosisRow,
    PatientRow,
    ProcedureRow,
    ResultRow,
    SpecimenRow,
    TherapyLineRow,
)
from trephine.workflow import ResultState


def result_state_in(
    states: Collection[ResultState], *, one_patient: bool, row: Any = ResultRow
) -> ColumnElement[bool]:
    """``result.state`` is one of ``states`` (``row``: the result table or an alias of it).

    For one patient's results (``one_patient``) written as "none of the other states": SQLite
    keeps no statistics and, offered ``state IN (...)`` beside ``patient_id = ?``, may read the
    state index (every result of the cohort in that state: 8,000 superseded versions at 10,000
    patients) instead of the patient's few; a ``NOT IN`` cannot use an index, so it does not."""
    if not one_patient:
        return cast(ColumnElement[bool], row.state.in_([str(s) for s in states]))
    return cast(
        ColumnElement[bool], row.state.not_in([str(s) for s in ResultState if s not in states])
    )


def relapse_call(*, or_to_confirm: bool = False) -> ColumnElement[bool]:
    """A stored ``relapse`` or ``progression`` call that calls a relapse or a progression (not
    continued remission): the SQL side of :func:`trephine.assess.story.is_relapse`, over the
    categories of :data:`trephine.criteria.categories.RELAPSE_CATEGORIES`; ``or_to_confirm``:
    a progression still to confirm too (:func:`trephine.assess.story.supersedes_response`,
    :data:`~trephine.criteria.categories.SUPERSEDING_CATEGORIES`). Imported here: the rule sets
    behind them cost ~15 ms to import, which most users of these helpers never need."""
    from trephine.assess.story import RELAPSE_KINDS
    from trephine.criteria.categories import RELAPSE_CATEGORIES, SUPERSEDING_CATEGORIES

    categories = SUPERSEDING_CATEGORIES if or_to_confirm else RELAPSE_CATEGORIES
    return and_(
        AssessmentRow.call_kind.in_(RELAPSE_KINDS),
        AssessmentRow.category.in_(sorted(categories)),
    )


def patient_row(uow: UnitOfWork, external_id: str) -> PatientRow:
    """The patient's row, read once per unit of work: the patient page asks for it three times
    (the record, the superseded results, the alerts), each a query (~0.2 ms of Python). A
    patient row is never deleted and its external id never changes, so the row found stays
    the row; a patient not found is not remembered (it may be created later in the same
    transaction)."""
    row: PatientRow | None = uow.patient_rows.get(external_id)
    if row is None:
        row = uow.session.scalar(select(PatientRow).where(PatientRow.external_id == external_id))
        if row is None:
            raise NotFound("patient", external_id)
        uow.patient_rows[external_id] = row
    return row


def specimen_row(uow: UnitOfWork, accession: str) -> SpecimenRow:
    row = uow.session.scalar(select(SpecimenRow).where(SpecimenRow.accession == accession))
    if row is None:
        raise NotFound("specimen", accession)
    return row


def to_patient(row: PatientRow) -> Patient:
    return Patient(row.external_id, Sex(row.sex), row.birth_year)


def to_diagnosis(row: DiagnosisRow) -> Diagnosis:
    return Diagnosis(
        disease=Disease(row.disease),
        diagnosed_on=row.diagnosed_on,
        classification=Classification(row.classification),
        subtype=row.subtype,
        genetics=decode_genetics(row.genetics),
        karyotype=row.karyotype,
    )


def to_therapy_line(row: TherapyLineRow, cycles: Sequence[Any] | None = None) -> TherapyLine:
    """The domain line of ``row``; ``cycles``: its cycle rows in number order when the caller
    read them already (else ``row.cycles``)."""
    return TherapyLine(
        line=row.line,
        regimen=row.regimen,
        intent=TherapyIntent(row.intent),
        intensity=Intensity(row.intensity),
        start=row.start,
        end=row.end,
        cycles=tuple(
            Cycle(c.number, c.start, c.end) for c in (row.cycles if cycles is None else cycles)
        ),
    )


def to_cellular_therapy(row: CellularTherapyRow) -> CellularTherapy:
    if row.kind == EventKind.TRANSPLANT:
        return Transplant(
            on=row.given_on,
            donor_type=DonorType(row.donor_type or ""),
            conditioning=Intensity(row.conditioning or Intensity.NOT_APPLICABLE),
        )
    return CarTInfusion(on=row.given_on, product=row.product or "", target=row.target or "")


def to_procedure(row: ProcedureRow, complications: Sequence[Any] | None = None) -> Procedure:
    """The domain procedure of ``row``; ``complications``: its complication rows in id order
    when the caller read them already (else ``row.complications``)."""
    return Procedure(
        performed_at=row.performed_at,
        site=Site(row.site),
        side=Side(row.side),
        indication=Indication(row.indication),
        operator=row.operator,
        anesthesia=Anesthesia(row.anesthesia),
        needle=row.needle,
        duration_min=row.duration_min,
        complications=tuple(
            Complication(
                ComplicationKind(c.kind),
                ComplicationSeverity(c.severity),
                c.follow_up,
                c.description,
                c.onset_at,
                None if c.outcome is None else ComplicationOutcome(c.outcome),
            )
            for c in (row.complications if complications is None else complications)
        ),
    )


def to_specimen(row: SpecimenRow) -> Specimen:
    return Specimen(
        accession=row.accession,
        type=SpecimenType(row.type),
        collected_at=row.collected_at,
        first_pull=row.first_pull,
        spicules=row.spicules,
        hemodilution=None if row.hemodilution is None else Hemodilution(row.hemodilution),
        core_length_mm=row.core_length_mm,
        fragmentation=None if row.fragmentation is None else Fragmentation(row.fragmentation),
    )


def value_as_text(result: Any) -> list[ColumnElement[Any]]:
    """Every column of the ``result`` table (or an alias of it), the value as its JSON text
    (:func:`trephine.store.codec.json_text`), which :func:`to_result` decodes in one pass."""
    return [json_text(c) if c.key == "value" else c for c in result.c]


def to_result(
    row: ResultRow, patient_id: str, accession: str, value: ResultValue | None = None
) -> StoredResult:
    """The view of ``row``; pass ``value`` when the caller has just encoded it into the row
    (decoding the JSON again would only cost time and give the same value back)."""
    return StoredResult(
        id=row.id,
        patient_id=patient_id,
        accession=accession,
        kind=ResultKind(row.kind),
        analyte=row.analyte,
        collected_on=row.collected_on,
        version=row.version,
        state=ResultState(row.state),
        value=decode_result(row.kind, row.value) if value is None else value,
        created_by=row.created_by,
        created_at=row.created_at,
        supersedes_id=row.supersedes_id,
        verified_by=row.verified_by,
        verified_at=row.verified_at,
        amended_by=row.amended_by,
        amended_at=row.amended_at,
        amendment_reason=row.amendment_reason,
    )


def to_assessment(
    row: AssessmentRow, patient_id: str, call: Call | None = None
) -> StoredAssessment:
    """The stored view of a row; ``call`` is the engine's call the row was just made from (the
    same object then reaches the presenters), else the call is rebuilt from the row."""
    return StoredAssessment(
        id=row.id,
        patient_id=patient_id,
        assessment=Assessment(
            category=row.category,
            ruleset=row.ruleset,
            criteria_edition=row.criteria_edition,
            assessed_on=row.assessed_on,
            software_version=row.software_version,
            computed_at=row.computed_at,
            matched_rule=row.matched_rule,
            evidence=tuple(row.evidence),
            missing_inputs=tuple(row.missing_inputs),
            citation=row.citation,
            flags=tuple(row.flags),
            params=row.params,
        ),
        call=call if call is not None else call_of(row),
        recorded_by=row.recorded_by,
        call_kind=row.call_kind,
        inputs_digest=row.inputs_digest,
        revision=row.revision,
    )


def call_of(row: AssessmentRow) -> Call:
    """The typed call a stored row holds, with the row's digest (never recomputed: the digest
    is the store's identity of the evidence the call was made on)."""
    return Call(
        date=row.assessed_on,
        kind=row.call_kind,
        category=row.category,
        ruleset=row.ruleset,
        edition=row.criteria_edition,
        software_version=row.software_version,
        rule=row.matched_rule,
        evidence=tuple(row.evidence),
        missing=tuple(row.missing_inputs),
        citation=row.citation,
        flags=tuple(row.flags),
        params=dict(row.params or {}),
        digest=row.inputs_digest,
    )


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The keys whose value differs between two stored JSON values (an amendment's "changed")."""
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def day(value: dt.datetime) -> dt.date:
    return value.astimezone(dt.UTC).date()
