"""Hypothesis properties: better markers never worsen a call; outputs stay in their enums;
the order in which time points are given never changes an AML assessment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trephine.assess.aml import assess_points
from trephine.assess.timepoints import Intensity, ObservationKind, TherapyContext, TimePoint
from trephine.criteria.engine import evaluate
from trephine.criteria.model import InputKind, InputSpec, RuleSet
from trephine.criteria.registry import rulesets
from trephine.criteria.sets import eln2022_aml, imwg2016_mm, iwg2023_mds

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
    category_enum = rs.category_enum()
    assert category_enum(a.category).value == a.category  # a member of the set's enum
    if a.rule_id is None:
        assert a.category == rs.not_evaluable


@st.composite
def observations(draw: st.DrawFn) -> list[TimePoint]:
    start = dt.date(2025, 1, 1)
    points = [
        TimePoint(
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
        points.append(TimePoint(day, kind, values, therapy, tissue="BM"))
    return points


@settings(max_examples=80, deadline=None)
@given(observations(), st.randoms(use_true_random=False))
def test_timeline_ignores_the_order_observations_are_given(
    points: list[TimePoint], rnd: Any
) -> None:
    shuffled = list(points)
    rnd.shuffle(shuffled)
    assert assess_points(shuffled) == assess_points(points)


JSON_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_bad_values_are_refused_never_crash(data: st.DataObject) -> None:
    """Any value in any input field either evaluates or raises ValidationError — the CLI turns
    that into exit code 2 and one line; nothing else may escape (no traceback for users)."""
    from trephine.criteria.cases import evaluate_case
    from trephine.errors import ValidationError

    case = data.draw(st.sampled_from(SAMPLE_CASES))
    raw = dict(case["input"])
    key = data.draw(st.sampled_from(sorted(raw)))
    inner = raw[key]
    if isinstance(inner, dict) and inner and data.draw(st.booleans()):
        inner = dict(inner)  # one level deeper: a field of an MRD result, history, baseline
        inner[data.draw(st.sampled_from(sorted(inner)))] = data.draw(JSON_JUNK)
        raw[key] = inner
    elif (
        isinstance(inner, list)
        and inner
        and isinstance(inner[0], dict)
        and data.draw(st.booleans())
    ):
        first = dict(inner[0])
        first[data.draw(st.sampled_from(sorted(first)))] = data.draw(JSON_JUNK)
        raw[key] = [first, *inner[1:]]
    else:
        raw[key] = data.draw(JSON_JUNK)
    try:
        evaluate_case({**case, "input": raw})
    except ValidationError as exc:
        assert str(exc)


SAMPLE_CASES: list[dict[str, Any]] = [
    {
        "id": "a",
        "ruleset": "ELN2022",
        "input": {
            "disease": "AML",
            "bm_blasts_pct": 3,
            "anc": 1.5,
            "plt": 120,
            "circulating_blasts": False,
            "extramedullary": False,
            "cells_counted": 500,
            "spicules_present": True,
            "biopsy_cellularity_pct": 40,
            "baseline_bm_blasts_pct": 50,
            "mrd": {"method": "MFC", "pct": 0.05, "cd45_events": 600000},
            "history": {"best_response": "CR"},
            "therapy": {"intensity": "intensive", "courses": 2},
            "pb_blast_samples": [{"date": "2025-03-01", "blasts_present": True}],
        },
    },
    {
        "id": "b",
        "ruleset": "ELN2022+ELN2021",
        "input": {
            "history": {"best_response": "CR_MRD-LL"},
            "mrd_series": [
                {
                    "date": "2025-01-10",
                    "method": "qPCR",
                    "target": "NPM1",
                    "detected": True,
                    "level_pct": 0.05,
                    "sample": "PB",
                }
            ],
        },
    },
    {
        "id": "c",
        "ruleset": "IMWG2016",
        "input": {
            "disease": "MM",
            "baseline": {"serum_m_g_dl": 3.0, "urine_m_mg_24h": 800},
            "serum_ife": "positive",
            "urine_ife": "positive",
            "serum_m_g_dl": 1.4,
            "urine_m_mg_24h": 150,
            "nadir": {"serum_m_g_dl": 1.0},
            "mrd": {"method": "NGF", "result": "negative", "sensitivity": 0.00001},
            "series_a": [{"date": "2024-01-15", "marrow_mrd": "negative", "pet": "negative"}],
        },
    },
    {
        "id": "d",
        "ruleset": "IWG2006 vs IWG2023",
        "input": {
            "disease": "MDS",
            "baseline_bm_blasts_pct": 12,
            "bm_blasts_pct": 4,
            "hb": 8.0,
            "plt": 40,
            "anc": 0.4,
            "pb_blasts_pct": 0,
            "baseline_plt": 20,
            "duration_weeks": 9,
        },
    },
    {
        "id": "e",
        "ruleset": "WHO5 vs ICC2022",
        "input": {
            "bm_blasts_pct": 12,
            "pb_blasts_pct": 3,
            "genetics": ["NPM1"],
            "karyotype": "normal",
        },
    },
    {
        "id": "f",
        "ruleset": "Chimerism",
        "input": {
            "fractions": {"CD3": {"donor_pct": 60}},
            "series_recipient_pct": [2, 8, 15],
            "assay": "STR",
        },
    },
    {
        "id": "g",
        "ruleset": "ALL-MRD",
        "input": {
            "disease": "B-ALL",
            "hematologic_cr": True,
            "timepoint": "end_of_induction",
            "mrd": {"method": "MFC", "pct": 0.005, "sensitivity_pct": 0.01},
        },
    },
    {
        "id": "h",
        "ruleset": "SIR2019",
        "input": {"plt": 180, "inr": 1.1, "anticoagulant": "apixaban", "diagnosis": "AML"},
    },
    {
        "id": "i",
        "ruleset": "iwCLL2018",
        "input": {"cases": [{"leukocytes_analysed": 200000, "cll_events": 20}]},
    },
]
