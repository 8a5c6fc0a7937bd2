"""Cohort outcomes from stored calls: response rates, time to CR, duration of response,
landmark MRD groups and competing-risk rows, checked on hand-made courses."""

from __future__ import annotations

import datetime as dt

import pytest

from trephine.analysis.cohort.outcomes import (
    Course,
    Event,
    duration_of_response,
    landmark_rows,
    mrd_at_landmark,
    relapse_incidence_rows,
    response_rates,
    time_to_first_cr,
)
from trephine.errors import ValidationError

D0 = dt.date(2024, 1, 1)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def course(
    pid: str, *events: tuple[int, str, str], last: int, group: str = "A", died: int | None = None
) -> Course:
    return Course(
        pid,
        D0,
        tuple(Event(day(d), k, c) for d, k, c in events),
        day(last),
        group,
        None if died is None else day(died),
    )


COURSES = [
    # CR at 30, MRD- at 90, relapse at 300.
    course(
        "P1",
        (30, "response", "CR"),
        (90, "mrd", "NEGATIVE"),
        (300, "relapse", "HEMATOLOGIC_RELAPSE"),
        last=400,
    ),
    # CRi MRD- at 40, MRD positive at 95, never relapses, followed to 500.
    course("P2", (40, "response", "CRi_MRD-"), (95, "mrd", "POSITIVE"), last=500),
    # No response (MLFS is not CR), died at 60.
    course("P3", (30, "response", "MLFS"), last=50, died=60, group="B"),
    # Relapse before the landmark: out of the landmark analysis.
    course(
        "P4",
        (30, "response", "CR"),
        (60, "relapse", "HEMATOLOGIC_RELAPSE"),
        (88, "mrd", "POSITIVE"),
        last=200,
        group="B",
    ),
    # No MRD near the landmark.
    course("P5", (30, "response", "CR"), (20, "mrd", "NEGATIVE"), last=300, group="B"),
]


def test_response_rates_exact_interval() -> None:
    rates = {r.group: r for r in response_rates(COURSES)}
    assert (rates["A"].responders, rates["A"].n) == (2, 2)
    assert (rates["B"].responders, rates["B"].n) == (2, 3)
    assert rates["A"].interval.method == "clopper-pearson"
    assert rates["A"].interval.lower == pytest.approx(0.158, abs=0.001)  # (0.025)^(1/2)
    assert rates["A"].to_json()["ci95"][1] == 1.0


def test_time_to_cr_and_duration() -> None:
    ttc = {r.patient: r for r in time_to_first_cr(COURSES)}
    assert (ttc["P1"].time, ttc["P1"].event) == (30, 1)
    assert (ttc["P3"].time, ttc["P3"].event, ttc["P3"].cause) == (60, 0, 2)  # death competes
    dor = {r.patient: r for r in duration_of_response(COURSES)}
    assert "P3" not in dor
    assert (dor["P1"].time, dor["P1"].event) == (270, 1)
    assert (dor["P2"].time, dor["P2"].event) == (460, 0)


def test_every_disease_s_relapse_ends_a_response() -> None:
    """ALL extramedullary relapse, MDS and aplastic anaemia relapse after response and CLL
    progression are relapse events (they were not: only ELN haematologic relapse and PD
    counted), and an aplastic anaemia complete response is a CR; a continued remission and an
    MRD relapse are not relapses."""
    courses = [
        course("ALL", (30, "response", "CR"), (200, "relapse", "EXTRAMEDULLARY_RELAPSE"), last=400),
        course("MDS", (60, "response", "CR"), (250, "relapse", "RELAPSE"), last=400),
        course("AA", (90, "response", "COMPLETE_RESPONSE"), (300, "relapse", "RELAPSE"), last=400),
        course("CLL", (50, "response", "CR"), (150, "response", "PD"), last=400),
        course(
            "STILL",
            (30, "response", "CR"),
            (200, "relapse", "CONTINUED_REMISSION"),
            (250, "mrd", "MOLECULAR_RELAPSE"),
            last=400,
        ),
    ]
    dor = {r.patient: (r.time, r.event) for r in duration_of_response(courses)}
    assert dor == {
        "ALL": (170, 1),
        "MDS": (190, 1),
        "AA": (210, 1),
        "CLL": (100, 1),
        "STILL": (370, 0),
    }
    rows = {r.patient: (r.time, r.event, r.cause) for r in relapse_incidence_rows(courses)}
    assert rows["ALL"][1:] == (1, 1) and rows["STILL"][1:] == (0, 0)


def test_myeloma_progression_is_an_event_once_confirmed_dated_at_the_first_assessment() -> None:
    """IMWG needs two consecutive assessments (Durie 2006's footnote): a PD met once
    (``PD_UNCONFIRMED``) ends no response; two in a row are each ``PD_CONFIRMED`` and the
    event is the first of them, the date the IMWG gives progression [R]."""
    courses = [
        course(
            "ONCE",
            (100, "response", "CR"),
            (300, "progression", "PD_UNCONFIRMED"),
            (360, "progression", "NOT_MET"),
            last=500,
        ),
        course(
            "TWICE",
            (100, "response", "CR"),
            (300, "progression", "PD_CONFIRMED"),
            (360, "progression", "PD_CONFIRMED"),
            last=500,
        ),
        # Stored before confirmation was recorded: the table's PD, counted as it always was.
        course("BEFORE", (100, "response", "CR"), (300, "progression", "PD"), last=500),
    ]
    dor = {r.patient: (r.time, r.event) for r in duration_of_response(courses)}
    assert dor == {"ONCE": (400, 0), "TWICE": (200, 1), "BEFORE": (200, 1)}
    rows = {r.patient: (r.time, r.event) for r in relapse_incidence_rows(courses)}
    assert rows == {"ONCE": (500, 0), "TWICE": (300, 1), "BEFORE": (300, 1)}


def test_landmark_groups_by_mrd_status() -> None:
    assert mrd_at_landmark(COURSES[0], 90, 14) == "negative"
    assert mrd_at_landmark(COURSES[4], 90, 14) is None
    rows = {r.patient: r for r in landmark_rows(COURSES, day=90, window=14)}
    assert set(rows) == {"P1", "P2"}  # P3 died, P4 relapsed, P5 has no landmark MRD
    assert (rows["P1"].group, rows["P1"].time, rows["P1"].event) == ("negative", 210, 1)
    # P2's landmark sample is on day 95: time runs from there.
    assert (rows["P2"].group, rows["P2"].time, rows["P2"].event) == ("positive", 405, 0)
    with pytest.raises(ValidationError):
        landmark_rows(COURSES, day=-1, window=0)


def test_only_patients_in_remission_at_the_landmark_enter() -> None:
    """Relapse-free survival is for patients in remission: counted as relapse-free, refractory
    patients with a positive MRD call made MRD positivity look protective (the demo's aml
    cohort at day 60: 30 MRD-positive patients, no relapse, log-rank p = 0.0002)."""
    refractory = course(
        "P6",
        (30, "response", "NO_RESPONSE"),
        (85, "response", "REFRACTORY"),
        (88, "mrd", "POSITIVE"),
        last=120,
    )
    later = course("P7", (92, "mrd", "POSITIVE"), (130, "response", "CR"), last=400)
    in_remission = course("P8", (60, "response", "CRh"), (90, "mrd", "POSITIVE"), last=300)
    rows = landmark_rows([refractory, later, in_remission], day=90, window=14)
    assert [(r.patient, r.group, r.time, r.event) for r in rows] == [("P8", "positive", 210, 0)]


def test_relapse_incidence_rows_competing_death() -> None:
    rows = {r.patient: r.cause for r in relapse_incidence_rows(COURSES)}
    assert rows == {"P1": 1, "P2": 0, "P3": 2, "P4": 1, "P5": 0}


def test_all_myeloma_and_cll_positive_mrd_have_a_status() -> None:
    """ALL's "MRD failure" (>= 10^-4 in CR) and IMWG's and iwCLL's MRD_POSITIVE are positive
    results: unmapped, every MRD-positive ALL patient fell out of the landmark analysis and
    the demo's ALL cohort at day 60 showed one group, MRD negative, only."""
    failure = course(
        "A1",
        (30, "response", "CR"),
        (30, "mrd", "MRD_FAILURE"),
        (300, "relapse", "HEMATOLOGIC_RELAPSE"),
        last=400,
    )
    negative = course("A2", (30, "response", "CR"), (30, "mrd", "MRD_CR"), last=500)
    rows = landmark_rows([failure, negative], day=30, window=14)
    assert [(r.patient, r.group, r.event) for r in rows] == [
        ("A1", "positive", 1),
        ("A2", "negative", 0),
    ]
    myeloma = course("M1", (200, "response", "CR"), (210, "mrd", "MRD_POSITIVE"), last=900)
    assert mrd_at_landmark(myeloma, 210, 14) == "positive"
    sequencing = course(
        "M2", (200, "response", "CR"), (210, "mrd", "SEQUENCING_MRD_NEGATIVE"), last=900
    )
    assert mrd_at_landmark(sequencing, 210, 14) == "negative"
    # Two statuses in one category (positive < 10^-4, or negative at too low a sensitivity).
    intermediate = course("A3", (30, "response", "CR"), (30, "mrd", "MRD_INTERMEDIATE"), last=500)
    assert mrd_at_landmark(intermediate, 30, 14) is None


def test_every_mapped_mrd_category_is_one_an_mrd_rule_set_emits() -> None:
    from trephine.analysis.cohort.outcomes import MRD_STATUS
    from trephine.criteria.sets import all_mrd, eln2021_mrd, imwg2016_mm, iwcll_cll

    emitted = {
        c
        for rs in (all_mrd.RESPONSE, eln2021_mrd.MRD, imwg2016_mm.MRD, iwcll_cll.MRD)
        for c in rs.categories
    }
    assert set(MRD_STATUS) <= emitted, set(MRD_STATUS) - emitted


MARROW, BLOOD = "bone marrow", "peripheral blood"


def _same_day(first: tuple[str, str], second: tuple[str, str], *, at: int = 90) -> Course:
    """A CR at 30, then one date's two MRD calls (category, sample) in the order given, and
    follow-up to day 500."""
    return Course(
        "S1",
        D0,
        (
            Event(day(30), "response", "CR"),
            Event(day(at), "mrd", first[0], first[1]),
            Event(day(at), "mrd", second[0], second[1]),
        ),
        day(500),
    )


@pytest.mark.parametrize(
    ("marrow", "blood", "status"),
    [
        ("POSITIVE", "NEGATIVE", "positive"),
        ("NEGATIVE", "POSITIVE", "positive"),
        ("LOW_LEVEL", "NEGATIVE", "low-level"),
        ("POSITIVE", "LOW_LEVEL", "positive"),
        ("NEGATIVE", "NEGATIVE", "negative"),
    ],
)
def test_a_date_with_a_marrow_and_a_blood_mrd_call_has_the_worse_status(
    marrow: str, blood: str, status: str
) -> None:
    # Whatever order the two calls come in (the store's insertion order is not a rule).
    for pair in (((marrow, MARROW), (blood, BLOOD)), ((blood, BLOOD), (marrow, MARROW))):
        c = _same_day(*pair)
        assert mrd_at_landmark(c, 90, 14) == status
        assert [(r.group, r.time) for r in landmark_rows([c], day=90, window=14)] == [(status, 410)]


def test_the_nearest_date_decides_before_the_worse_status() -> None:
    # A positive blood call 10 days off does not outweigh a negative marrow call on the day.
    c = Course(
        "S2",
        D0,
        (
            Event(day(30), "response", "CR"),
            Event(day(90), "mrd", "NEGATIVE", MARROW),
            Event(day(100), "mrd", "POSITIVE", BLOOD),
        ),
        day(500),
    )
    assert mrd_at_landmark(c, 90, 14) == "negative"


def test_the_severity_order_names_every_mrd_status() -> None:
    from trephine.analysis.cohort.outcomes import MRD_SEVERITY
    from trephine.domain.cohort import MRD_CATEGORIES

    assert sorted(MRD_SEVERITY) == sorted(MRD_CATEGORIES)
    assert MRD_SEVERITY[0] == "negative" and MRD_SEVERITY[-1] == "positive"
