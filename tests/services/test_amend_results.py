"""``results.amend_results`` (the batch writer the demo loader uses) writes the rows and audit
events ``amend_result`` writes one at a time, and refuses each item as it would, on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from trephine.domain import AspirateDifferential
from trephine.errors import IllegalTransition, NotFound, TrephineError, ValidationError
from trephine.services import results
from trephine.store.database import Database, UnitOfWork
from trephine.store.tables import ResultRow

MakeDiff = Callable[..., AspirateDifferential]


class _Undo(Exception):
    pass


def _signed_out(seeded: Database, make_differential: MakeDiff) -> list[int]:
    with seeded.unit_of_work("lab") as uow:
        answers = results.record_results(
            uow,
            [
                ("A-1", make_differential(20), True),
                ("C-1", make_differential(30), True),
                ("B-1", make_differential(40), True),
            ],
        )
    return [a[0] for a in answers if not isinstance(a, TrephineError)]


def _written(uow: UnitOfWork, before: int) -> dict[str, Any]:
    """The result rows (new versions without their ids) and queued audit events of ``uow``."""
    uow.session.flush()
    rows = uow.session.execute(select(ResultRow.__table__).order_by(ResultRow.id)).all()
    new_ids = [row.id for row in rows if row.id > before]
    renumber = {i: f"new{n}" for n, i in enumerate(new_ids)}

    def plain(row: Any) -> tuple[Any, ...]:
        values = row._asdict()
        values["id"] = renumber.get(values["id"], values["id"])
        values.pop("created_at"), values.pop("verified_at"), values.pop("amended_at")
        return tuple(sorted(values.items()))

    events = [
        (e.action, e.entity, renumber.get(int(e.entity_id), e.entity_id), e.detail)
        for e in uow._audit_queue
    ]
    return {"rows": [plain(row) for row in rows], "events": events, "new": new_ids}


def test_batch_amendments_write_what_one_at_a_time_writes(
    seeded: Database, make_differential: MakeDiff
) -> None:
    ids = _signed_out(seeded, make_differential)
    items = [
        (ids[2], make_differential(41), "recount"),
        (ids[0], make_differential(21), "  miscounted blasts "),
        (ids[1], make_differential(29), "typo"),
    ]
    seen = []
    for batch in (False, True):
        try:
            with seeded.unit_of_work("reviewer") as uow:
                before = uow.session.scalar(select(func.max(ResultRow.id))) or 0
                if batch:
                    answers = results.amend_results(uow, items)
                    assert all(isinstance(a, tuple) for a in answers)
                else:
                    for result_id, value, reason in items:
                        results.amend_result(uow, result_id, value, reason)
                seen.append(_written(uow, before))
                raise _Undo
        except _Undo:
            pass
    one_by_one, batched = seen
    # The new versions' ids in the order of the items, as one at a time numbers them.
    assert len(batched["new"]) == 3 and batched["new"] == sorted(batched["new"])
    assert batched["rows"] == one_by_one["rows"]
    assert batched["events"] == one_by_one["events"]
    assert [e[0] for e in batched["events"]] == ["amend"] * 3


def test_batch_amendments_refuse_each_item_as_one_at_a_time_does(
    seeded: Database, make_differential: MakeDiff
) -> None:
    ids = _signed_out(seeded, make_differential)
    with seeded.unit_of_work("reviewer") as uow:
        answers = results.amend_results(
            uow,
            [
                (ids[0], make_differential(22), "recount"),
                (ids[0], make_differential(23), "again"),  # that version is superseded now
                (999_999, make_differential(22), "recount"),
                (ids[1], make_differential(30), "unchanged"),
                (ids[2], make_differential(44), "   "),
            ],
        )
    assert isinstance(answers[0], tuple)
    assert isinstance(answers[1], IllegalTransition)
    assert isinstance(answers[2], NotFound)
    assert isinstance(answers[3], ValidationError) and "differs" in str(answers[3])
    assert isinstance(answers[4], ValidationError) and "reason" in str(answers[4])
    with seeded.unit_of_work("reader") as uow:
        history = results.history(uow, ids[0])
    assert [(r.version, str(r.state)) for r in history] == [(1, "superseded"), (2, "amended")]
    assert history[1].amended_by == "reviewer"


def test_an_empty_batch_writes_nothing(seeded: Database) -> None:
    with seeded.unit_of_work("reviewer") as uow:
        assert results.amend_results(uow, []) == []
        assert uow._audit_queue == []
