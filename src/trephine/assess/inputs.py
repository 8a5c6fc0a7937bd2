"""What one patient's stored-timeline assessment reads: :class:`PatientInputs`.

The services load these from the store (signed-out results only: ``verified`` and ``amended``,
i.e. the latest non-superseded version — a draft is not yet a result a clinician may act on);
everything in :mod:`trephine.assess` is pure and runs on them without a database.

Units are already canonical (the domain converts at ingestion: counts in 10^9/L, blasts, MRD,
VAF and donor chimerism in %), so the evaluators only rename fields.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from trephine.assess.call import BONE_MARROW, PERIPHERAL_BLOOD
from trephine.domain.patient import Diagnosis
from trephine.domain.quantity import Quantity
from trephine.domain.results import AspirateDifferential, ClinicalExam, ResultKind, ResultValue
from trephine.domain.specimen import SpecimenType
from trephine.domain.therapy import CellularTherapy, TherapyLine
from trephine.workflow import REPORTED_STATES, ResultState

#: Only signed-out versions are assessed (a superseded version is never "current").
ASSESSED_STATES = REPORTED_STATES
#: Without therapy lines, the diagnostic marrow is the first one within this many days of the
#: diagnosis date [I].
DIAGNOSTIC_WINDOW_DAYS = 30


class ResultRecord(Protocol):
    """One stored result version as the evaluators read it (the services' ``StoredResult``)."""

    @property
    def id(self) -> int: ...
    @property
    def accession(self) -> str: ...
    @property
    def kind(self) -> ResultKind: ...
    @property
    def analyte(self) -> str: ...
    @property
    def collected_on(self) -> dt.date: ...
    @property
    def state(self) -> ResultState: ...
    @property
    def value(self) -> ResultValue: ...


@dataclass(frozen=True)
class SpecimenFacts:
    accession: str
    type: SpecimenType
    spicules: bool | None = None


@dataclass(frozen=True)
class RecordedExam:
    """A clinical examination a clinician recorded for the patient on a date (the current
    version; ``services/exams.py``): a patient-and-date fact with no specimen."""

    id: int
    examined_on: dt.date
    value: ClinicalExam


@dataclass(frozen=True)
class PatientInputs:
    """Everything one patient's stored-timeline assessment reads from the store."""

    patient_id: str
    diagnoses: tuple[Diagnosis, ...]
    therapy_lines: tuple[TherapyLine, ...]
    specimens: dict[str, SpecimenFacts]
    results: tuple[ResultRecord, ...]
    #: Transplants and CAR-T infusions (day 0 of engraftment and CAR-T time points).
    cellular_therapies: tuple[CellularTherapy, ...] = ()
    #: Year of birth (age-expected cellularity of the anaemia work-up); no other identity.
    birth_year: int | None = None
    #: Recorded sex (female / male / other / unknown): the site's sex-specific normal Hb.
    sex: str | None = None
    #: Clinical examinations recorded by clinicians (current versions), in date order.
    exams: tuple[RecordedExam, ...] = ()

    @property
    def result_ids(self) -> tuple[int, ...]:
        return tuple(sorted(r.id for r in self.results))

    def by_date(self) -> dict[dt.date, list[ResultRecord]]:
        """The signed-out results grouped by collection date, in date order."""
        grouped: dict[dt.date, list[ResultRecord]] = defaultdict(list)
        for r in self.results:
            if r.state in ASSESSED_STATES:
                grouped[r.collected_on].append(r)
        return dict(sorted(grouped.items()))

    def sample_of(self, result: ResultRecord) -> str | None:
        """The sample ``result`` was measured on, as a call resting on it names it
        (:func:`trephine.assess.call.on_sample`): peripheral blood, or bone marrow for any
        marrow specimen (aspirate, core, clot); None when its specimen is not stored."""
        specimen = self.specimens.get(result.accession)
        if specimen is None:
            return None
        if specimen.type is SpecimenType.PERIPHERAL_BLOOD:
            return PERIPHERAL_BLOOD
        return BONE_MARROW

    def clinical_exams(self) -> list[tuple[dt.date, ClinicalExam]]:
        """Every clinical examination by date, in date order: the ones recorded by clinicians
        (:attr:`exams`) and the signed-out ``clinical_exam`` results imported on a specimen.
        The evaluators read examinations only through here, so both count alike."""
        found = [(e.examined_on, e.value) for e in self.exams]
        found.extend(
            (r.collected_on, r.value)
            for r in self.results
            if r.state in ASSESSED_STATES and isinstance(r.value, ClinicalExam)
        )
        return sorted(found, key=lambda pair: pair[0])


def value_of(quantity: Quantity | None) -> Decimal | None:
    return None if quantity is None else quantity.value


def detected(quantity: Quantity) -> bool:
    return quantity.detected and quantity.value is not None and quantity.value > 0


def blasts(results: Sequence[ResultRecord]) -> Decimal | None:
    """Marrow blasts % of the day's aspirate differential (None without one)."""
    for r in results:
        if isinstance(r.value, AspirateDifferential):
            return r.value.blast_percent
    return None


def diagnostic_date(
    marrow_dates: Sequence[dt.date], diagnoses: Sequence[Diagnosis], lines: Sequence[TherapyLine]
) -> dt.date | None:
    """The diagnostic marrow: the earliest marrow on or before the first therapy line starts
    (without therapy lines: the earliest marrow within :data:`DIAGNOSTIC_WINDOW_DAYS` of the
    diagnosis date)."""
    if not marrow_dates:
        return None
    first = marrow_dates[0]
    if lines:
        start = min(line.start for line in lines)
        return first if first <= start else None
    if diagnoses:
        diagnosed = min(d.diagnosed_on for d in diagnoses)
        return first if abs((first - diagnosed).days) <= DIAGNOSTIC_WINDOW_DAYS else None
    return None
