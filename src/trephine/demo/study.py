"""The demo's one study: AML induction, two arms by first-line regimen, a visit schedule.

Synthetic like the rest of the demo. Every demo AML patient whose first therapy line is 7+3 or
7+3 + midostaurin is enrolled on the day that line starts, on the arm of that regimen; every
seventh of them declined research use of their data (so the pages show both). The visits are
anchored on the start of induction (screening marrow, day 14 nadir marrow, end of induction) and
on the transplant (day +100), and the demo's biopsies map to them by window. Re-running changes
nothing (the writers are idempotent).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from trephine.domain.study import Anchor, Enrolment, Visit
from trephine.services import studies
from trephine.store.database import UnitOfWork
from trephine.store.tables import DiagnosisRow, PatientRow, TherapyLineRow

STUDY = "DEMO-AML-IND"
TITLE = "Induction with or without midostaurin in AML (synthetic demo study)"
#: Arm name → the first-line regimen that puts a demo patient on it.
ARMS = {"7-plus-3": "7+3 (cytarabine + daunorubicin)", "7-plus-3-midostaurin": "7+3 + midostaurin"}
VISITS = (
    Visit("screening", "Screening marrow", Anchor.THERAPY, -4, 5),
    Visit("day_14", "Day 14 marrow (nadir)", Anchor.THERAPY, 14, 3),
    Visit("end_of_induction", "End of induction", Anchor.THERAPY, 30, 7),
    Visit("day_100_transplant", "Day +100 after transplant", Anchor.TRANSPLANT, 100, 14),
)


def ensure_demo_study(uow: UnitOfWork) -> int:
    """Define the demo study and enrol the demo patients it takes; returns how many."""
    studies.define(uow, STUDY, TITLE, "Synthetic: shows studies, arms, visits and enrolment.")
    for arm, regimen in ARMS.items():
        studies.add_arm(uow, STUDY, arm, f"first line {regimen}")
    for visit in VISITS:
        studies.set_visit(uow, STUDY, visit)
    arm_of = {regimen: arm for arm, regimen in ARMS.items()}
    rows = uow.session.execute(
        select(PatientRow.external_id, TherapyLineRow.regimen, TherapyLineRow.start)
        .join(TherapyLineRow, TherapyLineRow.patient_id == PatientRow.id)
        .join(DiagnosisRow, DiagnosisRow.patient_id == PatientRow.id)
        .where(
            TherapyLineRow.line == 1,
            DiagnosisRow.disease == "AML",
            TherapyLineRow.regimen.in_(list(ARMS.values())),
            PatientRow.external_id.like("DEMO-%"),
        )
        .order_by(PatientRow.external_id)
    ).all()
    for n, (patient, regimen, start) in enumerate(rows):
        consent = n % 7 != 6
        studies.enrol(
            uow,
            STUDY,
            Enrolment(
                patient,
                arm_of[regimen],
                start,
                consent,
                start - dt.timedelta(days=1) if consent else None,
            ),
        )
    return len(rows)
