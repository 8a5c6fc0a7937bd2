"""Cohort outcomes from patients' stored calls: response rates, time to first CR, duration of
response, relapse-free survival by MRD status at a landmark, cumulative incidence of relapse.

Pure: the caller (``services/research.py``) reads each patient's course from the database — time
zero (the diagnosis date), the dated calls the assessment stored (``response``, ``relapse``,
``progression``, ``mrd`` …), the last date anything was recorded, and a death date when one is
known — and this module turns courses into time-to-event rows and statistics
(:mod:`trephine.analysis.stats`). Times are in days from time zero.

Which stored categories count as what comes from :mod:`trephine.criteria.categories` (the one
home of "which categories are a CR / a relapse", read off the rule sets); nothing is regrouped
beyond what the criteria say:

- complete remission (:data:`CR_CATEGORIES`): the ELN 2022 CR family with or without an MRD
  annotation (CR, CRh, CRi — ``_MRD-`` and ``_MRD-LL`` suffixes; ALL, MDS and CLL use the same
  names), IMWG sCR/CR and the aplastic anaemia complete response;
- relapse (:data:`RELAPSE_CATEGORIES`): every relapse the criteria call - haematologic or
  extramedullary (ELN 2022 AML, ALL), relapse after response (IWG 2006 MDS, aplastic anaemia) -
  and progressive disease (IWG 2006, iwCLL; IMWG once confirmed: a myeloma PD met on one
  assessment only, ``PD_UNCONFIRMED``, is no event; two consecutive ones are each
  ``PD_CONFIRMED``, so the first relapse event is the first of the two, the date the IMWG gives
  progression [R]); a molecular (MRD) relapse is an MRD event, not a relapse;
- MRD status (:data:`MRD_STATUS`): negative, low-level (ELN 2021 MRD-LL, kept apart: the criteria
  call it a separate state) and positive (ALL's MRD failure, >= 10^-4 in CR, among them); sample
  or assay failures, ALL's MRD_INTERMEDIATE and "not applicable" have no status. A date with a
  marrow and a blood MRD call (or two methods) has the worse status of them
  (:data:`MRD_SEVERITY`, an [I] rule: the criteria do not say which sample decides).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trephine.analysis.stats import Interval, clopper_pearson
from trephine.criteria.categories import CR_CATEGORIES, RELAPSE_CATEGORIES
from trephine.domain.cohort import MRD_CATEGORIES
from trephine.errors import ValidationError

#: Stored MRD call category → the status a landmark analysis groups by: the statuses a cohort
#: selects on (one home, :data:`trephine.domain.cohort.MRD_CATEGORIES`).
MRD_STATUS: Mapping[str, str] = {
    category: status for status, categories in MRD_CATEGORIES.items() for category in categories
}


#: [I] When one date has several MRD calls — a marrow and a blood sample of one day (each a call
#: naming its sample, :attr:`Event.sample`), or two methods — the landmark status is the worse
#: of them, in this order from best to worst. The criteria do not say which sample decides:
#: ELN 2021 MRD asks for the first pull of the marrow aspirate for MRD [V] (M2), times some
#: measurements in blood and others in marrow [V] (M13) and compares a sample only with one of
#: the same tissue [R] (M11); the rule Trephine applies to one sample's several methods is
#: already "positive if any is positive, else low-level if any is, else negative" [I]
#: (clinical-criteria.md §1.4, ``combine``). The same rule here: MRD found in either sample
#: is MRD found (a negative blood sample does not clear a positive marrow, nor the reverse).
MRD_SEVERITY: tuple[str, ...] = ("negative", "low-level", "positive")


@dataclass(frozen=True)
class Event:
    """One stored call: its date, which call (``kind``) and its category; for a call that rests
    on one sample (an MRD call), which (``bone marrow`` or ``peripheral blood``; None for a call
    of a whole time point, or one stored before calls named their sample)."""

    date: dt.date
    kind: str
    category: str
    sample: str | None = None


@dataclass(frozen=True)
class Course:
    """One patient's course as the analyses need it."""

    patient: str
    start: dt.date
    events: tuple[Event, ...]
    #: The last date anything was recorded for the patient (follow-up ends here).
    last_seen: dt.date
    group: str | None = None
    died_on: dt.date | None = None
    #: Therapy lines as (start, end or None, regimen), for the swimmer plot.
    lines: tuple[tuple[dt.date, dt.date | None, str], ...] = ()
    #: Stem-cell transplants and CAR-T infusions as (date, kind).
    cellular: tuple[tuple[dt.date, str], ...] = ()

    def days(self, date: dt.date) -> int:
        return (date - self.start).days

    def first(
        self, kind: str | None, categories: Iterable[str], after: dt.date | None = None
    ) -> Event | None:
        cats = set(categories)
        for e in sorted(self.events, key=lambda e: e.date):
            if (
                (kind is None or e.kind == kind)
                and e.category in cats
                and (after is None or e.date > after)
            ):
                return e
        return None

    @property
    def end(self) -> dt.date:
        return self.died_on if self.died_on is not None else self.last_seen


@dataclass(frozen=True)
class Rate:
    group: str
    responders: int
    n: int
    interval: Interval

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "responders": self.responders,
            "n": self.n,
            "rate": self.interval.estimate,
            "ci95": [self.interval.lower, self.interval.upper],
            "method": self.interval.method,
        }


def response_rates(
    courses: Sequence[Course], *, categories: Iterable[str] = CR_CATEGORIES
) -> list[Rate]:
    """Per group: patients with any ``response`` call in ``categories`` (ever) of all patients,
    with the exact Clopper–Pearson 95 % interval."""
    cats = frozenset(categories)
    by: dict[str, list[Course]] = {}
    for c in courses:
        by.setdefault(c.group or "all", []).append(c)
    out = []
    for g in sorted(by):
        n = len(by[g])
        x = sum(1 for c in by[g] if c.first("response", cats) is not None)
        out.append(Rate(g, x, n, clopper_pearson(x, n)))
    return out


@dataclass(frozen=True)
class TimeRow:
    """One subject of a time-to-event analysis."""

    patient: str
    group: str
    time: float
    event: int
    #: For competing-risk analyses: 0 censored, 1 the event, 2 a competing event.
    cause: int = 0


def time_to_first_cr(courses: Sequence[Course]) -> list[TimeRow]:
    """Days from time zero to the first CR-family response; censored at the end of follow-up
    (death without CR is censored too: a competing event, see :func:`relapse_incidence`)."""
    rows = []
    for c in courses:
        cr = c.first("response", CR_CATEGORIES)
        if cr is not None:
            rows.append(TimeRow(c.patient, c.group or "all", c.days(cr.date), 1, 1))
        else:
            rows.append(
                TimeRow(c.patient, c.group or "all", c.days(c.end), 0, 2 if c.died_on else 0)
            )
    return rows


def duration_of_response(courses: Sequence[Course]) -> list[TimeRow]:
    """For patients who reached CR: days from the first CR to relapse or death (the event),
    censored at the end of follow-up."""
    rows = []
    for c in courses:
        cr = c.first("response", CR_CATEGORIES)
        if cr is None:
            continue
        rel = c.first(None, RELAPSE_CATEGORIES, after=cr.date)
        if rel is not None:
            rows.append(TimeRow(c.patient, c.group or "all", (rel.date - cr.date).days, 1, 1))
        elif c.died_on is not None:
            rows.append(TimeRow(c.patient, c.group or "all", (c.died_on - cr.date).days, 1, 2))
        else:
            rows.append(TimeRow(c.patient, c.group or "all", (c.last_seen - cr.date).days, 0, 0))
    return rows


def mrd_at_landmark(course: Course, day: int, window: int) -> str | None:
    """The MRD status at ``day`` days after time zero: of the patient's MRD calls within
    ± ``window`` days, those of the date nearest to ``day`` (the later of two equally near
    dates); when that date has several (a marrow and a blood sample), the worse status
    (:data:`MRD_SEVERITY`, [I]), whatever order they were stored in. None when there is none."""
    target = course.start + dt.timedelta(days=day)
    near = [
        e
        for e in course.events
        if e.kind == "mrd" and e.category in MRD_STATUS and abs((e.date - target).days) <= window
    ]
    if not near:
        return None
    date = min(near, key=lambda e: (abs((e.date - target).days), -e.date.toordinal())).date
    return max((MRD_STATUS[e.category] for e in near if e.date == date), key=MRD_SEVERITY.index)


def landmark_rows(courses: Sequence[Course], *, day: int, window: int) -> list[TimeRow]:
    """Relapse-free survival from the landmark, grouped by the MRD status at the landmark.

    Landmark analysis (Anderson, Cain & Gelber 1983): only patients alive, followed, in
    remission (a CR-family response, :data:`CR_CATEGORIES`, on or before the landmark sample) and
    without relapse at the landmark enter, since relapse-free survival is defined for patients
    in remission only (ELN: from CR, CRh or CRi): a refractory patient cannot relapse, and
    counted as relapse-free the refractory patients made MRD positivity look protective on the
    demo (30 MRD-positive patients, none relapsed). Time runs from the landmark; the event is
    relapse or death (cause 1 relapse, 2 death without relapse), censored at the end of
    follow-up. Patients with no MRD status at the landmark are left out (not guessed)."""
    if day < 0 or window < 0:
        raise ValidationError("landmark", f"{day} ± {window}", "days >= 0")
    rows = []
    for c in courses:
        status = mrd_at_landmark(c, day, window)
        if status is None:
            continue
        mark = c.start + dt.timedelta(days=day)
        # The landmark status may come from a sample up to `window` days after the landmark;
        # time zero is then that sample, so no event can fall before the status was known.
        sample = max(
            (e.date for e in c.events if e.kind == "mrd" and abs((e.date - mark).days) <= window),
            default=mark,
        )
        zero = max(mark, sample)
        remission = c.first("response", CR_CATEGORIES)
        if remission is None or remission.date > zero:
            continue
        relapsed_before = c.first(None, RELAPSE_CATEGORIES)
        if relapsed_before is not None and relapsed_before.date <= zero:
            continue
        if c.end <= zero:
            continue
        group = status
        if relapsed_before is not None:
            rows.append(TimeRow(c.patient, group, (relapsed_before.date - zero).days, 1, 1))
        elif c.died_on is not None:
            rows.append(TimeRow(c.patient, group, (c.died_on - zero).days, 1, 2))
        else:
            rows.append(TimeRow(c.patient, group, (c.last_seen - zero).days, 0, 0))
    return rows


def relapse_incidence_rows(courses: Sequence[Course]) -> list[TimeRow]:
    """Time from time zero to the first relapse (cause 1) or death without relapse (cause 2),
    censored (0) at the end of follow-up: the input of an Aalen–Johansen estimate."""
    rows = []
    for c in courses:
        rel = c.first(None, RELAPSE_CATEGORIES)
        if rel is not None:
            rows.append(TimeRow(c.patient, c.group or "all", c.days(rel.date), 1, 1))
        elif c.died_on is not None:
            rows.append(TimeRow(c.patient, c.group or "all", c.days(c.died_on), 0, 2))
        else:
            rows.append(TimeRow(c.patient, c.group or "all", c.days(c.last_seen), 0, 0))
    return rows
