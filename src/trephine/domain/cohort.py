"""A cohort definition: the criteria that select patients, saved by name and versioned.

Pure and frozen; the SQL that evaluates it is ``services/cohorts.py``. Every criterion is
optional and they combine with AND; lists inside one criterion combine with OR. The diagnosis
criteria (disease, subtype, genetics, date range) and the landmark criteria (response by day N,
MRD status at day N ± window) refer to the same diagnosis, which is the cohort's time zero.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from trephine.domain.patient import Disease
from trephine.errors import ValidationError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Stored MRD call categories by the status a cohort selects on and a landmark analysis groups
#: by (ELN 2021 AML MRD; adult ALL MRD; IMWG 2016; iwCLL). ALL's "MRD failure" is MRD >= 10^-4
#: in CR, a positive result (the failure is the treatment's, not the assay's), and IMWG's and
#: iwCLL's MRD_POSITIVE are positive too: without them every ALL, myeloma and CLL patient with
#: positive MRD had no status and fell out of the cohort analyses. Not mapped: ALL's
#: MRD_INTERMEDIATE (positive below 10^-4, or negative at too low a sensitivity: two statuses in
#: one category), failures of the sample or assay, and "not applicable".
MRD_CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "negative": (
        "NEGATIVE",
        "MRD_CR",
        "FLOW_MRD_NEGATIVE",
        "SEQUENCING_MRD_NEGATIVE",
        "IMAGING_PLUS_MRD_NEGATIVE",
        "UNDETECTABLE_MRD4",
    ),
    "low-level": ("LOW_LEVEL",),
    "positive": ("POSITIVE", "MRD_FAILURE", "MRD_POSITIVE"),
}


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValidationError(
            "cohort", name, "1–64 letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class CohortDefinition:
    diseases: tuple[str, ...] = ()
    #: Case-insensitive text the diagnosis subtype contains (e.g. "NPM1").
    subtype: str | None = None
    #: Genes detected at diagnosis: a marker equal to the gene or starting with "GENE-"
    #: (``FLT3`` matches ``FLT3-ITD`` and ``FLT3-TKD``).
    genes: tuple[str, ...] = ()
    #: Exact markers detected at diagnosis (``FLT3-ITD``, ``t(4;14)``).
    markers: tuple[str, ...] = ()
    #: Case-insensitive text a therapy line's regimen contains (``midostaurin``).
    regimen: str | None = None
    #: Response categories reached at any time (``CR``, ``CR_MRD-``, ``VGPR`` ...).
    response: tuple[str, ...] = ()
    #: ... and only counted when reached within this many days of diagnosis (a landmark).
    response_by_day: int | None = None
    #: MRD status (negative, low-level, positive) at day ``mrd_day`` ± ``mrd_window``.
    mrd: str | None = None
    mrd_day: int | None = None
    mrd_window: int = 14
    #: Alert codes raised at any time (``HEMATOLOGIC_RELAPSE``, ``MRD_CONVERSION``).
    alerts: tuple[str, ...] = ()
    diagnosed_from: dt.date | None = None
    diagnosed_to: dt.date | None = None
    #: Enrolled on this study (``trephine study``) ...
    study: str | None = None
    #: ... on one of these arms (any arm when empty).
    arms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        allowed = [str(d) for d in Disease]
        for d in self.diseases:
            if d not in allowed:
                raise ValidationError("disease", d, allowed)
        if self.mrd is not None and self.mrd not in MRD_CATEGORIES:
            raise ValidationError("mrd", self.mrd, list(MRD_CATEGORIES))
        if (self.mrd is None) != (self.mrd_day is None):
            raise ValidationError(
                "mrd_day", self.mrd_day, "given together with an MRD status (and only then)"
            )
        for name in ("response_by_day", "mrd_day", "mrd_window"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ValidationError(name, v, "a whole number of days >= 0")
        if self.response_by_day is not None and not self.response:
            raise ValidationError("response_by_day", self.response_by_day, "with a response")
        if self.arms and self.study is None:
            raise ValidationError("arms", list(self.arms), "given with a study (and only then)")
        if self.diagnosed_from and self.diagnosed_to and self.diagnosed_from > self.diagnosed_to:
            raise ValidationError("diagnosed_to", self.diagnosed_to, f">= {self.diagnosed_from}")

    def to_json(self) -> dict[str, Any]:
        """Only the criteria given, dates as ISO text: the stored and shown definition."""
        out: dict[str, Any] = {}
        for k, v in asdict(self).items():
            if v in (None, (), []) or (k == "mrd_window" and self.mrd is None):
                continue
            out[k] = (
                v.isoformat()
                if isinstance(v, dt.date)
                else (list(v) if isinstance(v, tuple) else v)
            )
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CohortDefinition:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError("definition", unknown[0], sorted(known))
        kw: dict[str, Any] = {}
        for k, v in data.items():
            if k in ("diagnosed_from", "diagnosed_to") and isinstance(v, str):
                try:
                    v = dt.date.fromisoformat(v)
                except ValueError:
                    raise ValidationError(k, v, "a date YYYY-MM-DD") from None
            kw[k] = tuple(v) if isinstance(v, list) else v
        return cls(**kw)

    def describe(self) -> str:
        """The definition in one line of words."""
        parts = []
        if self.diseases:
            parts.append(" or ".join(self.diseases))
        if self.subtype:
            parts.append(f"subtype containing {self.subtype!r}")
        if self.genes or self.markers:
            parts.append("with " + " or ".join((*self.genes, *self.markers)) + " at diagnosis")
        if self.regimen:
            parts.append(f"treated with {self.regimen!r}")
        if self.response:
            when = f" by day {self.response_by_day}" if self.response_by_day is not None else ""
            parts.append("response " + " or ".join(self.response) + when)
        if self.mrd:
            parts.append(f"MRD {self.mrd} at day {self.mrd_day} ± {self.mrd_window}")
        if self.alerts:
            parts.append("alert " + " or ".join(self.alerts))
        if self.study:
            arms = f" arm {' or '.join(self.arms)}" if self.arms else ""
            parts.append(f"enrolled on study {self.study}{arms}")
        if self.diagnosed_from or self.diagnosed_to:
            parts.append(f"diagnosed {self.diagnosed_from or '…'} to {self.diagnosed_to or '…'}")
        return "; ".join(parts) if parts else "every patient"
