"""The demo cohort's vocabulary: its calendar, scenarios and the synthetic records it yields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from trephine.domain.patient import Diagnosis, Patient, PatientIdentity
from trephine.domain.procedure import Procedure
from trephine.domain.results import ResultValue
from trephine.domain.specimen import Specimen
from trephine.domain.therapy import CellularTherapy, TherapyLine

#: The reference calendar (:mod:`trephine.demo.calendar`): diagnoses fall in this window and
#: every date of the cohort is before :data:`COHORT_END`; ``trephine demo --as-of`` moves the
#: whole calendar by whole weeks so that COHORT_END falls in the week before the as-of day.
FIRST_DIAGNOSIS = dt.date(2019, 1, 7)
LAST_DIAGNOSIS = dt.date(2023, 6, 30)
COHORT_END = dt.date(2025, 6, 30)
DEFAULT_SEED = 20240917
DEFAULT_PATIENTS = 240
#: Every synthetic patient id starts with this (``DEMO-0001`` …).
ID_PREFIX = "DEMO-"
#: Share of verified results that receive an amendment (a corrected second version).
AMEND_FRACTION = 0.03


class Scenario(StrEnum):
    AML_INTENSIVE_CR = "AML, intensive induction, complete remission"
    AML_INTENSIVE_REFRACTORY = "AML, intensive induction, refractory"
    AML_LESS_INTENSIVE = "AML, azacitidine + venetoclax"
    AML_FLT3_RESISTANCE = "FLT3-ITD AML relapsing under gilteritinib"
    AML_NPM1_MRD = "NPM1-mutated AML, molecular MRD"
    MDS_HMA = "MDS on azacitidine"
    MYELOMA = "Myeloma, VRd + autologous transplant"
    CLL = "CLL, venetoclax-obinutuzumab"
    ALL = "B-ALL with flow MRD"
    APLASTIC_ANEMIA = "Aplastic anemia, immunosuppression"
    POST_TRANSPLANT = "Allogeneic transplant with chimerism"
    CAR_T = "Relapsed B-ALL, CAR-T"


#: One block of 20 patients; the cohort repeats it, so every scenario is present from 20 on and
#: the mix resembles a marrow service (AML-heavy) without being a real case mix.
_PATTERN: tuple[Scenario, ...] = (
    Scenario.AML_INTENSIVE_CR,
    Scenario.MDS_HMA,
    Scenario.AML_NPM1_MRD,
    Scenario.MYELOMA,
    Scenario.AML_LESS_INTENSIVE,
    Scenario.AML_FLT3_RESISTANCE,
    Scenario.POST_TRANSPLANT,
    Scenario.AML_INTENSIVE_REFRACTORY,
    Scenario.CLL,
    Scenario.ALL,
    Scenario.AML_INTENSIVE_CR,
    Scenario.APLASTIC_ANEMIA,
    Scenario.MYELOMA,
    Scenario.CAR_T,
    Scenario.AML_NPM1_MRD,
    Scenario.MDS_HMA,
    Scenario.AML_LESS_INTENSIVE,
    Scenario.POST_TRANSPLANT,
    Scenario.AML_FLT3_RESISTANCE,
    Scenario.AML_INTENSIVE_CR,
)

# Obviously synthetic names: no one is called "Testwood Placeholder".
_GIVEN = (
    "Alpha", "Bravo", "Cobalt", "Delta", "Echo", "Foxtrot", "Gamma", "Helix", "Indigo", "Juniper",
    "Kilo", "Lambda", "Mosaic", "Nova", "Omega", "Pixel", "Quartz", "Rho", "Sigma", "Tango",
)  # fmt: skip
_FAMILY = (
    "Testwood", "Placeholder", "Mockford", "Sampleton", "Dummington", "Fictus", "Synthby",
    "Examplar", "Demoshire", "Nullberg", "Stubbs-Fake", "Notreal",
)  # fmt: skip
OPERATORS = ("Dr Demo Ash", "Dr Demo Birch", "Dr Demo Cedar", "NP Demo Rowan", "Dr Demo Yew")


@dataclass(frozen=True)
class Amendment:
    """A corrected second version of a result, with the reason a reviewer gave."""

    value: ResultValue
    reason: str


@dataclass(frozen=True)
class SyntheticResult:
    specimen: str
    value: ResultValue
    amendment: Amendment | None = None


@dataclass(frozen=True)
class Visit:
    """One day's sampling: a marrow procedure (or only a blood draw) with its specimens."""

    on: dt.date
    procedure: Procedure | None
    specimens: tuple[Specimen, ...]
    results: tuple[SyntheticResult, ...]


@dataclass(frozen=True)
class SyntheticPatient:
    index: int
    scenario: Scenario
    patient: Patient
    identity: PatientIdentity
    diagnoses: tuple[Diagnosis, ...]
    therapy_lines: tuple[TherapyLine, ...]
    cellular_therapies: tuple[CellularTherapy, ...]
    visits: tuple[Visit, ...]
    #: Days every date was moved from the reference calendar (a multiple of 7; 0: not moved).
    shift_days: int = 0

    @property
    def results(self) -> Iterator[SyntheticResult]:
        for v in self.visits:
            yield from v.results
