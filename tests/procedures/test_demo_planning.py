"""The demo cohort carries a checklist (evaluated) and consent for every procedure, from an RNG
stream of its own, so the report shows real numbers and the rest of the demo does not shift."""

from __future__ import annotations

from pathlib import Path

from trephine.demo.planning import planning_for
from trephine.services import open_database, procedure_plans, procedure_report
from trephine.testing.fixtures import load_demo_database


def test_every_demo_procedure_has_its_plan_checklist_and_consent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    loaded = load_demo_database(url, 20, seed=7)
    db = open_database(url)
    with db.unit_of_work("t") as uow:
        plans = procedure_plans.list_plans(uow)
        report = procedure_report.procedure_report(uow, "operator")
    db.dispose()
    procedures = [v.procedure for sp in loaded.cohort for v in sp.visits if v.procedure]
    assert len(plans) == len(procedures) == report.overall.procedures
    assert all(p.status.value == "done" and p.checklist is not None for p in plans)
    assert all(p.consent is not None or p.emergency_reason for p in plans)
    assert report.overall.complications.x > 0 and report.overall.adequacy.n > 0
    decisions = {p.checklist.call.decision for p in plans if p.checklist}
    assert "PROCEED" in decisions and decisions <= {
        "PROCEED",
        "PROCEED_WITH_CAUTION",
        "REVIEW_REQUIRED",
    }
    first = loaded.cohort[0]
    proc = next(v.procedure for v in first.visits if v.procedure)
    assert proc is not None
    pid = first.patient.external_id
    assert planning_for(pid, proc) == planning_for(pid, proc)  # its own seeded stream
