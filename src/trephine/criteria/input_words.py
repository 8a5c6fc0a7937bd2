"""The words of a rule's inputs and comparisons: one home for each input's label and unit, as a
clinician reads them ("Marrow blasts", "%"; "ANC", "×10⁹/L"), and for each comparison's relation
("at least"; "below" when it does not hold), the three pieces every evidence sentence is made of:
"Marrow blasts 39 % — at least 5 %".

Two readers share them, as :mod:`trephine.criteria.categories` is the one home of a call
category's words:

- the alert messages, worded once and stored (:func:`trephine.assess.sentences.sentence`:
  "Marrow blasts 39 % — at least 5 %: haematological relapse after CR (NCCN ALL [R])");
- the explanations of a stored call on the pages, in the report and the CLI
  (:func:`trephine.present.explain.evidence_sentence`).

:data:`INPUT_WORDS` holds the label and unit of every input of a rule set whose calls are stored
(the stored-timeline assessors and their addenda) and of every input an alert message can quote;
a test holds it to that (``tests/criteria/test_input_words.py``), to the units the rule sets'
input contracts declare, and to being the only such table. An input of another rule set (the case
format's, a plugin's) reads as its contract's short description, else as its name in words
(:func:`input_label`).

:data:`RELATION_WORDS` words each :class:`~trephine.criteria.model.Comparator` (a test holds it
to every member and to being the only such table). It lives here, with the labels and units it is
read with, rather than on the comparator itself: :mod:`trephine.criteria.model` is the engine's
meaning of a comparison (the inequality exactly as the source writes it), which every rule set
imports, and how a page or an alert message reads it is wording, which changes for its own
reasons (an alert's words are stored and kept; a page words a comparison that did not hold too).

A stored alert keeps the words it was raised with: an alert is the same alert by its patient,
date, code and assessor (:mod:`trephine.services.assessments`), never by its message, so new
words here neither rewrite a stored message nor raise an alert again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from trephine.criteria.model import Comparator


class InputWords(NamedTuple):
    """An input as read: its label and the unit its numbers are read in ("" for none)."""

    label: str
    unit: str = ""


#: Each input's label and unit, where the input name or its contract's description would read
#: poorly ('Mfc', 'Serum m g dl', 'Baseline anc', 'Dflc mg dl rise').
INPUT_WORDS: Mapping[str, InputWords] = MappingProxyType(
    {
        "bm_blasts_pct": InputWords("Marrow blasts", "%"),
        "baseline_bm_blasts_pct": InputWords("Marrow blasts at baseline", "%"),
        "bm_blast_reduction_pct": InputWords("Fall in marrow blasts from baseline", "%"),
        "anc": InputWords("ANC", "×10⁹/L"),
        "plt": InputWords("Platelets", "×10⁹/L"),
        "hb": InputWords("Haemoglobin", "g/dL"),
        "circulating_blasts": InputWords("Blasts in the blood"),
        "extramedullary": InputWords("Extramedullary disease"),
        "new_extramedullary": InputWords("New extramedullary disease"),
        "auer_rods": InputWords("Auer rods"),
        "cells_counted": InputWords("Aspirate cells counted", "cells"),
        "biopsy_cellularity_pct": InputWords("Trephine cellularity", "%"),
        "therapy_intensity": InputWords("Therapy intensity"),
        "courses_completed": InputWords("Courses completed", "courses"),
        "days_since_start": InputWords("Days since therapy started", "days"),
        "cr_achieved": InputWords("CR, CRh or CRi reached"),
        "hemodilute": InputWords("Haemodilute aspirate"),
        "inr": InputWords("INR", "ratio"),
        "bm_plasma_cells_pct": InputWords("Marrow plasma cells", "%"),
        "donor_pct": InputWords("Donor chimerism", "%"),
        "mrd_pct": InputWords("MRD level", "%"),
        "mrd_method": InputWords("MRD method"),
        "pcr_detected": InputWords("PCR target detected"),
        "pcr_level": InputWords("PCR level"),
        "pcr_level_pct": InputWords("PCR level", "% target/ABL1"),
        "flow_mrd_pct": InputWords("Flow MRD", "%"),
        "ngs_detected": InputWords("NGS clone detected"),
        "pb_positive_samples": InputWords("Blood samples with blasts", "samples"),
        "pb_positive_span_days": InputWords("Days between those blood samples", "days"),
        "mfc_pct": InputWords("Flow MRD", "% of CD45+ cells"),
        "status": InputWords("MRD status"),
        "previous_status": InputWords("Previous MRD status"),
        "mrd_detected": InputWords("MRD detected"),
        "mrd_quantifiable": InputWords("MRD quantifiable"),
        "mrd_level_pct": InputWords("MRD level", "%"),
        "mrd_fraction": InputWords("MRD (CLL cells per leukocyte)"),
        "sensitivity_pct": InputWords("MRD assay sensitivity", "%"),
        "hematologic_cr": InputWords("Haematologic CR"),
        "pb_blasts_pct": InputWords("Blood blasts", "%"),
        "bm_pc_pct": InputWords("Marrow plasma cells", "%"),
        "serum_m_g_dl": InputWords("Serum M-protein", "g/dL"),
        "baseline_serum_m_g_dl": InputWords("Serum M-protein at baseline", "g/dL"),
        "nadir_serum_m_g_dl": InputWords("Serum M-protein at its nadir", "g/dL"),
        "serum_m_g_dl_reduction_pct": InputWords("Fall in serum M-protein", "%"),
        "serum_m_g_dl_rise": InputWords("Rise in serum M-protein", "g/dL"),
        "serum_m_g_dl_increase_pct": InputWords("Rise in serum M-protein", "%"),
        "urine_m_mg_24h": InputWords("Urine M-protein", "mg/24h"),
        "urine_m_mg_24h_reduction_pct": InputWords("Fall in urine M-protein", "%"),
        "serum_ife": InputWords("Serum immunofixation"),
        "urine_ife": InputWords("Urine immunofixation"),
        "flc_ratio": InputWords("Free light chain ratio", "ratio"),
        "ihc_kappa_lambda_ratio": InputWords("Plasma cell kappa/lambda ratio (IHC)", "ratio"),
        "ihc_pcs_counted": InputWords("Plasma cells counted (IHC)", "cells"),
        "retic_abs": InputWords("Reticulocytes", "×10⁹/L"),
        "residual_hematopoietic_cells_pct": InputWords("Residual haematopoietic cells", "%"),
        "pnh_clone_pct": InputWords("PNH clone", "%"),
        "hb_transfused_or_epo": InputWords("Haemoglobin supported by transfusion or EPO"),
        "ferritin_ug_l": InputWords("Ferritin", "µg/L"),
        "liver_iron_mg_g": InputWords("Liver iron", "mg Fe/g dry weight"),
        "infiltrated": InputWords("Marrow infiltration"),
        "largest_node_cm": InputWords("Largest lymph node", "cm"),
        "node_change_pct": InputWords("Change in lymph node size", "%"),
        "liver_spleen_normal": InputWords("Liver and spleen normal"),
        "circulating_clonal_b": InputWords("Clonal B cells in the blood"),
        "marrow_b_nodules": InputWords("B-lymphoid nodules in the marrow"),
        "cd19_pct_pb": InputWords("CD19+ cells in the blood", "% of lymphocytes"),
        "cd19_on_blasts": InputWords("CD19 on the blasts"),
        "baseline_anc": InputWords("ANC at baseline", "×10⁹/L"),
        "baseline_plt": InputWords("Platelets at baseline", "×10⁹/L"),
        "baseline_hb": InputWords("Haemoglobin at baseline", "g/dL"),
        "anc_doubled": InputWords("ANC doubled from baseline"),
        "plt_doubled": InputWords("Platelets doubled from baseline"),
        "hb_rise": InputWords("Rise in haemoglobin from baseline", "g/dL"),
        "anc_change_pct": InputWords("Change in ANC", "%"),
        "plt_change_pct": InputWords("Change in platelets", "%"),
        "hb_change_pct": InputWords("Change in haemoglobin", "%"),
        "hb_fall_g_dl": InputWords("Fall in haemoglobin", "g/dL"),
        "days_since_gcsf": InputWords("Days since G-CSF", "days"),
        "days_since_last_platelet_tx": InputWords(
            "Days since the last platelet transfusion", "days"
        ),
        "days_since_platelet_transfusion": InputWords(
            "Days since the last platelet transfusion", "days"
        ),
        "days_since_last_rbc_tx": InputWords("Days since the last red-cell transfusion", "days"),
        "days_since_transfusion_or_gf": InputWords(
            "Days since a transfusion or growth factor", "days"
        ),
        "rbc_transfusion_independent": InputWords("Red-cell transfusion independent"),
        "transfusion_independent": InputWords("Transfusion independent"),
        "transfusion_dependent": InputWords("Transfusion dependent"),
        "transfusion_dependence": InputWords("New red-cell transfusion dependence"),
        "transfused": InputWords("Transfused"),
        "pre_8wk_rbc_units": InputWords(
            "Red-cell units in the 8 weeks before treatment", "units/8 weeks"
        ),
        "on_treatment_8wk_rbc_units": InputWords(
            "Red-cell units in 8 weeks on treatment", "units/8 weeks"
        ),
        "complete_cytogenetic_response": InputWords("Complete cytogenetic response"),
        "normal_maturation": InputWords("Normal maturation"),
        "prior_response": InputWords("Response reached before"),
        "cd45_events": InputWords("CD45+ events acquired", "events"),
        "end_of_induction": InputWords("End of induction"),
        "timepoint": InputWords("MRD time point"),
        "cd19_abs_per_ul": InputWords("CD19+ cell count in the blood", "cells/µL"),
        "liver_spleen_change_pct": InputWords("Change in liver and spleen size", "%"),
        "clonal_b_change_pct": InputWords("Change in clonal B cells in the blood", "%"),
        "marrow_cll_cells_change_pct": InputWords("Change in marrow CLL cells", "%"),
        "constitutional_symptoms": InputWords("Constitutional symptoms"),
        "marrow_cellularity": InputWords("Marrow cellularity"),
        "marrow_lymphocytes_pct": InputWords("Marrow lymphocytes", "%"),
        "marrow_lymphocytes_rise_to_gt30": InputWords("Marrow lymphocytes risen to over 30 %"),
        "months_after_end_of_therapy": InputWords("Months since the end of therapy", "months"),
        "leukocytes_analysed": InputWords("Leukocytes analysed", "cells"),
        "cll_events": InputWords("CLL events", "events"),
        "baseline_urine_m_mg_24h": InputWords("Urine M-protein at baseline", "mg/24h"),
        "nadir_urine_m_mg_24h": InputWords("Urine M-protein at its nadir", "mg/24h"),
        "urine_m_mg_24h_rise": InputWords("Rise in urine M-protein", "mg/24h"),
        "urine_m_mg_24h_increase_pct": InputWords("Rise in urine M-protein", "%"),
        "involved_flc_mg_dl": InputWords("Involved free light chain", "mg/dL"),
        "uninvolved_flc_mg_dl": InputWords("Uninvolved free light chain", "mg/dL"),
        "baseline_involved_flc_mg_dl": InputWords("Involved free light chain at baseline", "mg/dL"),
        "baseline_uninvolved_flc_mg_dl": InputWords(
            "Uninvolved free light chain at baseline", "mg/dL"
        ),
        "baseline_dflc_mg_dl": InputWords(
            "Involved minus uninvolved light chain at baseline", "mg/dL"
        ),
        "nadir_dflc_mg_dl": InputWords(
            "Involved minus uninvolved light chain at its nadir", "mg/dL"
        ),
        "dflc_mg_dl_reduction_pct": InputWords(
            "Fall in involved minus uninvolved light chain", "%"
        ),
        "dflc_mg_dl_rise": InputWords("Rise in involved minus uninvolved light chain", "mg/dL"),
        "dflc_mg_dl_increase_pct": InputWords("Rise in involved minus uninvolved light chain", "%"),
        "baseline_bm_pc_pct": InputWords("Marrow plasma cells at baseline", "%"),
        "nadir_bm_pc_pct": InputWords("Marrow plasma cells at their nadir", "%"),
        "bm_pc_pct_reduction_pct": InputWords("Fall in marrow plasma cells", "%"),
        "bm_pc_pct_rise": InputWords("Rise in marrow plasma cells", "%"),
        "bm_pc_pct_increase_pct": InputWords("Rise in marrow plasma cells", "%"),
        "plasmacytoma_reduction_pct": InputWords("Fall in plasmacytoma size", "%"),
        "new_lesions": InputWords("New lesions"),
        "mrd_result": InputWords("MRD result"),
        "mrd_sensitivity": InputWords("MRD assay sensitivity", "fraction"),
        "pet": InputWords("PET-CT"),
        "retic_method": InputWords("Reticulocyte count method"),
        "mds_type_abnormality": InputWords("MDS-type cytogenetic abnormality"),
        "count_kind": InputWords("Count followed"),
        "days_since_transplant": InputWords("Days since transplant", "days"),
        "donor_cells_detected": InputWords("Donor cells detected"),
        "graft_source": InputWords("Graft source"),
        "cytopenic_days": InputWords("Consecutive cytopenic days after day +28", "days"),
        "granulomas": InputWords("Granulomas"),
        "iron_stores_absent": InputWords("Iron stores absent"),
        "ring_sideroblasts_pct": InputWords("Ring sideroblasts", "% of erythroid precursors"),
        "megaloblastic_change": InputWords("Megaloblastic change"),
        "hypocellular": InputWords("Hypocellular marrow"),
        "baseline_severe": InputWords("Severe or very severe AA before treatment"),
        "pnh_clone_before": InputWords("PNH clone on an earlier test"),
        "infection_tested": InputWords("Infection test recorded"),
        "infection_test_positive": InputWords("Infection test positive"),
        "anc_lost_after_engraftment": InputWords("ANC below 0.5 on 3 days running after recovery"),
        "base_response": InputWords("Response reached on earlier tests"),
        "best_anc": InputWords("Best ANC during the response", "×10⁹/L"),
        "best_hb": InputWords("Best haemoglobin during the response", "g/dL"),
        "best_plt": InputWords("Best platelet count during the response", "×10⁹/L"),
        "cll_infiltrate_present": InputWords("CLL infiltrate in the marrow"),
        "dflc_mg_dl": InputWords("Involved minus uninvolved light chain", "mg/dL"),
        "duration_weeks": InputWords("Length of the response", "weeks"),
        "hb_lln": InputWords("Haemoglobin lower limit of normal", "g/dL"),
        "neutrophil_engrafted": InputWords("Neutrophil engraftment (ANC on 3 days)"),
        "ngs_identical_reads": InputWords("Reads of the index clone (NGS MRD)", "reads"),
        "ngs_max_informative_vaf_pct": InputWords("Highest informative VAF", "%"),
        "pcr_low_level_target": InputWords("PCR target with a low-level MRD cut-off (NPM1 or CBF)"),
        "plasmacytoma": InputWords("Soft-tissue plasmacytoma"),
        "rbc_units_reduction_per_8wk": InputWords(
            "Fewer red-cell units than the previous 8 weeks", "units/8 weeks"
        ),
        "sex": InputWords("Sex"),
        "spicules_present": InputWords("Spicules on the aspirate"),
        "spleen_cm": InputWords("Spleen length", "cm"),
    }
)


class RelationWords(NamedTuple):
    """A comparison as read: when it holds ("at least 5 %") and when it does not ("below 5 %")."""

    holds: str
    fails: str


#: Each comparison's relation, as the alert messages and the pages read it ("Marrow blasts 39 %
#: — at least 5 %"; a comparison that did not hold: "Marrow blasts 3 % — below 5 %"). ``==``
#: reads as its value ("MRD method: NGS — as required") and ``!=`` as the value it must not be.
RELATION_WORDS: Mapping[Comparator, RelationWords] = MappingProxyType(
    {
        Comparator.LT: RelationWords("below", "not below"),
        Comparator.LE: RelationWords("at most", "above"),
        Comparator.GE: RelationWords("at least", "below"),
        Comparator.GT: RelationWords("above", "not above"),
        Comparator.EQ: RelationWords("as required", "required"),
        Comparator.NE: RelationWords("not", "must not be"),
    }
)


def relation_words(comparator: str) -> RelationWords:
    """The words of ``comparator`` (a :class:`~trephine.criteria.model.Comparator` or its symbol
    as stored in evidence); a symbol no comparator has (evidence of another version or a plugin)
    reads as itself: "≈ 5", "not ≈ 5"."""
    try:
        return RELATION_WORDS[Comparator(comparator)]
    except ValueError:
        return RelationWords(str(comparator), f"not {comparator}")


#: A unit as an input contract spells it → as it is read after a number.
CONTRACT_UNITS: Mapping[str, str] = MappingProxyType(
    {
        "x10^9/L": "×10⁹/L",
    }
)

#: Interpretation parameters a rule reads (``param:NAME`` in the evidence): the site's choice.
PARAMETERS: Mapping[str, str] = MappingProxyType(
    {
        "cri_mode": "CRi definition",
        "hemodilution_blocks_remission": "Haemodilute sample blocks a remission call",
        "apply_adequacy_to_all": "Sample adequacy applies to every call",
        "pr_requires_no_pb_blasts": "PR requires no blasts in the blood",
    }
)

#: An input measured on a day after transplant ('anc day +18', 'days since platelet
#: transfusion, day +25'): the base input's label, then the day.
_ON_DAY = re.compile(r"^(?P<base>.+?),? day (?P<day>[+-]\d+)$")


@lru_cache(maxsize=1)
def contracts() -> dict[str, tuple[str, str | None]]:
    """Every input of the built-in rule sets: name → (description, unit) of the first contract
    that declares it."""
    from trephine.criteria.registry import rulesets

    found: dict[str, tuple[str, str | None]] = {}
    for rs in rulesets().values():
        for spec in rs.inputs:
            found.setdefault(spec.name, (spec.description, spec.unit))
    return found


def input_label(name: str) -> str:
    """An input as a clinician reads it: :data:`INPUT_WORDS`, else (an input measured on a day
    after transplant) its base input's label and the day, else (``param:NAME``) the setting,
    else its contract's description when short, else its name in words."""
    if name in INPUT_WORDS:
        return INPUT_WORDS[name].label
    if on_day := _ON_DAY.match(name):
        return f"{input_label(on_day['base'].replace(' ', '_'))} on day {on_day['day']}"
    if name.startswith("param:"):
        # A setting, not a finding: 'Param:cri mode' read like a measured input.
        key = name.removeprefix("param:")
        words = PARAMETERS.get(key) or key.replace("_", " ")
        return f"{words[:1].upper()}{words[1:]} (setting)"
    description = contracts().get(name, ("", None))[0]
    if description and len(description) <= 60:
        return description[0].upper() + description[1:]
    words = name.removesuffix("_pct").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def contract_unit(name: str) -> str:
    """The unit the rule sets' input contract declares for ``name``, as read ("" for none; a
    ``_pct`` input without one is a percentage)."""
    unit = contracts().get(name, ("", None))[1]
    if unit is None and name.endswith("_pct"):
        unit = "%"
    return "" if unit is None else CONTRACT_UNITS.get(unit, unit)


def input_unit(name: str) -> str:
    """What follows a number of ``name`` ("Marrow blasts 39 %"): a space and the unit of
    :data:`INPUT_WORDS`, else of the input's contract; "" for none."""
    unit = INPUT_WORDS[name].unit if name in INPUT_WORDS else contract_unit(name)
    return f" {unit}" if unit else ""
