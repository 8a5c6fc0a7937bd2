"""AML calls over a patient's dated time points (``trephine.assess.aml``, pure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from trephine import __version__
from trephine.assess.aml import assess_points
from trephine.assess.timepoints import (
    Intensity,
    ObservationKind,
    TherapyContext,
    TimePoint,
    in_order,
)
from trephine.errors import ValidationError

D0 = dt.date(2025, 1, 6)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def marrow(
    n: int, blasts: Any, anc: Any = "2.0", plt: Any = 150, courses: int | None = None, **extra: Any
) -> TimePoint:
    values = {
        "bm_blasts_pct": Decimal(str(blasts)),
        "anc": Decimal(str(anc)),
        "plt": Decimal(str(plt)),
        "circulating_blasts": False,
        "extramedullary": False,
        "cells_counted": 500,
        "spicules_present": True,
        "biopsy_cellularity_pct": 40,
        **extra,
    }
    therapy = None if courses is None else TherapyContext(courses, Intensity.INTENSIVE)
    return TimePoint(day(n), ObservationKind.MARROW, values, therapy)


DIAGNOSTIC = TimePoint(D0, ObservationKind.MARROW, {"bm_blasts_pct": 62}, diagnostic=True)


def kinds(result: Any, kind: str) -> list[tuple[dt.date, str]]:
    return [(a.date, a.category) for a in result.calls if a.kind == kind]


def test_baseline_pr_and_refractory_after_two_intensive_courses() -> None:
    result = assess_points(
        [
            DIAGNOSTIC,
            marrow(30, 40, courses=1),
            marrow(60, 20, courses=2),  # 62 → 20 is a 68 % fall to 5–25 %: PR, but no CR
        ]
    )
    assert result.baseline_bm_blasts_pct == 62
    assert kinds(result, "response") == [(day(30), "NO_RESPONSE"), (day(60), "PR")]
    assert kinds(result, "landmark") == [(day(30), "BEFORE_LANDMARK"), (day(60), "REFRACTORY")]
    assert [(a.date, a.code) for a in result.alerts] == [(day(60), "REFRACTORY")]
    assert result.best_response == "PR"
    assert all(a.software_version == __version__ for a in result.calls)
    assert {a.edition for a in result.calls} == {"ELN2022"}


def test_cr_then_relapse_raises_one_alert() -> None:
    result = assess_points(
        [
            DIAGNOSTIC,
            marrow(30, 2, courses=1),
            marrow(120, 3),
            marrow(200, 7),
            marrow(230, 9),
        ]
    )
    assert kinds(result, "response")[0] == (day(30), "CR")
    assert kinds(result, "relapse") == [(day(120), "NOT_MET"), (day(200), "HEMATOLOGIC_RELAPSE")]
    assert [a.code for a in result.alerts] == ["HEMATOLOGIC_RELAPSE"]
    assert result.best_response == "CR"


def test_blood_blasts_need_two_samples_a_week_apart() -> None:
    blood = [
        TimePoint(day(n), ObservationKind.BLOOD, {"circulating_blasts": True})
        for n in (100, 104, 112)
    ]
    result = assess_points([DIAGNOSTIC, marrow(30, 1), *blood])
    # Blood alone cannot show "no relapse" (the marrow is missing), only a relapse.
    assert kinds(result, "relapse") == [
        (day(100), "NOT_EVALUABLE"),
        (day(104), "NOT_EVALUABLE"),
        (day(112), "HEMATOLOGIC_RELAPSE"),
    ]


def mrd(n: int, detected: bool, level: str | None = None) -> TimePoint:
    values: dict[str, Any] = {"method": "qPCR", "target": "NPM1", "detected": detected}
    if level is not None:
        values["level_pct"] = Decimal(level)
    return TimePoint(day(n), ObservationKind.MRD, values, tissue="BM")


def test_mrd_conversion_and_confirmation_alerts() -> None:
    result = assess_points(
        [DIAGNOSTIC, marrow(30, 1), mrd(30, False), mrd(90, True, "0.02"), mrd(110, True, "0.05")]
    )
    assert kinds(result, "response") == [(day(30), "CR_MRD-")]
    assert [(a.date, a.code) for a in result.alerts] == [
        (day(90), "MRD_CONVERSION"),
        (day(110), "MRD_RELAPSE_CONFIRMED"),
    ]


def test_a_relapse_marrow_raises_the_relapse_alert_not_also_an_mrd_one() -> None:
    """DEMO-0001's relapse marrow had both a HEMATOLOGIC_RELAPSE and an MRD conversion
    ('MRD relapse, unconfirmed') alert open for one sample. The MRD event is still called;
    the earlier blood conversion, before the marrow showed anything, is still alerted."""
    result = assess_points(
        [
            DIAGNOSTIC,
            marrow(30, 1),
            mrd(30, False),
            mrd(90, False),
            marrow(200, 30),
            mrd(200, True, "25"),
        ]
    )
    assert kinds(result, "relapse")[-1] == (day(200), "HEMATOLOGIC_RELAPSE")
    assert kinds(result, "mrd_event") == [(day(200), "MRD_RELAPSE_UNCONFIRMED")]
    assert [(a.date, a.code) for a in result.alerts] == [(day(200), "HEMATOLOGIC_RELAPSE")]
    early = assess_points(
        [DIAGNOSTIC, marrow(30, 1), mrd(30, False), mrd(150, True, "0.02"), marrow(200, 30)]
    )
    assert [(a.date, a.code) for a in early.alerts] == [
        (day(150), "MRD_CONVERSION"),
        (day(200), "HEMATOLOGIC_RELAPSE"),
    ]


@pytest.mark.parametrize(("second", "alert"), [("0.5", True), ("0.4999", False)])
def test_one_log_rise_in_low_level_mrd_is_exact(second: str, alert: bool) -> None:
    result = assess_points([DIAGNOSTIC, mrd(60, True, "0.05"), mrd(90, True, second)])
    assert [a.code for a in result.alerts] == (["MRD_LOG_RISE"] if alert else [])


def test_loss_of_donor_chimerism() -> None:
    chim = [
        TimePoint(day(n), ObservationKind.CHIMERISM, {"donor_pct": v})
        for n, v in ((30, 99), (60, 96), (90, 91))
    ]
    result = assess_points([*chim])
    assert kinds(result, "chimerism") == [
        (day(30), "FULL_DONOR"),
        (day(60), "FULL_DONOR"),
        (day(90), "MIXED"),
    ]
    assert [(a.date, a.code) for a in result.alerts] == [(day(90), "LOSS_OF_DONOR_CHIMERISM")]


def test_bad_observation_is_refused_with_date_and_field() -> None:
    with pytest.raises(ValidationError, match=r"2025-02-05 marrow\.bm_blasts_pct"):
        assess_points([DIAGNOSTIC, marrow(30, 140)])


def test_chimerism_without_a_value_is_refused() -> None:
    with pytest.raises(ValidationError, match="donor_pct"):
        assess_points([TimePoint(day(1), ObservationKind.CHIMERISM, {})])


def test_timeline_explanations_carry_rule_and_version() -> None:
    result = assess_points([DIAGNOSTIC, marrow(30, 2)])
    (response,) = [a for a in result.calls if a.kind == "response"]
    assert response.rule == "ELN22-CR" and response.citation
    assert response.software_version == __version__
    evidence = {e["input"]: e["value"] for e in response.evidence}
    assert evidence["anc"] == "2.0"


def test_assessment_key_changes_with_evidence_and_is_stable_otherwise() -> None:
    first = assess_points([DIAGNOSTIC, marrow(30, 2)])
    again = assess_points([marrow(30, 2), DIAGNOSTIC])
    amended = assess_points([DIAGNOSTIC, marrow(30, 2, anc="0.9")])
    keys = {a.kind: a.key() for a in first.calls}
    assert keys == {a.kind: a.key() for a in again.calls}
    changed = {a.kind: a.key() for a in amended.calls}
    assert changed["response"] != keys["response"]
    assert changed["baseline"] == keys["baseline"]
    assert keys["response"][2:5] == ("ELN2022", "ELN2022", __version__)


def _incomplete(n: int, courses: int) -> TimePoint:
    """A response marrow reported without circulating blasts or an extramedullary statement."""
    point = marrow(n, 2, courses=courses)
    values = {
        k: v for k, v in point.values.items() if k not in ("circulating_blasts", "extramedullary")
    }
    return TimePoint(point.date, point.kind, values, point.therapy)


def test_landmark_without_any_evaluable_response_is_not_evaluable_not_refractory() -> None:
    # Both marrows lack blood/EMD statements: nothing says "no CR", so no REFRACTORY call/alert.
    result = assess_points([DIAGNOSTIC, _incomplete(30, 1), _incomplete(60, 2)])
    assert kinds(result, "response") == [(day(30), "NON_EVALUABLE"), (day(60), "NON_EVALUABLE")]
    assert kinds(result, "landmark") == [(day(30), "BEFORE_LANDMARK"), (day(60), "NOT_EVALUABLE")]
    landmark = [a for a in result.calls if a.kind == "landmark"][-1]
    assert "cr_achieved" in landmark.missing
    assert [a.code for a in result.alerts] == []


def test_landmark_after_an_evaluable_non_cr_but_non_evaluable_landmark_marrow_is_unknown() -> None:
    # No response at course 1 does not decide the landmark: the course-2 marrow might be CR.
    result = assess_points([DIAGNOSTIC, marrow(30, 40, courses=1), _incomplete(60, 2)])
    assert kinds(result, "landmark")[-1] == (day(60), "NOT_EVALUABLE")
    assert result.alerts == ()


def test_landmark_after_cr_then_relapse_is_not_refractory() -> None:
    # Refractoriness is about reaching a first remission; relapsed disease is not refractory.
    result = assess_points(
        [
            DIAGNOSTIC,
            marrow(30, 2, courses=1),
            marrow(200, 30, courses=2),
            marrow(240, 25, courses=3),
        ]
    )
    assert "REFRACTORY" not in [a.code for a in result.alerts]
    assert "HEMATOLOGIC_RELAPSE" in [a.code for a in result.alerts]
    assert all(c == "NOT_REFRACTORY" for _, c in kinds(result, "landmark") if _ >= day(200))


def test_order_with_same_day_ties_matches_the_full_sort_key() -> None:
    import itertools

    mrd_a = TimePoint(day(30), ObservationKind.MRD, {"method": "MFC", "pct": 0})
    mrd_b = TimePoint(day(30), ObservationKind.MRD, {"method": "qPCR", "detected": False})
    points = [DIAGNOSTIC, marrow(30, 2, courses=1), mrd_a, mrd_b, marrow(60, 3, courses=2)]
    expected = sorted(points, key=TimePoint.sort_key)
    for perm in itertools.permutations(points):
        assert in_order(perm) == expected


def _reach(values: dict[str, Any]) -> list[str]:
    """The worded evidence of the MRD call of one MRD time point."""
    result = assess_points(
        [DIAGNOSTIC, marrow(30, 2, courses=1), TimePoint(day(30), ObservationKind.MRD, values)]
    )
    (call,) = [c for c in result.calls if c.kind == "mrd"]
    return [str(e["sentence"]) for e in call.evidence if e.get("sentence")]


def test_a_negative_mrd_call_states_the_method_and_the_sensitivity_reached() -> None:
    """ELN 2021: a negative result states the sensitivity it reached; the rule's own evidence
    named only the method ("MRD method: MFC — as required")."""
    npm1 = {"method": "qPCR", "target": "NPM1", "detected": False, "sensitivity": Decimal("1e-5")}
    assert _reach(npm1) == ["NPM1 MRD not detected (qPCR, sensitivity 10⁻⁵)"]
    # MFC: sensitivity = LLOQ events ÷ CD45+ events (M6), the laboratory's LLOQ when given ...
    flow = {"method": "MFC", "pct": 0, "cd45_events": 1_000_000, "lloq_events": 50}
    assert _reach(flow) == ["MRD not detected (MFC, sensitivity 5 × 10⁻⁵)"]
    # ... else the 50-event default; residual cells below the threshold are not "not detected".
    below = {"method": "MFC", "pct": Decimal("0.04"), "cd45_events": 3_000_000}
    assert _reach(below) == ["MRD 0.04 %, below 0.1 % (MFC, sensitivity 1.7 × 10⁻⁵)"]
    # Nothing known of the sensitivity: said, not left out.
    assert _reach({"method": "dPCR", "detected": False}) == [
        "MRD not detected (dPCR, no sensitivity reported)"
    ]
    # Positive calls add nothing.
    assert _reach({"method": "qPCR", "target": "NPM1", "detected": True, "level_pct": 5}) == []


def test_a_bad_mrd_sensitivity_is_refused_with_its_field() -> None:
    """Refused for its value, naming the field (a known key now, not an unknown one)."""
    for bad in ("high", 2):
        with pytest.raises(ValidationError, match=r"sensitivity") as err:
            _reach({"method": "qPCR", "detected": False, "sensitivity": bad})
        assert "unknown input key" not in str(err.value), err.value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1e-5", "10⁻⁵"),
        ("5e-5", "5 × 10⁻⁵"),
        ("0.000016667", "1.7 × 10⁻⁵"),
        ("9.96e-4", "10⁻³"),
        ("0.01", "10⁻²"),
    ],
)
def test_power_of_ten(value: str, text: str) -> None:
    from trephine.criteria.adapters.aml import power_of_ten

    assert power_of_ten(Decimal(value)) == text
