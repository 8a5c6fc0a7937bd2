"""What the demo's MRD status does to its relapses: the one home of the demo's prognostic numbers.

The demo draws a patient's MRD status first (on the scenario's own random stream, as it always
did) and the outcome after it — relapse or continued remission, and the follow-up until then —
conditioned on that status, from a second stream (``seed:index:outcome``,
:attr:`trephine.demo.builder.Builder.outcome_rng`). Before this, relapse was drawn without
regard to MRD: MRD-positive AML and ALL patients never relapsed, and the cohort analyses
(``trephine cohort analyse … --landmark-day 60``) showed MRD carrying no prognosis.

The demo needs a plausible direction and size, not a precise hazard ratio. Each probability is
the share of patients who relapse during the demo's follow-up (two to six years), read as
1 − the long-term disease-free or event-free survival a meta-analysis or trial reported by MRD
status, rounded. Those survivals count deaths too, so the figures overstate relapse alone a
little; the demo records no deaths. Tags as in the criteria (docs/criteria): **[R] recalled**
from the publication, not verified against its text here (the project's clinical-criteria
spec holds no prognostic figure); **[I]** our choice for the demo. None is a clinical
threshold: nothing here feeds a criteria call, which still comes from the real engines.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AML_INTENSIVE",
    "B_ALL",
    "NPM1_PERSISTENCE",
    "NPM1_QPCR",
    "TRANSPLANT_CHIMERISM",
    "RelapseRisk",
]


@dataclass(frozen=True)
class RelapseRisk:
    """Chance of relapse during follow-up by MRD status, and when a relapse comes."""

    #: P(relapse | MRD positive at the scenario's landmark).
    if_positive: float
    #: P(relapse | MRD negative there).
    if_negative: float
    #: Days after the end of treatment a relapse falls in (uniform) [I], by MRD status: earlier
    #: after MRD positivity, as the published curves separate within the first two years.
    days_if_positive: tuple[int, int]
    days_if_negative: tuple[int, int]
    source: str
    tag: str

    def chance(self, positive: bool) -> float:
        return self.if_positive if positive else self.if_negative

    def days(self, positive: bool) -> tuple[int, int]:
        return self.days_if_positive if positive else self.days_if_negative


#: AML after intensive induction, MRD by flow at the day-28 marrow (positive: at or above the
#: ELN 2021 MFC threshold the criteria use, ``eln2021_mrd`` ``mfc_threshold_pct``). Short et al.,
#: JAMA Oncol 2020 (meta-analysis of 81 studies, ~11,000 patients): estimated 5-year DFS about
#: 25 % with MRD positivity and 64 % with MRD negativity (DFS HR ~0.37) [R].
AML_INTENSIVE = RelapseRisk(
    if_positive=0.75,
    if_negative=0.35,
    days_if_positive=(60, 540),
    days_if_negative=(120, 900),
    source="Short NJ et al., JAMA Oncol 2020;6(12):1890-1899: 5-year DFS ~25 % vs ~64 %",
    tag="R",
)

#: Adult B-ALL, flow MRD at the end of induction (the day-29 marrow; positive: MRD failure,
#: >= 10^-4). Berry et al., JAMA Oncol 2017 (meta-analysis of 39 studies, ~13,600 patients):
#: 10-year EFS in adults about 21 % MRD+ vs 64 % MRD- (EFS HR ~0.28) [R].
B_ALL = RelapseRisk(
    if_positive=0.75,
    if_negative=0.35,
    days_if_positive=(60, 540),
    days_if_negative=(120, 900),
    source="Berry DA et al., JAMA Oncol 2017;3(7):e170580: adult 10-year EFS ~21 % vs ~64 %",
    tag="R",
)

#: NPM1-mutated AML, NPM1 transcripts in the blood after the second course of chemotherapy
#: (here: after the first HiDAC cycle). Ivey et al., NEJM 2016 (UK NCRI AML17): persistence in
#: about 15 % of patients; 3-year cumulative incidence of relapse about 82 % with persistence
#: vs 30 % without [R]. Relapse here is molecular first (conversion, then a >= 1 log rise) and
#: haematologic when the marrow shows it.
NPM1_QPCR = RelapseRisk(
    if_positive=0.80,
    if_negative=0.30,
    days_if_positive=(0, 0),  # the scenario's own surveillance schedule times the relapse
    days_if_negative=(0, 0),
    source="Ivey A et al., N Engl J Med 2016;374(5):422-433: 3-year relapse ~82 % vs ~30 %",
    tag="R",
)
#: Share of NPM1 patients whose blood NPM1 transcripts persist after course 2 (Ivey 2016) [R].
NPM1_PERSISTENCE = 0.15

#: Allogeneic transplant after intensive AML induction: MRD before transplant (here the day-28
#: flow status) and relapse after it. Araki et al., JCO 2016: 3-year relapse about 67 % with
#: pre-transplant MRD vs 22 % without [R]. The scenario shows relapse through falling donor
#: chimerism (half of those with falling chimerism relapse in the marrow by day +100 [I], as
#: before), so these are the chances chimerism falls: relapse ~35 % vs ~12 % — the direction
#: and about the ratio Araki reported, not its absolute size. MDS patients (no MRD drawn) keep
#: the scenario's 35 % [I].
TRANSPLANT_CHIMERISM = RelapseRisk(
    if_positive=0.70,
    if_negative=0.25,
    days_if_positive=(0, 0),  # chimerism is sampled at fixed days after transplant
    days_if_negative=(0, 0),
    source="Araki D et al., J Clin Oncol 2016;34(4):329-336: 3-year relapse ~67 % vs ~22 %",
    tag="R",
)
