"""§10 P6: each antithrombotic's last dose against the site's hold interval, advisory only.

Intervals (clinical-criteria.md §10 P6): UFH 4–6 h, LMWH 12 h prophylactic / 24 h therapeutic,
fondaparinux 2–3 d (CrCl > 50) / 3–5 d — [V] from secondary summaries; apixaban/rivaroxaban
1–2 d and clopidogrel 5 d by local policy [I]. Defaults: 6, 24, 72, 48 and 120 h; site
parameters of SIR2019. P5: holding is not routinely required, so nothing here changes the
decision.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trephine.criteria.model import Tag
from trephine.criteria.procedure import HoldCheck, SafetyCall, evaluate_checklist
from trephine.criteria.sets.diagnostics import SAFETY
from trephine.domain.planning import Checklist, DrugClass, Medication
from trephine.errors import ValidationError

PLANNED = dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC)


def _call(drug: str, hours_before: float | None, **params: object) -> SafetyCall:
    last = None if hours_before is None else PLANNED - dt.timedelta(hours=hours_before)
    checklist = Checklist(medications=(Medication.named(drug, last),))
    return evaluate_checklist(checklist, params or None, PLANNED)


@pytest.mark.parametrize(
    ("drug", "interval"),
    [
        ("heparin", 6),
        ("enoxaparin", 24),
        ("dalteparin", 24),
        ("fondaparinux", 72),
        ("apixaban", 48),
        ("rivaroxaban", 48),
        ("clopidogrel", 120),
    ],
)
def test_each_interval_at_its_boundary(drug: str, interval: int) -> None:
    (at,) = _call(drug, interval).holds
    assert (at.status, at.interval_hours, at.hours_before) == ("HELD", interval, Decimal(interval))
    (short,) = _call(drug, interval - 0.1).holds
    assert short.status == "SHORT"
    assert f"less than the {interval} h" in short.text and drug in short.text
    assert short.citation is not None and "P6" in short.citation


def test_a_short_hold_never_changes_the_decision_and_is_said_in_the_reason() -> None:
    without = evaluate_checklist(Checklist(medications=(Medication.named("apixaban", PLANNED),)))
    short = _call("apixaban", 2)
    assert short.decision == without.decision == "PROCEED_WITH_CAUTION"
    assert [r.code for r in short.reasons] == [r.code for r in without.reasons] == ["ANTICOAGULANT"]
    assert "2 h before the planned time, less than the 48 h" in short.reasons[0].text
    assert "not routinely required" in short.reasons[0].text


def test_the_site_sets_the_interval_and_can_turn_the_check_off() -> None:
    (held,) = _call("apixaban", 30, hold_doac_hours=24).holds
    assert held.status == "HELD" and held.interval_hours == 24
    assert _call("apixaban", 1, hold_check="off").holds == ()
    with pytest.raises(ValidationError):
        _call("apixaban", 1, hold_check="sometimes")


def test_no_interval_is_guessed_and_a_missing_last_dose_is_named() -> None:
    (warfarin,) = _call("warfarin", 12).holds
    assert warfarin.status == "NO_INTERVAL" and warfarin.interval_hours is None
    (aspirin,) = _call("aspirin", 12).holds
    assert aspirin.status == "NO_INTERVAL"
    (unknown,) = _call("apixaban", None).holds
    assert unknown.status == "LAST_DOSE_NOT_RECORDED" and "cannot be checked" in unknown.text


def test_without_a_planned_time_nothing_is_checked() -> None:
    checklist = Checklist(medications=(Medication("apixaban", DrugClass.ANTICOAGULANT, PLANNED),))
    assert evaluate_checklist(checklist).holds == ()


def test_holds_survive_the_stored_form() -> None:
    call = _call("clopidogrel", 100)
    again = SafetyCall.from_dict(call.as_dict())
    assert again.holds == call.holds and again.reasons == call.reasons
    assert again.holds[0] == HoldCheck.from_dict(call.holds[0].as_dict())
    # A call stored before P6 was checked has no holds and still reads.
    old = call.as_dict()
    del old["holds"]
    assert SafetyCall.from_dict(old).holds == ()


def test_the_intervals_are_tagged_as_the_spec_gives() -> None:
    params = {p.name: p for p in SAFETY.params}
    for name in ("hold_ufh_hours", "hold_lmwh_hours", "hold_fondaparinux_hours"):
        assert params[name].tag is Tag.VERIFIED
    for name in ("hold_doac_hours", "hold_clopidogrel_hours", "hold_check"):
        assert params[name].tag is Tag.INTERPRETATION
