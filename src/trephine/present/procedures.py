"""How procedures are shown: the indication in plain words (patient-facing, reading grade ≤ 8,
measured by ``tests/procedures/test_indication_sentences.py``) and the §10 decision in words.

The patient pages take their sentence from :func:`indication_sentence`; translations belong in
the message catalogue (these English strings are its source).
"""

from __future__ import annotations

from typing import Any

from trephine.domain.procedure import Indication
from trephine.present.numbers import format_value

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


#: The §10 decision in words for the operator.
DECISION_WORDS = {
    "PROCEED": "Proceed",
    "PROCEED_WITH_CAUTION": "Proceed with caution",
    "REVIEW_REQUIRED": "Review required before the procedure",
}


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
