"""The demo's calendar moves as a whole (``trephine demo --as-of``; demo/calendar.py): by whole
weeks, every date and time of every record by the same offset, so that the reference calendar's
end falls in the week before the as-of day; nothing else changes — values, intervals, weekdays,
lab hours, checklists, criteria calls and alerts — and pending lab studies are days old, not
years."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from trephine.demo import COHORT_END, generate_cohort, synthetic_patient
from trephine.demo.calendar import (
    LAB_TAIL,
    REFERENCE_AS_OF,
    REFERENCE_END,
    calendar_end,
    check_shift,
    shift_for,
    shifted,
)
from trephine.demo.lab import RECENT_HOURS, REPORT_HOURS, order_for
from trephine.demo.planning import planning_for
from trephine.domain.orders import StudyAction
from trephine.errors import ValidationError
from trephine.services import open_database, orders
from trephine.services.assessments import assess_all
from trephine.store.database import Database
from trephine.store.tables import AlertRow, AssessmentRow, PatientRow
from trephine.testing.fixtures import load_demo_database

#: A fixed as-of day in the past (the tests never depend on today's date).
AS_OF = dt.date(2026, 6, 10)
SHIFT = shift_for(AS_OF)


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of a record (dataclass fields, tuple items, dict entries), with its path."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _leaves(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _leaves(item, f"{path}[{k!r}]")
    else:
        yield path, value


def test_the_shift_is_whole_weeks_ending_the_calendar_in_the_week_before_the_as_of_day() -> None:
    day = dt.date(2024, 1, 1)
    while day < dt.date(2029, 1, 1):
        shift = shift_for(day)
        assert shift % 7 == 0, day
        end = REFERENCE_END + dt.timedelta(days=shift)
        assert day - dt.timedelta(days=7) <= end <= day - dt.timedelta(days=1), day
        day += dt.timedelta(days=3)
    assert shift_for(REFERENCE_AS_OF) == 0
    assert calendar_end(SHIFT) == REFERENCE_END + dt.timedelta(days=SHIFT)
    # The calendar's end covers the lab's longest report after a biopsy before COHORT_END.
    assert REFERENCE_END == COHORT_END + LAB_TAIL
    assert dt.timedelta(hours=max(high for _, high in REPORT_HOURS.values())) < LAB_TAIL
    with pytest.raises(ValidationError, match="multiple of 7"):
        check_shift(10)
    with pytest.raises(ValidationError, match="multiple of 7"):
        synthetic_patient(0, shift_days=365)


@pytest.mark.parametrize("index", [0, 3, 5, 9, 11, 13, 17])
def test_a_moved_patient_differs_from_the_reference_one_only_by_the_offset(index: int) -> None:
    reference = synthetic_patient(index, seed=7)
    moved = synthetic_patient(index, seed=7, shift_days=SHIFT)
    assert moved.shift_days == SHIFT and reference.shift_days == 0
    by = dt.timedelta(days=SHIFT)
    pairs = list(zip(_leaves(reference), _leaves(moved), strict=True))
    dates = 0
    for (path, old), (path2, new) in pairs:
        assert path == path2
        if path == ".shift_days":
            continue
        if path == ".patient.birth_year":
            # The year of birth follows the moved birth date.
            assert moved.identity.birth_date is not None
            assert new == moved.identity.birth_date.year
            continue
        if isinstance(old, dt.date):
            dates += 1
            assert new == old + by, path
            assert new.weekday() == old.weekday(), path
        else:
            assert new == old, path
    assert dates > 20
    # Age on every date is what it was (the birth date moved with the rest).
    assert reference.identity.birth_date is not None and moved.identity.birth_date is not None
    assert moved.identity.birth_date - reference.identity.birth_date == by


def test_lab_orders_and_checklists_move_with_the_calendar_and_draw_the_same() -> None:
    reference = list(generate_cohort(40, seed=11))
    moved = list(generate_cohort(40, seed=11, shift_days=SHIFT))
    compared = pending = 0
    for ref, mov in zip(reference, moved, strict=True):
        pid = ref.patient.external_id
        marrows = [(a, b) for a, b in zip(ref.visits, mov.visits, strict=True) if a.procedure]
        for n, (a, b) in enumerate(marrows):
            latest = n == len(marrows) - 1
            before = order_for(pid, a, latest=latest)
            after = order_for(pid, b, latest=latest, shift_days=SHIFT)
            assert after == shifted(before, SHIFT)
            assert a.procedure is not None and b.procedure is not None
            assert planning_for(pid, b.procedure, SHIFT) == shifted(
                planning_for(pid, a.procedure), SHIFT
            )
            compared += 1
            if after is not None:
                pending += sum(s.steps[-1].action is not StudyAction.REPORT for s in after.studies)
    assert compared > 100 and pending


def test_pending_add_on_studies_are_asked_for_in_the_calendars_last_weeks() -> None:
    end = dt.datetime.combine(calendar_end(SHIFT), dt.time(), tzinfo=dt.UTC)
    asked = []
    for sp in generate_cohort(240, shift_days=SHIFT):
        marrows = [v for v in sp.visits if v.procedure is not None]
        record = order_for(sp.patient.external_id, marrows[-1], latest=True, shift_days=SHIFT)
        if record is None:
            continue
        asked += [s.ordered_at for s in record.studies if s.ordered_at is not None]
        for s in record.studies:
            assert all(step.at < end for step in s.steps)
    assert len(asked) >= 5
    assert all(end - dt.timedelta(hours=RECENT_HOURS) <= at < end for at in asked if at is not None)


# ------------------------------------------------------------------ loaded and assessed


def _calls(db: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with db.unit_of_work("t") as uow:
        s = uow.session
        calls = s.execute(
            select(
                PatientRow.external_id,
                AssessmentRow.assessed_on,
                AssessmentRow.call_kind,
                AssessmentRow.category,
                AssessmentRow.matched_rule,
                AssessmentRow.missing_inputs,
            )
            .join(PatientRow, PatientRow.id == AssessmentRow.patient_id)
            .order_by(AssessmentRow.id)
        ).all()
        alerts = s.execute(
            select(PatientRow.external_id, AlertRow.code, AlertRow.raised_on)
            .join(PatientRow, PatientRow.id == AlertRow.patient_id)
            .order_by(AlertRow.id)
        ).all()
    return [tuple(c) for c in calls], [tuple(a) for a in alerts]


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Database]]:
    """The same 14 patients (every scenario but the second copies), loaded and assessed on the
    reference calendar and moved to AS_OF."""
    base = tmp_path_factory.mktemp("demo-calendar")
    dbs = []
    for name, shift in (("reference", 0), ("moved", SHIFT)):
        url = f"sqlite:///{base / name}.db"
        load_demo_database(url, 14, seed=4, shift_days=shift)
        db = open_database(url)
        assess_all(db, "t")
        dbs.append(db)
    yield dbs[0], dbs[1]
    for db in dbs:
        db.dispose()


def test_criteria_calls_and_alerts_are_the_same_on_the_moved_calendar(
    twins: tuple[Database, Database],
) -> None:
    reference, moved = twins
    by = dt.timedelta(days=SHIFT)
    ref_calls, ref_alerts = _calls(reference)
    calls, alerts = _calls(moved)
    assert ref_calls and ref_alerts
    assert calls == [(p, on + by, *rest) for p, on, *rest in ref_calls]
    assert alerts == [(p, code, on + by) for p, code, on in ref_alerts]


def test_the_moved_database_ends_just_before_the_as_of_day_with_recent_pending_studies(
    twins: tuple[Database, Database],
) -> None:
    _, moved = twins
    with moved.unit_of_work("t") as uow:
        from trephine.store.tables import ProcedureRow

        latest = uow.session.scalar(select(func.max(ProcedureRow.performed_at)))
        pending = orders.worklist(uow)
        steps = [step.at for o in orders.list_orders(uow) for s in o.studies for step in s.steps]
    assert latest is not None
    assert latest.date() < AS_OF
    assert max(steps).date() < AS_OF
    assert pending
    for study in pending:
        # Waiting since the later of the order and the collection: days, not years.
        since = max(step.at for step in study.steps[:2])
        assert dt.timedelta(0) < dt.datetime.combine(AS_OF, dt.time(), tzinfo=dt.UTC) - since
        assert AS_OF - since.date() <= dt.timedelta(days=7 + RECENT_HOURS // 24)


def test_some_patients_on_therapy_have_their_next_marrow_booked_in_the_weeks_after_as_of() -> None:
    from trephine.demo.planning import upcoming_plan

    end = calendar_end(SHIFT)
    booked = 0
    for sp in generate_cohort(120, shift_days=SHIFT):
        plan = upcoming_plan(sp)
        assert plan == upcoming_plan(sp)  # its own seeded stream
        if plan is None:
            continue
        booked += 1
        assert any(line.end is None for line in sp.therapy_lines)  # still on therapy
        day = plan.planned_for.date()
        assert end + dt.timedelta(days=7) <= day <= end + dt.timedelta(days=23), day
        assert day.weekday() < 5
        # Booked after every biopsy of the patient, and after the as-of day's week.
        assert all(v.on < day for v in sp.visits)
        assert day > AS_OF - dt.timedelta(days=1)
    assert 5 <= booked <= 30
