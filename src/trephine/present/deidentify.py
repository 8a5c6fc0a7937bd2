"""De-identification of research tables: none, HIPAA Safe Harbor, or a limited data set.

Pure (no database). The levels, per docs/research.md and clinical-systems.md §6.2:

- ``none`` — the record's own patient ids and specimen accessions, real dates, birth year. Names,
  MRNs and birth dates are never in a research table at any level (they live in
  ``patient_identity``, which the export never reads).
- ``safe-harbor`` — 45 CFR 164.514(b)(2): patient ids and accessions replaced by pseudonyms from
  a keyed hash (HMAC-SHA-256 with the database's export key — ``TREPHINE_EXPORT_KEY`` when set,
  else the database's own random secret, ``services/site_secret.py``; stable across exports, not
  reversible without the key) (D5); every date replaced by days from the patient's
  time zero (the cohort's diagnosis) (D2, D8); age at diagnosis over 89 as ``90+``, birth year
  dropped (D3); staff names, free text, file names and file hashes dropped (D1).
- ``limited`` — a limited data set (164.514(e), needs a data use agreement; D7): pseudonyms as
  above, dates shifted by a per-patient offset of −1 to −364 days derived from the same secret key
  (so the same patient always moves by the same amount and intervals are kept; the offset is never
  written), ages kept. Every file set is labelled as a limited data set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from trephine.errors import ValidationError


class Level(StrEnum):
    NONE = "none"
    SAFE_HARBOR = "safe-harbor"
    LIMITED = "limited"


LEVELS: tuple[str, ...] = tuple(str(level) for level in Level)
#: Columns never exported when de-identifying: people's names, free text, files and their hashes.
FREE_TEXT = frozenset(
    {
        "operator",
        "labelled_by",
        "created_by",
        "verified_by",
        "amended_by",
        "amendment_reason",
        "description",
        "follow_up",
        "source_file",
        "source_sha256",
        "gating_sha256",
        "source_label",
        "software",
        "needle",
        "product",
    }
)
#: The oldest age shown as a number under Safe Harbor (D3).
MAX_AGE = 89
MIN_KEY_LENGTH = 16


def level_of(text: str) -> Level:
    try:
        return Level(text)
    except ValueError:
        raise ValidationError("deidentify", text, LEVELS) from None


@dataclass(frozen=True)
class Deidentifier:
    level: Level
    key: bytes = b""

    def __post_init__(self) -> None:
        if self.level is not Level.NONE and len(self.key) < MIN_KEY_LENGTH:
            raise ValidationError(
                "export_key",
                "not set" if not self.key else "too short",
                f"a secret of at least {MIN_KEY_LENGTH} characters (TREPHINE_EXPORT_KEY)",
            )

    @property
    def identified(self) -> bool:
        return self.level is Level.NONE

    def _mac(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.key, f"{purpose}|{value}".encode(), hashlib.sha256).digest()

    def patient(self, external_id: str) -> str:
        if self.identified:
            return external_id
        return "P" + self._mac("patient", external_id).hex()[:16]

    def specimen(self, accession: str | None) -> str | None:
        if accession is None or self.identified:
            return accession
        return "S" + self._mac("specimen", accession).hex()[:16]

    def shift_days(self, external_id: str) -> int:
        """The limited data set's secret offset for this patient: −1 to −364 days."""
        return -(1 + int.from_bytes(self._mac("shift", external_id)[:4], "big") % 364)

    def date(self, external_id: str, value: dt.date | None, zero: dt.date) -> object:
        """A date as this level shows it: the date, days from ``zero``, or the shifted date."""
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            value = value.date()
        if self.level is Level.SAFE_HARBOR:
            return (value - zero).days
        if self.level is Level.LIMITED:
            return (value + dt.timedelta(days=self.shift_days(external_id))).isoformat()
        return value.isoformat()

    def date_column(self, name: str) -> str:
        """``collected_on`` → ``collected_day`` under Safe Harbor (it holds days, not dates)."""
        if self.level is not Level.SAFE_HARBOR:
            return name
        stem = name.removesuffix("_on").removesuffix("_at")
        return f"{stem}_day"

    def age(self, birth_year: int | None, at: dt.date) -> object:
        if birth_year is None:
            return None
        age = at.year - birth_year
        if self.level is Level.SAFE_HARBOR and age > MAX_AGE:
            return "90+"
        return age

    def keeps(self, column: str) -> bool:
        return self.identified or column not in FREE_TEXT

    @property
    def label(self) -> str:
        return {
            Level.NONE: "IDENTIFIED RESEARCH DATA (record ids and real dates): handle as PHI.",
            Level.SAFE_HARBOR: "De-identified under HIPAA Safe Harbor (45 CFR 164.514(b)(2)): "
            "pseudonymous ids, dates as days from diagnosis, ages over 89 as 90+.",
            Level.LIMITED: "LIMITED DATA SET (45 CFR 164.514(e)): dates shifted per patient; "
            "use only under a data use agreement.",
        }[self.level]
