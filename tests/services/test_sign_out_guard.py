"""Migration 0005: who signed a result out, when, and its amendment record are frozen in the
database (SQLite and PostgreSQL), while the services' verify/amend/cancel flows still work."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy.exc
from sqlalchemy import Connection, text

from trephine.domain import AspirateDifferential
from trephine.services import results
from trephine.store.database import Database
from trephine.workflow import ResultState

MakeDiff = Callable[..., AspirateDifferential]
FROZEN = "sign-out record .* is frozen"


def _update(conn: Connection, assignment: str, result_id: int) -> None:
    conn.execute(text(f"UPDATE result SET {assignment} WHERE id = :id"), {"id": result_id})


@pytest.mark.parametrize(
    "assignment",
    [
        "verified_by = 'someone.else'",
        "verified_at = '2000-01-01 00:00:00+00:00'",
        "verified_by = NULL",
        "amended_by = 'x'",
        "amendment_reason = 'rewritten'",
        "headline_value = 99",
    ],
)
def test_raw_update_of_a_verified_result_sign_out_is_refused(
    seeded: Database, make_differential: MakeDiff, assignment: str
) -> None:
    with seeded.unit_of_work("dr.a") as uow:
        stored, _ = results.record_result(uow, "A-1", make_differential(30), verify=True)
    with pytest.raises(sqlalchemy.exc.DatabaseError, match=FROZEN), seeded.engine.begin() as c:
        _update(c, assignment, stored.id)
    with seeded.unit_of_work("r") as uow:
        assert results.get_result(uow, stored.id).verified_by == "dr.a"


def test_amended_version_sign_out_is_frozen_and_cannot_go_back_to_draft(
    seeded: Database, make_differential: MakeDiff
) -> None:
    with seeded.unit_of_work("dr.a") as uow:
        first, _ = results.record_result(uow, "A-1", make_differential(30), verify=True)
    with seeded.unit_of_work("dr.b") as uow:
        amended = results.amend_result(uow, first.id, make_differential(40), "recount")
    for assignment in ("amended_by = 'dr.c'", "supersedes_id = NULL", "verified_by = 'dr.c'"):
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match=FROZEN),
            seeded.engine.begin() as c,
        ):
            _update(c, assignment, amended.id)
    # Re-opening a signed-out result as a draft would make it editable in place.
    for state in ("draft", "cancelled", "verified"):
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="can only become superseded"),
            seeded.engine.begin() as c,
        ):
            _update(c, f"state = '{state}'", amended.id)
    with seeded.unit_of_work("r") as uow:
        now = results.get_result(uow, amended.id)
    assert (now.state, now.amended_by, now.supersedes_id) == (ResultState.AMENDED, "dr.b", first.id)


def test_services_flows_still_work(seeded: Database, make_differential: MakeDiff) -> None:
    """Draft edit → verify → amend → amend again, and cancel of a draft, all pass the guards."""
    with seeded.unit_of_work("lab") as uow:
        draft, _ = results.record_result(uow, "A-1", make_differential(30))
        results.edit_draft(uow, draft.id, make_differential(31))
        results.verify_result(uow, draft.id)
    with seeded.unit_of_work("dr.b") as uow:
        v2 = results.amend_result(uow, draft.id, make_differential(32), "recount")
    with seeded.unit_of_work("dr.c") as uow:
        v3 = results.amend_result(uow, v2.id, make_differential(33), "second recount")
        other, _ = results.record_result(uow, "B-1", make_differential(20))
        results.cancel_result(uow, other.id, "entered in error")
    with seeded.unit_of_work("r") as uow:
        chain = results.history(uow, draft.id)
        cancelled = results.get_result(uow, other.id)
    assert [(v.state, v.verified_by) for v in chain] == [
        (ResultState.SUPERSEDED, "lab"),
        (ResultState.SUPERSEDED, "dr.b"),
        (ResultState.AMENDED, "dr.c"),
    ]
    assert chain[-1].id == v3.id
    assert cancelled.state == ResultState.CANCELLED
    # A draft's sign-out columns are not frozen: verify writes them.
    assert chain[0].verified_by == "lab"


def test_migration_0005_up_and_down(database_url: str) -> None:
    """At 0004 the raw update goes through; at head it is refused; back at 0004 it goes through
    again while 0001's content guard still holds."""
    db = Database(database_url)
    try:
        db.upgrade("0004")
        with db.engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO patient (external_id, sex, created_at)"
                    " VALUES ('P1', 'male', '2024-01-01 00:00:00+00:00')"
                )
            )
            c.execute(
                text(
                    "INSERT INTO specimen (patient_id, accession, type, collected_at, first_pull)"
                    " SELECT id, 'S1', 'aspirate', '2024-01-01 00:00:00+00:00', false"
                    " FROM patient"
                )
            )
            c.execute(
                text(
                    "INSERT INTO result (patient_id, specimen_id, kind, analyte, collected_on,"
                    " version, state, value, created_by, created_at, verified_by, verified_at)"
                    " SELECT patient_id, id, 'flow_mrd', '', '2024-01-01', 1, 'verified', '{}',"
                    " 'lab', '2024-01-01 00:00:00+00:00', 'dr.a', '2024-01-01 00:00:00+00:00'"
                    " FROM specimen"
                )
            )
            result_id = int(c.execute(text("SELECT id FROM result")).scalar_one())

        def tamper(who: str) -> None:
            with db.engine.begin() as c:
                _update(c, f"verified_by = '{who}'", result_id)

        tamper("before.0005")  # the gap this revision closes
        db.upgrade("0005")
        assert db.current_revision() == "0005"
        with pytest.raises(sqlalchemy.exc.DatabaseError, match=FROZEN):
            tamper("after.0005")
        db.downgrade("0004")
        tamper("after.downgrade")
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="never changed in place"),
            db.engine.begin() as c,
        ):
            _update(c, "analyte = 'x'", result_id)
        with db.engine.connect() as c:
            who = c.execute(text("SELECT verified_by FROM result")).scalar_one()
        assert who == "after.downgrade"
    finally:
        db.dispose()
