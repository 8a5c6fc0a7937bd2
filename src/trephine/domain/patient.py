"""Patients, their identifying data (kept apart) and diagnoses."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from trephine.domain._checks import require_range, require_text
from trephine.errors import ValidationError

#: Opaque research-facing identifiers: letters, digits, '-', '_' and '.', no spaces.
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EARLIEST_BIRTH_YEAR = 1900


def check_external_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not _EXTERNAL_ID.match(value):
        raise ValidationError(
            name, value, "1–64 characters: letters, digits, '.', '_' or '-', starting alphanumeric"
        )


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Patient:
    """The research-facing patient: an opaque id, sex and birth year — nothing identifying."""

    external_id: str
    sex: Sex
    birth_year: int | None = None

    def __post_init__(self) -> None:
        check_external_id("patient_id", self.external_id)
        require_range("birth_year", self.birth_year, _EARLIEST_BIRTH_YEAR, dt.date.today().year)

    def age_at(self, when: dt.date) -> int | None:
        """Age in whole years at most; the birth year alone cannot say more."""
        return None if self.birth_year is None else when.year - self.birth_year


@dataclass(frozen=True)
class PatientIdentity:
    """Identifying data, stored in its own table so research views never need to read it."""

    name: str
    mrn: str
    birth_date: dt.date | None = None

    def __post_init__(self) -> None:
        require_text("name", self.name)
        require_text("mrn", self.mrn, 64)
        if self.birth_date is not None and self.birth_date > dt.date.today():
            raise ValidationError("birth_date", self.birth_date, "a date not in the future")


class Disease(StrEnum):
    AML = "AML"
    MDS = "MDS"
    MDS_MPN = "MDS/MPN"
    MYELOMA = "myeloma"
    CLL = "CLL"
    ALL = "ALL"
    APLASTIC_ANEMIA = "aplastic anemia"
    #: Disseminated mycobacterial infection (e.g. tuberculosis) found on a marrow (granulomas).
    DISSEMINATED_MYCOBACTERIAL = "disseminated mycobacterial"
    OTHER = "other"


class Classification(StrEnum):
    WHO_5 = "WHO 5th"
    ICC_2022 = "ICC 2022"
    WHO_2016 = "WHO 2016"
    IMWG_2014 = "IMWG 2014"
    IWCLL_2018 = "iwCLL 2018"
    OTHER = "other"


class GeneticStatus(StrEnum):
    DETECTED = "detected"
    NOT_DETECTED = "not detected"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True)
class GeneticFinding:
    """A genetic marker at diagnosis, e.g. NPM1 detected, FLT3-ITD detected with a ratio."""

    marker: str
    status: GeneticStatus
    detail: str | None = None

    def __post_init__(self) -> None:
        require_text("marker", self.marker, 64)


@dataclass(frozen=True)
class Diagnosis:
    disease: Disease
    diagnosed_on: dt.date
    classification: Classification = Classification.OTHER
    #: Free-text entity within the classification, e.g. "AML with mutated NPM1".
    subtype: str | None = None
    genetics: tuple[GeneticFinding, ...] = ()
    #: Karyotype at diagnosis in ISCN notation.
    karyotype: str | None = None

    def __post_init__(self) -> None:
        markers = [g.marker for g in self.genetics]
        if len(set(markers)) != len(markers):
            raise ValidationError("genetics", markers, "each marker at most once")
