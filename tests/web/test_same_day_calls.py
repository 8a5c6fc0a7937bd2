"""A day with two calls of one kind (a marrow and a blood MRD result of one date): the patient
page, the assessments API and the patient's chronology (``trephine patients show``) show both
current calls, each naming its sample — not one of them per date and kind. On SQLite and
PostgreSQL."""

from __future__ import annotations

import html
import re

from assess_case import cll_marrow_and_blood_mrd, flow
from trephine.api.app import create_app
from trephine.present.chronology import with_chronology
from trephine.services import assessments, patients, results
from trephine.store.database import Database
from trephine.testing.accounts import client_as

_CALL = re.compile(
    r'<section class="call" data-call="mrd" data-category="([^"]+)" data-sample="([^"]+)">'
    r"\s*<h3>(.*?)</h3>",
    re.S,
)


def _page_mrd(page: str) -> list[tuple[str, str, str]]:
    """The page's MRD calls: (category, sample, heading text without tags)."""
    return [
        (category, sample, " ".join(re.sub(r"<[^>]+>", "", html.unescape(h)).split()))
        for category, sample, h in _CALL.findall(page)
    ]


def _api_mrd(items: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(a["sample"], a["category"], a["current"]) for a in items if a["call"] == "mrd"]


def test_the_page_and_the_api_show_both_calls_of_the_day_with_their_sample(
    database: Database,
) -> None:
    cll_marrow_and_blood_mrd(database)
    with client_as(create_app(database.url), "clinician") as client:
        page = client.get("/patients/P1").text
        assert _page_mrd(page) == [
            (
                "UNDETECTABLE_MRD4",
                "bone marrow",
                "Undetectable MRD4 MRD on 2025-07-25, bone marrow "
                "iwCLL2018-MRD iwCLL2018 · rule CLL-MRD-NEG",
            ),
            (
                "MRD_POSITIVE",
                "peripheral blood",
                "MRD positive MRD on 2025-07-25, peripheral blood "
                "iwCLL2018-MRD iwCLL2018 · rule CLL-MRD-POS",
            ),
        ]
        # The sample is said once, in the heading, not again among the comparisons.
        assert "Sample:" not in html.unescape(page)
        listed = client.get("/api/v1/patients/P1/assessments")
        assert listed.status_code == 200, listed.text
        assert _api_mrd(listed.json()["items"]) == [
            ("bone marrow", "UNDETECTABLE_MRD4", True),
            ("peripheral blood", "MRD_POSITIVE", True),
        ]
        # A call of a whole time point rests on no one sample.
        assert {a["sample"] for a in listed.json()["items"] if a["call"] != "mrd"} <= {None}


def test_after_an_amendment_the_page_shows_the_day_restated_and_the_api_its_history(
    database: Database,
) -> None:
    """The blood's result amended (A→B) and amended back (B→A): the page shows the day's two
    current calls each time; the API keeps every earlier row, marked not current."""
    ids = cll_marrow_and_blood_mrd(database)

    def amend(result_id: int, abnormal: int) -> int:
        with database.unit_of_work("dr.amend") as uow:
            new = results.amend_result(uow, result_id, flow(500_000, abnormal), "recount")
            assessments.assess_patient(uow, "P1")
        return new.id

    with client_as(create_app(database.url), "clinician") as client:
        recount = amend(ids["B"], 20)
        assert [(c, s) for c, s, _ in _page_mrd(client.get("/patients/P1").text)] == [
            ("UNDETECTABLE_MRD4", "bone marrow"),
            ("UNDETECTABLE_MRD4", "peripheral blood"),
        ]
        amend(recount, 200)
        assert [(c, s) for c, s, _ in _page_mrd(client.get("/patients/P1").text)] == [
            ("UNDETECTABLE_MRD4", "bone marrow"),
            ("MRD_POSITIVE", "peripheral blood"),
        ]
        items = client.get("/api/v1/patients/P1/assessments").json()["items"]
        assert _api_mrd(items) == [
            ("bone marrow", "UNDETECTABLE_MRD4", False),
            ("peripheral blood", "MRD_POSITIVE", False),
            ("bone marrow", "UNDETECTABLE_MRD4", False),
            ("peripheral blood", "UNDETECTABLE_MRD4", False),
            ("bone marrow", "UNDETECTABLE_MRD4", True),
            ("peripheral blood", "MRD_POSITIVE", True),
        ]


def test_the_chronology_lists_both_calls_of_the_day_with_their_sample(
    database: Database,
) -> None:
    cll_marrow_and_blood_mrd(database)
    with database.unit_of_work("t") as uow:
        record = with_chronology(patients.patient_record(uow, "P1"))
    titles = [e.title for e in record.chronology if e.title.startswith("iwCLL2018-MRD")]
    assert titles == [
        "iwCLL2018-MRD: Undetectable MRD4, bone marrow",
        "iwCLL2018-MRD: MRD positive, peripheral blood",
    ]
