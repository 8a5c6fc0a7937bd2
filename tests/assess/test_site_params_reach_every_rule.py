"""The site's parameters (``TREPHINE_ASSESS_PARAMS``) reach every rule set stored-timeline
assessment evaluates: the 240-patient demo, assessed as ``trephine assess --all`` does with
every declared parameter of every assessor's and addendum's rule set set to a value other
than its default, records the parameters each evaluation received.

Before: ``assess.common.run`` took the parameters as optional and most evaluators left them
out (CLL / myeloma MRD, the ALL response, aplastic anaemia severity, the transplant graft
calls, ...), so the documented defaults applied whatever the site had set; and the graft
parameters were refused as unknown. A call site that drops ``params`` again fails here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from result_records import Result
from trephine.assess.inputs import PatientInputs, SpecimenFacts
from trephine.criteria.model import Evaluation, Parameter, RuleSet
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import BloodCount, Chimerism, ResultValue
from trephine.domain.specimen import SpecimenType
from trephine.domain.therapy import DonorType, Transplant

DAY0 = dt.date(2024, 3, 1)


def _other_value(p: Parameter) -> Any:
    """An allowed value of ``p`` that is not its default."""
    if p.allowed is not None:
        return next(v for v in p.allowed if v != p.default)
    if isinstance(p.default, bool):
        return not p.default
    if isinstance(p.default, int):
        return p.default + 1
    assert isinstance(p.default, Decimal), (p.name, p.default)
    return p.default * 2


def site_params() -> dict[str, Any]:
    """Every declared parameter of every stored-timeline rule set, off its default."""
    from trephine.assess.registry import stored_rulesets

    out: dict[str, Any] = {}
    for rs in stored_rulesets():
        for p in rs.params:
            out.setdefault(p.name, _other_value(p))
    return out


Received = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> Iterator[Received]:
    """Each evaluation's rule-set key and the full parameter set it was evaluated under,
    whichever module called the engine."""
    import trephine.assess.aml
    import trephine.assess.common
    import trephine.criteria.facts
    from trephine.criteria.engine import evaluate, resolve_params

    seen: Received = []

    def recording(
        rs: RuleSet,
        facts: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        *,
        resolved: bool = False,
    ) -> Evaluation:
        full = dict(params or {}) if resolved else resolve_params(rs, params)
        seen.append((rs.key, full))
        return evaluate(rs, facts, params, resolved=resolved)

    evaluate_: Callable[..., Evaluation] = recording
    for module in (trephine.assess.common, trephine.assess.aml, trephine.criteria.facts):
        monkeypatch.setattr(module, "evaluate", evaluate_)
    yield seen


def _transplanted(donor: DonorType, anc: list[str], no_donor_on: int | None) -> PatientInputs:
    """A transplant on ``DAY0`` with daily blood counts (ANC as given, platelets 10) from day
    +1, and whole-blood chimerism without donor cells on day ``no_donor_on``."""
    values: list[tuple[int, ResultValue]] = [
        (
            day,
            BloodCount(
                anc=Quantity(Decimal(a), "10^9/L"), platelets=Quantity(Decimal(10), "10^9/L")
            ),
        )
        for day, a in enumerate(anc, start=1)
    ]
    if no_donor_on is not None:
        values.append((no_donor_on, Chimerism(Quantity(None, "%", Qualifier.NOT_DETECTED))))
    results = tuple(
        Result(n, f"B{n}", DAY0 + dt.timedelta(days=day), v)
        for n, (day, v) in enumerate(values, start=1)
    )
    return PatientInputs(
        patient_id=f"P-{donor}",
        diagnoses=(),
        therapy_lines=(),
        specimens={
            r.accession: SpecimenFacts(r.accession, SpecimenType.PERIPHERAL_BLOOD) for r in results
        },
        results=results,
        cellular_therapies=(Transplant(DAY0, donor),),
    )


#: The demo holds no graft call: a cord-blood graft that never recovers (primary failure),
#: and a sibling graft that recovers, loses its neutrophils with platelets low (secondary
#: failure, poor graft function) and shows no donor cells.
TRANSPLANTED = (
    _transplanted(DonorType.CORD_BLOOD, ["0.1"] * 100, None),
    _transplanted(DonorType.MATCHED_SIBLING, ["0.1"] * 9 + ["1.0"] * 11 + ["0.1"] * 30, 45),
)


def _assess_demo(folder: Path, params: Mapping[str, Any]) -> int:
    """Assess the 240-patient demo as ``trephine assess --all`` does; the patients assessed."""
    from trephine.assess.registry import ADDENDA, check_params
    from trephine.testing.fixtures import assess_demo

    check_params(params)
    n = len(assess_demo(f"sqlite:///{folder / 'demo.db'}", 240, params))
    for add in ADDENDA:
        for patient in TRANSPLANTED:
            add(patient, params)
    return n


def test_every_evaluated_rule_set_receives_every_site_parameter_it_declares(
    tmp_path: Path, received: Received
) -> None:
    from trephine.assess.registry import stored_rulesets

    params = site_params()
    declared = {rs.key: {p.name for p in rs.params} for rs in stored_rulesets()}
    assert sum(map(len, declared.values())) >= 25  # the AML, ALL, CLL, MDS, MM, AA, HCT ones
    assert _assess_demo(tmp_path, params) >= 200

    dropped = sorted(
        {
            (key, name)
            for key, full in received
            for name in declared.get(key, ())
            if full[name] != params[name]
        }
    )
    assert dropped == []
    # The check above reaches every rule set that declares a parameter: the demo evaluates
    # each of them (a rule set never evaluated could drop its parameters unseen).
    evaluated = {key for key, _ in received}
    assert sorted(k for k, names in declared.items() if names and k not in evaluated) == []


def test_a_site_may_set_the_graft_parameters() -> None:
    from trephine.assess.registry import check_params
    from trephine.errors import ValidationError

    check_params(site_params())
    check_params({"primary_gf_day": "35", "secondary_gf_days_below": 5})
    with pytest.raises(ValidationError, match="primary_gf_days"):
        check_params({"primary_gf_days": "35"})


def test_the_documented_parameter_table_lists_every_declared_parameter() -> None:
    """docs/assessments.md lists the parameters by rule set: the same names as the rule sets
    declare (a new parameter, or one dropped, must be documented)."""
    import re

    from trephine.assess.registry import stored_rulesets

    doc = (Path(__file__).parents[2] / "docs" / "assessments.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): re.findall(r"`([a-z0-9_]+)` \(", m.group(2))
        for m in re.finditer(r"^\| `([^`]+)` \| (`.*) \|$", doc, flags=re.M)
    }
    declared = {rs.key: [p.name for p in rs.params] for rs in stored_rulesets() if rs.params}
    assert rows == declared
