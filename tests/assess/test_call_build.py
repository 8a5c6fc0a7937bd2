"""``Call.from_evaluation`` builds each call without the intermediate explanation dict (the
canonical JSON of the digest put together from parts, the parameters encoded once): the call
must be the one the explanation gives, field for field and digest for digest, because the
digest is the stored identity of every call (``inputs_digest``) and a changed byte would store
every call again as new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trephine.assess import registry
from trephine.assess.call import Call, digest_of
from trephine.criteria.engine import evaluate
from trephine.criteria.model import Evaluation
from trephine.criteria.sets import eln2022_aml
from trephine.errors import CriteriaNotApplicable
from trephine.services.assessments import load_all_inputs
from trephine.store.database import Database
from trephine.testing.fixtures import load_demo_database

DAY = dt.date(2024, 3, 1)


def _same(date: dt.date, kind: str, evaluation: Evaluation, category: str | None = None) -> Call:
    fast = Call.from_evaluation(date, kind, evaluation, category)
    slow = Call._from_explanation(date, kind, evaluation, category)
    assert fast == slow
    # The digest is the SHA-256 of json.dumps(sort_keys=True, default=str) of the explanation,
    # its evidence items without their "role" (added later: the digests stored before stand).
    explanation = evaluation.explanation()
    if fast.flags[-1:] == ("COUNT_CANNOT_SEPARATE",):
        explanation["evidence"] = [
            *explanation["evidence"],
            *fast.evidence[len(explanation["evidence"]) :],
        ]
        explanation["flags"] = [*explanation["flags"], "COUNT_CANNOT_SEPARATE"]
    unroled = [{k: v for k, v in e.items() if k != "role"} for e in explanation["evidence"]]
    text = json.dumps({**explanation, "evidence": unroled}, sort_keys=True, default=str)
    assert fast.digest == hashlib.sha256(text.encode("utf-8")).hexdigest() == digest_of(explanation)
    # Stored the same way: the JSON the store writes for each column.
    stored = [fast.evidence, fast.params, fast.missing, fast.flags]
    assert json.dumps(stored, default=str) == json.dumps(
        [slow.evidence, slow.params, slow.missing, slow.flags], default=str
    )
    return fast


def test_every_call_of_the_demo_cohort_is_the_call_its_explanation_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    load_demo_database(url, 24)
    database = Database(url)
    with database.unit_of_work("test") as uow:
        inputs = load_all_inputs(uow)
    database.dispose()
    made: list[tuple[dt.date, str, Evaluation, str | None]] = []
    original = Call.from_evaluation.__func__  # type: ignore[attr-defined]

    def spy(
        cls: type[Call], date: dt.date, kind: str, e: Evaluation, category: str | None = None
    ) -> Call:
        made.append((date, kind, e, category))
        return original(cls, date, kind, e, category)  # type: ignore[no-any-return,unused-ignore]

    monkeypatch.setattr(Call, "from_evaluation", classmethod(spy))
    for patient in inputs.values():
        if patient.diagnoses:
            try:
                registry.choose(patient.diagnoses).run(patient, {})
            except CriteriaNotApplicable:  # a patient no evaluator takes
                continue
    monkeypatch.undo()
    kinds = {kind for _, kind, _, _ in made}
    assert len(made) > 150 and {"response", "relapse", "landmark", "mrd"} <= kinds
    counted = [_same(*m) for m in made]
    assert any("COUNT_CANNOT_SEPARATE" in c.flags for c in counted)


def _facts(**changes: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "bm_blasts_pct": Decimal("4.5"),
        "cells_counted": Decimal(200),
        "baseline_bm_blasts_pct": Decimal(40),
        "anc": Decimal("1.2"),
        "plt": Decimal(120),
        "circulating_blasts": False,
        "extramedullary": False,
        "auer_rods": False,
        "spicules_present": True,
        "rbc_transfusion_independent": True,
        "hemodilute": False,
    }
    facts.update(changes)
    return facts


@pytest.mark.parametrize(
    "facts",
    [
        _facts(),  # 4.5 % of 200 cells: the 5 % threshold lies inside the interval
        _facts(bm_blasts_pct=Decimal("0.5")),
        _facts(anc=None, plt=None),  # not evaluable, with a note and missing inputs
        _facts(bm_blasts_pct=Decimal("30.0"), cells_counted=None),
    ],
)
def test_parameters_of_every_plain_type_and_overrides_give_the_same_call(
    facts: dict[str, Any],
) -> None:
    rs = eln2022_aml.RESPONSE
    for overrides in ({}, {"washout_flag_days": 7}, {"washout_flag_days": "7.0"}):
        evaluation = evaluate(rs, facts, overrides)
        _same(DAY, "response", evaluation)
        _same(DAY, "response", evaluation, "CR_MRD-")
    # The same values as other objects of equal value (7 and 7.0 and True == 1) must not be
    # taken for one another: each set is encoded as written.
    base = evaluate(rs, facts)
    seen = set()
    for value in (7, Decimal(7), Decimal("7.0"), 7.0, True, "7", None):
        params = {**base.params, "washout_flag_days": value}
        e = Evaluation(**{**_fields(base), "params": params})
        call = _same(DAY, "response", e)
        seen.add(call.digest)
    assert len(seen) == 6  # Decimal(7) is stored as the text "7", as the text "7" is


def _fields(e: Evaluation) -> dict[str, Any]:
    return {
        "ruleset": e.ruleset,
        "edition": e.edition,
        "category": e.category,
        "rule_id": e.rule_id,
        "missing": e.missing,
        "citation": e.citation,
        "flags": e.flags,
        "params": e.params,
        "software_version": e.software_version,
        "note": e.note,
        "rules_not_met": e.rules_not_met,
        "deciding": e.deciding,
        "facts": e.facts,
    }


def test_values_that_are_not_plain_text_take_the_explanation_path() -> None:
    base = evaluate(eln2022_aml.RESPONSE, _facts())
    odd: list[dict[str, Any]] = [
        {"params": {**base.params, "listed": [1, 2]}},  # a mutable parameter value
        {"params": {**base.params, "when": dt.date(2024, 1, 2)}},  # encoded with default=str
        {"citation": None},
        {"note": 'ünïcode \u2028 "quoted" note'},
        {"rule_id": None, "missing": ("anc", "plt"), "rules_not_met": ("A", "B (passed over)")},
    ]
    for change in odd:
        e = Evaluation(**{**_fields(base), **change})
        _same(DAY, "response", e)
