"""The demo cohort's lab orders (demo/lab.py through services.orders.record_orders): every demo
procedure has an order whose studies went ordered → collected → received → in progress →
reported with plausible times, a few are still pending and some cancelled with a reason, so the
work list and turnaround show real figures; and the batch writer refuses a history the
lifecycle would not allow, naming the field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from trephine.demo.lab import REPORT_HOURS, order_for
from trephine.domain.orders import OrderRecord, StudyAction, StudyRecord, StudyStep
from trephine.errors import IllegalTransition, TrephineError, ValidationError
from trephine.services import open_database, orders
from trephine.store.database import Database
from trephine.testing.fixtures import LoadedCohort, load_demo_database


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoadedCohort, Database]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo-orders') / 'demo.db'}"
    loaded = load_demo_database(url, 60, seed=11)
    db = open_database(url)
    yield loaded, db
    db.dispose()


def test_every_demo_procedure_has_an_order_taken_through_its_steps(
    demo: tuple[LoadedCohort, Database],
) -> None:
    loaded, db = demo
    with db.unit_of_work("t") as uow:
        found = orders.list_orders(uow)
        pending = orders.worklist(uow)
        figures = orders.turnaround(uow)
    procedures = [v for sp in loaded.cohort for v in sp.visits if v.procedure is not None]
    assert len(found) == len(procedures)
    studies = [s for o in found for s in o.studies]
    states = {s.state for s in studies}
    assert states == {"reported", "cancelled"} | {s.state for s in pending}
    assert pending and {s.state for s in pending} <= {"collected", "received", "in progress"}
    cancelled = [s for s in studies if s.state == "cancelled"]
    assert cancelled and all(s.cancel_reason for s in cancelled)
    for s in studies:
        times = [step.at for step in s.steps if step.state != "ordered"]
        assert times == sorted(times), s
        if s.state == "reported":
            assert [step.state for step in s.steps] == [
                "ordered",
                "collected",
                "received",
                "in progress",
                "reported",
            ]
            assert s.specimen is not None
    # Turnaround per study lies inside the demo's synthetic ranges; the work list is oldest first.
    by_study = {g.key: g for g in figures.groups if g.by == "study"}
    assert {"blood-count", "morphology", "trephine", "iron-stain"} <= set(by_study)
    for code, group in by_study.items():
        low, high = REPORT_HOURS[code]
        assert low - 0.02 <= group.min_hours <= group.max_hours <= high + 0.02, code
    # The longest waiting first, by the clock the work list page shows ('Waiting'): an add-on
    # on a stored sample waits from its order, not from the years-old collection (sorted by
    # collection, a 10-day add-on on a 2020 sample led the list above 18-day studies).
    ordered = [s.at(orders.StudyState.ORDERED) for s in pending]
    collected = [s.at(orders.StudyState.COLLECTED) for s in pending]
    assert all(ordered) and all(collected)
    waits = [max(o, c) for o, c in zip(ordered, collected, strict=True) if o and c]
    assert waits == sorted(waits)
    assert waits == [s.waiting_since for s in pending]
    assert any(o and c and o > c for o, c in zip(ordered, collected, strict=True))  # add-ons


def test_the_demo_orders_are_the_same_for_the_same_seed(
    demo: tuple[LoadedCohort, Database],
) -> None:
    loaded, _ = demo
    sp = loaded.cohort[3]
    visit = next(v for v in sp.visits if v.procedure is not None)
    pid = sp.patient.external_id
    assert order_for(pid, visit, latest=False) == order_for(pid, visit, latest=False)
    assert order_for(pid, visit, latest=False) != order_for(
        loaded.cohort[4].patient.external_id, visit, latest=False
    )


def _first(db: Database) -> tuple[int, str, dt.datetime]:
    """A fresh procedure with an aspirate and no order, on the demo's first patient."""
    from trephine.domain import Procedure, Site, Specimen, SpecimenType
    from trephine.services import patients, procedures

    at = dt.datetime(2025, 6, 20, 9, 0, tzinfo=dt.UTC)
    with db.unit_of_work("t") as uow:
        pid = patients.list_patients(uow)[0].patient_id
        proc, _ = procedures.record_procedure(uow, pid, Procedure(at, Site.POSTERIOR_ILIAC_CREST))
        procedures.add_specimen(
            uow, pid, Specimen(f"HX-{proc}", SpecimenType.ASPIRATE, at, first_pull=True), proc
        )
    return proc, f"HX-{proc}", at


def test_a_history_the_lifecycle_refuses_is_refused_naming_the_field(
    demo: tuple[LoadedCohort, Database],
) -> None:
    _, db = demo
    proc, accession, at = _first(db)
    hour = dt.timedelta(hours=1)

    def record(*studies: StudyRecord) -> OrderRecord:
        return OrderRecord(at - hour, "dr.order", studies)

    collect = StudyStep(StudyAction.COLLECT, at, "nurse")
    bad = {
        "receive before collect": record(
            StudyRecord("morphology", (StudyStep(StudyAction.RECEIVE, at, "lab"),))
        ),
        "back in time": record(
            StudyRecord(
                "morphology",
                (collect, StudyStep(StudyAction.RECEIVE, at - hour, "lab")),
                specimen=accession,
            )
        ),
        "not its specimen": record(StudyRecord("morphology", (collect,), specimen="NOPE-1")),
        "reported with nothing signed out": record(
            StudyRecord(
                "morphology",
                (
                    collect,
                    StudyStep(StudyAction.RECEIVE, at + hour, "lab"),
                    StudyStep(StudyAction.REPORT, at + 2 * hour, "lab"),
                ),
                specimen=accession,
            )
        ),
        "cancel without a reason": record(
            StudyRecord("flow-mrd", (StudyStep(StudyAction.CANCEL, at, "lab"),))
        ),
        "unknown study": record(StudyRecord("bone-scan")),
    }
    with db.unit_of_work("t") as uow:
        answers = orders.record_orders(uow, [(proc, r) for r in bad.values()])
        assert orders.order_of_procedure(uow, proc) is None  # nothing written
    assert all(isinstance(a, TrephineError) for a in answers)
    got = dict(zip(bad, answers, strict=True))
    assert isinstance(got["receive before collect"], IllegalTransition)
    assert "allowed from ordered: collect, cancel" in str(got["receive before collect"])
    fields = {k: getattr(v, "field", None) for k, v in got.items()}
    assert fields["back in time"] == "received_at"
    assert fields["not its specimen"] == "specimen" and accession in str(got["not its specimen"])
    assert fields["reported with nothing signed out"] == "study"
    assert fields["cancel without a reason"] == "reason"
    assert fields["unknown study"] == "study" and "morphology" in str(got["unknown study"])
    assert all(
        isinstance(v, ValidationError) for k, v in got.items() if k != "receive before collect"
    )
    # A good history is written once; given again, it is left as it is.
    good = record(
        StudyRecord(
            "morphology",
            (collect, StudyStep(StudyAction.RECEIVE, at + hour, "lab")),
            specimen=accession,
        ),
        StudyRecord(
            "cytogenetics",
            (StudyStep(StudyAction.CANCEL, at + hour, "lab"),),
            cancel_reason="dry tap",
        ),
    )
    with db.unit_of_work("t") as uow:
        first, twice = orders.record_orders(uow, [(proc, good), (proc, good)])
        (again,) = orders.record_orders(uow, [(proc, good)])
        view = orders.order_of_procedure(uow, proc)
    assert not isinstance(first, TrephineError) and first[1] == "created"
    assert twice == again == (first[0], "unchanged")
    assert view is not None
    assert [(s.study, s.state, s.specimen) for s in view.studies] == [
        ("morphology", "received", accession),
        ("cytogenetics", "cancelled", None),
    ]
    assert view.studies[1].cancel_reason == "dry tap"


def test_demo_load_stays_one_batch_per_table(tmp_path: Path) -> None:
    """The orders of a group of patients go in with a few statements, not one per study."""
    from sqlalchemy import event

    url = f"sqlite:///{tmp_path / 'few.db'}"
    db = Database(url)
    db.upgrade()
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if "lab_study" in statement or "lab_order" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    from trephine.demo import generate_cohort
    from trephine.demo.load import load_cohort

    load_cohort(db, generate_cohort(20, 3))
    db.dispose()
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    # One group of 20 patients: the first order and study alone (their ids), then one
    # executemany each.
    assert len(inserts) == 4, inserts
