"""Draft → verified → amended: the original stays readable, every step is audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy.event
import sqlalchemy.exc

from trephine.domain import AspirateDifferential
from trephine.domain.results import FlowMRD
from trephine.errors import Conflict, IllegalTransition, NotFound, ValidationError
from trephine.present.chronology import build_chronology
from trephine.services import audit, patients, results
from trephine.store.database import Database
from trephine.workflow import TRANSITIONS, Action, ResultState, next_state

MakeDiff = Callable[..., AspirateDifferential]


def test_amend_keeps_original(seeded: Database, make_differential: MakeDiff) -> None:
    with seeded.unit_of_work("tech") as uow:
        draft, created = results.record_result(uow, "A-1", make_differential(30))
    assert created and draft.state is ResultState.DRAFT and draft.version == 1
    with seeded.unit_of_work("dr.verify") as uow:
        verified = results.verify_result(uow, draft.id)
    assert verified.state is ResultState.VERIFIED and verified.verified_by == "dr.verify"
    with seeded.unit_of_work("dr.amend") as uow:
        amended = results.amend_result(uow, draft.id, make_differential(60), "miscounted blasts")

    assert amended.id != draft.id
    assert amended.version == 2 and amended.supersedes_id == draft.id
    assert amended.state is ResultState.AMENDED
    assert (amended.amended_by, amended.amendment_reason) == ("dr.amend", "miscounted blasts")
    assert amended.amended_at is not None and amended.amended_at.tzinfo is not None
    assert isinstance(amended.value, AspirateDifferential)
    assert amended.value.blast_percent == 12

    with seeded.unit_of_work("reader") as uow:
        original = results.get_result(uow, draft.id)
        chain = results.history(uow, amended.id)
        current = results.patient_results(uow, "P001")
    # The original is still there, unchanged in content, marked superseded.
    assert original.state is ResultState.SUPERSEDED
    assert original.value == make_differential(30)
    assert original.verified_by == "dr.verify"
    assert [r.version for r in chain] == [1, 2]
    assert [r.id for r in current] == [amended.id]
    with seeded.unit_of_work("reader") as uow:
        (biopsy,) = build_chronology(patients.patient_record(uow, "P001"))
    assert "blasts 12.0 %" in biopsy.detail and "[amended v2: miscounted blasts]" in biopsy.detail


def test_audit_trail_records_who_what_why(seeded: Database, make_differential: MakeDiff) -> None:
    with seeded.unit_of_work("tech") as uow:
        draft, _ = results.record_result(uow, "A-1", make_differential(30))
    with seeded.unit_of_work("dr.a") as uow:
        results.verify_result(uow, draft.id)
    with seeded.unit_of_work("dr.b") as uow:
        amended = results.amend_result(uow, draft.id, make_differential(35), "recount")
    with seeded.unit_of_work("reader") as uow:
        first = audit.events(uow, "result", draft.id)
        second = audit.events(uow, "result", amended.id)
    assert [(e.actor, e.action) for e in first] == [("tech", "create"), ("dr.a", "verify")]
    assert [(e.actor, e.action) for e in second] == [("dr.b", "amend")]
    detail = second[0].detail
    assert detail["supersedes"] == draft.id and detail["reason"] == "recount"
    assert detail["changed"] == ["counts"]
    assert all(e.occurred_at.tzinfo is not None for e in first + second)


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (ResultState.DRAFT, Action.AMEND),
        (ResultState.VERIFIED, Action.EDIT),
        (ResultState.VERIFIED, Action.VERIFY),
        (ResultState.VERIFIED, Action.CANCEL),
        (ResultState.SUPERSEDED, Action.AMEND),
        (ResultState.SUPERSEDED, Action.EDIT),
        (ResultState.CANCELLED, Action.VERIFY),
    ],
)
def test_workflow_table_refuses(state: ResultState, action: Action) -> None:
    with pytest.raises(IllegalTransition, match=str(action)):
        next_state("result 1", state, action)


def test_workflow_table_allows_exactly_declared_sources() -> None:
    for action, transition in TRANSITIONS.items():
        for state in ResultState:
            if state in transition.sources:
                assert next_state("r", state, action) is transition.target
            else:
                with pytest.raises(IllegalTransition):
                    next_state("r", state, action)


def test_illegal_transitions_through_services(
    seeded: Database, make_differential: MakeDiff
) -> None:
    with seeded.unit_of_work("tech") as uow:
        draft, _ = results.record_result(uow, "A-1", make_differential(30))
    with seeded.unit_of_work("dr") as uow, pytest.raises(IllegalTransition):
        results.amend_result(uow, draft.id, make_differential(31), "why")
    with seeded.unit_of_work("dr") as uow:
        results.verify_result(uow, draft.id)
    with seeded.unit_of_work("dr") as uow, pytest.raises(IllegalTransition):
        results.edit_draft(uow, draft.id, make_differential(31))
    with seeded.unit_of_work("dr") as uow, pytest.raises(IllegalTransition):
        results.verify_result(uow, draft.id)
    with seeded.unit_of_work("dr") as uow:
        results.amend_result(uow, draft.id, make_differential(31), "recount")
    # The superseded version cannot be amended again; only the current one can.
    with seeded.unit_of_work("dr") as uow, pytest.raises(IllegalTransition):
        results.amend_result(uow, draft.id, make_differential(32), "again")


def test_amendment_needs_reason_and_a_change(seeded: Database, make_differential: MakeDiff) -> None:
    with seeded.unit_of_work("dr") as uow:
        stored, _ = results.record_result(uow, "A-1", make_differential(30), verify=True)
    with seeded.unit_of_work("dr") as uow, pytest.raises(ValidationError, match="reason"):
        results.amend_result(uow, stored.id, make_differential(31), "  ")
    with seeded.unit_of_work("dr") as uow, pytest.raises(ValidationError, match="differs"):
        results.amend_result(uow, stored.id, make_differential(30), "no change")


def test_record_is_idempotent_and_refuses_silent_overwrite(
    seeded: Database,
    make_differential: MakeDiff,
    make_flow_mrd: Callable[[str], FlowMRD],
) -> None:
    with seeded.unit_of_work("tech") as uow:
        first, created = results.record_result(uow, "A-1", make_flow_mrd("0.12"))
        again, created_again = results.record_result(uow, "A-1", make_flow_mrd("0.12"))
    assert created and not created_again and again.id == first.id
    # A different value on a draft edits the draft in place (audited) ...
    with seeded.unit_of_work("tech") as uow:
        edited, _ = results.record_result(uow, "A-1", make_flow_mrd("0.15"))
        results.verify_result(uow, edited.id)
    assert edited.id == first.id
    # ... but never a signed-out result.
    with seeded.unit_of_work("tech") as uow, pytest.raises(Conflict, match="amendment"):
        results.record_result(uow, "A-1", make_flow_mrd("0.2"))
    with seeded.unit_of_work("r") as uow:
        assert [e.action for e in audit.events(uow, "result", first.id)] == [
            "create",
            "edit",
            "verify",
        ]


def test_cancelled_draft_stays_and_frees_the_key(
    seeded: Database, make_differential: MakeDiff
) -> None:
    with seeded.unit_of_work("tech") as uow:
        draft, _ = results.record_result(uow, "A-1", make_differential(30))
        results.cancel_result(uow, draft.id, "wrong slide")
        redo, created = results.record_result(uow, "A-1", make_differential(20))
    assert created and redo.version == 2
    with seeded.unit_of_work("r") as uow:
        assert results.get_result(uow, draft.id).state is ResultState.CANCELLED


def test_unknown_ids_raise_not_found(seeded: Database, make_differential: MakeDiff) -> None:
    with seeded.unit_of_work("r") as uow, pytest.raises(NotFound):
        results.get_result(uow, 999_999)
    with seeded.unit_of_work("r") as uow, pytest.raises(NotFound):
        results.record_result(uow, "NOPE", make_differential(1))


def test_failed_unit_of_work_writes_nothing(seeded: Database, make_differential: MakeDiff) -> None:
    with pytest.raises(RuntimeError), seeded.unit_of_work("tech") as uow:
        results.record_result(uow, "A-1", make_differential(30))
        raise RuntimeError("boom")
    with seeded.unit_of_work("r") as uow:
        assert results.patient_results(uow, "P001") == []
        assert audit.events(uow, "result") == []


def test_database_refuses_in_place_change_of_signed_out_result(
    seeded: Database, make_differential: MakeDiff
) -> None:
    """The trigger holds even for a client that bypasses the services."""
    from sqlalchemy import text

    with seeded.unit_of_work("dr") as uow:
        stored, _ = results.record_result(uow, "A-1", make_differential(30), verify=True)
    with (
        pytest.raises(sqlalchemy.exc.DatabaseError, match="never changed in place"),
        seeded.engine.begin() as conn,
    ):
        conn.execute(text("UPDATE result SET analyte = 'x' WHERE id = :id"), {"id": stored.id})
    with (
        pytest.raises(sqlalchemy.exc.DatabaseError, match="only drafts"),
        seeded.engine.begin() as conn,
    ):
        conn.execute(text("DELETE FROM result WHERE id = :id"), {"id": stored.id})


def test_events_for_reads_every_version_in_one_query(
    seeded: Database, make_differential: MakeDiff
) -> None:
    with seeded.unit_of_work("tech") as uow:
        draft, _ = results.record_result(uow, "A-1", make_differential(30))
    with seeded.unit_of_work("dr.verify") as uow:
        results.verify_result(uow, draft.id)
    with seeded.unit_of_work("dr.amend") as uow:
        amended = results.amend_result(uow, draft.id, make_differential(60), "miscounted blasts")

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with seeded.unit_of_work("reader") as uow:
        per_version = [e for i in (draft.id, amended.id) for e in audit.events(uow, "result", i)]
        sqlalchemy.event.listen(seeded.engine, "before_cursor_execute", count)
        try:
            together = audit.events_for(uow, "result", [amended.id, draft.id])
        finally:
            sqlalchemy.event.remove(seeded.engine, "before_cursor_execute", count)
        assert audit.events_for(uow, "result", []) == []
    assert together == sorted(per_version, key=lambda e: e.id)
    assert len(together) >= 3
    assert len([s for s in statements if "audit_event" in s]) == 1


def test_superseded_results_are_list_results_of_that_state(
    seeded: Database, make_differential: MakeDiff, make_flow_mrd: Callable[[str], FlowMRD]
) -> None:
    """The timeline's read of older versions (a statement of its own) gives what the general
    list gives: every superseded version, in version order, and nothing else (not the current
    version, not a cancelled draft)."""
    with seeded.unit_of_work("tech") as uow:
        draft, _ = results.record_result(uow, "A-1", make_differential(30))
        results.verify_result(uow, draft.id)
        second = results.amend_result(uow, draft.id, make_differential(40), "recount")
        third = results.amend_result(uow, second.id, make_differential(50), "recount again")
        cancelled, _ = results.record_result(uow, "B-1", make_flow_mrd("0.05"))
        results.cancel_result(uow, cancelled.id, "entered in error")
        ours = results.superseded_results(uow, "P001")
        general = results.list_results(uow, patient="P001", states=[ResultState.SUPERSEDED])
    assert ours == general
    assert [(r.id, r.version) for r in ours] == [(draft.id, 1), (second.id, 2)]
    assert third.id not in {r.id for r in ours}
    with seeded.unit_of_work("reader") as uow, pytest.raises(NotFound):
        results.superseded_results(uow, "P404")
