"""The demo's pre-procedure checklists and consents, at plausible rates.

Drawn from an RNG stream of its own, seeded by the patient and the procedure's instant on the
reference calendar, so the rest of the demo (pinned by tests) does not shift and a demo moved
to another as-of day (:mod:`trephine.demo.calendar`) draws the same. Rates (synthetic, for the
report to show real numbers; not clinical data): about 1 in 12 patients on a DOAC, 1 in 20 on
aspirin, 1 in 50 on warfarin (INR 2.0–3.2); platelets mostly normal, about 1 in 30 below 20
×10⁹/L; consent recorded for all but about 1 in 200 procedures, which carry an emergency reason.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from trephine.demo.calendar import calendar_end
from trephine.demo.model import OPERATORS, Scenario, SyntheticPatient
from trephine.domain.planning import (
    SEDATED,
    Checklist,
    Consent,
    ConsentGiver,
    Fasting,
    Medication,
    PlannedProcedure,
    Risk,
    SignatureMethod,
)
from trephine.domain.procedure import Indication, Procedure

#: Who records the demo's checklists and consents (an actor name, see domain/actor.py).
CLINIC_ACTOR = "demo-clinician"
LEAFLET_VERSION = "2026-1"
ESCORTS = ("A. Friend", "B. Partner", "C. Daughter", "D. Son")
RISKS = (Risk.PAIN, Risk.BRUISING_BLEEDING, Risk.INFECTION)
#: Share of the demo patients still on therapy at the calendar's end whose next marrow is
#: booked (synthetic, so the procedures page has planned marrows to show).
UPCOMING_SHARE = 0.15
#: Why the booked marrow is taken, by scenario (a response assessment otherwise).
UPCOMING_INDICATION = {
    Scenario.MYELOMA: Indication.MRD,
    Scenario.POST_TRANSPLANT: Indication.POST_TRANSPLANT,
}


def planning_for(
    patient_id: str, procedure: Procedure, shift_days: int = 0
) -> tuple[Checklist, Consent | None, str | None]:
    """The checklist, consent (or None) and emergency reason (or None) of one demo procedure of
    a patient whose calendar was moved by ``shift_days``."""
    at = procedure.performed_at
    reference = at - dt.timedelta(days=shift_days)
    rng = random.Random(f"trephine-demo-planning:{patient_id}:{reference.isoformat()}")
    medications: list[Medication] = []
    inr = None
    roll = rng.random()
    if roll < 0.08:
        drug = rng.choice(("apixaban", "rivaroxaban", "edoxaban"))
        medications.append(Medication.named(drug, at - dt.timedelta(hours=rng.randint(12, 40))))
    elif roll < 0.10:
        medications.append(
            Medication.named("warfarin", at - dt.timedelta(hours=rng.randint(14, 30)))
        )
        inr = Decimal(rng.randint(20, 32)) / 10
    if rng.random() < 0.05:
        medications.append(
            Medication.named("aspirin", at - dt.timedelta(hours=rng.randint(20, 30)))
        )
    plt_roll = rng.random()
    if plt_roll < 0.03:
        platelets = rng.randint(8, 19)
    elif plt_roll < 0.12:
        platelets = rng.randint(20, 49)
    elif plt_roll < 0.30:
        platelets = rng.randint(50, 149)
    else:
        platelets = rng.randint(150, 380)
    sedated = procedure.anesthesia in SEDATED
    checklist = Checklist(
        medications=tuple(medications),
        platelets=Decimal(platelets),
        inr=inr,
        allergies=("penicillin",) if rng.random() < 0.08 else (),
        sedation=procedure.anesthesia,
        escort=rng.choice(ESCORTS) if sedated else None,
        fasting=Fasting.FAST if sedated else Fasting.LIGHT_MEAL,
    )
    if rng.random() < 0.005:
        return (
            checklist,
            None,
            "Urgent marrow for suspected acute leukaemia; patient unable to consent",
        )
    consent = Consent(
        given_by=ConsentGiver.PATIENT,
        taken_by=CLINIC_ACTOR,
        consented_at=at - dt.timedelta(minutes=rng.randint(20, 90)),
        leaflet_version=LEAFLET_VERSION,
        risks_discussed=RISKS + ((Risk.SEDATION,) if sedated else ()),
        signature=SignatureMethod.WRITTEN,
        interpreter="Polish (phone)" if rng.random() < 0.04 else None,
    )
    return checklist, consent, None


def upcoming_plan(sp: SyntheticPatient) -> PlannedProcedure | None:
    """The next marrow booked for a demo patient still on a therapy line at the calendar's end
    (about :data:`UPCOMING_SHARE` of them), on a weekday 1 to 3 weeks after that end — the days
    after ``trephine demo --as-of`` — or None. From an RNG stream of its own (the patient id),
    so nothing else of the demo moves."""
    if not any(line.end is None for line in sp.therapy_lines):
        return None
    rng = random.Random(f"trephine-demo-upcoming:{sp.patient.external_id}")
    if rng.random() >= UPCOMING_SHARE:
        return None
    day = calendar_end(sp.shift_days) + dt.timedelta(days=rng.randint(7, 21))
    if day.weekday() >= 5:  # booked on the Monday after a weekend
        day += dt.timedelta(days=7 - day.weekday())
    at = dt.time(rng.choice((8, 9, 10, 13, 14)), rng.choice((0, 30)))
    return PlannedProcedure(
        dt.datetime.combine(day, at, tzinfo=dt.UTC),
        UPCOMING_INDICATION.get(sp.scenario, Indication.RESPONSE_ASSESSMENT),
        operator=rng.choice(OPERATORS),
    )
