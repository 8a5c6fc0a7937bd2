"""The §10 rule on a stored checklist: decision, every reason, site parameters, never blocking."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trephine.criteria.procedure import evaluate_checklist
from trephine.domain.planning import Checklist, DrugClass, Fasting, Medication
from trephine.domain.procedure import Anesthesia
from trephine.errors import ValidationError

LAST_DOSE = dt.datetime(2026, 12, 2, 20, 0, tzinfo=dt.UTC)


def test_apixaban_and_platelets_18_need_review_with_both_reasons() -> None:
    checklist = Checklist(
        medications=(Medication.named("apixaban", LAST_DOSE),), platelets=Decimal("18")
    )
    call = evaluate_checklist(checklist)
    assert call.decision == "REVIEW_REQUIRED"
    assert [(r.code, r.level) for r in call.reasons] == [
        ("PLATELETS_LOW", "REVIEW_REQUIRED"),
        ("ANTICOAGULANT", "PROCEED_WITH_CAUTION"),
    ]
    assert "18" in call.reasons[0].text and "20" in call.reasons[0].text
    assert "apixaban" in call.reasons[1].text and "2026-12-02 20:00" in call.reasons[1].text
    assert "[V]" in call.reasons[0].citation
    assert call.ruleset == "SIR2019" and call.edition == "SIR2019"
    assert call.missing == ("inr",)
    assert call.software_version


@pytest.mark.parametrize(
    ("platelets", "decision"),
    [("20", "PROCEED"), ("19.9", "REVIEW_REQUIRED"), (None, "PROCEED")],
)
def test_platelet_edge_is_strictly_below_20(platelets: str | None, decision: str) -> None:
    checklist = Checklist(platelets=None if platelets is None else Decimal(platelets))
    assert evaluate_checklist(checklist).decision == decision


def test_inr_bands_give_one_reason_each() -> None:
    assert evaluate_checklist(Checklist(inr=Decimal("2.0"))).decision == "PROCEED"
    caution = evaluate_checklist(Checklist(inr=Decimal("2.5")))
    assert caution.decision == "PROCEED_WITH_CAUTION"
    review = evaluate_checklist(Checklist(inr=Decimal("3.1")))
    assert review.decision == "REVIEW_REQUIRED"
    assert [r.code for r in review.reasons] == ["INR_HIGH"]


def test_site_parameters_change_the_threshold_and_are_recorded() -> None:
    checklist = Checklist(platelets=Decimal("40"))
    assert evaluate_checklist(checklist).decision == "PROCEED"
    call = evaluate_checklist(checklist, {"plt_review_below": 50})
    assert call.decision == "REVIEW_REQUIRED"
    assert call.as_dict()["params"]["plt_review_below"] == "50"
    with pytest.raises(ValidationError, match="plt_below"):
        evaluate_checklist(checklist, {"plt_below": 50})


def test_special_risks_and_bleeding_disorder_level() -> None:
    mpn = evaluate_checklist(Checklist(mpn=True))
    assert mpn.decision == "PROCEED_WITH_CAUTION" and [r.code for r in mpn.reasons] == ["MPN"]
    bleeding = Checklist(bleeding_disorder=True)
    assert evaluate_checklist(bleeding).decision == "PROCEED_WITH_CAUTION"
    review = evaluate_checklist(bleeding, {"bleeding_disorder_level": "review"})
    assert review.decision == "REVIEW_REQUIRED"
    assert "[I]" in review.reasons[0].citation


def test_aspirin_is_an_antiplatelet_reason_and_flag() -> None:
    call = evaluate_checklist(Checklist(medications=(Medication.named("Aspirin"),)))
    assert call.decision == "PROCEED_WITH_CAUTION"
    assert (
        call.reasons[0].code == "ANTIPLATELET" and "last dose not recorded" in call.reasons[0].text
    )
    assert "ASPIRIN" in call.flags


def test_checklist_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(ValidationError, match="escort"):
        Checklist(sedation=Anesthesia.CONSCIOUS_SEDATION)
    Checklist(sedation=Anesthesia.CONSCIOUS_SEDATION, escort="A. Friend", fasting=Fasting.FAST)
    with pytest.raises(ValidationError, match=r"medication_class.*anticoagulant"):
        Medication("warfarin", DrugClass.OTHER)
    with pytest.raises(ValidationError, match="not a known antithrombotic"):
        Medication.named("metformin")
    with pytest.raises(ValidationError, match="platelets"):
        Checklist(platelets=Decimal("-1"))
    with pytest.raises(ValidationError, match="last_dose_at"):
        Medication("apixaban", DrugClass.ANTICOAGULANT, dt.datetime(2026, 1, 1))


def test_round_trip_of_the_stored_call() -> None:
    from trephine.criteria.procedure import SafetyCall

    call = evaluate_checklist(Checklist(platelets=Decimal("18"), mpn=True))
    assert SafetyCall.from_dict(call.as_dict()).as_dict() == call.as_dict()
