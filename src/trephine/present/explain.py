"""Criteria evidence and alerts as sentences a clinician reads (pages and CLI share them).

The engine records each comparison as data (``{"input": "bm_blasts_pct", "value": "3",
"comparator": "<", "threshold": "5", "outcome": true}``); stored and JSON evidence keep that
exact form for audit. What a person reads is built here:

    Marrow blasts 3 % — below 5 %: meets the CR criterion

Input names and comparisons become words (label, unit and relation) from their one home in the
core, :mod:`trephine.criteria.input_words`, which the stored alert messages read too
(:func:`input_label` is imported from there for the pages and the report); numbers are rounded
for reading by :func:`format_value` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from trephine.criteria.categories import category_words, mid_sentence
from trephine.criteria.input_words import RELATION_WORDS, input_unit, relation_words
from trephine.criteria.input_words import input_label as input_label
from trephine.criteria.model import Comparator
from trephine.present.numbers import NOT_RECORDED, format_value


def _counted(value: Any, unit: str) -> str:
    """The unit of one thing in the singular: '1 course', not '1 courses'."""
    countable = unit in (" courses", " samples", " days", " cells")
    if countable and _is_number(value) and float(str(value)) == 1:
        return unit[:-1]
    return unit


def _word(value: Any) -> str:
    """A text or yes/no value as words (``less_intensive`` → ``less intensive``)."""
    text = format_value(value)
    return text.replace("_", " ")


#: The comparison that holds when the given one does not (a comparison a rule needs to fail,
#: under ``Not``, is worded as this one holding).
INVERSE: dict[str, str] = {c.value: c.inverse.value for c in Comparator}


def evidence_sentence(
    item: Mapping[str, Any], category: str | None = None, decided: bool = True
) -> str:
    """One comparison as a sentence; ``category`` names the call the rule makes. An item the
    evaluator already worded (``sentence``: e.g. which call of a marrow stands, the day of an
    engraftment) is shown as it is.

    The item's ``role`` (set by the engine on a matched rule's comparisons) decides the ending:
    ``supports`` "meets", also for a comparison the rule needs *not* to hold (worded as its
    opposite holding: "not yes", "at least 5 %"); ``not_needed`` (an either/or branch another
    branch carried) says so instead of "does not meet". An item without a role (stored before
    roles were recorded) ends by its own outcome, as it always did.

    ``decided`` False: the call is not evaluable (no rule matched; its comparisons are those of
    the row that could not be decided), so a comparison says what it found and claims no
    criterion met: "Marrow blasts 3 % — below 5 %", never "meets the Not evaluable criterion".
    """
    if item.get("sentence"):
        return str(item["sentence"])
    role = item.get("role")
    if role is not None:
        return _role_sentence(item, str(role), category)
    name = str(item.get("input", ""))
    label = input_label(name)
    value = item.get("value")
    comparator = item.get("comparator")
    outcome = item.get("outcome")
    if value is None or str(value) == "None":
        return f"{label} {NOT_RECORDED}: this criterion could not be checked"
    numeric = isinstance(value, int | float) or _is_number(value)
    unit = input_unit(name) if numeric and not isinstance(value, bool) else ""
    shown = (format_value(value) + _counted(value, unit)) if unit else _word(value)
    if not comparator:
        return f"{label}: {shown}"
    threshold = item.get("threshold")
    limit = (format_value(threshold) + unit) if unit else _word(threshold)
    holds, fails = relation_words(str(comparator))
    if unit:
        relation = f"{holds if outcome else fails} {limit}"
        text = f"{label} {shown} — {relation}"
    elif comparator == "==":
        text = f"{label}: {shown}" + (" — as required" if outcome else f" — required {limit}")
    else:
        text = f"{label}: {shown} — {holds if outcome else fails} {limit}"
    if outcome is None or not decided:
        return text
    what = f"the {_inline(category)} criterion" if category else "this criterion"
    return f"{text}: {'meets' if outcome else 'does not meet'} {what}"


def _role_sentence(item: Mapping[str, Any], role: str, category: str | None) -> str:
    name = str(item.get("input", ""))
    label = input_label(name)
    value = item.get("value")
    comparator = str(item.get("comparator") or "")
    outcome = item.get("outcome")
    needed = role != "not_needed"
    if needed and outcome is False and comparator in INVERSE:
        comparator, outcome = INVERSE[comparator], True  # the rule needs it not to hold
    if value is None or str(value) == "None":
        text = f"{label} {NOT_RECORDED}"
        if needed:
            return f"{text}: this criterion could not be checked"
    else:
        numeric = isinstance(value, int | float) or _is_number(value)
        unit = input_unit(name) if numeric and not isinstance(value, bool) else ""
        shown = (format_value(value) + _counted(value, unit)) if unit else _word(value)
        threshold = item.get("threshold")
        limit = (format_value(threshold) + unit) if unit else _word(threshold)
        holds, fails = relation_words(comparator)
        if not comparator or outcome is None:
            text = f"{label} {shown}" if unit else f"{label}: {shown}"
        elif unit:
            text = f"{label} {shown} — {holds if outcome else fails} {limit}"
        elif not needed:
            text = f"{label}: {shown}"  # what it was; the branch's requirement did not count
        elif comparator == "==":
            text = f"{label}: {shown} — as required"
        elif comparator == "!=":
            text = f"{label}: {shown} — as required (not {limit})"
        else:
            text = f"{label}: {shown} — {holds} {limit}"
        if needed and outcome is None:
            return text
    call = f"the {_inline(category)} call" if category else "this call"
    if not needed:
        return f"{text} — not needed: another criterion decided {call}"
    what = f"the {_inline(category)} criterion" if category else "this criterion"
    return f"{text}: meets {what}"


def _inline(label: str) -> str:
    """A call's label inside a sentence (:func:`trephine.criteria.categories.mid_sentence`)."""
    return mid_sentence(label)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(str(value))
    except ValueError:
        return False
    return str(value).strip().lower() not in ("nan", "inf", "-inf", "infinity")


def _mrd_failure_at() -> str:
    """What an ALL MRD failure is (ASH 2021: MRD at least the threshold, in CR), without a
    number: a site sets ``mrd_threshold_pct`` (``TREPHINE_ASSESS_PARAMS``), so the rule's
    default need not be what the alert's call applied. The threshold applied is in the alert's
    stored message ("MRD 0.5 % — at least 0.1 %"), which the page shows under the headline."""
    return f"MRD {RELATION_WORDS[Comparator.GE].holds} the threshold, in CR"


#: Alert codes that are also a call category (the call raises its alert): the category's words,
#: from their one home (:func:`trephine.criteria.categories.category_words`), then what the
#: alert's headline adds to them.
_CATEGORY_ALERTS: dict[str, str] = {
    "HEMATOLOGIC_RELAPSE": "",
    "REFRACTORY": ": no remission at the response landmark",
    "MRD_RELAPSE_CONFIRMED": " on a second sample",
    "EXTRAMEDULLARY_RELAPSE": "",
    "MRD_FAILURE": f" ({_mrd_failure_at()})",
    "PRIMARY_GRAFT_FAILURE": "",
    "SECONDARY_GRAFT_FAILURE": "",
    "POOR_GRAFT_FUNCTION": "",
    "TRANSFUSIONAL_IRON_OVERLOAD": "",
    "POSSIBLE_MARROW_INFECTION": " — for review",
}

#: What each alert code means, in words (the stored message adds the particulars).
ALERTS: dict[str, str] = {
    **{code: category_words(code) + more for code, more in _CATEGORY_ALERTS.items()},
    "MRD_CONVERSION": "MRD became positive again after a negative result",
    "MRD_LOG_RISE": "MRD rose by at least one log",
    "LOSS_OF_DONOR_CHIMERISM": "Loss of full donor chimerism",
    "INCREASING_RECIPIENT_CHIMERISM": "Recipient chimerism is rising",
    "MYELOMA_PROGRESSION": "Myeloma progression (to confirm)",
    "MYELOMA_PROGRESSION_CONFIRMED": "Myeloma progression, confirmed",
    # issue 13: ALL / CAR-T, transplant, aplastic anaemia, work-ups
    "CAR_T_RELAPSE": "Relapse after CAR-T",
    "B_CELL_APLASIA_LOSS": "Loss of B-cell aplasia after CAR-T (to confirm)",
    "B_CELL_APLASIA_LOSS_CONFIRMED": "Loss of B-cell aplasia after CAR-T, confirmed",
    "AA_RELAPSE": "Aplastic anaemia relapse",
    "CLONAL_EVOLUTION": "Clonal evolution after immunosuppression",
}


def alert_headline(code: str) -> str:
    """The alert's meaning in words; an unknown code is spelled out rather than shown raw."""
    if code in ALERTS:
        return ALERTS[code]
    words = code.replace("_", " ").lower()
    return words[:1].upper() + words[1:]


def category_label(category: str) -> str:
    """A call category as every page names it (chart badge and hover, criteria calls, patient
    list, the marrow report, FHIR's display text): the one wording of
    :func:`trephine.criteria.categories.category_words`, which the stored-timeline story uses
    too. A category that is also an alert reads as that alert's headline names it, without its
    particulars (``HEMATOLOGIC_RELAPSE``: "Haematologic relapse", ``REFRACTORY``: "Refractory
    disease"; a test holds :data:`ALERTS` to it)."""
    return category_words(str(category))


@lru_cache(maxsize=1)
def _restated() -> dict[str, str]:
    """Call categories that restate a rule table's category across assessments (myeloma PD
    confirmed, or to confirm) → that category."""
    from trephine.criteria.categories import CONFIRMATION_BY_RULESET, RELAPSE_BY_RULESET

    return {
        state: RELAPSE_BY_RULESET[key][0]
        for key, states in CONFIRMATION_BY_RULESET.items()
        for state in states
    }


def criterion_label(category: str) -> str:
    """The criterion a call's evidence meets, as :func:`category_label` names it: the call's
    own category, or for a myeloma progression confirmed or to confirm the table's ``PD`` (its
    comparisons meet the PD criterion; the confirmation is the call's own evidence item)."""
    code = str(category)
    return category_label(_restated().get(code, code))


def alert_detail(code: str, message: str) -> str:
    """The stored message when it adds something to the headline (not the code repeated)."""
    text = message.strip()
    if text.upper() == code.upper() or text == "":
        return ""
    if text.replace("_", "").replace("-", "").isalnum() and text.isupper():
        # A state code such as MRD_RELAPSE_UNCONFIRMED: say it in words.
        words = text.replace("_", " ").lower().replace("mrd", "MRD")
        return f"Status: {words}"
    return text
