"""Read models the services return to the edges (CLI, API, web): frozen, DB-free."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from trephine.assess.call import Call
from trephine.domain.assessment import Assessment
from trephine.domain.chronology import ChronologyEntry
from trephine.domain.patient import Diagnosis, Patient
from trephine.domain.procedure import Procedure
from trephine.domain.quantity import Quantity
from trephine.domain.results import ResultKind, ResultValue, headline
from trephine.domain.specimen import Specimen
from trephine.domain.therapy import CellularTherapy, TherapyLine
from trephine.workflow import ResultState


@dataclass(frozen=True)
class StoredResult:
    """One version of a result with its lifecycle metadata."""

    id: int
    patient_id: str
    accession: str
    kind: ResultKind
    analyte: str
    collected_on: dt.date
    version: int
    state: ResultState
    value: ResultValue
    created_by: str
    created_at: dt.datetime
    supersedes_id: int | None = None
    verified_by: str | None = None
    verified_at: dt.datetime | None = None
    amended_by: str | None = None
    amended_at: dt.datetime | None = None
    amendment_reason: str | None = None

    @property
    def headline(self) -> Quantity | None:
        return headline(self.value)


@dataclass(frozen=True)
class StoredAssessment:
    """One stored call: its row id and who stored it, and the typed :class:`Call` itself (the
    engine's object when it was just computed, else rebuilt from the row with the stored
    digest) — presenters read the call, the one object from engine to page."""

    id: int
    patient_id: str
    assessment: Assessment
    call: Call
    recorded_by: str
    #: Which stored-results call (``trephine.assess.call.Call.kind``; '' for a single
    #: evaluation) and its evidence hash.
    call_kind: str = ""
    inputs_digest: str = ""
    #: Which revision of its call (date, call, rule set, edition) the row belongs to (migration
    #: 0031); the rows of a call's latest revision are its current ones.
    revision: int = 1


@dataclass(frozen=True)
class StoredAlert:
    """An alert raised by ``trephine assess``; open until acknowledged."""

    id: int
    patient_id: str
    raised_on: dt.date
    code: str
    message: str
    ruleset: str
    software_version: str
    raised_at: dt.datetime
    raised_by: str
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    acknowledgement_note: str | None = None
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str | None = None
    withdrawn_by: str | None = None

    @property
    def open(self) -> bool:
        """Needs attention: neither acknowledged nor withdrawn by a later assessment."""
        return self.acknowledged_at is None and self.withdrawn_at is None

    @property
    def state(self) -> str:
        if self.acknowledged_at is not None:
            return f"acknowledged by {self.acknowledged_by}"
        if self.withdrawn_at is not None:
            return f"withdrawn: {self.withdrawn_reason}"
        return "open"


@dataclass(frozen=True)
class StoredSpecimen:
    id: int
    procedure_id: int | None
    specimen: Specimen


@dataclass(frozen=True)
class StoredProcedure:
    id: int
    procedure: Procedure
    specimens: tuple[StoredSpecimen, ...] = ()


@dataclass(frozen=True)
class PatientSummary:
    """A row of the patient list (research view: no identifying data)."""

    patient_id: str
    sex: str
    birth_year: int | None
    diseases: tuple[str, ...]
    first_diagnosis_on: dt.date | None
    procedures: int
    last_procedure_on: dt.date | None
    results: int


@dataclass(frozen=True)
class PatientRecord:
    """Everything about one patient except identity, with its chronology in date order."""

    patient: Patient
    diagnoses: tuple[Diagnosis, ...]
    therapy_lines: tuple[TherapyLine, ...]
    cellular_therapies: tuple[CellularTherapy, ...]
    procedures: tuple[StoredProcedure, ...]
    #: Current versions only (drafts, verified, amended); history via results.history().
    results: tuple[StoredResult, ...]
    assessments: tuple[StoredAssessment, ...]
    #: Diagnoses, therapy lines, cellular therapies, biopsies and results in date order.
    chronology: tuple[ChronologyEntry, ...] = field(default=())


@dataclass(frozen=True)
class AuditEvent:
    id: int
    occurred_at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]
