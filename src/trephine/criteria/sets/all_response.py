"""ALL morphological response, relapse and refractoriness on one marrow; CD19 status of a
relapse after CD19 CAR-T.

Sources read in this pass (see ``docs/criteria/verification.md``):

* CIBMTR Forms Instruction Manual, *ALL response criteria* (spec source S7): CR = < 5 % marrow
  blasts, no extramedullary disease, ANC ≥ 1,000/µL, platelets ≥ 100,000/µL [V].
* Biol Blood Marrow Transplant 2010;16:1187, Table 4a "Response criteria in ALL": CR also needs
  no circulating blasts; CRi = the CR criteria without the blood-count thresholds [V].
* Relapse after CR (NCCN ALL, recalled): ≥ 5 % marrow blasts — the complement of the [V] CR
  threshold, as in the spec §5 prerequisite "haematologic CR (BM blasts < 5 %)" — or blasts back
  in the blood or at an extramedullary site [R]. Refractory disease = no CR/CRi at the end of
  induction [R].
"""

from __future__ import annotations

from trephine.criteria.model import (
    ANC_MAX,
    PLT_MAX,
    AllOf,
    AnyOf,
    Citation,
    D,
    InputKind,
    InputSpec,
    Rule,
    RuleSet,
    Tag,
    ge,
    is_,
    lt,
)

CIBMTR = "CIBMTR Forms Instruction Manual, ALL response criteria (S7)"
BBMT = "Biol Blood Marrow Transplant 2010;16:1187, Table 4a (ALL)"
NCCN = "NCCN ALL guideline (response criteria)"

_MARROW = (
    InputSpec("bm_blasts_pct", InputKind.NUMBER, "%", maximum=D(100)),
    InputSpec("circulating_blasts", InputKind.BOOL),
    InputSpec("extramedullary", InputKind.BOOL),
)

#: Morphological response of one marrow (any time point: end of induction, consolidation,
#: CAR-T day 28 / month 3).
RESPONSE = RuleSet(
    key="ALL-RESPONSE",
    docs_page="all-response",
    title="ALL morphological response (CR / CRi)",
    edition="CIBMTR-ALL",
    citation=Citation(CIBMTR, "ALL response criteria: complete remission"),
    categories=("CR", "CRi", "NO_RESPONSE", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        *_MARROW,
        InputSpec("anc", InputKind.NUMBER, "x10^9/L", maximum=ANC_MAX),
        InputSpec("plt", InputKind.NUMBER, "x10^9/L", maximum=PLT_MAX),
    ),
    rules=(
        Rule(
            "ALL-NR",
            "NO_RESPONSE",
            ge("bm_blasts_pct", 5),
            Citation(CIBMTR, "not CR: marrow blasts not < 5 %"),
        ),
        Rule(
            "ALL-NR-PB",
            "NO_RESPONSE",
            is_("circulating_blasts", True),
            Citation(BBMT, "not CR: circulating blasts"),
        ),
        Rule(
            "ALL-NR-EMD",
            "NO_RESPONSE",
            is_("extramedullary", True),
            Citation(CIBMTR, "not CR: extramedullary disease"),
        ),
        Rule(
            "ALL-CR",
            "CR",
            AllOf(ge("anc", "1.0"), ge("plt", 100)),
            Citation(CIBMTR, "CR: blasts < 5 %, no EMD, ANC ≥ 1.0, platelets ≥ 100"),
        ),
        Rule(
            "ALL-CRI",
            "CRi",
            # Written out (not a catch-all) so the call records which count kept it from CR.
            AnyOf(lt("anc", "1.0"), lt("plt", 100)),
            Citation(BBMT, "CRi: the CR criteria without the specified blood counts"),
        ),
    ),
)

#: Relapse of a marrow (or blood film) after CR/CRi.
RELAPSE = RuleSet(
    key="ALL-RELAPSE",
    docs_page="all-response",
    title="ALL relapse after CR / CRi",
    edition="NCCN-ALL",
    citation=Citation(NCCN, "relapse after CR", Tag.RECALLED),
    categories=(
        "CONTINUED_REMISSION",
        "HEMATOLOGIC_RELAPSE",
        "EXTRAMEDULLARY_RELAPSE",
        "NOT_EVALUABLE",
    ),
    not_evaluable="NOT_EVALUABLE",
    inputs=_MARROW,
    rules=(
        Rule(
            "ALL-REL-BM",
            "HEMATOLOGIC_RELAPSE",
            ge("bm_blasts_pct", 5),
            Citation(NCCN, "relapse: ≥ 5 % marrow blasts after CR", Tag.RECALLED),
            missing="skip",
        ),
        Rule(
            "ALL-REL-PB",
            "HEMATOLOGIC_RELAPSE",
            is_("circulating_blasts", True),
            Citation(NCCN, "relapse: blasts back in the blood after CR", Tag.RECALLED),
            missing="skip",
        ),
        Rule(
            "ALL-REL-EMD",
            "EXTRAMEDULLARY_RELAPSE",
            is_("extramedullary", True),
            Citation(NCCN, "relapse: extramedullary disease after CR", Tag.RECALLED),
            missing="skip",
        ),
        Rule(
            "ALL-CCR",
            "CONTINUED_REMISSION",
            AllOf(
                lt("bm_blasts_pct", 5),
                is_("circulating_blasts", False),
                is_("extramedullary", False),
            ),
            Citation(CIBMTR, "remission kept: blasts < 5 %, none in blood, no EMD"),
        ),
    ),
)

#: Refractory disease at the end-of-induction marrow.
LANDMARK = RuleSet(
    key="ALL-LANDMARK",
    docs_page="all-response",
    title="ALL refractory disease at the end of induction",
    edition="NCCN-ALL",
    citation=Citation(NCCN, "refractory disease", Tag.RECALLED),
    categories=("CR_ACHIEVED", "BEFORE_LANDMARK", "REFRACTORY", "NOT_EVALUABLE"),
    not_evaluable="NOT_EVALUABLE",
    inputs=(
        InputSpec("cr_achieved", InputKind.BOOL, description="CR or CRi by this marrow"),
        InputSpec("end_of_induction", InputKind.BOOL),
    ),
    rules=(
        Rule(
            "ALL-LM-CR",
            "CR_ACHIEVED",
            is_("cr_achieved", True),
            Citation(NCCN, "CR / CRi reached", Tag.RECALLED),
        ),
        Rule(
            "ALL-LM-BEFORE",
            "BEFORE_LANDMARK",
            is_("end_of_induction", False),
            Citation(NCCN, "before the end of induction", Tag.RECALLED),
        ),
        Rule(
            "ALL-REFRACTORY",
            "REFRACTORY",
            AllOf(),
            Citation(NCCN, "refractory: no CR / CRi at the end of induction", Tag.RECALLED),
        ),
    ),
)

PULSIPHER = "Pulsipher 2022 (Blood Cancer Discov), S20; CAR-T series S36"

#: CD19 status of a relapse after CD19-directed CAR-T (flow on the relapse marrow's blasts).
CART_RELAPSE = RuleSet(
    key="CAR-T-RELAPSE",
    docs_page="all-response",
    title="Relapse after CD19 CAR-T: CD19 status of the blasts",
    edition="S20/S36",
    citation=Citation(PULSIPHER, "relapse after CAR-T, CD19-positive or CD19-negative"),
    categories=("CD19_POSITIVE_RELAPSE", "CD19_NEGATIVE_RELAPSE", "CD19_STATUS_UNKNOWN"),
    not_evaluable="CD19_STATUS_UNKNOWN",
    inputs=(InputSpec("cd19_on_blasts", InputKind.TEXT, allowed=("positive", "dim", "negative")),),
    rules=(
        Rule(
            "CART-REL-CD19NEG",
            "CD19_NEGATIVE_RELAPSE",
            is_("cd19_on_blasts", "negative"),
            Citation(PULSIPHER, "CD19-negative relapse (antigen escape)"),
        ),
        Rule(
            "CART-REL-CD19POS",
            "CD19_POSITIVE_RELAPSE",
            AllOf(),
            Citation(PULSIPHER, "CD19-positive (or dim) relapse"),
        ),
    ),
)
