"""Helpers the per-disease evaluators share: one engine run, one MRD series with conversion."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from trephine.assess.call import Alert, Call, Calls, on_sample
from trephine.assess.inputs import PatientInputs, ResultRecord
from trephine.criteria.engine import evaluate
from trephine.criteria.facts import build_facts, specs_of
from trephine.criteria.model import Evaluation, RuleSet

#: MRD categories that count as negative / positive for ``MRD_CONVERSION``.
NEGATIVE = frozenset({"MRD_CR", "UNDETECTABLE_MRD4"})
POSITIVE = frozenset({"MRD_FAILURE", "MRD_POSITIVE"})


def run(
    rs: RuleSet, values: Mapping[str, Any], where: str, params: Mapping[str, Any]
) -> Evaluation:
    """Evaluate ``rs`` on case-format ``values`` (converted and checked; ``where`` locates).

    ``params``: the site's parameters by name (``TREPHINE_ASSESS_PARAMS``), the same mapping
    for every rule set a patient's assessment runs; ``rs`` takes the names it declares and its
    documented defaults fill the rest. Required, so no evaluation can silently fall back to the
    defaults when a site has set its own values."""
    names = {p.name for p in rs.params}
    own = {k: v for k, v in params.items() if k in names}
    return evaluate(rs, build_facts(values, specs_of(rs), where), own or None)


def call(date: dt.date, kind: str, evaluation: Evaluation) -> Call:
    return Call.from_evaluation(date, kind, evaluation)


ValuesOf = Callable[[Any, list[ResultRecord]], dict[str, Any] | None]


def mrd_calls(
    inputs: PatientInputs, rs: RuleSet, values_of: ValuesOf, params: Mapping[str, Any]
) -> Calls:
    """One ``mrd`` call per result that ``values_of(value, same_day_results)`` maps (None
    skips it), evaluated under the site's ``params``, naming the sample it rests on (a day's
    marrow and blood results are two calls);
    alert ``MRD_CONVERSION`` when a call of the same method turns from negative to positive."""
    out: list[Call] = []
    alerts: list[Alert] = []
    last: dict[str, str] = {}
    for date, results in inputs.by_date().items():
        for r in sorted(results, key=lambda r: (str(r.kind), r.analyte, r.id)):
            values = values_of(r.value, results)
            if values is None:
                continue
            a = run(rs, values, f"{date.isoformat()} {r.kind} {r.analyte}".strip(), params)
            out.append(on_sample(call(date, "mrd", a), inputs.sample_of(r)))
            method = str(values.get("mrd_method", r.kind))
            if last.get(method) in NEGATIVE and a.category in POSITIVE:
                alerts.append(
                    Alert(date, "MRD_CONVERSION", f"{method} MRD negative → {a.category}")
                )
            if a.category in NEGATIVE | POSITIVE:
                last[method] = a.category
    return Calls(tuple(out), tuple(alerts))
