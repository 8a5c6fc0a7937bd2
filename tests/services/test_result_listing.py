"""Listing results and audit events: filters and order are the database's job, in one query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from trephine.domain import (
    AspirateDifferential,
    Patient,
    Procedure,
    Sex,
    Site,
    Specimen,
    SpecimenType,
)
from trephine.domain.results import FlowMRD, ResultKind
from trephine.errors import NotFound
from trephine.services import audit, patients, procedures, results
from trephine.store.database import Database
from trephine.workflow import ResultState

MakeDiff = Callable[..., AspirateDifferential]


def _add_patient(
    db: Database, external_id: str, accession: str, blasts: int, diff: MakeDiff
) -> int:
    at = dt.datetime(2024, 1, 8, 8, 0, tzinfo=dt.UTC)
    with db.unit_of_work("seed") as uow:
        patients.register_patient(uow, Patient(external_id, Sex.MALE, 1970))
        proc, _ = procedures.record_procedure(
            uow, external_id, Procedure(at, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, external_id, Specimen(accession, SpecimenType.ASPIRATE, at), proc
        )
        stored, _ = results.record_result(uow, accession, diff(blasts))
    return stored.id


@contextmanager
def counting_selects(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_list_results_filters_and_orders_across_patients(
    seeded: Database, make_differential: MakeDiff, make_flow_mrd: Callable[[str], FlowMRD]
) -> None:
    # P001 (from the fixture) gets a draft that is verified and amended, and a cancelled draft.
    with seeded.unit_of_work("tech") as uow:
        first, _ = results.record_result(uow, "A-1", make_differential(30))
        results.verify_result(uow, first.id)
        amended = results.amend_result(uow, first.id, make_differential(35), "recount")
        mrd, _ = results.record_result(uow, "A-1", make_flow_mrd("0.5"))
        results.cancel_result(uow, mrd.id, "wrong tube")
    # Registered out of order: the listing is by patient id, not by insertion.
    p003 = _add_patient(seeded, "P003", "A-3", 20, make_differential)
    p002 = _add_patient(seeded, "P002", "A-2", 10, make_differential)

    with seeded.unit_of_work("reader") as uow:
        current = results.list_results(uow)
        everything = results.list_results(uow, states=None)
        superseded = results.list_results(uow, states=(ResultState.SUPERSEDED,))
        drafts_of_p002 = results.list_results(uow, patient="P002", states=(ResultState.DRAFT,))
        flow = results.list_results(uow, kinds=(ResultKind.FLOW_MRD,), states=None)
        with pytest.raises(NotFound, match="P999"):
            results.list_results(uow, patient="P999")
        # The per-patient reader gives exactly the listing's slice.
        assert results.patient_results(uow, "P001", current_only=False) == [
            r for r in everything if r.patient_id == "P001"
        ]

    assert [(r.patient_id, r.id) for r in current] == [
        ("P001", amended.id),
        ("P002", p002),
        ("P003", p003),
    ]
    assert [(r.id, r.state) for r in everything] == [
        (first.id, ResultState.SUPERSEDED),
        (amended.id, ResultState.AMENDED),
        (mrd.id, ResultState.CANCELLED),
        (p002, ResultState.DRAFT),
        (p003, ResultState.DRAFT),
    ]
    assert [r.id for r in superseded] == [first.id]
    assert [r.id for r in drafts_of_p002] == [p002]
    assert [(r.id, r.accession) for r in flow] == [(mrd.id, "A-1")]


def test_listing_everyone_is_one_query_whatever_the_cohort_size(
    seeded: Database, make_differential: MakeDiff
) -> None:
    def selects() -> int:
        with counting_selects(seeded) as seen, seeded.unit_of_work("reader") as uow:
            listed = results.list_results(uow)
        assert listed  # an empty listing would make the count meaningless
        return len(seen)

    _add_patient(seeded, "P002", "A-2", 10, make_differential)
    few = selects()
    for n in range(3, 9):
        _add_patient(seeded, f"P00{n}", f"A-{n}", 10, make_differential)
    assert selects() == few == 1


def test_audit_events_filter_by_actor_and_time_in_the_database(
    seeded: Database, make_differential: MakeDiff
) -> None:
    with seeded.unit_of_work("tech") as uow:
        draft, _ = results.record_result(uow, "A-1", make_differential(30))
    with seeded.unit_of_work("dr.a") as uow:
        results.verify_result(uow, draft.id)
    with seeded.unit_of_work("reader") as uow:
        trail = audit.events(uow)
        verify = next(e for e in trail if e.action == "verify")
        by_tech = audit.events(uow, actor="tech")
        by_dr_a_on_result = audit.events(uow, "result", draft.id, actor="dr.a")
        # The same instant written with another offset selects the same events.
        local = verify.occurred_at.astimezone(dt.timezone(dt.timedelta(hours=-5)))
        since_verify = audit.events(uow, since=local)
        after_everything = audit.events(uow, since=verify.occurred_at + dt.timedelta(seconds=1))

    assert by_tech and {e.actor for e in by_tech} == {"tech"}
    assert [e.id for e in by_tech] == [e.id for e in trail if e.actor == "tech"]
    assert [(e.actor, e.action) for e in by_dr_a_on_result] == [("dr.a", "verify")]
    assert [e.id for e in since_verify] == [e.id for e in trail if e.id >= verify.id]
    assert since_verify[0].id == verify.id and after_everything == []


def test_audit_filters_are_sql(seeded: Database) -> None:
    with counting_selects(seeded) as seen, seeded.unit_of_work("reader") as uow:
        audit.events(uow, actor="nobody", since=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    (statement,) = seen
    assert "actor" in statement.split("WHERE", 1)[1]
    assert "occurred_at >=" in statement.split("WHERE", 1)[1]
