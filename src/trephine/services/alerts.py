"""Clinical alerts raised by ``trephine assess`` (relapse, MRD conversion, 1-log rise, loss of
donor chimerism …): stored once per natural key, listed, acknowledged (audited)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update

from trephine.assess.registry import current_name, names_stored_for
from trephine.errors import AlreadyDone, Conflict, NotFound, ValidationError
from trephine.services import _rows, audit
from trephine.services.views import StoredAlert
from trephine.store.database import UnitOfWork
from trephine.store.tables import AlertRow, PatientRow


def _view(row: AlertRow, patient_id: str) -> StoredAlert:
    return StoredAlert(
        id=row.id,
        patient_id=patient_id,
        raised_on=row.raised_on,
        code=row.code,
        message=row.message,
        # Names earlier versions stored (e.g. ALL-MRD-2021) read as the current one (ALL-MRD).
        ruleset=current_name(row.ruleset),
        software_version=row.software_version,
        raised_at=row.raised_at,
        raised_by=row.raised_by,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        acknowledgement_note=row.acknowledgement_note,
        withdrawn_at=row.withdrawn_at,
        withdrawn_reason=row.withdrawn_reason,
        withdrawn_by=row.withdrawn_by,
    )


def view_of(row: AlertRow, patient_id: str) -> StoredAlert:
    """The stored view of an alert row (for the services' batch writers)."""
    return _view(row, patient_id)


def raise_alert(
    uow: UnitOfWork,
    external_id: str,
    raised_on: object,
    code: str,
    message: str,
    ruleset: str,
    software_version: str,
) -> tuple[StoredAlert, bool]:
    """Store an alert unless the same one (patient, date, code, rule set) exists.

    The software version is recorded but not part of the identity: a new engine version that
    raises the same alert does not re-open one a clinician already acknowledged."""
    patient = _rows.patient_row(uow, external_id)
    row = uow.session.scalar(
        select(AlertRow).where(
            AlertRow.patient_id == patient.id,
            AlertRow.raised_on == raised_on,
            AlertRow.code == code,
            AlertRow.ruleset.in_(names_stored_for(ruleset)),
        )
    )
    if row is not None:
        if row.withdrawn_at is not None:
            # Raised again (e.g. an amendment was itself corrected): the alert stands again.
            row.withdrawn_at = None
            row.withdrawn_reason = None
            row.withdrawn_by = None
            uow.session.flush()
            audit.append(
                uow, audit.Entry("reraise", "alert", row.id, {"patient": external_id, "code": code})
            )
        return _view(row, external_id), False
    row = AlertRow(
        patient_id=patient.id,
        raised_on=raised_on,
        code=code,
        message=message,
        ruleset=ruleset,
        software_version=software_version,
        raised_at=uow.now(),
        raised_by=uow.actor,
    )
    uow.session.add(row)
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "raise", "alert", row.id, {"patient": external_id, "code": code, "date": str(raised_on)}
        ),
    )
    return _view(row, external_id), True


#: Alert states a list can ask for: open (neither acknowledged nor withdrawn), acknowledged,
#: withdrawn (and not acknowledged), or all.
STATUSES = ("open", "acknowledged", "withdrawn", "all")


def _status_filter(status: str) -> list[Any]:
    if status not in STATUSES:
        raise ValidationError("status", status, STATUSES)
    if status == "open":
        return [AlertRow.acknowledged_at.is_(None), AlertRow.withdrawn_at.is_(None)]
    if status == "acknowledged":
        return [AlertRow.acknowledged_at.is_not(None)]
    if status == "withdrawn":
        return [AlertRow.withdrawn_at.is_not(None), AlertRow.acknowledged_at.is_(None)]
    return []


def list_alerts(
    uow: UnitOfWork,
    *,
    patient: str | None = None,
    open_only: bool = False,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[StoredAlert]:
    """Alerts newest first (by clinical date), optionally one patient's, of one ``status``
    (``open_only`` is ``status="open"``), one page (``limit``/``offset``) chosen by the database."""
    query = select(AlertRow, PatientRow.external_id).join(
        PatientRow, PatientRow.id == AlertRow.patient_id
    )
    if patient is not None:
        query = query.where(AlertRow.patient_id == _rows.patient_row(uow, patient).id)
    query = query.where(*_status_filter(status or ("open" if open_only else "all")))
    query = query.order_by(AlertRow.raised_on.desc(), AlertRow.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [_view(row, pid) for row, pid in uow.session.execute(query)]


def count_alerts(uow: UnitOfWork, *, status: str = "all", patient: str | None = None) -> int:
    """How many alerts :func:`list_alerts` would list without a page (one COUNT query)."""
    query = select(func.count()).select_from(AlertRow).where(*_status_filter(status))
    if patient is not None:
        query = query.where(AlertRow.patient_id == _rows.patient_row(uow, patient).id)
    return int(uow.session.scalar(query) or 0)


def acknowledge_alert(uow: UnitOfWork, alert_id: int, note: str | None = None) -> StoredAlert:
    """Mark an alert as seen by ``uow.actor``; acknowledging twice is refused (who saw it first
    stays on record)."""
    row = uow.session.get(AlertRow, alert_id)
    if row is None:
        raise NotFound("alert", alert_id)
    patient = uow.session.get(PatientRow, row.patient_id)
    assert patient is not None  # foreign key
    if row.acknowledged_at is not None:
        raise AlreadyDone(
            "alert", alert_id, "acknowledged", row.acknowledged_by, row.acknowledged_at
        )
    if note is not None and not note.strip():
        raise ValidationError("note", note, "a non-empty note, or no note")
    # ``UPDATE … WHERE acknowledged_at IS NULL``, as result sign-out does (services/results.py
    # ``_transition``): of concurrent acknowledgers who all read the alert as open, exactly one
    # changes the row; PostgreSQL re-checks the condition after waiting for the winner's lock.
    # Setting the ORM attributes instead let each of them overwrite the previous name.
    done = cast(
        "CursorResult[Any]",
        uow.session.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id, AlertRow.acknowledged_at.is_(None))
            .values(
                acknowledged_at=uow.now(),
                acknowledged_by=uow.actor,
                acknowledgement_note=None if note is None else note.strip(),
            )
            .execution_options(synchronize_session=False)
        ),
    )
    uow.session.refresh(row)
    if done.rowcount != 1:  # someone else's acknowledgement committed after we read the row
        raise AlreadyDone(
            "alert", alert_id, "acknowledged", row.acknowledged_by, row.acknowledged_at
        )
    audit.append(
        uow, audit.Entry("acknowledge", "alert", row.id, {"note": row.acknowledgement_note})
    )
    return _view(row, patient.external_id)


def withdraw_missing(
    uow: UnitOfWork, external_id: str, ruleset: str, keep: set[int], reason: str
) -> list[StoredAlert]:
    """Withdraw the patient's open alerts of ``ruleset`` that the latest assessment did not
    raise again (``keep`` = ids it raised). Acknowledged alerts keep their acknowledgement."""
    patient = _rows.patient_row(uow, external_id)
    rows = uow.session.scalars(
        select(AlertRow).where(
            AlertRow.patient_id == patient.id,
            AlertRow.ruleset.in_(names_stored_for(ruleset)),
            AlertRow.acknowledged_at.is_(None),
            AlertRow.withdrawn_at.is_(None),
        )
    )
    withdrawn: list[StoredAlert] = []
    for row in rows:
        if row.id in keep:
            continue
        row.withdrawn_at = uow.now()
        row.withdrawn_reason = reason
        row.withdrawn_by = uow.actor
        uow.session.flush()
        audit.append(
            uow,
            audit.Entry("withdraw", "alert", row.id, {"patient": external_id, "reason": reason}),
        )
        withdrawn.append(_view(row, external_id))
    return withdrawn


def withdraw_alert(uow: UnitOfWork, alert_id: int, note: str) -> StoredAlert:
    """A clinician withdraws an open alert (e.g. raised on a sample later found mislabelled),
    with a note saying why; who withdrew it is kept (``withdrawn_by``) and in the audit trail.
    An acknowledged or already withdrawn alert is refused (its first outcome stays on record)."""
    row = uow.session.get(AlertRow, alert_id)
    if row is None:
        raise NotFound("alert", alert_id)
    if not note or not note.strip():
        raise ValidationError("note", note, "a note saying why the alert is withdrawn")
    if row.acknowledged_at is not None:
        raise AlreadyDone(
            "alert", alert_id, "acknowledged", row.acknowledged_by, row.acknowledged_at
        )
    if row.withdrawn_at is not None:
        raise Conflict("alert", alert_id, "withdrawn_reason", row.withdrawn_reason, note.strip())
    patient = uow.session.get(PatientRow, row.patient_id)
    assert patient is not None  # foreign key
    row.withdrawn_at = uow.now()
    row.withdrawn_reason = note.strip()
    row.withdrawn_by = uow.actor
    uow.session.flush()
    audit.append(
        uow,
        audit.Entry(
            "withdraw", "alert", row.id, {"patient": patient.external_id, "note": note.strip()}
        ),
    )
    return _view(row, patient.external_id)
