"""The public JSON shape of a stored call (assessment) and of an alert.

The CLI's ``--json`` and the API share these shapes (the API's pydantic models validate them).
"""

from __future__ import annotations

from typing import Any

from trephine.services.views import StoredAlert, StoredAssessment


def assessment_dict(item: StoredAssessment, *, current: bool | None = None) -> dict[str, Any]:
    """The JSON shape of a stored assessment (CLI ``--json`` and the API share it): the typed
    call (:class:`trephine.assess.call.Call`) and the store's row id, time and recorder.
    ``sample``: what the call rests on when it rests on one sample (a day's marrow and blood
    MRD results are two calls, both current), else None."""
    c = item.call
    data: dict[str, Any] = {
        "id": item.id,
        "date": c.date.isoformat(),
        "call": c.kind,
        "category": c.category,
        "sample": c.sample,
        "ruleset": c.ruleset,
        "edition": c.edition,
        "rule": c.rule,
        "evidence": [dict(e) for e in c.evidence],
        "missing": list(c.missing),
        "citation": c.citation,
        "flags": list(c.flags),
        "software_version": c.software_version,
        "computed_at": item.assessment.computed_at.isoformat(),
        "recorded_by": item.recorded_by,
    }
    if current is not None:
        data["current"] = current
    return data


def alert_dict(alert: StoredAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "patient": alert.patient_id,
        "date": alert.raised_on.isoformat(),
        "code": alert.code,
        "message": alert.message,
        "ruleset": alert.ruleset,
        "software_version": alert.software_version,
        "raised_at": alert.raised_at.isoformat(),
        "acknowledged_at": None
        if alert.acknowledged_at is None
        else alert.acknowledged_at.isoformat(),
        "acknowledged_by": alert.acknowledged_by,
        "note": alert.acknowledgement_note,
        "withdrawn_at": None if alert.withdrawn_at is None else alert.withdrawn_at.isoformat(),
        "withdrawn_reason": alert.withdrawn_reason,
        "withdrawn_by": alert.withdrawn_by,
    }
