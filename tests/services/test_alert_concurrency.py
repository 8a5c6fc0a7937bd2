"""Many people acknowledging the same alert at once: exactly one is recorded, every other one
is refused (the defect: all were told "acknowledged" and only the last name was kept)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from trephine.domain import Patient, Sex
from trephine.errors import Conflict
from trephine.services import alerts, audit, patients
from trephine.store.database import Database
from trephine.store.tables import AlertRow

#: Concurrent acknowledgers; below the connection pool's limit (5 + 10 overflow) because each
#: holds its connection while waiting at the barrier.
ACKNOWLEDGERS = 12


def test_concurrent_acknowledgers_one_wins_the_rest_are_refused(database: Database) -> None:
    with database.unit_of_work("assess") as uow:
        patients.register_patient(uow, Patient("ACK-2", Sex.FEMALE, 1970))
        alert, _ = alerts.raise_alert(
            uow, "ACK-2", dt.date(2024, 5, 1), "MRD_CONVERSION", "MRD back", "ELN2022", "t"
        )
    everyone_read = threading.Barrier(ACKNOWLEDGERS, timeout=60)
    told: dict[str, str] = {}

    def acknowledge(name: str) -> None:
        try:
            with database.unit_of_work(name) as uow:
                # Everyone has read the alert as open before anyone writes: the interleaving
                # in which setting the columns from what was read loses updates.
                seen = uow.session.get(AlertRow, alert.id)
                assert seen is not None and seen.acknowledged_at is None
                everyone_read.wait()
                alerts.acknowledge_alert(uow, alert.id, f"seen by {name}")
            told[name] = "acknowledged"
        except Conflict as refused:
            told[name] = f"refused: {refused}"

    threads = [
        threading.Thread(target=acknowledge, args=(f"dr.{n:02d}",)) for n in range(ACKNOWLEDGERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    winners = [name for name, said in told.items() if said == "acknowledged"]
    assert len(told) == ACKNOWLEDGERS and len(winners) == 1, told
    (winner,) = winners
    for name, said in told.items():
        if name != winner:
            assert said.startswith(
                f"refused: alert {alert.id} was already acknowledged by {winner!r} at "
            )
            assert said.endswith("; it is recorded once")
    with database.unit_of_work("reader") as uow:
        (stored,) = alerts.list_alerts(uow)
        events = [e for e in audit.events(uow, "alert") if e.action == "acknowledge"]
    assert (stored.acknowledged_by, stored.acknowledgement_note) == (winner, f"seen by {winner}")
    assert [e.actor for e in events] == [winner]


def test_a_blank_note_is_still_refused(database: Database) -> None:
    from trephine.errors import ValidationError

    with database.unit_of_work("assess") as uow:
        patients.register_patient(uow, Patient("ACK-3", Sex.FEMALE, 1970))
        alert, _ = alerts.raise_alert(
            uow, "ACK-3", dt.date(2024, 5, 1), "MRD_CONVERSION", "MRD back", "ELN2022", "t"
        )
    with pytest.raises(ValidationError), database.unit_of_work("dr.a") as uow:
        alerts.acknowledge_alert(uow, alert.id, "  ")
