"""Clinical alerts raised by ``trephine assess`` (relapse, MRD conversion, 1-log rise, loss of
donor chimerism …): stored once per natural key, listed, acknowledged (audited)."""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import CursorResult, Integer, Select, bindparam, func, select, update

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


def _status_filter(status: str, columns: Any = None) -> list[Any]:
    """The conditions of ``status`` on the alert columns (the mapped class's, or ``columns``:
    the table's, for a plain statement)."""
    if status not in STATUSES:
        raise ValidationError("status", status, STATUSES)
    c = AlertRow if columns is None else columns
    if status == "open":
        return [c.acknowledged_at.is_(None), c.withdrawn_at.is_(None)]
    if status == "acknowledged":
        return [c.acknowledged_at.is_not(None)]
    if status == "withdrawn":
        return [c.withdrawn_at.is_not(None), c.acknowledged_at.is_(None)]
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
    (``open_only`` is ``status="open"``), one page (``limit``/``offset``) chosen by the database.

    Read with a statement built once per status and shape (plain rows; 1.1 ms of CPU for the
    inbox's 50 alerts went to building the query and loading ORM objects)."""
    wanted = status or ("open" if open_only else "all")
    params: dict[str, Any] = {"offset": offset}
    if patient is not None:
        params["patient"] = _rows.patient_row(uow, patient).id
    if limit is not None:
        params["limit"] = limit
    uow.session.flush()  # a plain statement does not flush pending changes itself
    query = _list_query(wanted, patient is not None, limit is not None)
    rows: Any = uow.session.connection().execute(query, params)
    return [_view(row, row.external_id) for row in rows]


@functools.cache
def _list_query(status: str, one_patient: bool, paged: bool) -> Select[Any]:
    """:func:`list_alerts`'s statement: bind parameters ``offset``, ``patient`` (the patient's
    row id) when ``one_patient``, ``limit`` when ``paged``."""
    alert = AlertRow.__table__
    patient = PatientRow.__table__
    query = (
        select(alert, patient.c.external_id)
        .join(patient, patient.c.id == alert.c.patient_id)
        .where(*_status_filter(status, alert.c))
        .order_by(alert.c.raised_on.desc(), alert.c.id.desc())
        .offset(bindparam("offset", type_=Integer))
    )
    if one_patient:
        query = query.where(alert.c.patient_id == bindparam("patient"))
    if paged:
        query = query.limit(bindparam("limit", type_=Integer))
    return query


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
