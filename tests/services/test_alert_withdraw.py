"""A clinician withdraws an open alert with a note; who withdrew it is recorded and audited."""

from __future__ import annotations

import datetime as dt

import pytest

from trephine.errors import Conflict, NotFound, ValidationError
from trephine.services import alerts, audit
from trephine.store.database import Database


def _raise(db: Database) -> int:
    with db.unit_of_work("assess") as uow:
        alert, _ = alerts.raise_alert(
            uow, "P001", dt.date(2024, 3, 4), "MRD_CONVERSION", "flow MRD", "ELN2021", "0"
        )
    return alert.id


def test_withdraw_records_note_and_user_and_refuses_a_second_outcome(seeded: Database) -> None:
    alert_id = _raise(seeded)
    with seeded.unit_of_work("dr.lee") as uow:
        done = alerts.withdraw_alert(uow, alert_id, "  sample was mislabelled  ")
    assert done.withdrawn_at is not None and not done.open
    assert done.withdrawn_reason == "sample was mislabelled"
    assert done.withdrawn_by == "dr.lee"
    with seeded.unit_of_work("dr.okafor") as uow:
        with pytest.raises(Conflict):
            alerts.withdraw_alert(uow, alert_id, "again")
        with pytest.raises(NotFound):
            alerts.withdraw_alert(uow, alert_id + 99, "no such alert")
    with seeded.unit_of_work("reader") as uow:
        events = [e for e in audit.events(uow, entity="alert") if e.action == "withdraw"]
    assert [(e.actor, e.detail["note"]) for e in events] == [("dr.lee", "sample was mislabelled")]


def test_withdraw_needs_a_note_and_an_unacknowledged_alert(seeded: Database) -> None:
    alert_id = _raise(seeded)
    with seeded.unit_of_work("dr.lee") as uow, pytest.raises(ValidationError) as e:
        alerts.withdraw_alert(uow, alert_id, "   ")
    assert e.value.field == "note"
    with seeded.unit_of_work("dr.lee") as uow:
        alerts.acknowledge_alert(uow, alert_id, "seen")
    with seeded.unit_of_work("dr.okafor") as uow, pytest.raises(Conflict):
        alerts.withdraw_alert(uow, alert_id, "too late")


def test_migration_0013_moves_the_withdrawer_out_of_the_reason(database_url: str) -> None:
    """Rows written before 0013 carry 'NOTE (withdrawn by USER)'; the upgrade splits them and
    the downgrade puts the words back."""
    from sqlalchemy import text

    db = Database(database_url)
    try:
        db.upgrade("0012")
        with db.engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO patient (external_id, sex, created_at) "
                    "VALUES ('P9', 'female', CURRENT_TIMESTAMP)"
                )
            )
            pid = c.execute(text("SELECT id FROM patient WHERE external_id = 'P9'")).scalar_one()
            for code, reason in (
                ("A", "sample mislabelled (withdrawn by dr.lee)"),
                ("B", "no longer raised by the latest assessment"),
            ):
                c.execute(
                    text(
                        "INSERT INTO alert (patient_id, raised_on, code, message, ruleset, "
                        "software_version, raised_at, raised_by, withdrawn_at, withdrawn_reason) "
                        "VALUES (:p, '2024-01-02', :code, 'm', 'ELN2022', '0', "
                        "CURRENT_TIMESTAMP, 'assess', CURRENT_TIMESTAMP, :reason)"
                    ),
                    {"p": pid, "code": code, "reason": reason},
                )
        db.upgrade()
        with db.engine.connect() as c:
            rows = c.execute(
                text("SELECT code, withdrawn_reason, withdrawn_by FROM alert ORDER BY code")
            ).all()
        assert [tuple(r) for r in rows] == [
            ("A", "sample mislabelled", "dr.lee"),
            ("B", "no longer raised by the latest assessment", None),
        ]
        db.downgrade("0012")
        with db.engine.connect() as c:
            back = c.execute(text("SELECT withdrawn_reason FROM alert ORDER BY code")).scalars()
            assert list(back) == [
                "sample mislabelled (withdrawn by dr.lee)",
                "no longer raised by the latest assessment",
            ]
    finally:
        db.dispose()


def test_lists_by_status_patient_and_page(seeded: Database) -> None:
    """list_alerts (one statement built per status and shape) filters, orders newest first by
    clinical date then id, pages and picks one patient's, as count_alerts counts."""
    from trephine.domain import Patient, Sex
    from trephine.services import patients

    with seeded.unit_of_work("assess") as uow:
        patients.register_patient(uow, Patient("P002", Sex.MALE, 1950))
        made: dict[tuple[str, int], int] = {}
        for day in (3, 1, 2, 5, 4):
            for pid in ("P001", "P002"):
                alert, _ = alerts.raise_alert(
                    uow, pid, dt.date(2024, 3, day), f"CODE_{day}", "m", "ELN2021", "0"
                )
                made[pid, day] = alert.id
    with seeded.unit_of_work("dr.lee") as uow:
        alerts.acknowledge_alert(uow, made["P001", 2])
        alerts.acknowledge_alert(uow, made["P002", 5], "seen")
        alerts.withdraw_alert(uow, made["P001", 4], "mislabelled")
    closed = {
        "acknowledged": {made["P001", 2], made["P002", 5]},
        "withdrawn": {made["P001", 4]},
    }
    newest_first = [made[p, d] for d in (5, 4, 3, 2, 1) for p in ("P002", "P001")]
    expected = {
        "all": newest_first,
        "open": [i for i in newest_first if i not in closed["acknowledged"] | closed["withdrawn"]],
        "acknowledged": [i for i in newest_first if i in closed["acknowledged"]],
        "withdrawn": [i for i in newest_first if i in closed["withdrawn"]],
    }
    with seeded.unit_of_work("reader") as uow:
        for status, ids in expected.items():
            listed = alerts.list_alerts(uow, status=status)
            assert [a.id for a in listed] == ids, status
            assert alerts.count_alerts(uow, status=status) == len(ids)
            assert [a.id for a in alerts.list_alerts(uow, status=status, limit=2, offset=1)] == (
                ids[1:3]
            )
            mine = [i for i in ids if i in {made["P001", d] for d in range(1, 6)}]
            assert [a.id for a in alerts.list_alerts(uow, patient="P001", status=status)] == mine
            assert {
                a.patient_id for a in alerts.list_alerts(uow, patient="P002", status=status)
            } <= {"P002"}
        assert [a.id for a in alerts.list_alerts(uow, open_only=True, offset=5)] == (
            expected["open"][5:]
        )
        (seen,) = alerts.list_alerts(uow, patient="P002", status="acknowledged")
        assert (seen.acknowledged_by, seen.acknowledgement_note) == ("dr.lee", "seen")
        with pytest.raises(ValidationError):
            alerts.list_alerts(uow, status="closed")
        with pytest.raises(NotFound):
            alerts.list_alerts(uow, patient="P404")
