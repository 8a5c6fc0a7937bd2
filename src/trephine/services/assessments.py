"""Assessments computed by the criteria engine, stored append-only.

A stored assessment is never recomputed in place: the key (patient, date, rule set, edition,
software version) identifies it, the same assessment recorded again is a no-op, and a different
outcome under the same key is a :class:`Conflict` — run a new edition or engine version instead.
"""

from __future__ import annotations

from sqlalchemy import select

from trephine.domain.assessment import Assessment
from trephine.errors import Conflict
from trephine.services import _rows
from trephine.services.views import StoredAssessment
from trephine.store.database import UnitOfWork
from trephine.store.tables import AssessmentRow


def record_assessment(
    uow: UnitOfWork, external_id: str, assessment: Assessment
) -> tuple[StoredAssessment, bool]:
    patient = _rows.patient_row(uow, external_id)
    row = uow.session.scalar(
        select(AssessmentRow).where(
            AssessmentRow.patient_id == patient.id,
            AssessmentRow.assessed_on == assessment.assessed_on,
            AssessmentRow.ruleset == assessment.ruleset,
            AssessmentRow.criteria_edition == assessment.criteria_edition,
            AssessmentRow.software_version == assessment.software_version,
        )
    )
    key = (
        f"{external_id} {assessment.assessed_on} {assessment.ruleset} "
        f"{assessment.criteria_edition} {assessment.software_version}"
    )
    if row is not None:
        existing = _rows.to_assessment(row, external_id)
        for name in ("category", "matched_rule"):
            old, new = getattr(existing.assessment, name), getattr(assessment, name)
            if old != new:
                # Same rule set, edition and software must give the same answer; a different
                # one means the inputs changed — record it under a new date or version.
                raise Conflict("assessment", key, name, old, new)
        return existing, False
    row = AssessmentRow(
        patient_id=patient.id,
        assessed_on=assessment.assessed_on,
        category=assessment.category,
        ruleset=assessment.ruleset,
        criteria_edition=assessment.criteria_edition,
        matched_rule=assessment.matched_rule,
        evidence=[dict(e) for e in assessment.evidence],
        missing_inputs=list(assessment.missing_inputs),
        citation=assessment.citation,
        flags=list(assessment.flags),
        params=dict(assessment.params),
        software_version=assessment.software_version,
        computed_at=assessment.computed_at,
        recorded_by=uow.actor,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.audit("create", "assessment", row.id, {"patient": external_id, "key": key})
    return _rows.to_assessment(row, external_id), True


def patient_assessments(uow: UnitOfWork, external_id: str) -> list[StoredAssessment]:
    patient = _rows.patient_row(uow, external_id)
    rows = uow.session.scalars(
        select(AssessmentRow)
        .where(AssessmentRow.patient_id == patient.id)
        .order_by(AssessmentRow.assessed_on, AssessmentRow.id)
    )
    return [_rows.to_assessment(r, external_id) for r in rows]
