"""The demo's lab orders: each marrow procedure's order, its studies and their step times.

Every demo procedure gets an order listing the studies its results answer (a differential
answers ``morphology``, a core ``trephine`` and ``iron-stain``, and so on; see
``domain/orders.STUDIES``), each taken through ordered → collected → received → in progress →
reported with plausible times, so the work list and turnaround pages show real figures. On a
patient's latest marrow an add-on study (NGS or cytogenetics, without a result yet) is now and
then still pending, and a dry tap's cytogenetics is cancelled with its reason. A pending add-on
is asked for in the calendar's last weeks (on the stored sample when that marrow is older), so
the work list of a demo loaded today holds days-old studies, not years-old ones.

The hours are synthetic, chosen to look like a marrow lab's week (a blood count within hours,
morphology in one to three days, a decalcified core in two to six, NGS and karyotypes in one to
three weeks); they are not benchmarks and nothing clinical depends on them. Drawn from an RNG
stream of their own, seeded by the patient and the procedure's instant on the reference
calendar (like :mod:`trephine.demo.planning`), so the rest of the demo does not shift and a
demo moved to another as-of day (:mod:`trephine.demo.calendar`) draws the same hours.
"""

from __future__ import annotations

import datetime as dt
import random

from trephine.demo.calendar import calendar_end
from trephine.demo.model import Visit
from trephine.domain.orders import STUDIES, OrderRecord, StudyAction, StudyRecord, StudyStep
from trephine.domain.specimen import SpecimenType

#: Who orders and collects (the clinic) and who receives, works and reports (the lab).
CLINIC_ACTOR = "demo-clinician"
LAB_ACTOR = "demo-lab"

#: Collection → report, in hours (low, high), per study. Synthetic (module docstring).
REPORT_HOURS: dict[str, tuple[float, float]] = {
    "blood-count": (0.5, 3),
    "morphology": (18, 72),
    "trephine": (48, 144),
    "iron-stain": (48, 144),
    "flow-mrd": (8, 48),
    "molecular-mrd": (72, 240),
    "ngs": (168, 504),
    "cytogenetics": (168, 504),
    "chimerism": (72, 168),
}
#: Share of patients whose latest marrow has an add-on study still pending.
PENDING_SHARE = 0.08
#: Share of marrows whose cytogenetics sample clotted (the study is cancelled with the reason).
CLOTTED_SHARE = 0.02
DRY_TAP_REASON = "dry tap: no aspirate for culture"
CLOTTED_REASON = "heparin tube clotted in transit: no cells to culture; repeat on the next marrow"
#: A pending add-on is asked for within this many hours of the calendar's end
#: (:func:`~trephine.demo.calendar.calendar_end`): on the stored DNA or fixed cells of an older
#: marrow, 5 to 15 days before it (a lab does not leave a study pending for years).
RECENT_HOURS = 21 * 24


def _hours(h: float) -> dt.timedelta:
    return dt.timedelta(minutes=round(h * 60))


def _studies(visit: Visit) -> dict[str, str]:
    """Study code → the accession its result is on, in the order the results come."""
    out: dict[str, str] = {}
    for res in visit.results:
        for code, study in STUDIES.items():
            if res.value.kind in study.kinds:
                out.setdefault(code, res.specimen)
    return out


def order_for(
    patient_id: str, visit: Visit, *, latest: bool, shift_days: int = 0
) -> OrderRecord | None:
    """The order of one demo marrow (None for a blood draw without a procedure) of a patient
    whose calendar was moved by ``shift_days`` (``SyntheticPatient.shift_days``)."""
    if visit.procedure is None:
        return None
    collected = visit.procedure.performed_at
    reference = collected - dt.timedelta(days=shift_days)
    rng = random.Random(f"trephine-demo-lab:{patient_id}:{reference.isoformat()}")
    # Booked with the procedure, from the evening two days before to the same morning.
    ordered = collected - _hours(rng.uniform(2, 40))
    studies: list[StudyRecord] = []
    reported_core: dt.datetime | None = None
    for code, accession in _studies(visit).items():
        low, high = REPORT_HOURS[code]
        reported = collected + _hours(rng.uniform(low, high))
        if code == "iron-stain" and reported_core is not None:
            reported = reported_core  # read on the same core, signed out with it
        if code == "trephine":
            reported_core = reported
        span = (reported - collected).total_seconds() / 3600
        received = collected + _hours(rng.uniform(0.05, 0.25) * span)
        started = received + _hours(
            rng.uniform(0.05, 0.5) * (reported - received).total_seconds() / 3600
        )
        studies.append(
            StudyRecord(
                code,
                (
                    StudyStep(StudyAction.COLLECT, collected, CLINIC_ACTOR),
                    StudyStep(StudyAction.RECEIVE, received, LAB_ACTOR),
                    StudyStep(StudyAction.START, started, LAB_ACTOR),
                    StudyStep(StudyAction.REPORT, reported, LAB_ACTOR),
                ),
                specimen=accession,
            )
        )
    aspirate = next((s for s in visit.specimens if s.type is SpecimenType.ASPIRATE), None)
    codes = {s.code for s in studies}
    dry = aspirate is not None and aspirate.spicules is False
    clotted = rng.random() < CLOTTED_SHARE
    if aspirate is not None and (dry or clotted) and "cytogenetics" not in codes:
        studies.append(
            StudyRecord(
                "cytogenetics",
                (StudyStep(StudyAction.CANCEL, collected + _hours(rng.uniform(1, 6)), LAB_ACTOR),),
                cancel_reason=DRY_TAP_REASON if dry else CLOTTED_REASON,
            )
        )
        codes.add("cytogenetics")
    pending = rng.random() < PENDING_SHARE
    if latest and pending and aspirate is not None:
        add_on = next((c for c in ("ngs", "cytogenetics") if c not in codes), None)
        if add_on is not None:
            # Asked for after the marrow was read (an add-on), and not reported yet; on the
            # stored sample, in the calendar's last weeks, when that marrow is older.
            wait = rng.uniform(20, 60)
            asked = collected + _hours(wait)
            end = dt.datetime.combine(calendar_end(shift_days), dt.time(), tzinfo=dt.UTC)
            if asked < end - _hours(RECENT_HOURS):
                asked = end - _hours(wait * 6)
            steps = [StudyStep(StudyAction.COLLECT, collected, LAB_ACTOR)]
            stage = rng.randint(1, 3)
            if stage >= 2:
                steps.append(StudyStep(StudyAction.RECEIVE, asked + _hours(1), LAB_ACTOR))
            if stage >= 3:
                steps.append(
                    StudyStep(StudyAction.START, asked + _hours(rng.uniform(2, 30)), LAB_ACTOR)
                )
            studies.append(
                StudyRecord(add_on, tuple(steps), specimen=aspirate.accession, ordered_at=asked)
            )
    if not studies:
        return None
    return OrderRecord(
        ordered_at=ordered,
        ordered_by=CLINIC_ACTOR,
        studies=tuple(studies),
        indication=str(visit.procedure.indication) if visit.procedure.indication else None,
    )
