"""How a study's enrolments and visits are shown — the study page, `trephine study show` and its
``--json`` — at the viewer's de-identification level (:mod:`trephine.present.deidentify`, the
same rules the exports follow).

- Identified (roles with identity access): record ids, real dates, procedure ids and the
  reasons given for hand mappings.
- Safe Harbor (researchers): keyed-hash pseudonyms; every date as days from the patient's time
  zero — the diagnosis the visits count from (the latest on or before enrolment), else the
  enrolment when no diagnosis is recorded; no procedure id and no free text (the reason of a
  hand mapping is a clinician's words and may hold a date or a name).
- Limited data set: pseudonyms and dates shifted by the patient's secret offset.

Pure: it reads the service's read model (``services.studies.StudyView``) and never the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trephine.present.deidentify import Deidentifier, Level

if TYPE_CHECKING:
    from trephine.services.studies import EnrolmentView, StudyView


@dataclass(frozen=True)
class ShownVisit:
    visit: str
    label: str
    #: The cell in words: "biopsy on day 35 (by hand)", "none between day 21 and day 35", ...
    text: str
    #: window, hand or none
    how: str
    #: "day 28 (day 21 to day 35)", or "" when the anchor is not recorded
    due: str = ""


@dataclass(frozen=True)
class ShownEnrolment:
    patient: str
    arm: str
    enrolled: str
    consent: str
    #: What the days count from: "diagnosis" or "enrolment" (no diagnosis recorded).
    zero: str
    visits: tuple[ShownVisit, ...]


def _when(deid: Deidentifier, e: EnrolmentView) -> Callable[[dt.date | None], Any]:
    zero = e.time_zero or e.enrolled_on
    return lambda d: deid.date(e.record, d, zero)


def day_text(value: object) -> str:
    """A date as the level shows it, in words: ``2021-11-10``, ``day 35``, ``day −3``."""
    if isinstance(value, bool) or value is None:
        return "not recorded"
    if isinstance(value, int):
        return f"day {value}" if value >= 0 else f"day −{-value}"
    return str(value)


def _visits(deid: Deidentifier, e: EnrolmentView) -> tuple[ShownVisit, ...]:
    when = _when(deid, e)
    out = []
    for s in e.visits:
        hand = ""
        if s.how == "hand":
            hand = f" (by hand: {s.reason})" if deid.identified and s.reason else " (by hand)"
        low, high = day_text(when(s.window_from)), day_text(when(s.window_to))
        if s.procedure_id is not None:
            what = f"procedure {s.procedure_id}" if deid.identified else "biopsy"
            text = f"{what} on {day_text(when(s.performed_on))}{hand}"
        elif s.due_on is None:
            text = s.anchor_missing or "not due"
        elif s.how == "hand":
            text = f"none{hand}"
        else:
            text = f"none between {low} and {high}"
        due = "" if s.due_on is None else f"{day_text(when(s.due_on))} ({low} to {high})"
        out.append(ShownVisit(s.visit, s.label, text, s.how, due))
    return tuple(out)


def shown_enrolment(e: EnrolmentView, deid: Deidentifier) -> ShownEnrolment:
    """One enrolment as the level shows it."""
    when = _when(deid, e)
    if not e.research_consent:
        consent = "no"
    elif e.consent_on is None:
        consent = "yes"
    else:
        consent = f"yes, on {day_text(when(e.consent_on))}"
    return ShownEnrolment(
        e.patient,
        e.arm,
        day_text(when(e.enrolled_on)),
        consent,
        "diagnosis" if e.time_zero is not None else "enrolment",
        _visits(deid, e),
    )


def shown_enrolments(view: StudyView, deid: Deidentifier) -> list[ShownEnrolment]:
    """Every enrolment as the level shows it (the rows of the study page)."""
    return [shown_enrolment(e, deid) for e in view.enrolments]


def study_json(view: StudyView, deid: Deidentifier) -> dict[str, Any]:
    """The study as ``study show --json`` gives it. Dates as the level shows them: ISO dates
    (``*_on``), or under Safe Harbor whole days from the time zero (``*_day``)."""

    def key(name: str) -> str:
        return deid.date_column(name)

    enrolments = []
    for e in view.enrolments:
        when = _when(deid, e)
        visits = []
        for s in e.visits:
            visits.append(
                {
                    "visit": s.visit,
                    key("due_on"): when(s.due_on),
                    "window": [when(s.window_from), when(s.window_to)],
                    "procedure_id": s.procedure_id if deid.identified else None,
                    "biopsy": s.procedure_id is not None,
                    key("performed_on"): when(s.performed_on),
                    "how": s.how,
                    "reason": s.reason if deid.identified else None,
                    "anchor_missing": s.anchor_missing,
                }
            )
        enrolments.append(
            {
                "patient": e.patient,
                "arm": e.arm,
                key("enrolled_on"): when(e.enrolled_on),
                "research_consent": e.research_consent,
                key("consent_on"): when(e.consent_on),
                "time_zero": "diagnosis" if e.time_zero is not None else "enrolment",
                "visits": visits,
            }
        )
    return {
        "study": view.study.name,
        "title": view.study.title,
        "description": view.study.description,
        "deidentified": str(deid.level),
        "dates": {
            Level.NONE: "dates",
            Level.SAFE_HARBOR: "days from the patient's time zero (time_zero)",
            Level.LIMITED: "dates shifted per patient (a limited data set)",
        }[deid.level],
        "arms": [{"arm": a, "description": d, "enrolled": n} for a, d, n in view.arms],
        "visits": [
            {
                "visit": v.name,
                "label": v.label,
                "anchor": str(v.anchor),
                "day": v.day,
                "window": v.window,
                "described": v.describe(),
            }
            for v in view.schedule
        ],
        "enrolments": enrolments,
    }


def study_lines(view: StudyView, deid: Deidentifier) -> list[str]:
    """``study show`` as text lines."""
    out = [f"study {view.study.name}: {view.study.title}"]
    if deid.level is Level.SAFE_HARBOR:
        out.append("  (pseudonyms; days count from each patient's diagnosis, day 0)")
    out += [f"  arm {a}: {n} enrolled" for a, _, n in view.arms]
    out += [f"  visit {v.name}: {v.describe()}" for v in view.schedule]
    for e in shown_enrolments(view, deid):
        consent = "research consent" if e.consent != "no" else "NO research consent"
        zero = "" if e.zero == "diagnosis" else " (no diagnosis: days from enrolment)"
        out.append(f"{e.patient}  arm {e.arm}  enrolled {e.enrolled}  {consent}{zero}")
        out += [f"    {s.visit}{' due ' + s.due if s.due else ''}: {s.text}" for s in e.visits]
    return out
