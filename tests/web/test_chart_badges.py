"""The response track's badges: every call keeps a place of its own (calls on close dates go on
a further row of the track, unlabelled) and each reads in the words the criteria calls and
alerts use for its category."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from types import SimpleNamespace
from typing import Any

import pytest

from trephine.api.schemas.patients import PatientPublic, TimelinePublic
from trephine.criteria.categories import ABBREVIATIONS, RELAPSE_CATEGORIES
from trephine.criteria.registry import rulesets
from trephine.present.explain import ALERTS, alert_headline, category_label
from trephine.web.chart import (
    NARROW_PLOT_PX,
    RESPONSE_TRACK,
    badge_rows,
    figure_data,
    track_name,
)

D = dt.date
PATIENT = PatientPublic(
    id="T-1", sex="female", birth_year=1960, diagnosis="AML", last_biopsy=None,
    last_marrow_blasts=None,
)  # fmt: skip
EMPTY = TimelinePublic(
    patient=PATIENT, diagnoses=[], therapy_lines=[], events=[], biopsies=[], results=[]
)

#: DEMO-0001's calls: MLFS 16 days before CRi MRD-, whose badge was drawn over it.
DEMO_0001 = [
    ("response", "MLFS", "2022-10-21", "ELN2022"),
    ("response", "CRi_MRD-", "2022-11-06", "ELN2022"),
    ("response", "CR_MRD-", "2023-03-10", "ELN2022"),
    ("relapse", "HEMATOLOGIC_RELAPSE", "2024-04-09", "ELN2022-relapse"),
]


def calls(*rows: tuple[str, str, str, str]) -> list[Any]:
    return [SimpleNamespace(call=c, category=k, date=d, ruleset=r) for c, k, d, r in rows]


def badges(fig: dict[str, Any]) -> dict[str, Any]:
    found = [t for t in fig["data"] if t["name"] == "Response"]
    assert len(found) == 1
    return found[0]


def test_demo_0001s_close_calls_each_get_a_place_and_the_second_row_no_label() -> None:
    fig = figure_data(EMPTY, today=D(2025, 1, 1), assessments=calls(*DEMO_0001))
    b = badges(fig)
    assert b["x"] == ["2022-10-21", "2022-11-06", "2023-03-10", "2024-04-09"]
    # The CRi MRD- goes on a second row instead of over the MLFS; the later calls fit back on
    # the first.
    assert b["y"] == [RESPONSE_TRACK, track_name(1), RESPONSE_TRACK, RESPONSE_TRACK]
    assert b["text"] == ["MLFS", "CRi MRD-", "CR MRD-", "Haematologic relapse"]
    # The hover names each call, in the same words.
    assert [c.split(" (")[0] for c in b["customdata"]] == b["text"]
    # The track axis labels the first row only, and the therapy row grows by the extra row.
    axis = fig["layout"]["y" + "axis" + b["yaxis"][1:]]
    assert axis["tickvals"][:2] == [RESPONSE_TRACK, track_name(1)]
    assert axis["ticktext"][:2] == [RESPONSE_TRACK, ""]
    one_row = figure_data(EMPTY, today=D(2025, 1, 1), assessments=calls(*DEMO_0001[2:]))
    assert fig["layout"]["height"] == one_row["layout"]["height"] + 28
    assert "tickvals" not in one_row["layout"]["yaxis"]  # a track of one row: plotly's labels


def test_badge_rows_keep_every_marker_apart_on_the_narrowest_drawing() -> None:
    # Same day, and a day apart, on a year's axis: a row each; far apart: back on the first.
    days = [D(2024, 1, 1), D(2024, 1, 1), D(2024, 1, 2), D(2024, 12, 31)]
    assert badge_rows(days, ["CR"] * 4, 365) == [0, 1, 2, 0]
    # A year's axis on the narrowest drawing: any two badges of a row are a marker and a gap
    # apart there (days * px per day), whatever their dates.
    many = [D(2024, 1, 1) + dt.timedelta(days=7 * k) for k in range(20)]
    rows = badge_rows(many, ["CR"] * 20, 365)
    px = NARROW_PLOT_PX / (365 * 1.1)
    for row in set(rows):
        xs = [(d - many[0]).days * px for d, r in zip(many, rows, strict=True) if r == row]
        assert all(b - a >= 16 for a, b in itertools.pairwise(xs)), (row, xs)
    # Long words push the next call of a row along (desktop drawing: words are drawn).
    two = [D(2024, 1, 1), D(2024, 3, 1)]  # apart on a phone, close for words
    assert badge_rows(two, ["CR", "CR"], 365) == [0, 0]
    assert badge_rows(two, ["Haematologic relapse", "CR"], 365) == [0, 1]


#: A category is code-like when it keeps an underscore or an all-capitals word that is not an
#: abbreviation the criteria print.
def _code_like(label: str) -> bool:
    words = re.split(r"[ ,]+", label)
    return "_" in label or any(
        w.isalpha() and w.isupper() and len(w) > 1 and w not in ABBREVIATIONS for w in words
    )


def test_every_category_of_every_rule_set_reads_as_words() -> None:
    """What a badge, the criteria calls or the patient list can show: AML, MDS, ALL, myeloma,
    CLL, aplastic anaemia and transplant (graft) categories alike ('NO RESPONSE', 'PARTIAL
    RESPONSE' and 'HEMATOLOGIC RELAPSE' were shown as their codes)."""
    categories = {c for rs in rulesets().values() for c in rs.categories}
    assert {"NO_RESPONSE", "PARTIAL_RESPONSE", "HEMATOLOGIC_RELAPSE", "PD"} <= categories
    code_like = {c: category_label(c) for c in categories if _code_like(category_label(c))}
    assert not code_like, code_like
    assert category_label("NO_RESPONSE") == "No response"
    assert category_label("CRi_MRD-") == "CRi MRD-" and category_label("sCR") == "sCR"


@pytest.mark.parametrize("category", sorted(RELAPSE_CATEGORIES | (set(ALERTS) & {"REFRACTORY"})))
def test_a_category_that_is_an_alert_reads_as_that_alert(category: str) -> None:
    label = category_label(category)
    if category in ALERTS:
        # "Haematologic relapse" on the badge, in the criteria calls and in the alert.
        assert alert_headline(category).startswith(label), (label, alert_headline(category))
    assert not _code_like(label) and label[:1].isupper()


def test_the_badge_and_its_hover_use_the_same_words_for_each_relapse_kind() -> None:
    rows = [
        ("relapse", c, f"2024-0{i + 1}-01", "R") for i, c in enumerate(sorted(RELAPSE_CATEGORIES))
    ]
    b = badges(figure_data(EMPTY, today=D(2025, 1, 1), assessments=calls(*rows)))
    assert b["text"] == [category_label(c) for c in sorted(RELAPSE_CATEGORIES)]
    assert "Haematologic relapse" in b["text"] and "Extramedullary relapse" in b["text"]
    assert [c.split(" (")[0] for c in b["customdata"]] == b["text"]


def test_a_myeloma_progression_is_a_badge_in_words_over_its_days_response() -> None:
    """A progression call of PD (to confirm, or confirmed) is a badge as a relapse is, in place
    of the response of its paraprotein assessment; a progression not met is none."""
    rows = [
        ("response", "VGPR", "2024-03-01", "IMWG2016"),
        ("progression", "NOT_MET", "2024-03-01", "IMWG2016-PD"),
        ("response", "PR", "2024-07-01", "IMWG2016"),
        ("progression", "PD_UNCONFIRMED", "2024-07-01", "IMWG2016-PD"),
        ("progression", "PD_CONFIRMED", "2024-12-01", "IMWG2016-PD"),
    ]
    b = badges(figure_data(EMPTY, today=D(2025, 1, 1), assessments=calls(*rows)))
    assert b["x"] == ["2024-03-01", "2024-07-01", "2024-12-01"]
    assert b["text"] == ["VGPR", "Progressive disease (to confirm)", "Progressive disease"]
    assert b["text"][1:] == [category_label(c) for c in ("PD_UNCONFIRMED", "PD_CONFIRMED")]
    colours = b["marker"]["color"]
    assert colours[1] == colours[2] != colours[0]  # a failure, as a relapse
