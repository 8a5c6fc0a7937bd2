"""A myeloma patient who progresses, as the web app shows it (SQLite and PostgreSQL): the patient
list's latest response, its filter, the chart's response track and the patient page's criteria
calls say "Progressive disease (to confirm)" after one assessment meeting IMWG PD, then
"Progressive disease" once the next one confirms it; the VGPR (or the PR the rising paraprotein
still fits) is no longer shown as the patient's response."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from assess_case import myeloma_progressing, myeloma_progression_confirmed, pp
from trephine.api.app import create_app
from trephine.services import assessments, results
from trephine.store.database import Database
from trephine.testing.accounts import client_as


def _list_row(page: str) -> str:
    (row,) = re.findall(r'<tr data-patient-id="P1">(.*?)</tr>', page, re.S)
    return html.unescape(row)


def _badges(page: str) -> list[str]:
    found = re.search(r'<script type="application/json" id="timeline-figure">(.*?)</script>', page)
    assert found is not None
    figure: dict[str, Any] = json.loads(html.unescape(found[1]))
    (track,) = [t for t in figure["data"] if t.get("name") == "Response"]
    return list(track["text"])


def _calls(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<section class="call" data-call="([^"]+)" data-category="([^"]+)"', page)


def test_the_list_chart_and_calls_show_progression_to_confirm_then_confirmed(
    database: Database,
) -> None:
    myeloma_progressing(database)
    with client_as(create_app(database.url), "clinician") as client:
        listed = client.get("/").text
        row = _list_row(listed)
        assert '<span class="badge resp-failure">Progressive disease (to confirm)</span>' in row
        assert "VGPR" not in row and ">PR<" not in row
        # The filter offers it (in the same words) and finds the patient by it.
        assert '<option value="PD_UNCONFIRMED" >Progressive disease (to confirm)</option>' in (
            html.unescape(listed)
        )
        assert _list_row(client.get("/", params={"response": "PD_UNCONFIRMED"}).text)
        page = client.get("/patients/P1").text
        assert _badges(page) == ["VGPR", "Progressive disease (to confirm)"]
        calls = _calls(page)
        assert ("progression", "PD_UNCONFIRMED") in calls and ("response", "PR") not in calls
        text = html.unescape(page)
        assert "Progressive disease met on this assessment: to confirm on the next one" in text
        # The comparisons meet the table's PD criterion; the call adds what confirms it.
        assert (
            "Rise in serum M-protein 0.7 g/dL — at least 0.5 g/dL: "
            "meets the progressive disease criterion" in text
        )
        assert "(to confirm) criterion" not in text
        assert "Myeloma progression (to confirm)" in text  # the alert

        myeloma_progression_confirmed(database)
        row = _list_row(client.get("/").text)
        assert '<span class="badge resp-failure">Progressive disease</span>' in row
        page = client.get("/patients/P1").text
        assert _badges(page) == ["VGPR", "Progressive disease", "Progressive disease"]
        calls = _calls(page)
        assert calls.count(("progression", "PD_CONFIRMED")) == 2
        assert ("progression", "PD_UNCONFIRMED") not in calls
        assert not [c for c in calls if c[0] == "response" and c[1] != "VGPR"]
        text = html.unescape(page)
        assert "progression dated 2025-07-25, the first of the two" in text
        assert "Myeloma progression, confirmed" in text


def test_a_progression_amended_away_and_back_shows_again(database: Database) -> None:
    """A→B→A: the day-200 paraprotein amended so that PD is not met, then amended back. The
    page and the list show the PD to confirm again (stored again as its call's next revision,
    migration 0031), not the "not met" in between."""
    day_200 = myeloma_progressing(database)

    def amend_and_assess(result_id: int, serum: str) -> int:
        with database.unit_of_work("dr.amend") as uow:
            new = results.amend_result(uow, result_id, pp(serum, urine="40"), "transcription")
            assessments.assess_patient(uow, "P1")
        return new.id

    with client_as(create_app(database.url), "clinician") as client:
        amended = amend_and_assess(day_200, "0.3")
        assert _calls(client.get("/patients/P1").text)[-2:] == [
            ("response", "PR"),
            ("progression", "NOT_MET"),
        ]
        assert ">PR<" in _list_row(client.get("/").text)
        amend_and_assess(amended, "0.9")  # the amendment was wrong: PD again
        # Day 100's VGPR and progression not met, then day 200's PD (over its response).
        assert _calls(client.get("/patients/P1").text) == [
            ("response", "VGPR"),
            ("progression", "NOT_MET"),
            ("progression", "PD_UNCONFIRMED"),
        ]
        row = _list_row(client.get("/").text)
        assert '<span class="badge resp-failure">Progressive disease (to confirm)</span>' in row
