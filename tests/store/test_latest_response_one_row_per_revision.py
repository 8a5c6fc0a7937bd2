"""Pins the assumption migration 0030's patient-list trigger rests on.

The trigger counts a response, relapse or progression call while no *later row* (a higher id)
of its patient, date, call kind, rule set and edition exists; the pages' rule
(:func:`trephine.assess.current.current_rows`) counts every row of a call's latest *revision*.
The two agree while those three kinds store one row per revision: one call a day of each (a
day's marrow and blood MRD results are two ``mrd`` calls in one revision, but ``mrd`` is not a
kind the list reads). These tests fail if the demo cohort or the stored worked cases ever give
one date two calls of one of those kinds — then the trigger must read the revision (a new
migration), as ``docs/data-model.md`` says.

The worked cases of ``clinical-cases.json`` are single evaluations (one category per case,
``trephine criteria evaluate``), never stored calls, so the stored cases here are the timelines
of ``tests/assess_case.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from assess_case import (
    biopsy,
    cll_marrow_and_blood_mrd,
    marrow_items,
    myeloma_progressing,
    myeloma_progression_confirmed,
    seed_aml_patient,
)
from trephine.assess.story import RELAPSE_KINDS
from trephine.criteria.categories import SUPERSEDING_CATEGORIES
from trephine.services.assessments import (
    assess_all,
    assess_patient,
    current_assessments,
    patient_assessments,
)
from trephine.store.database import Database
from trephine.store.tables import AssessmentRow, PatientRow

#: The call kinds the patient list's latest response reads (migration 0030).
LISTED = ("response", *RELAPSE_KINDS)
CALL = (
    AssessmentRow.patient_id,
    AssessmentRow.assessed_on,
    AssessmentRow.call_kind,
    AssessmentRow.ruleset,
    AssessmentRow.criteria_edition,
    AssessmentRow.revision,
)


def _rows_per_revision(db: Database) -> Counter[str]:
    """How many rows each stored revision of a call has, largest per call kind."""
    with db.unit_of_work("t") as uow:
        rows = uow.session.execute(
            select(AssessmentRow.call_kind, func.count()).group_by(*CALL)
        ).all()
    most: Counter[str] = Counter()
    for kind, n in rows:
        most[kind] = max(most[kind], n)
    return most


def _latest_by_the_current_rule(db: Database) -> dict[str, str | None]:
    """Each patient's latest response as the trigger defines it, over the pages' current
    calls: the latest date's relapse or progression called, else its response; the latest
    row among equals."""
    out: dict[str, str | None] = {}
    with db.unit_of_work("t") as uow:
        for (ext,) in uow.session.execute(select(PatientRow.external_id)):
            counted = [
                s
                for s in current_assessments(patient_assessments(uow, ext))
                if s.call_kind == "response"
                or (
                    s.call_kind in RELAPSE_KINDS and s.assessment.category in SUPERSEDING_CATEGORIES
                )
            ]
            best = max(
                counted,
                key=lambda s: (s.assessment.assessed_on, s.call_kind != "response", s.id),
                default=None,
            )
            out[ext] = None if best is None else best.assessment.category
    return out


def _listed(db: Database) -> dict[str, str | None]:
    with db.unit_of_work("t") as uow:
        return dict(
            uow.session.execute(select(PatientRow.external_id, PatientRow.latest_response)).all()
        )


def _check(db: Database) -> Counter[str]:
    most = _rows_per_revision(db)
    assert {k: most[k] for k in LISTED if k in most} == {k: 1 for k in LISTED if k in most}
    assert _listed(db) == _latest_by_the_current_rule(db)
    return most


def test_the_demo_stores_one_row_per_revision_of_the_listed_kinds(database_url: str) -> None:
    from trephine.testing.fixtures import load_demo_database

    load_demo_database(database_url, 40)  # two patients of every scenario
    db = Database(database_url)
    try:
        assess_all(db, "test")
        most = _check(db)
        # The check can see two rows in one revision: the CLL scenario's day with a marrow and
        # a blood MRD result stores two mrd calls together.
        assert most["mrd"] == 2 and set(LISTED) <= set(most)
    finally:
        db.dispose()


def _aml_relapse(db: Database) -> None:
    seed_aml_patient(db)
    biopsy(db, 150, 3, marrow_items(40))


def _myeloma(db: Database) -> None:
    myeloma_progressing(db)
    myeloma_progression_confirmed(db, assess=False)


@pytest.mark.parametrize(
    "case",
    [_aml_relapse, cll_marrow_and_blood_mrd, _myeloma],
    ids=["aml-relapse", "cll-marrow-and-blood-mrd", "myeloma-progression"],
)
def test_the_stored_worked_cases_store_one_row_per_revision_of_the_listed_kinds(
    database: Database, case: Callable[[Database], object]
) -> None:
    case(database)
    with database.unit_of_work("t") as uow:
        assess_patient(uow, "P1")
    _check(database)
