"""The one registry of stored-timeline assessment: diagnosis → rule sets and evaluator.

Every evaluator has ONE signature, :data:`Evaluator`: ``assess(inputs, params) -> Calls``.
Adding a disease means one module in :mod:`trephine.assess` with such an ``assess`` function
(and its ``RULESETS``), plus one :class:`Assessor` line in :data:`ASSESSORS` below.

Each assessor has one :attr:`~Assessor.name`, the same everywhere: stored with its alerts, shown
by ``trephine assess`` and the API, and accepted by ``--ruleset`` (which also takes the
:attr:`~Assessor.aliases`). Names that earlier versions stored (:attr:`~Assessor.stored_as`)
are read as the current name, so stored alerts stay readable and are never recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from trephine.assess import (
    acute_lymphoblastic,
    aml,
    aplastic_anaemia,
    cll,
    mds,
    myeloma,
    transplant,
    workups,
)
from trephine.assess.call import Calls
from trephine.assess.inputs import PatientInputs
from trephine.assess.story import one_story
from trephine.criteria.model import RuleSet
from trephine.criteria.sets import diagnostics, eln2021_mrd, eln2022_aml
from trephine.domain.patient import Diagnosis
from trephine.errors import CriteriaNotApplicable, ValidationError

#: ``assess(inputs, params) -> Calls``: one patient's signed-out results → dated calls and alerts.
Evaluator = Callable[[PatientInputs, Mapping[str, Any]], Calls]


@dataclass(frozen=True)
class Assessor:
    """How one disease is assessed on the stored timeline."""

    #: The one name of this assessment (stored with alerts, shown, accepted by ``--ruleset``).
    name: str
    #: The diagnoses (``Diagnosis.disease`` values) it applies to.
    diagnoses: tuple[str, ...]
    assess: Evaluator
    #: The criteria rule sets whose calls it stores (each call names its own rule-set key).
    rulesets: tuple[RuleSet, ...]
    #: Other spellings ``--ruleset`` accepts for it.
    aliases: tuple[str, ...] = ()
    #: Names earlier versions stored for it (read as :attr:`name`).
    stored_as: tuple[str, ...] = ()

    def run(self, inputs: PatientInputs, params: Mapping[str, Any]) -> Calls:
        """The disease's calls plus those every patient gets (:data:`ADDENDA`: transplant
        engraftment and graft function, iron / infection / anaemia work-ups), with one story
        per marrow (:func:`~trephine.assess.story.one_story`)."""
        return combine(self.assess(inputs, params), *(add(inputs, params) for add in ADDENDA))


def combine(own: Calls, *extra: Calls) -> Calls:
    """One patient's calls from several evaluators: ``own``'s summary, every call and alert."""
    calls = one_story((*own.calls, *(c for e in extra for c in e.calls)))
    alerts = sorted(
        (*own.alerts, *(a for e in extra for a in e.alerts)), key=lambda a: (a.date, a.code)
    )
    return replace(own, calls=calls, alerts=tuple(alerts))


#: Evaluators every patient runs after the disease's own (same signature); they add calls only
#: where the patient has the results (a transplant, iron studies, a granuloma, ...).
ADDENDA: tuple[Evaluator, ...] = (transplant.assess, workups.assess)
#: The rule sets the :data:`ADDENDA` evaluate (their parameters are site parameters too).
ADDENDA_RULESETS: tuple[RuleSet, ...] = (*transplant.RULESETS, *workups.RULESETS)


ASSESSORS: tuple[Assessor, ...] = (
    Assessor(
        "ELN2022+ELN2021",
        ("AML",),
        aml.assess,
        (
            eln2022_aml.RESPONSE,
            eln2022_aml.RELAPSE,
            eln2022_aml.LANDMARK,
            eln2021_mrd.MRD,
            diagnostics.CHIMERISM,
        ),
        aliases=("AML", "ELN2022"),
    ),
    Assessor(
        "ALL-MRD",
        ("ALL",),
        acute_lymphoblastic.assess,
        acute_lymphoblastic.RULESETS,
        aliases=("ALL",),
        stored_as=("ALL-MRD-2021",),
    ),
    Assessor("iwCLL2018-MRD", ("CLL",), cll.assess, cll.RULESETS, aliases=("iwCLL2018",)),
    Assessor("IWG2023", ("MDS",), mds.assess, mds.RULESETS),
    Assessor("IMWG2016", ("myeloma",), myeloma.assess, myeloma.RULESETS, aliases=("IMWG",)),
    Assessor(
        "AA-Camitta/BSH",
        ("aplastic anemia",),
        aplastic_anaemia.assess,
        aplastic_anaemia.RULESETS,
        aliases=("AA",),
    ),
)

BY_NAME: dict[str, Assessor] = {a.name: a for a in ASSESSORS}
BY_DIAGNOSIS: dict[str, Assessor] = {d: a for a in ASSESSORS for d in a.diagnoses}
#: Every name ``--ruleset`` accepts → its assessor.
ACCEPTED: dict[str, Assessor] = {
    n: a for a in ASSESSORS for n in (a.name, *a.aliases, *a.stored_as)
}


def lookup(name: str) -> Assessor:
    """The assessor a name (or an alias, or a formerly stored name) means."""
    if name not in ACCEPTED:
        raise ValidationError("ruleset", name, sorted(ACCEPTED))
    return ACCEPTED[name]


def current_name(stored: str) -> str:
    """The current name of an assessor name as stored (unknown names are returned as is)."""
    found = ACCEPTED.get(stored)
    return stored if found is None or stored not in found.stored_as else found.name


def names_stored_for(name: str) -> tuple[str, ...]:
    """Every name rows of this assessor may carry in the store (current first)."""
    found = BY_NAME.get(name)
    return (name,) if found is None else (found.name, *found.stored_as)


def choose(diagnoses: Sequence[Diagnosis], requested: str | None = None) -> Assessor:
    """The assessor ``requested`` names, else the one for the latest diagnosis."""
    if requested is not None:
        return lookup(requested)
    if not diagnoses:
        raise CriteriaNotApplicable(
            "no diagnosis recorded: the rule set is chosen by diagnosis (or name the ruleset)"
        )
    disease = str(diagnoses[-1].disease)
    if disease in BY_DIAGNOSIS:
        return BY_DIAGNOSIS[disease]
    raise CriteriaNotApplicable(
        f"stored-timeline assessment for {disease} is not available yet; available: "
        + ", ".join(f"{d} ({a.name})" for d, a in BY_DIAGNOSIS.items())
        + "; or name a ruleset: "
        + ", ".join(sorted(ACCEPTED))
    )


def check_params(params: Mapping[str, Any]) -> None:
    """Refuse a site parameter no stored-timeline rule set declares (a typo would otherwise
    be silently ignored), naming the ones that exist: every assessor's rule sets and the
    :data:`ADDENDA`'s (all of them apply the same site parameters)."""
    known = sorted({p.name for rs in stored_rulesets() for p in rs.params})
    for name in params:
        if name not in known:
            raise ValidationError(f"params.{name}", name, known, reason="unknown parameter")


def stored_rulesets() -> tuple[RuleSet, ...]:
    """Every rule set stored-timeline assessment evaluates (each once, in registry order)."""
    seen: dict[str, RuleSet] = {}
    for rs in (*(rs for a in ASSESSORS for rs in a.rulesets), *ADDENDA_RULESETS):
        seen.setdefault(rs.key, rs)
    return tuple(seen.values())
