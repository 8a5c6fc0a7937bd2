"""Issue 14 §4 in the marrow report: every differential percentage with its 95 % Wilson interval,
and a criteria call whose threshold lies inside the interval says that the count cannot separate
the categories (the same sentence the patient page shows)."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal

import pytest

from trephine.analysis.stats import wilson
from trephine.assess.call import Call
from trephine.assess.intervals import COUNT_FLAG
from trephine.criteria import registry
from trephine.criteria.engine import evaluate
from trephine.domain import Patient, PatientIdentity, Sex, SpecimenType
from trephine.domain.assessment import Assessment
from trephine.present import report as present
from trephine.present.explain import category_label
from trephine.services import assessments, reports, results
from trephine.store.database import Database
from trephine.testing.report_seed import add_biopsy, differential, register

AT = dt.datetime(2024, 4, 8, 9, 0, tzinfo=dt.UTC)


def _pct(x: float) -> str:
    return f"{Decimal(str(x * 100)).quantize(Decimal('0.1'), rounding='ROUND_HALF_UP'):f}"


def test_report_shows_wilson_intervals_and_says_when_a_count_cannot_separate(
    database: Database,
) -> None:
    with database.unit_of_work("seed") as uow:
        register(
            uow,
            Patient("P002", Sex.MALE, 1958),
            PatientIdentity("Synthetic Person Two", "MRN-0002", dt.date(1958, 2, 3)),
            dt.date(2024, 2, 1),
        )
        procedure = add_biopsy(
            uow,
            "P002",
            AT,
            {SpecimenType.ASPIRATE: ("A-9", {"first_pull": True, "spicules": True})},
        )
        stored, _ = results.record_result(uow, "A-9", differential(23))  # 4.6 % of 500
    with database.unit_of_work("dr.verify") as uow:
        results.verify_result(uow, stored.id)
    facts = {
        "bm_blasts_pct": Decimal("4.6"),
        "cells_counted": Decimal(500),
        "anc": Decimal("1.5"),
        "plt": Decimal(150),
        "circulating_blasts": False,
        "extramedullary": False,
        "spicules_present": True,
    }
    call = Call.from_evaluation(AT.date(), "response", evaluate(registry.get("ELN2022"), facts))
    assert call.category == "CR" and COUNT_FLAG in call.flags
    with database.unit_of_work("engine") as uow:
        assessments.record_assessment(
            uow,
            "P002",
            Assessment(
                category=call.category,
                ruleset=call.ruleset,
                criteria_edition=call.edition,
                assessed_on=call.date,
                software_version=call.software_version,
                computed_at=AT,
                matched_rule=call.rule,
                evidence=call.evidence,
                citation=call.citation,
                flags=call.flags,
            ),
        )
    with database.unit_of_work("reader") as uow:
        doc = reports.marrow_report(uow, procedure)
    page = html.unescape(present.html(present.document(doc, lab="Test lab", software="test")))
    assert "95 % interval (Wilson)" in page
    for count in (23, 327, 100, 50):  # blasts, neutrophils, erythroblasts, lymphocytes
        ci = wilson(count, 500)
        assert f"{_pct(ci.lower)}–{_pct(ci.upper)}" in page, count
    assert "3.1–6.8" in page  # 23 of 500 blasts, by hand: Wilson 1927
    sentence = (
        "Marrow blasts 4.6 % of 500 cells counted (95 % CI 3.1–6.8 %): the 5 % threshold lies "
        "inside the interval, so this count cannot separate the categories on either side of it."
    )
    assert sentence in page
    # Codes read as words in the report: the flag, and a category with underscores.
    assert "Flags: count cannot separate." in page and f"Flags: {COUNT_FLAG}" not in page


#: A stored call as the report of its day shows it: the category in the page's words
#: (category_label), its evidence meeting the criterion the page names.
SUGGESTIONS = [
    pytest.param(
        "BEFORE_LANDMARK",
        "ELN2022-landmark",
        "ELN22-LM-BEFORE",
        {
            "input": "courses_completed",
            "value": "1",
            "comparator": ">=",
            "threshold": "2",
            "outcome": False,
        },
        "Before landmark",
        "Courses completed 1 course — below 2 courses: does not meet the before landmark criterion",
        id="before-landmark",
    ),
    pytest.param(
        "PD_UNCONFIRMED",
        "IMWG2016-PD",
        "IMWG16-PD-SERUM",
        {
            "input": "serum_m_g_dl_rise",
            "value": "0.7",
            "comparator": ">=",
            "threshold": "0.5",
            "outcome": True,
            "role": "supports",
        },
        "Progressive disease (to confirm)",
        "Rise in serum M-protein 0.7 g/dL — at least 0.5 g/dL: "
        "meets the progressive disease criterion",
        id="myeloma-pd-to-confirm",
    ),
]


@pytest.mark.parametrize(("category", "ruleset", "rule", "item", "words", "reason"), SUGGESTIONS)
def test_report_suggestions_say_categories_and_missing_inputs_in_words(
    database: Database,
    category: str,
    ruleset: str,
    rule: str,
    item: dict[str, object],
    words: str,
    reason: str,
) -> None:
    """The report of DEMO-0001's day-15 marrow listed 'BEFORE_LANDMARK — ...' and 'does not
    meet the BEFORE_LANDMARK criterion' among the suggestions, then 'BEFORE LANDMARK' and a
    myeloma progression 'PD UNCONFIRMED' (its code with spaces); the patient page names them
    'Before landmark' and 'Progressive disease (to confirm)' (present/explain.category_label),
    and so does the report now, its evidence meeting the criterion the page names."""
    with database.unit_of_work("seed") as uow:
        register(
            uow,
            Patient("P003", Sex.FEMALE, 1960),
            PatientIdentity("Synthetic Person Three", "MRN-0003", dt.date(1960, 5, 6)),
            dt.date(2024, 2, 1),
        )
        procedure = add_biopsy(
            uow,
            "P003",
            AT,
            {SpecimenType.ASPIRATE: ("A-10", {"first_pull": True, "spicules": True})},
        )
        stored, _ = results.record_result(uow, "A-10", differential(23))
    with database.unit_of_work("dr.verify") as uow:
        results.verify_result(uow, stored.id)
    with database.unit_of_work("engine") as uow:
        assessments.record_assessment(
            uow,
            "P003",
            Assessment(
                category=category,
                ruleset=ruleset,
                criteria_edition="test",
                assessed_on=AT.date(),
                software_version="test",
                computed_at=AT,
                matched_rule=rule,
                evidence=(item,),
                missing_inputs=("ring_sideroblasts_pct",),
            ),
        )
    with database.unit_of_work("reader") as uow:
        doc = reports.marrow_report(uow, procedure)
    page = html.unescape(present.html(present.document(doc, lab="Test lab", software="test")))
    assert words == category_label(category)
    assert f"<strong>{words}</strong>" in page
    assert reason in page
    assert "Missing: Ring sideroblasts." in page
    assert category not in page and category.replace("_", " ") not in page and "_pct" not in page


def test_report_suggestions_name_the_call_in_words() -> None:
    """The report said "anaemia_workup call" and "mrd call" (the kind's code); it says the words
    of assess/call_kinds, inside its sentence."""
    from types import SimpleNamespace

    from trephine.present.report import _suggestion

    def stored(kind: str) -> SimpleNamespace:
        call = SimpleNamespace(
            category="MARROW_FINDINGS",
            ruleset="ANAEMIA-WORKUP",
            criteria_edition="test",
            matched_rule=None,
            citation=None,
            evidence=(),
            missing_inputs=(),
            flags=(),
            software_version="test",
        )
        return SimpleNamespace(assessment=call, call_kind=kind)

    assert _suggestion(stored("anaemia_workup"))["call_words"] == "anaemia work-up"
    assert _suggestion(stored("mrd"))["call_words"] == "MRD"
    assert _suggestion(stored("cart_relapse"))["call_words"] == "relapse after CAR-T"
    assert _suggestion(stored(""))["call_words"] == "evaluation"
