"""Criteria evidence and alerts as sentences a clinician reads (pages and CLI share them).

The engine records each comparison as data (``{"input": "bm_blasts_pct", "value": "3",
"comparator": "<", "threshold": "5", "outcome": true}``); stored and JSON evidence keep that
exact form for audit. What a person reads is built here:

    Marrow blasts 3 % — below 5 %: meets the CR criterion

Input names become words from the rule sets' own input contracts (description and unit), with
a few short clinical labels; numbers are rounded for reading by :func:`format_value` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from trephine.criteria.categories import category_words, mid_sentence
from trephine.criteria.model import Comparator
from trephine.present.numbers import NOT_RECORDED, format_value

#: Short labels a clinician uses, where the input name or description would read poorly.
LABELS: dict[str, str] = {
    "bm_blasts_pct": "Marrow blasts",
    "baseline_bm_blasts_pct": "Marrow blasts at baseline",
    "bm_blast_reduction_pct": "Fall in marrow blasts from baseline",
    "anc": "ANC",
    "plt": "Platelets",
    "hb": "Haemoglobin",
    "circulating_blasts": "Blasts in the blood",
    "extramedullary": "Extramedullary disease",
    "new_extramedullary": "New extramedullary disease",
    "auer_rods": "Auer rods",
    "cells_counted": "Aspirate cells counted",
    "biopsy_cellularity_pct": "Trephine cellularity",
    "therapy_intensity": "Therapy intensity",
    "courses_completed": "Courses completed",
    "days_since_start": "Days since therapy started",
    "cr_achieved": "CR, CRh or CRi reached",
    "hemodilute": "Haemodilute aspirate",
    "bm_plasma_cells_pct": "Marrow plasma cells",
    "donor_pct": "Donor chimerism",
    "mrd_pct": "MRD level",
    "mrd_method": "MRD method",
    "pcr_detected": "PCR target detected",
    "pcr_level": "PCR level",
    "pcr_level_pct": "PCR level",
    "flow_mrd_pct": "Flow MRD",
    "ngs_detected": "NGS clone detected",
    "pb_positive_samples": "Blood samples with blasts",
    "pb_positive_span_days": "Days between those blood samples",
    # What the demo's calls carry (AML flow MRD, the MRD series, myeloma, CLL, ALL, aplastic
    # anaemia, work-ups): the name-derived fallback read 'Mfc', 'Serum m g dl', 'Bm pc'.
    "mfc_pct": "Flow MRD",
    "status": "MRD status",
    "previous_status": "Previous MRD status",
    "mrd_detected": "MRD detected",
    "mrd_quantifiable": "MRD quantifiable",
    "mrd_level_pct": "MRD level",
    "mrd_fraction": "MRD (CLL cells per leukocyte)",
    "sensitivity_pct": "MRD assay sensitivity",
    "hematologic_cr": "Haematologic CR",
    "pb_blasts_pct": "Blood blasts",
    "bm_pc_pct": "Marrow plasma cells",
    "serum_m_g_dl": "Serum M-protein",
    "baseline_serum_m_g_dl": "Serum M-protein at baseline",
    "nadir_serum_m_g_dl": "Serum M-protein at its nadir",
    "serum_m_g_dl_reduction_pct": "Fall in serum M-protein",
    "serum_m_g_dl_rise": "Rise in serum M-protein",
    "serum_m_g_dl_increase_pct": "Rise in serum M-protein",
    "urine_m_mg_24h": "Urine M-protein",
    "urine_m_mg_24h_reduction_pct": "Fall in urine M-protein",
    "serum_ife": "Serum immunofixation",
    "urine_ife": "Urine immunofixation",
    "flc_ratio": "Free light chain ratio",
    "ihc_kappa_lambda_ratio": "Plasma cell kappa/lambda ratio (IHC)",
    "ihc_pcs_counted": "Plasma cells counted (IHC)",
    "retic_abs": "Reticulocytes",
    "residual_hematopoietic_cells_pct": "Residual haematopoietic cells",
    "pnh_clone_pct": "PNH clone",
    "hb_transfused_or_epo": "Haemoglobin supported by transfusion or EPO",
    "ferritin_ug_l": "Ferritin",
    "liver_iron_mg_g": "Liver iron",
    "infiltrated": "Marrow infiltration",
    "largest_node_cm": "Largest lymph node",
    "node_change_pct": "Change in lymph node size",
    "liver_spleen_normal": "Liver and spleen normal",
    "circulating_clonal_b": "Clonal B cells in the blood",
    "marrow_b_nodules": "B-lymphoid nodules in the marrow",
    "cd19_pct_pb": "CD19+ cells in the blood",
    "cd19_on_blasts": "CD19 on the blasts",
    # Every other input of a stored-timeline rule set (their name-derived words read 'Baseline
    # anc', 'Dflc mg dl rise', 'Days since gcsf'): tests/present/test_input_labels.py.
    "baseline_anc": "ANC at baseline",
    "baseline_plt": "Platelets at baseline",
    "baseline_hb": "Haemoglobin at baseline",
    "anc_doubled": "ANC doubled from baseline",
    "plt_doubled": "Platelets doubled from baseline",
    "hb_rise": "Rise in haemoglobin from baseline",
    "anc_change_pct": "Change in ANC",
    "plt_change_pct": "Change in platelets",
    "hb_change_pct": "Change in haemoglobin",
    "hb_fall_g_dl": "Fall in haemoglobin",
    "days_since_gcsf": "Days since G-CSF",
    "days_since_last_platelet_tx": "Days since the last platelet transfusion",
    "days_since_platelet_transfusion": "Days since the last platelet transfusion",
    "days_since_last_rbc_tx": "Days since the last red-cell transfusion",
    "days_since_transfusion_or_gf": "Days since a transfusion or growth factor",
    "rbc_transfusion_independent": "Red-cell transfusion independent",
    "transfusion_independent": "Transfusion independent",
    "transfusion_dependent": "Transfusion dependent",
    "transfusion_dependence": "New red-cell transfusion dependence",
    "transfused": "Transfused",
    "pre_8wk_rbc_units": "Red-cell units in the 8 weeks before treatment",
    "on_treatment_8wk_rbc_units": "Red-cell units in 8 weeks on treatment",
    "complete_cytogenetic_response": "Complete cytogenetic response",
    "normal_maturation": "Normal maturation",
    "prior_response": "Response reached before",
    "cd45_events": "CD45+ events acquired",
    "end_of_induction": "End of induction",
    "timepoint": "MRD time point",
    "cd19_abs_per_ul": "CD19+ cells in the blood (count)",
    "liver_spleen_change_pct": "Change in liver and spleen size",
    "clonal_b_change_pct": "Change in clonal B cells in the blood",
    "marrow_cll_cells_change_pct": "Change in marrow CLL cells",
    "constitutional_symptoms": "Constitutional symptoms",
    "marrow_cellularity": "Marrow cellularity",
    "marrow_lymphocytes_pct": "Marrow lymphocytes",
    "marrow_lymphocytes_rise_to_gt30": "Marrow lymphocytes risen to over 30 %",
    "months_after_end_of_therapy": "Months since the end of therapy",
    "leukocytes_analysed": "Leukocytes analysed",
    "cll_events": "CLL events",
    "baseline_urine_m_mg_24h": "Urine M-protein at baseline",
    "nadir_urine_m_mg_24h": "Urine M-protein at its nadir",
    "urine_m_mg_24h_rise": "Rise in urine M-protein",
    "urine_m_mg_24h_increase_pct": "Rise in urine M-protein",
    "involved_flc_mg_dl": "Involved free light chain",
    "uninvolved_flc_mg_dl": "Uninvolved free light chain",
    "baseline_involved_flc_mg_dl": "Involved free light chain at baseline",
    "baseline_uninvolved_flc_mg_dl": "Uninvolved free light chain at baseline",
    "baseline_dflc_mg_dl": "Involved minus uninvolved light chain at baseline",
    "nadir_dflc_mg_dl": "Involved minus uninvolved light chain at its nadir",
    "dflc_mg_dl_reduction_pct": "Fall in involved minus uninvolved light chain",
    "dflc_mg_dl_rise": "Rise in involved minus uninvolved light chain",
    "dflc_mg_dl_increase_pct": "Rise in involved minus uninvolved light chain",
    "baseline_bm_pc_pct": "Marrow plasma cells at baseline",
    "nadir_bm_pc_pct": "Marrow plasma cells at their nadir",
    "bm_pc_pct_reduction_pct": "Fall in marrow plasma cells",
    "bm_pc_pct_rise": "Rise in marrow plasma cells",
    "bm_pc_pct_increase_pct": "Rise in marrow plasma cells",
    "plasmacytoma_reduction_pct": "Fall in plasmacytoma size",
    "new_lesions": "New lesions",
    "mrd_result": "MRD result",
    "mrd_sensitivity": "MRD assay sensitivity",
    "pet": "PET-CT",
    "retic_method": "Reticulocyte count method",
    "mds_type_abnormality": "MDS-type cytogenetic abnormality",
    "count_kind": "Count followed",
    "days_since_transplant": "Days since transplant",
    "donor_cells_detected": "Donor cells detected",
    "graft_source": "Graft source",
    "cytopenic_days": "Consecutive cytopenic days after day +28",
    "granulomas": "Granulomas",
    "iron_stores_absent": "Iron stores absent",
    "ring_sideroblasts_pct": "Ring sideroblasts",
    "megaloblastic_change": "Megaloblastic change",
    "hypocellular": "Hypocellular marrow",
}

#: An input measured on a day after transplant ('anc day +18', 'days since platelet
#: transfusion, day +25'): the base input's label, then the day.
_ON_DAY = re.compile(r"^(?P<base>.+?),? day (?P<day>[+-]\d+)$")

UNITS: dict[str, str] = {
    "%": " %",
    "x10^9/L": " ×10⁹/L",
    "g/dL": " g/dL",
    "g/L": " g/L",
    "days": " days",
    "cells": " cells",
    "courses": " courses",
    "samples": " samples",
}

#: How a comparison reads when it holds, and when it does not.
RELATIONS: dict[str, tuple[str, str]] = {
    "<": ("below", "not below"),
    "<=": ("at most", "above"),
    ">=": ("at least", "below"),
    ">": ("above", "not above"),
    "==": ("as required", "required"),
    "!=": ("not", "must not be"),
}


@lru_cache(maxsize=1)
def _inputs() -> dict[str, tuple[str, str | None]]:
    """Every input of the built-in rule sets: name → (description, unit)."""
    from trephine.criteria.registry import rulesets

    found: dict[str, tuple[str, str | None]] = {}
    for rs in rulesets().values():
        for spec in rs.inputs:
            found.setdefault(spec.name, (spec.description, spec.unit))
    return found


#: Interpretation parameters a rule reads (``param:NAME`` in the evidence): the site's choice.
PARAMETERS: dict[str, str] = {
    "cri_mode": "CRi definition",
    "hemodilution_blocks_remission": "Haemodilute sample blocks a remission call",
    "apply_adequacy_to_all": "Sample adequacy applies to every call",
    "pr_requires_no_pb_blasts": "PR requires no blasts in the blood",
}


def input_label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    if on_day := _ON_DAY.match(name):
        return f"{input_label(on_day['base'].replace(' ', '_'))} on day {on_day['day']}"
    if name.startswith("param:"):
        # A setting, not a finding: 'Param:cri mode' read like a measured input.
        key = name.removeprefix("param:")
        words = PARAMETERS.get(key) or key.replace("_", " ")
        return f"{words[:1].upper()}{words[1:]} (setting)"
    description = _inputs().get(name, ("", None))[0]
    if description and len(description) <= 60:
        return description[0].upper() + description[1:]
    words = name.removesuffix("_pct").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _unit(name: str) -> str:
    unit = _inputs().get(name, ("", None))[1]
    if unit is None and name.endswith("_pct"):
        unit = "%"
    return "" if unit is None else UNITS.get(unit, f" {unit}")


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
    unit = _unit(name) if numeric and not isinstance(value, bool) else ""
    shown = (format_value(value) + _counted(value, unit)) if unit else _word(value)
    if not comparator:
        return f"{label}: {shown}"
    threshold = item.get("threshold")
    limit = (format_value(threshold) + unit) if unit else _word(threshold)
    holds, fails = RELATIONS.get(str(comparator), (str(comparator), f"not {comparator}"))
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
        unit = _unit(name) if numeric and not isinstance(value, bool) else ""
        shown = (format_value(value) + _counted(value, unit)) if unit else _word(value)
        threshold = item.get("threshold")
        limit = (format_value(threshold) + unit) if unit else _word(threshold)
        holds, fails = RELATIONS.get(comparator, (comparator, f"not {comparator}"))
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


#: What each alert code means, in words (the stored message adds the particulars).
ALERTS: dict[str, str] = {
    "HEMATOLOGIC_RELAPSE": "Haematologic relapse",
    "REFRACTORY": "Refractory disease: no remission at the response landmark",
    "MRD_CONVERSION": "MRD became positive again after a negative result",
    "MRD_LOG_RISE": "MRD rose by at least one log",
    "MRD_RELAPSE_CONFIRMED": "MRD relapse confirmed on a second sample",
    "LOSS_OF_DONOR_CHIMERISM": "Loss of full donor chimerism",
    "INCREASING_RECIPIENT_CHIMERISM": "Recipient chimerism is rising",
    "MYELOMA_PROGRESSION": "Myeloma progression (to confirm)",
    "MYELOMA_PROGRESSION_CONFIRMED": "Myeloma progression, confirmed",
    # issue 13: ALL / CAR-T, transplant, aplastic anaemia, work-ups
    "EXTRAMEDULLARY_RELAPSE": "Extramedullary relapse",
    "MRD_FAILURE": "MRD failure (MRD at least 0.01 % in CR)",
    "CAR_T_RELAPSE": "Relapse after CAR-T",
    "B_CELL_APLASIA_LOSS": "Loss of B-cell aplasia after CAR-T (to confirm)",
    "B_CELL_APLASIA_LOSS_CONFIRMED": "Loss of B-cell aplasia after CAR-T, confirmed",
    "PRIMARY_GRAFT_FAILURE": "Primary graft failure",
    "SECONDARY_GRAFT_FAILURE": "Secondary graft failure",
    "POOR_GRAFT_FUNCTION": "Poor graft function",
    "AA_RELAPSE": "Aplastic anaemia relapse",
    "CLONAL_EVOLUTION": "Clonal evolution after immunosuppression",
    "TRANSFUSIONAL_IRON_OVERLOAD": "Transfusional iron overload",
    "POSSIBLE_MARROW_INFECTION": "Possible marrow infection — for review",
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
