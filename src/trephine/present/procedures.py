"""How procedures are shown: the indication in plain words (patient-facing, reading grade ≤ 8,
measured by ``tests/procedures/test_indication_sentences.py``) and the §10 decision in words.

The patient pages take their sentence from :func:`indication_sentence`; translations belong in
the message catalogue (these English strings are its source).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from trephine.criteria.categories import category_words, mid_sentence
from trephine.criteria.input_words import input_label
from trephine.criteria.procedure import CAUTION, REVIEW
from trephine.domain.procedure import Complication, Indication
from trephine.present.numbers import format_value

if TYPE_CHECKING:
    from trephine.services.procedure_plans import StoredPlan
    from trephine.services.procedure_report import ProcedureRecord

#: Why the doctor wants a sample of marrow, one short paragraph per indication, in words a
#: patient reads easily. Marrow is explained in the same sentence where it is first used.
INDICATION_SENTENCES: dict[Indication, str] = {
    Indication.DIAGNOSIS: (
        "Your blood tests show a change that needs a closer look. The marrow is the soft "
        "part inside your bones where blood is made. A small sample helps us find the cause."
    ),
    Indication.UNEXPLAINED_CYTOPENIA: (
        "Your blood counts are low and we do not yet know why. Blood is made in the marrow, "
        "the soft part inside your bones. A small sample shows us how well it is working."
    ),
    Indication.SUSPECTED_LEUKAEMIA: (
        "Your blood tests suggest you may have leukaemia, a cancer of the blood. Blood is made "
        "in the marrow, the soft part inside your bones. A sample tells us for sure and shows "
        "which type it is."
    ),
    Indication.LYMPHOMA_STAGING: (
        "You have lymphoma, a cancer of the lymph glands. We check a small sample of your "
        "marrow, the soft part inside your bones, to see if it has spread there. This helps "
        "us plan your care."
    ),
    Indication.MYELOMA_WORKUP: (
        "Your tests suggest a problem with plasma cells. These cells live in the marrow, the "
        "soft part inside your bones. A sample shows how many there are and helps us plan "
        "your care."
    ),
    Indication.SUSPECTED_MDS: (
        "Your blood tests suggest the marrow may not be making blood cells well. The marrow is "
        "the soft part inside your bones. A sample shows us what is wrong."
    ),
    Indication.APLASTIC_ANAEMIA: (
        "Your blood counts are very low. We need to see if your marrow, the soft part inside "
        "your bones, has stopped making enough blood cells. A sample shows us this."
    ),
    Indication.FEVER_OR_INFECTION: (
        "You have a fever and we have not found the cause. Some germs, like TB, can hide in "
        "the marrow, the soft part inside your bones. A sample can be tested for them."
    ),
    Indication.STORAGE_DISEASE: (
        "Some rare conditions leave a build-up of material in cells. The marrow is the soft "
        "part inside your bones. A sample lets us look for these cells."
    ),
    Indication.IRON_STATUS: (
        "We need to know how much iron your body has stored. Iron is kept in the marrow, the "
        "soft part inside your bones. A sample shows this when blood tests cannot."
    ),
    Indication.RESPONSE_ASSESSMENT: (
        "You have had treatment. A sample of your marrow, the soft part inside your bones, "
        "shows how well the treatment has worked."
    ),
    Indication.MRD: (
        "You have had treatment and your blood looks good. We test a sample of your marrow, "
        "the soft part inside your bones, for very small amounts of disease left behind. "
        "Doctors call this MRD."
    ),
    Indication.SUSPECTED_RELAPSE: (
        "Your blood tests have changed and the illness may have come back. A sample of your "
        "marrow, the soft part inside your bones, tells us if it has."
    ),
    Indication.POST_TRANSPLANT: (
        "You have had a stem cell transplant. A sample of your marrow, the soft part inside "
        "your bones, shows how well the new cells are growing and if the illness is gone."
    ),
    Indication.CAR_T_FOLLOW_UP: (
        "You have had CAR-T cell treatment. A sample of your marrow, the soft part inside "
        "your bones, shows if the treatment is working."
    ),
    Indication.STAGING: (
        "We need to know if the illness has reached your marrow, the soft part inside your "
        "bones. A small sample shows this and helps us plan your care."
    ),
    Indication.OTHER: (
        "Your doctor needs a small sample of your marrow, the soft part inside your bones. "
        "They will tell you why and what they hope to learn."
    ),
}


def indication_sentence(indication: Indication) -> str:
    """Why this marrow is taken, in plain words (reading grade ≤ 8)."""
    return INDICATION_SENTENCES[indication]


#: The §10 decision in words for the operator: the call category's words, from their one home
#: (:func:`trephine.criteria.categories.category_words`), and what the decision adds to them.
DECISION_WORDS: dict[str, str] = {
    code: category_words(code) + more
    for code, more in {
        "PROCEED": "",
        CAUTION: "",
        REVIEW: " before the procedure",
    }.items()
}


def missing_words(name: str) -> str:
    """A checklist value the safety decision lists as not reported (``plt``, ``inr``), inside the
    operator's sentence ("Not reported: platelets, INR"): the rule input's label, from its one
    home (:func:`trephine.criteria.input_words.input_label`)."""
    return mid_sentence(input_label(name))


def rate_text(rate: Any) -> str:
    """``2/7 = 28.57 % (95 % CI 3.669–70.96 %)``; ``none`` when there is nothing to count."""
    if rate.interval is None:
        return "none"
    i = rate.interval
    return (
        f"{rate.x}/{rate.n} = {format_value(i.estimate * 100)} % "
        f"(95 % CI {format_value(i.lower * 100)}–{format_value(i.upper * 100)} %)"
    )


def rate_table(report: Any) -> str:
    """The rate report as text for the terminal (``trephine procedures report``)."""
    lines = []
    rows = [report.overall, *report.groups]
    for row in rows:
        noun = "procedure" if row.procedures == 1 else "procedures"
        lines.append(f"{row.group}: {row.procedures} {noun}")
        lines.append(f"  complications          {rate_text(row.complications)}")
        lines.append(f"  serious complications  {rate_text(row.serious)}")
        extra = (
            f"; quality not recorded for {row.adequacy_not_recorded}"
            if row.adequacy_not_recorded
            else ""
        )
        lines.append(f"  adequate specimens     {rate_text(row.adequacy)}{extra}")
    lines.append("")
    lines.append("Published serious-complication rates (clinical-criteria.md §10) [V]:")
    for p in report.published:
        lines.append(f"  {p.series}: {rate_text(p.rate)} — {p.note}")
    lines.append(
        "Serious = severe, life-threatening or fatal [I]; adequate = §8 call ADEQUATE and not "
        "haemodilute; intervals are exact (Clopper–Pearson)."
    )
    return "\n".join(lines)


# -- JSON (``trephine procedures show --json`` and the JSON API: one shape) ------------------------
def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def plan_json(plan: StoredPlan, identity: bool = True) -> dict[str, Any]:
    """A plan with its latest checklist and safety decision, its consent and the procedure that
    closed it. Without ``identity`` (a role without ``identity:read``) the consent's
    ``giver_name`` (the patient's or a relative's name) is left out (null)."""
    from trephine.services.procedure_plans import checklist_to_json

    checklist = plan.checklist
    consent = plan.consent
    return {
        "id": plan.id,
        "patient": plan.patient_id,
        "status": str(plan.status),
        "planned_for": plan.plan.planned_for.isoformat(),
        "indication": str(plan.plan.indication),
        "site": str(plan.plan.site),
        "operator": plan.plan.operator,
        "checklist": None
        if checklist is None
        else {
            "version": checklist.version,
            **checklist_to_json(checklist.checklist),
            "recorded_at": checklist.recorded_at.isoformat(),
            "recorded_by": checklist.recorded_by,
            "safety": checklist.call.as_dict(),
        },
        "consent": None
        if consent is None
        else {
            "given_by": str(consent.consent.given_by),
            "giver_name": consent.consent.giver_name if identity else None,
            "taken_by": consent.consent.taken_by,
            "consented_at": consent.consent.consented_at.isoformat(),
            "leaflet_version": consent.consent.leaflet_version,
            "risks_discussed": [str(r) for r in consent.consent.risks_discussed],
            "interpreter": consent.consent.interpreter,
            "signature": str(consent.consent.signature),
            "recorded_by": consent.recorded_by,
        },
        "procedure_id": plan.procedure_id,
        "performed_at": None if plan.procedure is None else plan.procedure.performed_at.isoformat(),
        "duration_min": None if plan.procedure is None else plan.procedure.duration_min,
        "emergency_reason": plan.emergency_reason,
        "cancel_reason": plan.cancel_reason,
        "created_at": plan.created_at.isoformat(),
        "created_by": plan.created_by,
        "closed_at": _iso(plan.closed_at),
        "closed_by": plan.closed_by,
    }


def complication_json(complication_id: int, c: Complication) -> dict[str, Any]:
    return {
        "id": complication_id,
        "kind": str(c.kind),
        "category": str(c.category),
        "severity": str(c.severity),
        "serious": c.serious,
        "onset_at": _iso(c.onset_at),
        "outcome": None if c.outcome is None else str(c.outcome),
        "follow_up": c.follow_up,
        "description": c.description,
    }


def procedure_json(record: ProcedureRecord) -> dict[str, Any]:
    """The procedure record, its complications and every specimen with its §8 adequacy call."""
    p = record.procedure
    return {
        "id": record.id,
        "patient": record.patient_id,
        "plan_id": record.plan_id,
        "performed_at": p.performed_at.isoformat(),
        "site": str(p.site),
        "side": str(p.side),
        "indication": str(p.indication),
        "operator": p.operator,
        "anesthesia": str(p.anesthesia),
        "needle": p.needle,
        "duration_min": p.duration_min,
        "complications": [
            complication_json(cid, c)
            for cid, c in zip(record.complication_ids, p.complications, strict=True)
        ],
        "specimens": [
            {
                "accession": s.specimen.accession,
                "type": str(s.specimen.type),
                "collected_at": s.specimen.collected_at.isoformat(),
                "first_pull": s.specimen.first_pull,
                "spicules": s.specimen.spicules,
                "hemodilution": None
                if s.specimen.hemodilution is None
                else str(s.specimen.hemodilution),
                "core_length_mm": None
                if s.specimen.core_length_mm is None
                else str(s.specimen.core_length_mm),
                "fragmentation": None
                if s.specimen.fragmentation is None
                else str(s.specimen.fragmentation),
                "adequacy": None if s.call is None else s.call.as_dict(),
            }
            for s in record.specimens
        ],
    }
