"""Use cases over the store: every edge (CLI, API, web, demo loader) goes through these.

Typical use::

    from trephine.services import open_database
    from trephine.services import patients, procedures, results

    db = open_database()                  # TREPHINE_DATABASE_URL or sqlite:///trephine.db
    db.upgrade()                          # Alembic migrations (idempotent)
    with db.unit_of_work(actor="demo") as uow:   # one transaction, commits on success
        patients.register_patient(uow, Patient("P001", Sex.FEMALE, 1960))
        proc_id, _ = procedures.record_procedure(uow, "P001", procedure)
        procedures.add_specimen(uow, "P001", specimen, proc_id)
        stored, _ = results.record_result(uow, specimen.accession, value, verify=True)
        results.amend_result(uow, stored.id, corrected, reason="typo in blast count")
    with db.unit_of_work(actor="web") as uow:
        rows = patients.list_patients(uow)
        record = patients.patient_record(uow, "P001")   # trephine.present.chronology phrases it

Writers return ``(id or view, created)`` and are idempotent on natural keys.
"""

from __future__ import annotations

from trephine.store.database import Database, UnitOfWork


def open_database(url: str | None = None) -> Database:
    """A :class:`Database` for ``url`` (default: settings, i.e. ``TREPHINE_DATABASE_URL``)."""
    if url is None:
        from trephine.settings import get_settings

        url = get_settings().database_url
    return Database(url)


__all__ = ["Database", "UnitOfWork", "open_database"]
