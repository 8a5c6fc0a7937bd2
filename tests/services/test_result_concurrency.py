"""Two people acting on the same version at once: exactly one wins, the other is refused.

Each race is staged deterministically with two units of work (two sessions, two connections):
the loser reads the result first, the winner then commits, and only then does the loser act on
what it read — the interleaving that a plain ORM flush turns into a silent overwrite. The loser
keeps the row it read: the session's identity map holds rows weakly, and a service call in the
middle of its work holds it the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from trephine.domain import AspirateDifferential
from trephine.errors import ConcurrentChange, IllegalTransition
from trephine.services import audit, results
from trephine.store.database import Database, UnitOfWork
from trephine.store.tables import ResultRow
from trephine.workflow import ResultState

MakeDiff = Callable[..., AspirateDifferential]


def _draft(db: Database, make_differential: MakeDiff) -> int:
    with db.unit_of_work("tech") as uow:
        draft, _ = results.record_result(uow, "A-1", make_differential(30))
    return draft.id


@contextmanager
def lost_race(
    db: Database,
    result_id: int,
    believed: ResultState,
    winner: str,
    wins: Callable[[UnitOfWork], object],
) -> Iterator[UnitOfWork]:
    """The loser's unit of work: it read the result as ``believed``, then ``winner`` committed
    ``wins`` in a unit of work of their own."""
    with db.unit_of_work("late") as late:
        held = late.session.get(ResultRow, result_id)
        assert held is not None and held.state == believed
        with db.unit_of_work(winner) as first:
            wins(first)
        assert held.state == believed  # what the loser still believes
        yield late


def test_second_concurrent_sign_out_is_refused(
    seeded: Database, make_differential: MakeDiff
) -> None:
    result_id = _draft(seeded, make_differential)

    def sign_out(uow: UnitOfWork) -> object:
        return results.verify_result(uow, result_id)

    with (
        lost_race(seeded, result_id, ResultState.DRAFT, "dr.first", sign_out) as late,
        pytest.raises(ConcurrentChange) as refused,
    ):
        sign_out(late)
    # Still an IllegalTransition, so callers that only know the workflow error refuse it too.
    assert isinstance(refused.value, IllegalTransition)
    assert str(refused.value) == (
        f"result {result_id} (Aspirate differential v1): verify refused: it was 'draft' when read, "
        "but another user changed it to 'verified' meanwhile"
    )

    with seeded.unit_of_work("reader") as uow:
        stored = results.get_result(uow, result_id)
        trail = audit.events(uow, "result", result_id)
    assert (stored.state, stored.verified_by) == (ResultState.VERIFIED, "dr.first")
    assert [(e.actor, e.action) for e in trail] == [("tech", "create"), ("dr.first", "verify")]


def test_second_concurrent_amendment_is_refused(
    seeded: Database, make_differential: MakeDiff
) -> None:
    result_id = _draft(seeded, make_differential)
    with seeded.unit_of_work("dr.a") as uow:
        results.verify_result(uow, result_id)

    def amend(uow: UnitOfWork) -> object:
        return results.amend_result(uow, result_id, make_differential(40), "recount")

    with (
        lost_race(seeded, result_id, ResultState.VERIFIED, "dr.first", amend) as late,
        pytest.raises(ConcurrentChange, match="'superseded'"),
    ):
        results.amend_result(late, result_id, make_differential(45), "another recount")

    with seeded.unit_of_work("reader") as uow:
        chain = results.history(uow, result_id)
    # One amendment, by the winner; the loser's value was never written.
    assert [(r.version, r.state, r.created_by) for r in chain] == [
        (1, ResultState.SUPERSEDED, "tech"),
        (2, ResultState.AMENDED, "dr.first"),
    ]
    assert chain[1].value == make_differential(40)


def test_cancel_racing_a_sign_out_is_refused(seeded: Database, make_differential: MakeDiff) -> None:
    result_id = _draft(seeded, make_differential)

    def sign_out(uow: UnitOfWork) -> object:
        return results.verify_result(uow, result_id)

    with (
        lost_race(seeded, result_id, ResultState.DRAFT, "dr.first", sign_out) as late,
        pytest.raises(ConcurrentChange, match="'verified'"),
    ):
        results.cancel_result(late, result_id, "entered in error")
    with seeded.unit_of_work("reader") as uow:
        assert results.get_result(uow, result_id).state is ResultState.VERIFIED


def test_sign_out_racing_a_cancel_is_refused(seeded: Database, make_differential: MakeDiff) -> None:
    result_id = _draft(seeded, make_differential)

    def cancel(uow: UnitOfWork) -> object:
        return results.cancel_result(uow, result_id, "wrong specimen")

    with (
        lost_race(seeded, result_id, ResultState.DRAFT, "tech.first", cancel) as late,
        pytest.raises(ConcurrentChange, match="'cancelled'"),
    ):
        results.verify_result(late, result_id)
    with seeded.unit_of_work("reader") as uow:
        stored = results.get_result(uow, result_id)
    assert (stored.state, stored.verified_by) == (ResultState.CANCELLED, None)


def test_edit_racing_a_sign_out_is_refused(seeded: Database, make_differential: MakeDiff) -> None:
    result_id = _draft(seeded, make_differential)

    def sign_out(uow: UnitOfWork) -> object:
        return results.verify_result(uow, result_id)

    with (
        lost_race(seeded, result_id, ResultState.DRAFT, "dr.first", sign_out) as late,
        pytest.raises(ConcurrentChange, match="edit refused: it was 'draft'"),
    ):
        results.edit_draft(late, result_id, make_differential(45))
    with seeded.unit_of_work("reader") as uow:
        stored = results.get_result(uow, result_id)
    # What was signed out is what the verifier saw.
    assert (stored.state, stored.value) == (ResultState.VERIFIED, make_differential(30))


def test_truly_simultaneous_sign_outs_one_wins(
    seeded: Database, make_differential: MakeDiff
) -> None:
    """Two threads, overlapping transactions: the second UPDATE waits for the first writer's
    lock (PostgreSQL row lock, SQLite database lock), then finds the draft gone."""
    result_id = _draft(seeded, make_differential)
    read = threading.Event()
    outcome: list[BaseException | None] = []

    def second_signer() -> None:
        try:
            with seeded.unit_of_work("dr.second") as uow:
                held = uow.session.get(ResultRow, result_id)
                assert held is not None and held.state == ResultState.DRAFT
                read.set()
                results.verify_result(uow, result_id)  # blocks until the first commits
            outcome.append(None)
        except BaseException as exc:  # reported to the main thread
            outcome.append(exc)
        finally:
            read.set()

    with seeded.unit_of_work("dr.first") as first:
        results.verify_result(first, result_id)  # written, not yet committed
        thread = threading.Thread(target=second_signer)
        thread.start()
        assert read.wait(10)
        # Let the second reach its UPDATE and wait on the lock; on a slow machine it may only get
        # there after the commit, which is the sequential race above and must be refused too.
        time.sleep(0.3)
    thread.join(20)
    assert not thread.is_alive()
    (error,) = outcome
    assert isinstance(error, ConcurrentChange), error
    with seeded.unit_of_work("reader") as uow:
        stored = results.get_result(uow, result_id)
    assert (stored.state, stored.verified_by) == (ResultState.VERIFIED, "dr.first")
