"""Lab orders and specimen tracking (issue 10 §1): the study lifecycle, who and when at every
step, the work lists, and turnaround figures checked against hand-computed ones."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from trephine.cli.main import app as cli
from trephine.domain import (
    AspirateDifferential,
    Procedure,
    Site,
    Specimen,
    SpecimenType,
)
from trephine.domain.orders import STUDY_TRANSITIONS, Section, StudyAction, StudyState
from trephine.domain.results import FLOW_MRD, FlowMethod, FlowMRD
from trephine.errors import IllegalTransition, NotFound, ValidationError
from trephine.services import orders, procedures, results
from trephine.store.database import Database
from trephine.testing.report_seed import BIOPSY_AT, differential

UTC = dt.UTC


def flow_mrd(percent: str) -> FlowMRD:
    return FlowMRD(FLOW_MRD.parse(percent), FlowMethod.LAIP, events_acquired=500_000)


def _procedure_id(database: Database) -> int:
    with database.unit_of_work("t") as uow:
        found = procedures.procedure_id_at(uow, "P001", BIOPSY_AT)
    assert found is not None
    return found


def _procedure_id_at(uow, accession: str) -> int:  # type: ignore[no-untyped-def]
    from trephine.store.tables import SpecimenRow

    found = uow.session.scalar(
        select(SpecimenRow.procedure_id).where(SpecimenRow.accession == accession)
    )
    assert found is not None
    return int(found)


def _at(database: Database, when: dt.datetime) -> Database:
    """The same database with its clock fixed at ``when`` (sign-outs stamped then)."""
    return Database(database.url, clock=lambda: when)


def test_a_study_moves_through_its_lifecycle_with_who_and_when(seeded: Database) -> None:
    proc = _procedure_id(seeded)
    with seeded.unit_of_work("dr.order") as uow:
        order = orders.order_studies(uow, proc, ["morphology", "flow-mrd"], indication="day 28")
    morph, flow = order.studies
    assert (morph.study, morph.state, morph.section) == ("morphology", "ordered", "morphology")
    assert morph.allowed == ("collect", "cancel")
    with seeded.unit_of_work("nurse.kay") as uow:
        collected = orders.advance(uow, morph.id, StudyAction.COLLECT)
    # The aspirate is the procedure's one specimen of the morphology study's type.
    assert collected.specimen == "A-1"
    assert collected.at(StudyState.COLLECTED) == BIOPSY_AT
    received_at = BIOPSY_AT + dt.timedelta(hours=2)
    with seeded.unit_of_work("lab.sam") as uow:
        received = orders.advance(uow, morph.id, StudyAction.RECEIVE, at=received_at)
    assert [(s.state, s.by) for s in received.steps] == [
        ("ordered", "dr.order"),
        ("collected", "nurse.kay"),
        ("received", "lab.sam"),
    ]
    assert received.allowed == ("start", "report", "cancel")
    # Receiving twice is refused, naming what is allowed from "received".
    with pytest.raises(IllegalTransition) as refused, seeded.unit_of_work("lab.sam") as uow:
        orders.advance(uow, morph.id, StudyAction.RECEIVE)
    assert "allowed from received: start, report, cancel" in str(refused.value)
    # Signing out a differential on the aspirate reports the study, as the signer, at sign-out.
    with seeded.unit_of_work("lab.sam") as uow:
        stored, _ = results.record_result(uow, "A-1", differential(30))
    signed_at = dt.datetime(2024, 3, 5, 11, 0, tzinfo=UTC)
    clocked = _at(seeded, signed_at)
    with clocked.unit_of_work("dr.patel") as uow:
        results.verify_result(uow, stored.id)
    clocked.dispose()
    with seeded.unit_of_work("t") as uow:
        done = orders.get_study(uow, morph.id)
        still = orders.get_study(uow, flow.id)
    assert done.state == "reported"
    assert done.steps[-1] == orders.Step("reported", signed_at, "dr.patel")
    assert done.allowed == ()
    assert still.state == "ordered"  # a differential does not report flow MRD


def test_every_step_is_audited(seeded: Database) -> None:
    proc = _procedure_id(seeded)
    with seeded.unit_of_work("dr.order") as uow:
        study = orders.order_studies(uow, proc, ["cytogenetics"]).studies[0]
        orders.advance(uow, study.id, StudyAction.COLLECT)
        orders.advance(uow, study.id, StudyAction.CANCEL, reason="no metaphases possible: clotted")
    with seeded.unit_of_work("t") as uow:
        from sqlalchemy import select

        from trephine.store.tables import AuditEventRow

        uow.write_audit()
        rows = list(
            uow.session.scalars(
                select(AuditEventRow)
                .where(
                    AuditEventRow.entity == "lab_study", AuditEventRow.entity_id == str(study.id)
                )
                .order_by(AuditEventRow.id)
            )
        )
    assert [(r.action, r.actor) for r in rows] == [
        ("order", "dr.order"),
        ("collect", "dr.order"),
        ("cancel", "dr.order"),
    ]
    assert rows[-1].detail["reason"] == "no metaphases possible: clotted"
    assert rows[1].detail["specimen"] == "A-1"


def test_bad_steps_are_refused_with_what_is_allowed(seeded: Database) -> None:
    proc = _procedure_id(seeded)
    with seeded.unit_of_work("dr.order") as uow:
        order = orders.order_studies(uow, proc, ["flow-mrd", "ngs", "iron-stain"])
    flow, ngs, iron = order.studies
    with pytest.raises(ValidationError) as bad, seeded.unit_of_work("x") as uow:
        orders.order_studies(uow, proc, ["bone scan"])
    assert "chimerism" in str(bad.value) and "morphology" in str(bad.value)
    with pytest.raises(NotFound), seeded.unit_of_work("x") as uow:
        orders.order_studies(uow, 99999, ["ngs"])
    with pytest.raises(IllegalTransition) as early, seeded.unit_of_work("x") as uow:
        orders.advance(uow, flow.id, StudyAction.RECEIVE)
    assert "allowed from ordered: collect, cancel" in str(early.value)
    with pytest.raises(ValidationError) as wrong, seeded.unit_of_work("x") as uow:
        orders.advance(uow, flow.id, StudyAction.COLLECT, specimen="Z-9")
    assert "A-1, B-1, C-1" in str(wrong.value)
    with pytest.raises(ValidationError, match="reason"), seeded.unit_of_work("x") as uow:
        orders.advance(uow, ngs.id, StudyAction.CANCEL, reason="  ")
    future = dt.datetime.now(UTC) + dt.timedelta(days=1)
    with pytest.raises(ValidationError, match="not after now"), seeded.unit_of_work("x") as uow:
        orders.advance(uow, ngs.id, StudyAction.COLLECT, at=future)
    with seeded.unit_of_work("x") as uow:
        orders.advance(uow, iron.id, StudyAction.COLLECT)  # the core: C-1
        assert orders.get_study(uow, iron.id).specimen == "C-1"
    before = BIOPSY_AT - dt.timedelta(hours=1)
    with pytest.raises(ValidationError, match="previous step"), seeded.unit_of_work("x") as uow:
        orders.advance(uow, iron.id, StudyAction.RECEIVE, at=before)
    with seeded.unit_of_work("x") as uow:
        orders.advance(uow, iron.id, StudyAction.RECEIVE, at=BIOPSY_AT + dt.timedelta(hours=1))
    with (
        pytest.raises(ValidationError, match="nothing signed out"),
        seeded.unit_of_work("x") as uow,
    ):
        orders.advance(uow, iron.id, StudyAction.REPORT)
    # Ordering again adds nothing and keeps the states.
    with seeded.unit_of_work("x") as uow:
        again = orders.order_studies(uow, proc, ["iron-stain", "chimerism"])
    assert [(s.study, s.state) for s in again.studies] == [
        ("flow-mrd", "ordered"),
        ("ngs", "ordered"),
        ("iron-stain", "received"),
        ("chimerism", "ordered"),
    ]


def test_the_transition_table_is_the_whole_lifecycle() -> None:
    # Each non-final state can be cancelled; reported and cancelled are final.
    cancel = STUDY_TRANSITIONS[StudyAction.CANCEL].sources
    assert StudyState.REPORTED not in cancel and StudyState.CANCELLED not in cancel
    reachable = {t.target for t in STUDY_TRANSITIONS.values()} | {StudyState.ORDERED}
    assert reachable == set(StudyState)


def _procedure_with_aspirate(database: Database, at: dt.datetime, accession: str) -> int:
    with database.unit_of_work("seed") as uow:
        proc, _ = procedures.record_procedure(
            uow, "P001", Procedure(at, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, "P001", Specimen(accession, SpecimenType.ASPIRATE, at, first_pull=True), proc
        )
    return proc


def _run_study(
    database: Database,
    procedure: int,
    study: str,
    value: AspirateDifferential | FlowMRD,
    accession: str,
    signed_at: dt.datetime,
) -> int:
    with database.unit_of_work("lab") as uow:
        order = orders.order_studies(uow, procedure, [study])
        sid = next(s.id for s in order.studies if s.study == study)
        collected = orders.advance(uow, sid, StudyAction.COLLECT, specimen=accession)
        at = collected.at(StudyState.COLLECTED)
        assert at is not None
        orders.advance(uow, sid, StudyAction.RECEIVE, at=at + dt.timedelta(minutes=30))
        stored, _ = results.record_result(uow, accession, value)
    clocked = _at(database, signed_at)
    with clocked.unit_of_work("dr.sign") as uow:
        results.verify_result(uow, stored.id)
    clocked.dispose()
    return sid


@pytest.fixture
def turnaround_fixture(seeded: Database) -> Database:
    """Three marrows, five studies, sign-out times chosen so the figures are easy by hand:

    | marrow collected    | study      | signed out          | hours | month   |
    |---------------------|------------|---------------------|-------|---------|
    | 2024-03-04 09:30    | morphology | 2024-03-05 09:30    | 24    | 2024-03 |
    | 2024-03-04 09:30    | flow-mrd   | 2024-03-06 21:30    | 60    | 2024-03 |
    | 2024-03-20 08:00    | morphology | 2024-03-20 20:00    | 12    | 2024-03 |
    | 2024-03-20 08:00    | flow-mrd   | 2024-04-01 08:00    | 288   | 2024-04 |
    | 2024-04-02 10:00    | morphology | 2024-04-04 16:00    | 54    | 2024-04 |
    """
    first = _procedure_id(seeded)
    second_at = dt.datetime(2024, 3, 20, 8, 0, tzinfo=UTC)
    third_at = dt.datetime(2024, 4, 2, 10, 0, tzinfo=UTC)
    second = _procedure_with_aspirate(seeded, second_at, "A-2")
    third = _procedure_with_aspirate(seeded, third_at, "A-3")
    t = dt.datetime
    _run_study(
        seeded, first, "morphology", differential(30), "A-1", t(2024, 3, 5, 9, 30, tzinfo=UTC)
    )
    _run_study(seeded, first, "flow-mrd", flow_mrd("0.5"), "A-1", t(2024, 3, 6, 21, 30, tzinfo=UTC))
    _run_study(
        seeded, second, "morphology", differential(8), "A-2", t(2024, 3, 20, 20, 0, tzinfo=UTC)
    )
    _run_study(seeded, second, "flow-mrd", flow_mrd("0.02"), "A-2", t(2024, 4, 1, 8, 0, tzinfo=UTC))
    _run_study(
        seeded, third, "morphology", differential(2), "A-3", t(2024, 4, 4, 16, 0, tzinfo=UTC)
    )
    # A pending study (no final time) and a cancelled one do not count.
    with seeded.unit_of_work("lab") as uow:
        pending = orders.order_studies(uow, third, ["cytogenetics", "ngs"]).studies
        orders.advance(uow, pending[-2].id, StudyAction.COLLECT)
        orders.advance(uow, pending[-1].id, StudyAction.CANCEL, reason="sample insufficient")
    return seeded


HAND_COMPUTED = [
    # by, key, n, median, p90 (nearest rank: the ceil(0.9 n)-th smallest), min, max
    ("study", "flow-mrd", 2, 174.0, 288.0, 60.0, 288.0),
    ("study", "morphology", 3, 24.0, 54.0, 12.0, 54.0),
    ("section", "flow cytometry", 2, 174.0, 288.0, 60.0, 288.0),
    ("section", "morphology", 3, 24.0, 54.0, 12.0, 54.0),
    ("month", "2024-03", 3, 24.0, 60.0, 12.0, 60.0),
    ("month", "2024-04", 2, 171.0, 288.0, 54.0, 288.0),
]


def test_turnaround_matches_hand_computed_figures(turnaround_fixture: Database) -> None:
    with turnaround_fixture.unit_of_work("t") as uow:
        found = orders.turnaround(uow)
    assert found.studies == 5
    assert [
        (g.by, g.key, g.n, g.median_hours, g.p90_hours, g.min_hours, g.max_hours)
        for g in found.groups
    ] == HAND_COMPUTED
    # No report issued yet: each study counts at the sign-out of its results.
    assert "marrow report" in found.final_time and "sign-out" in found.final_time
    with turnaround_fixture.unit_of_work("t") as uow:
        april = orders.turnaround(uow, since=dt.date(2024, 4, 1))
    assert april.studies == 2


def test_the_final_report_sets_the_final_time(turnaround_fixture: Database) -> None:
    """The first marrow's report: a preliminary (does not count), then the final issued at
    2024-03-07 09:30, 72 h after collection — both of its studies now end there; the other
    marrows, without a final report, still count at sign-out."""
    from trephine.domain.report import ReportStatus
    from trephine.services import reports

    first = _procedure_id(turnaround_fixture)
    for status, when in (
        (ReportStatus.PRELIMINARY, dt.datetime(2024, 3, 5, 12, 0, tzinfo=UTC)),
        (ReportStatus.FINAL, dt.datetime(2024, 3, 7, 9, 30, tzinfo=UTC)),
    ):
        clocked = _at(turnaround_fixture, when)
        with clocked.unit_of_work("dr.path") as uow:
            reports.issue_report(uow, first, status)
        clocked.dispose()
    with turnaround_fixture.unit_of_work("t") as uow:
        found = orders.turnaround(uow)
    got = {(g.by, g.key): (g.n, g.median_hours, g.min_hours, g.max_hours) for g in found.groups}
    # morphology 72 (was 24), 12, 54; flow MRD 72 (was 60), 288.
    assert got[("study", "morphology")] == (3, 54.0, 12.0, 72.0)
    assert got[("study", "flow-mrd")] == (2, 180.0, 72.0, 288.0)
    assert got[("month", "2024-03")] == (3, 72.0, 12.0, 72.0)
    with turnaround_fixture.unit_of_work("t") as uow:
        again = orders.turnaround(uow, since=dt.date(2024, 3, 7), until=dt.date(2024, 3, 7))
        order = orders.order_of_procedure(uow, first)
        assert order is not None
        finals = {s.study: orders.final_time_of(uow, s.id) for s in order.studies}
        second = orders.order_of_procedure(uow, _procedure_id_at(uow, "A-2"))
        assert second is not None
        unreported = orders.final_time_of(uow, second.studies[0].id)
    assert again.studies == 2
    # One study's page says the same: 72 h to the issued report.
    assert finals["morphology"] == orders.FinalTime(
        dt.datetime(2024, 3, 7, 9, 30, tzinfo=UTC), "marrow report", 72.0
    )
    assert unreported is not None and unreported.source == "sign-out"
    assert unreported.hours == 12.0


def test_the_final_time_seam_takes_another_source(turnaround_fixture: Database) -> None:
    """A final report issued a day after sign-out (as the integrated report will) moves every
    figure by 24 h: the seam is the only thing that changes."""

    def a_day_later(uow, rows):  # type: ignore[no-untyped-def]
        """Final report a day after sign-out (test)."""
        return {r.id: r.reported_at + dt.timedelta(days=1) for r in rows}

    with turnaround_fixture.unit_of_work("t") as uow:
        found = orders.turnaround(uow, final_times=a_day_later)
    by_study = {g.key: g for g in found.groups if g.by == "study"}
    assert by_study["morphology"].median_hours == 48.0
    assert found.final_time.startswith("Final report a day after sign-out")


def test_worklist_is_pending_studies_oldest_first_per_section(turnaround_fixture: Database) -> None:
    proc = _procedure_id(turnaround_fixture)
    with turnaround_fixture.unit_of_work("lab") as uow:
        later = orders.order_studies(uow, proc, ["chimerism", "trephine"]).studies
        orders.advance(uow, later[-1].id, StudyAction.COLLECT)
        everything = orders.worklist(uow)
        molecular = orders.worklist(uow, Section.MOLECULAR)
        morphology = orders.worklist(uow, Section.MORPHOLOGY)
    # Collected studies by how long they have waited: both were asked for after their marrow
    # (the 2024-03-04 core, the 2024-04-02 aspirate), so each waits from its order and the
    # cytogenetics asked for first leads; then those not yet collected by order time.
    assert [(s.study, s.state) for s in everything] == [
        ("cytogenetics", "collected"),
        ("trephine", "collected"),
        ("chimerism", "ordered"),
    ]
    assert everything[0].waiting_since < everything[1].waiting_since
    assert molecular == []  # the NGS study was cancelled
    assert [s.study for s in morphology] == ["trephine"]


def test_cli_orders_and_turnaround(turnaround_fixture: Database, tmp_path: object) -> None:
    runner = CliRunner()
    url = turnaround_fixture.url
    proc = _procedure_id(turnaround_fixture)
    made = runner.invoke(
        cli,
        [
            "orders",
            "create",
            str(proc),
            "--study",
            "chimerism",
            "--as",
            "dr.cli",
            "--database-url",
            url,
        ],
    )
    assert made.exit_code == 0, made.output
    assert "chimerism — ordered by dr.cli" in made.output
    ids = runner.invoke(
        cli, ["orders", "list", "--study", "chimerism", "--ids", "--database-url", url]
    )
    assert ids.exit_code == 0, ids.output
    study_id = ids.output.split()[0]
    early = runner.invoke(
        cli, ["orders", "receive", study_id, "--as", "lab.cli", "--database-url", url]
    )
    assert early.exit_code == 2
    assert "allowed from ordered: collect, cancel" in early.output
    ok = runner.invoke(
        cli, ["orders", "collect", study_id, "--as", "lab.cli", "--database-url", url]
    )
    assert ok.exit_code == 0 and "collected" in ok.output and "A-1" in ok.output
    shown = runner.invoke(cli, ["orders", "show", study_id, "--json", "--database-url", url])
    doc = json.loads(shown.output)
    assert [s["by"] for s in doc["steps"]] == ["dr.cli", "lab.cli"]
    listed = runner.invoke(
        cli,
        ["lab", "worklist", "--section", "transplant immunology", "--json", "--database-url", url],
    )
    assert [s["study"] for s in json.loads(listed.output)] == ["chimerism"]
    # The text line says how long the study has waited: from its order, here just now, though
    # its sample was collected in 2024 (an add-on's line showed only the 2024 collection).
    text = runner.invoke(
        cli, ["lab", "worklist", "--section", "transplant immunology", "--database-url", url]
    )
    assert text.exit_code == 0 and "collected by lab.cli at 2024-" in text.output
    assert "; waiting 0 h" in text.output, text.output
    bad = runner.invoke(cli, ["lab", "worklist", "--section", "haematology", "--database-url", url])
    assert bad.exit_code == 2 and "cytogenetics" in bad.output
    tat = runner.invoke(cli, ["lab", "turnaround", "--json", "--database-url", url])
    assert tat.exit_code == 0, tat.output
    groups = json.loads(tat.output)["groups"]
    assert [
        (
            g["by"],
            g["key"],
            g["n"],
            g["median_hours"],
            g["p90_hours"],
            g["min_hours"],
            g["max_hours"],
        )
        for g in groups
    ] == HAND_COMPUTED
    text = runner.invoke(cli, ["lab", "turnaround", "--database-url", url])
    assert "median   174.0 h" in text.output and "2024-04" in text.output


def test_an_order_history_is_recorded_in_one_batch(seeded: Database) -> None:
    """``record_orders`` (the demo's writer) on both databases: the ids it chooses before the
    insert are the rows' ids, each study as far as its steps went, audited once per study."""
    from trephine.domain.orders import OrderRecord, StudyRecord, StudyStep
    from trephine.services import audit

    proc = _procedure_id(seeded)
    hour = dt.timedelta(hours=1)
    record = OrderRecord(
        BIOPSY_AT - hour,
        "dr.order",
        (
            StudyRecord(
                "morphology",
                (
                    StudyStep(StudyAction.COLLECT, BIOPSY_AT, "nurse.kay"),
                    StudyStep(StudyAction.RECEIVE, BIOPSY_AT + hour, "lab.sam"),
                    StudyStep(StudyAction.START, BIOPSY_AT + 2 * hour, "lab.sam"),
                ),
                specimen="A-1",
            ),
            StudyRecord(
                "cytogenetics",
                (StudyStep(StudyAction.CANCEL, BIOPSY_AT + hour, "lab.sam"),),
                cancel_reason="dry tap: no aspirate for culture",
            ),
        ),
        indication="day 28 response",
    )
    with seeded.unit_of_work("import") as uow:
        ((order_id, outcome),) = orders.record_orders(uow, [(proc, record)])  # type: ignore[misc]
    assert outcome == "created"
    with seeded.unit_of_work("t") as uow:
        view = orders.get_order(uow, order_id)
        events = audit.events(uow, "lab_study")
    morph, cyto = view.studies
    assert (view.procedure_id, view.ordered_by, view.indication) == (
        proc,
        "dr.order",
        "day 28 response",
    )
    assert [(s.state, s.by, s.at) for s in morph.steps] == [
        ("ordered", "dr.order", BIOPSY_AT - hour),
        ("collected", "nurse.kay", BIOPSY_AT),
        ("received", "lab.sam", BIOPSY_AT + hour),
        ("in progress", "lab.sam", BIOPSY_AT + 2 * hour),
    ]
    assert morph.specimen == "A-1" and morph.allowed == ("report", "cancel")
    assert cyto.state == "cancelled" and cyto.cancel_reason == "dry tap: no aspirate for culture"
    assert [(e.action, e.entity_id) for e in events] == [
        ("record", str(morph.id)),
        ("record", str(cyto.id)),
    ]
    # The lifecycle goes on from there as for any study.
    with seeded.unit_of_work("lab.sam") as uow:
        moved = orders.advance(uow, morph.id, StudyAction.CANCEL, reason="duplicate order")
    assert moved.state == "cancelled"
