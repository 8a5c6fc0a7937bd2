"""The research view reads the calls the pages call current (trephine.assess.current): every
row of a call's latest revision, none superseded, each MRD call with its sample — and a date with
a marrow and a blood MRD call has the worse status at the landmark, whatever order the two rows
were stored in (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from call_rows import add_aml_patients
from trephine.assess.story import SUPERSEDED
from trephine.domain.cohort import CohortDefinition
from trephine.services import cohorts, research
from trephine.services.assessments import current_assessments, patient_assessments
from trephine.store.database import Database

D0 = dt.date(2024, 1, 1)
BM, PB = "bone marrow", "peripheral blood"

# A call as stored: (day, kind, category, sample, revision, flags), in insertion order.
Row = tuple[int, str, str, str | None, int, tuple[str, ...]]


def _cr(day: int = 30) -> Row:
    return (day, "response", "CR", None, 1, ())


def _mrd(category: str, sample: str, revision: int = 1, day: int = 90) -> Row:
    return (day, "mrd", category, sample, revision, ())


# Every patient: in CR from day 30, followed to day 500 (a later negative marrow MRD call,
# outside the landmark window).
PATIENTS: dict[str, list[Row]] = {
    # Marrow positive, blood negative, on one day; stored in both orders.
    "S-1": [_cr(), _mrd("POSITIVE", BM), _mrd("NEGATIVE", PB)],
    "S-2": [_cr(), _mrd("NEGATIVE", PB), _mrd("POSITIVE", BM)],
    # The reverse: marrow negative, blood positive.
    "S-3": [_cr(), _mrd("NEGATIVE", BM), _mrd("POSITIVE", PB)],
    "S-4": [_cr(), _mrd("POSITIVE", PB), _mrd("NEGATIVE", BM)],
    # Amended: the first revision (both negative) is history; the second has a positive blood
    # call stored before the negative marrow call.
    "S-5": [
        _cr(),
        _mrd("NEGATIVE", BM, 1),
        _mrd("NEGATIVE", PB, 1),
        _mrd("POSITIVE", PB, 2),
        _mrd("NEGATIVE", BM, 2),
    ],
    # A CR call superseded by the same marrow's relapse: history, not a remission.
    "S-6": [
        (30, "response", "CR", None, 1, (SUPERSEDED,)),
        (30, "relapse", "HEMATOLOGIC_RELAPSE", None, 1, ()),
        _mrd("NEGATIVE", BM),
    ],
}


@pytest.fixture
def research_db(database: Database) -> Database:
    with database.unit_of_work("seed") as uow:
        s = uow.session
        add_aml_patients(
            s,
            {pid: [*rows, _mrd("NEGATIVE", BM, day=500)] for pid, rows in PATIENTS.items()},
            ruleset=lambda _: "ELN2022-AML",
            value_input="mrd_level",
        )
    return database


def _evaluate(db: Database) -> Any:
    with db.unit_of_work("researcher-1") as uow:
        cohorts.define(uow, "same-day", CohortDefinition(diseases=("AML",)))
        ev = cohorts.evaluate(uow, "same-day")
        return research.courses(uow, ev), research.analyse(uow, ev, landmark_day=90, window=14)


def test_a_days_marrow_and_blood_mrd_calls_both_reach_the_course_with_their_samples(
    research_db: Database,
) -> None:
    courses, _ = _evaluate(research_db)
    mrd = {
        c.patient: sorted((e.category, e.sample) for e in c.events if e.kind == "mrd")
        for c in courses
    }
    assert mrd["S-1"] == mrd["S-2"] == [("NEGATIVE", BM), ("NEGATIVE", PB), ("POSITIVE", BM)]
    assert mrd["S-3"] == mrd["S-4"] == [("NEGATIVE", BM), ("NEGATIVE", BM), ("POSITIVE", PB)]
    # The amended day: its latest revision's two calls only.
    assert mrd["S-5"] == [("NEGATIVE", BM), ("NEGATIVE", BM), ("POSITIVE", PB)]


def test_the_landmark_status_of_a_day_with_a_marrow_and_a_blood_call_is_the_worse(
    research_db: Database,
) -> None:
    _, report = _evaluate(research_db)
    rows = {r["patient"]: r for r in report["landmark"]["rows"]}
    # Positive in either sample, in either storage order, is positive; the amended day reads
    # its latest revision (positive blood), not its history (negative) nor its last row.
    for pid in ("S-1", "S-2", "S-3", "S-4", "S-5"):
        assert (pid, rows[pid]["group"], rows[pid]["time"]) == (pid, "positive", 410)


def test_a_superseded_response_is_no_remission_in_research_as_on_the_pages(
    research_db: Database,
) -> None:
    with research_db.unit_of_work("t") as uow:
        page = {
            (s.call_kind, s.assessment.category)
            for s in current_assessments(patient_assessments(uow, "S-6"))
        }
    assert ("response", "CR") not in page and ("relapse", "HEMATOLOGIC_RELAPSE") in page
    courses, report = _evaluate(research_db)
    s6 = next(c for c in courses if c.patient == "S-6")
    assert [e.kind for e in s6.events if e.date == D0 + dt.timedelta(days=30)] == ["relapse"]
    # Five of the six reached CR; S-6 (whose only CR call was superseded) did not, and so has
    # no landmark row (relapse-free survival is for patients in remission).
    rates = report["response_rates"][0]
    assert (rates["responders"], rates["n"]) == (5, 6)
    assert "S-6" not in {r["patient"] for r in report["landmark"]["rows"]}


def _members(db: Database, name: str, **criteria: Any) -> tuple[str, ...]:
    with db.unit_of_work("researcher-1") as uow:
        cohorts.define(uow, name, CohortDefinition(diseases=("AML",), **criteria))
        return cohorts.evaluate(uow, name).members


def test_a_cohort_selects_on_the_mrd_status_and_response_the_analysis_reads(
    research_db: Database,
) -> None:
    # The landmark status as cohort analyse reads it: S-1..S-5 are positive at day 90 (a
    # negative call of the same day, or of an earlier revision, does not make them negative).
    assert _members(research_db, "pos", mrd="positive", mrd_day=90) == (
        "S-1",
        "S-2",
        "S-3",
        "S-4",
        "S-5",
    )
    assert _members(research_db, "neg", mrd="negative", mrd_day=90) == ("S-6",)
    # S-6's only CR call was superseded by the same marrow's relapse.
    assert _members(research_db, "cr", response=("CR",)) == ("S-1", "S-2", "S-3", "S-4", "S-5")
    assert _members(research_db, "cr30", response=("CR",), response_by_day=29) == ()
