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
