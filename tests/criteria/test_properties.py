"""Hypothesis properties: better markers never worsen a call; outputs stay in their enums;
the order in which observations are given never changes a timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trephine.criteria.engine import evaluate
from trephine.criteria.model import InputKind, InputSpec, RuleSet
from trephine.criteria.registry import rulesets
from trephine.criteria.sets import eln2022_aml, imwg2016_mm, iwg2023_mds
from trephine.criteria.timeline import (
    Intensity,
    ObservationKind,
    TherapyContext,
    TimepointInput,
    assess_timeline,
)

SETTINGS = settings(max_examples=150, deadline=None)


def dec(low: str, high: str, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        Decimal(low), Decimal(high), places=places, allow_nan=False, allow_infinity=False
    )


@st.composite
def adequate_marrow(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "bm_blasts_pct": draw(dec("0", "100", 1)),
        "baseline_bm_blasts_pct": draw(dec("5", "100", 1)),
        "anc": draw(dec("0", "5")),
        "plt": draw(dec("0", "400", 0)),
        "circulating_blasts": draw(st.booleans()),
        "extramedullary": False,
        "cells_counted": Decimal(500),
        "spicules_present": True,
        "biopsy_cellularity_pct": Decimal(40),
    }


def rank(rs: RuleSet, facts: dict[str, Any], params: dict[str, Any] | None = None) -> int:
    return rs.rank(evaluate(rs, facts, params).category)


@SETTINGS
@given(
    adequate_marrow(),
    st.sampled_from(["anc", "plt", "bm_blasts_pct", "circulating_blasts"]),
    dec("0", "50"),
    st.sampled_from(["single_lineage_deficit", "any_deficit"]),
)
def test_eln2022_better_marker_never_worsens(
    facts: dict[str, Any], marker: str, step: Decimal, cri_mode: str
) -> None:
    better = dict(facts)
    if marker == "bm_blasts_pct":
        better[marker] = max(Decimal(0), facts[marker] - step)
    elif marker == "circulating_blasts":
        better[marker] = False
    else:
        better[marker] = facts[marker] + step
    params = {"cri_mode": cri_mode}
    rs = eln2022_aml.RESPONSE
    assert rank(rs, better, params) <= rank(rs, facts, params)


@st.composite
def myeloma(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "baseline_serum_m_g_dl": draw(dec("1", "8")),
        "baseline_urine_m_mg_24h": draw(dec("0", "2000", 0)),
        "serum_m_g_dl": draw(dec("0", "8")),
        "urine_m_mg_24h": draw(dec("0", "2000", 0)),
        "serum_ife": "positive",
        "urine_ife": "positive",
    }


@SETTINGS
@given(myeloma(), st.sampled_from(["serum_m_g_dl", "urine_m_mg_24h"]), dec("0", "500"))
def test_imwg_lower_m_protein_never_worsens(
    facts: dict[str, Any], marker: str, step: Decimal
) -> None:
    better = {**facts, marker: max(Decimal(0), facts[marker] - step)}
    rs = imwg2016_mm.RESPONSE
    assert rank(rs, better) <= rank(rs, facts)


@SETTINGS
@given(
    dec("5", "30", 1),
    dec("0", "30", 1),
    dec("4", "14", 1),
    dec("0", "300", 0),
    dec("0", "4"),
    st.sampled_from(["hb", "plt", "anc", "bm_blasts_pct"]),
    dec("0", "20"),
)
def test_iwg2023_better_marker_never_worsens(
    base: Decimal,
    blasts: Decimal,
    hb: Decimal,
    plt: Decimal,
    anc: Decimal,
    marker: str,
    step: Decimal,
) -> None:
    facts = {
        "baseline_bm_blasts_pct": base,
        "bm_blasts_pct": blasts,
        "hb": hb,
        "plt": plt,
        "anc": anc,
        "pb_blasts_pct": Decimal(0),
    }
    better = dict(facts)
    better[marker] = (
        max(Decimal(0), blasts - step) if marker == "bm_blasts_pct" else facts[marker] + step
    )
    rs = iwg2023_mds.RESPONSE
    assert rank(rs, better) <= rank(rs, facts)


def _value(spec: InputSpec) -> st.SearchStrategy[Any]:
    if spec.kind is InputKind.BOOL:
        return st.booleans()
    if spec.kind is InputKind.TEXT:
        return st.sampled_from(spec.allowed) if spec.allowed else st.text(max_size=5)
    low = spec.minimum if spec.minimum is not None else Decimal(-200)
    high = spec.maximum if spec.maximum is not None else Decimal(1_000_000)
    return st.decimals(low, high, places=3, allow_nan=False, allow_infinity=False)


ALL_SETS = list(rulesets().values())


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_output_is_a_member_of_its_enum(data: st.DataObject) -> None:
    rs = data.draw(st.sampled_from(ALL_SETS))
    facts = {spec.name: data.draw(st.one_of(st.none(), _value(spec))) for spec in rs.inputs}
    a = evaluate(rs, facts)
    allowed = set(rs.categories) or {r.category for r in rs.rules}
    assert a.category in allowed | {rs.not_evaluable}
    if a.rule_id is None:
        assert a.category == rs.not_evaluable


@st.composite
def observations(draw: st.DrawFn) -> list[TimepointInput]:
    start = dt.date(2025, 1, 1)
    points = [
        TimepointInput(
            start,
            ObservationKind.MARROW,
            {"bm_blasts_pct": draw(dec("20", "90", 0))},
            diagnostic=True,
        )
    ]
    for i in range(draw(st.integers(1, 6))):
        day = start + dt.timedelta(days=draw(st.integers(20, 400)))
        kind = draw(st.sampled_from(list(ObservationKind)))
        if kind is ObservationKind.MARROW:
            values: dict[str, Any] = {
                "bm_blasts_pct": draw(dec("0", "40", 0)),
                "anc": draw(dec("0", "3")),
                "plt": draw(dec("0", "200", 0)),
                "circulating_blasts": False,
                "extramedullary": False,
                "cells_counted": 500,
                "spicules_present": True,
                "biopsy_cellularity_pct": 40,
            }
            therapy = TherapyContext(courses_completed=min(i + 1, 4), intensity=Intensity.INTENSIVE)
        elif kind is ObservationKind.BLOOD:
            values, therapy = {"circulating_blasts": draw(st.booleans())}, None
        elif kind is ObservationKind.MRD:
            values = {
                "method": "qPCR",
                "target": "NPM1",
                "detected": draw(st.booleans()),
                "level_pct": draw(dec("0.001", "5", 3)),
            }
            therapy = None
        else:
            values, therapy = {"donor_pct": draw(dec("50", "100", 0))}, None
        points.append(TimepointInput(day, kind, values, therapy, tissue="BM"))
    return points


@settings(max_examples=80, deadline=None)
@given(observations(), st.randoms(use_true_random=False))
def test_timeline_ignores_the_order_observations_are_given(
    points: list[TimepointInput], rnd: Any
) -> None:
    shuffled = list(points)
    rnd.shuffle(shuffled)
    assert assess_timeline(shuffled) == assess_timeline(points)
