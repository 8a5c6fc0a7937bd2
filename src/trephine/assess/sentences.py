"""Alert messages as sentences: the supporting evidence with its value, threshold and source
("Marrow blasts 39 % — at least 5 %: haematological relapse after CR (NCCN ALL [R])").

The stored calls keep their evidence as data; pages turn that into sentences in
:mod:`trephine.present`. An alert is stored as one message, so it is worded here, once.
"""

from __future__ import annotations

from trephine.criteria.model import SUPPORTS, Comparator, Evaluation

LABELS: dict[str, tuple[str, str]] = {
    "bm_blasts_pct": ("Marrow blasts", " %"),
    "circulating_blasts": ("Blasts in the blood", ""),
    "extramedullary": ("Extramedullary disease", ""),
    "mrd_level_pct": ("MRD", " %"),
    "mrd_detected": ("MRD detected", ""),
    "mrd_quantifiable": ("MRD quantifiable", ""),
    "hematologic_cr": ("Haematologic CR", ""),
    "sensitivity_pct": ("MRD assay sensitivity", " %"),
    "mrd_method": ("MRD method", ""),
    "timepoint": ("MRD time point", ""),
    "cr_achieved": ("CR, CRh or CRi reached", ""),
    "end_of_induction": ("End of induction", ""),
    "cd19_on_blasts": ("CD19 on the blasts", ""),
    "biopsy_cellularity_pct": ("Trephine cellularity", " %"),
    "residual_hematopoietic_cells_pct": ("Residual haematopoietic cells", " %"),
    "retic_abs": ("Reticulocytes", " ×10⁹/L"),
    "retic_method": ("Reticulocyte count method", ""),
    "baseline_severe": ("Severe or very severe AA before treatment", ""),
    "baseline_anc": ("ANC at baseline", " ×10⁹/L"),
    "baseline_plt": ("Platelets at baseline", " ×10⁹/L"),
    "baseline_hb": ("Haemoglobin at baseline", " g/dL"),
    "anc_doubled": ("ANC doubled from baseline", ""),
    "plt_doubled": ("Platelets doubled from baseline", ""),
    "hb_rise": ("Rise in haemoglobin from baseline", " g/dL"),
    "pnh_clone_before": ("PNH clone on an earlier test", ""),
    "infection_tested": ("Infection test recorded", ""),
    "infection_test_positive": ("Infection test positive", ""),
    "granulomas": ("Granulomas", ""),
    "iron_stores_absent": ("Iron stores absent", ""),
    "ring_sideroblasts_pct": ("Ring sideroblasts", " %"),
    "megaloblastic_change": ("Megaloblastic change", ""),
    "hypocellular": ("Hypocellular marrow", ""),
    "infiltrated": ("Marrow infiltration", ""),
    "cd19_pct_pb": ("Blood CD19+ cells", " % of lymphocytes"),
    "cd19_abs_per_ul": ("Blood CD19+ cells", "/µL"),
    "ferritin_ug_l": ("Ferritin", " µg/L"),
    "liver_iron_mg_g": ("Liver iron", " mg/g"),
    "transfusion_dependent": ("Transfusion dependent", ""),
    "transfusion_independent": ("Transfusion independent", ""),
    "anc": ("ANC", " ×10⁹/L"),
    "plt": ("Platelets", " ×10⁹/L"),
    "hb": ("Haemoglobin", " g/dL"),
    "pnh_clone_pct": ("PNH clone", " %"),
    "mds_type_abnormality": ("MDS-type cytogenetic abnormality", ""),
}
_RELATION = {
    ">=": "at least",
    ">": "above",
    "<": "below",
    "<=": "at most",
    "==": "is",
    "!=": "not",
}


def sentence(evaluation: Evaluation, what: str, source: str) -> str:
    """The comparisons that support the call, then what it means and the source.

    Picked by :attr:`~trephine.criteria.model.Evidence.role`, not by outcome: a comparison the
    matched rule did not need (an either/or branch another branch carried, or a part of it) is
    never quoted, even when it held; one that supports the call by *not* holding (under
    ``Not``) is worded as its opposite holding ("Marrow blasts 3 % — below 5 %").
    """
    parts = []
    for e in evaluation.evidence:
        if e.role != SUPPORTS or e.comparator is None:
            continue
        comparator = e.comparator if e.outcome is not False else e.comparator.inverse
        label, unit = LABELS.get(e.input, (e.input.replace("_", " ").capitalize(), ""))
        if isinstance(e.value, bool):
            parts.append(f"{label}: {'yes' if e.value else 'no'}")
        elif comparator is Comparator.EQ:
            parts.append(f"{label}: {e.value}")
        else:
            relation = _RELATION.get(comparator.value, comparator.value)
            parts.append(f"{label} {e.value}{unit} — {relation} {e.threshold}{unit}")
    return f"{'; '.join(parts) or what.capitalize()}: {what} ({source})"
