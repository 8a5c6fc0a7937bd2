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

from trephine.domain.planning import (
    SEDATED,
    Checklist,
    Consent,
    ConsentGiver,
    Fasting,
    Medication,
    Risk,
    SignatureMethod,
)
from trephine.domain.procedure import Procedure

#: Who records the demo's checklists and consents (an actor name, see domain/actor.py).
CLINIC_ACTOR = "demo-clinician"
LEAFLET_VERSION = "2026-1"
ESCORTS = ("A. Friend", "B. Partner", "C. Daughter", "D. Son")
RISKS = (Risk.PAIN, Risk.BRUISING_BLEEDING, Risk.INFECTION)


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
