"""MRD quantification: every threshold at and just across its boundary (clinical-criteria.md)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from trephine.analysis.flow.mrd import (
    ALL_MRD,
    AML_ELN2021,
    CLL_IWCLL2018,
    CRITERIA,
    MM_IMWG2016,
    FlagCode,
    Hemodilution,
    MrdCall,
    quantify_from_masks,
    quantify_mrd,
    with_limits,
)
from trephine.errors import ValidationError


def test_aml_positivity_exactly_0_1_percent_is_positive() -> None:  # M5
    at = quantify_mrd(1000, 1_000_000, AML_ELN2021)
    assert at.mrd_percent == Decimal("0.1")
    assert at.call is MrdCall.POSITIVE
    below = quantify_mrd(999, 1_000_000, AML_ELN2021)
    assert below.call is MrdCall.NEGATIVE
    assert FlagCode.DETECTABLE_BELOW_THRESHOLD in below.flag_codes
    assert below.mrd_percent == Decimal("0.0999")


def test_aml_negative_needs_more_than_500000_events() -> None:  # M4: "> 500,000"
    at = quantify_mrd(0, 500_000, AML_ELN2021)
    assert at.call is MrdCall.INSUFFICIENT_SENSITIVITY
    assert FlagCode.TOO_FEW_EVENTS in at.flag_codes
    across = quantify_mrd(0, 500_001, AML_ELN2021)
    assert across.call is MrdCall.NEGATIVE
    assert FlagCode.TOO_FEW_EVENTS not in across.flag_codes
    assert at.required_denominator_events == 500_001


def test_positive_result_is_reportable_with_too_few_events() -> None:  # M4 second sentence
    r = quantify_mrd(200, 100_000, AML_ELN2021)
    assert r.call is MrdCall.POSITIVE
    assert FlagCode.TOO_FEW_EVENTS in r.flag_codes


@pytest.mark.parametrize(
    ("events", "detected", "quantifiable", "flag"),
    [
        (19, False, False, FlagCode.BELOW_LOD),
        (20, True, False, FlagCode.BETWEEN_LOD_AND_LLOQ),
        (49, True, False, FlagCode.BETWEEN_LOD_AND_LLOQ),
        (50, True, True, None),
    ],
)
def test_lod_and_lloq_boundaries(  # M6: LOD >= 20 events, LLOQ >= 50 events
    events: int, detected: bool, quantifiable: bool, flag: FlagCode | None
) -> None:
    r = quantify_mrd(events, 2_000_000, AML_ELN2021)
    assert (r.detected, r.quantifiable) == (detected, quantifiable)
    lod_flags = {FlagCode.BELOW_LOD, FlagCode.BETWEEN_LOD_AND_LLOQ} & set(r.flag_codes)
    assert lod_flags == ({flag} if flag else set())
    assert r.lod_events == 20 and r.lloq_events == 50


def test_cluster_below_lod_is_not_positive_even_above_0_1_percent() -> None:
    r = quantify_mrd(15, 10_000, AML_ELN2021)  # 0.15 % but only 15 events
    assert r.call is MrdCall.INSUFFICIENT_SENSITIVITY
    assert FlagCode.BELOW_LOD in r.flag_codes


def test_sensitivity_reached_and_target() -> None:  # M6: 50 / 500,000 = 1e-4
    at = quantify_mrd(0, 500_000, AML_ELN2021)
    assert at.sensitivity_reached == Decimal("0.0001")
    assert FlagCode.BELOW_TARGET_SENSITIVITY not in at.flag_codes
    across = quantify_mrd(0, 499_999, AML_ELN2021)
    assert across.sensitivity_reached > Decimal("0.0001")
    assert FlagCode.BELOW_TARGET_SENSITIVITY in across.flag_codes
    assert at.lod_fraction == Decimal("0.00004")
    assert at.lloq_fraction == Decimal("0.0001")


def test_hemodilution_blocks_a_negative_but_not_a_positive() -> None:  # §8 rule [I]
    h = Hemodilution(spicules_present=False)
    neg = quantify_mrd(0, 1_000_000, AML_ELN2021, hemodilution=h)
    assert neg.call is MrdCall.NOT_EVALUABLE
    assert FlagCode.HEMODILUTION in neg.flag_codes
    pos = quantify_mrd(5000, 1_000_000, AML_ELN2021, hemodilution=h)
    assert pos.call is MrdCall.POSITIVE
    assert FlagCode.HEMODILUTION in pos.flag_codes
    idx = quantify_mrd(0, 1_000_000, AML_ELN2021, hemodilution=Hemodilution(index_flag=True))
    assert idx.call is MrdCall.NOT_EVALUABLE


def test_marrow_restricted_population_threshold_at_and_across() -> None:
    at = Hemodilution(marrow_events=10_000, min_marrow_fraction=Decimal("0.01"))
    r = quantify_mrd(0, 1_000_000, AML_ELN2021, hemodilution=at)
    assert r.call is MrdCall.NEGATIVE and FlagCode.HEMODILUTION not in r.flag_codes
    below = Hemodilution(marrow_events=9_999, min_marrow_fraction=Decimal("0.01"))
    r2 = quantify_mrd(0, 1_000_000, AML_ELN2021, hemodilution=below)
    assert r2.call is MrdCall.NOT_EVALUABLE and FlagCode.HEMODILUTION in r2.flag_codes


def test_all_threshold_0_01_percent() -> None:  # §5: MRD failure >= 0.01 %
    assert quantify_mrd(50, 500_000, ALL_MRD).call is MrdCall.POSITIVE
    assert quantify_mrd(49, 500_000, ALL_MRD).call is MrdCall.NEGATIVE
    assert quantify_mrd(0, 499_999, ALL_MRD).call is MrdCall.INSUFFICIENT_SENSITIVITY


def test_cll_umrd4_and_minimum_sample() -> None:  # §4.3: < 1e-4; >= 200,000 leukocytes
    assert quantify_mrd(20, 200_000, CLL_IWCLL2018).call is MrdCall.POSITIVE  # exactly 1e-4
    assert quantify_mrd(21, 210_001, CLL_IWCLL2018).call is MrdCall.NEGATIVE  # just below 1e-4
    assert quantify_mrd(0, 200_000, CLL_IWCLL2018).call is MrdCall.NEGATIVE
    assert quantify_mrd(0, 199_999, CLL_IWCLL2018).call is MrdCall.INSUFFICIENT_SENSITIVITY


def test_myeloma_needs_1e_5_sensitivity() -> None:  # §2.3: 1 in 10^5
    assert quantify_mrd(0, 5_000_000, MM_IMWG2016).call is MrdCall.NEGATIVE
    assert quantify_mrd(0, 4_999_999, MM_IMWG2016).call is MrdCall.INSUFFICIENT_SENSITIVITY
    assert quantify_mrd(20, 5_000_000, MM_IMWG2016).call is MrdCall.POSITIVE
    assert quantify_mrd(19, 5_000_000, MM_IMWG2016).call is MrdCall.NEGATIVE


def test_every_threshold_is_cited() -> None:
    for crit in CRITERIA.values():
        r = quantify_mrd(0, 10, crit)
        assert len(r.thresholds) == 5
        for t in r.thresholds:
            assert t.rule and t.source and t.tag.startswith("[")
        for f in quantify_mrd(25, 1000, crit).flags:
            assert f.rule and f.source and f.tag


def test_exact_decimal_levels() -> None:
    r = quantify_mrd(1, 3, AML_ELN2021)
    assert r.mrd_fraction == Decimal("0.3333333333333333333333333333")
    d = r.to_dict()
    assert d["mrd_percent"] == "33.33333333333333333333333333"
    assert d["call"] == "insufficient_sensitivity"


def test_from_masks_counts_only_abnormal_inside_denominator() -> None:
    den = np.array([True, True, True, False])
    abn = np.array([True, False, False, True])
    r = quantify_from_masks({"CD45": den, "LAIP": abn}, "CD45", "LAIP")
    assert (r.abnormal_events, r.denominator_events) == (1, 3)
    assert FlagCode.ABNORMAL_OUTSIDE_DENOMINATOR in r.flag_codes
    with pytest.raises(ValidationError, match="abnormal gate"):
        quantify_from_masks({"CD45": den}, "CD45", "Blasts")


@pytest.mark.parametrize(
    ("abn", "den", "field"),
    [
        (-1, 10, "abnormal_events"),
        (1, 0, "denominator_events"),
        (11, 10, "abnormal_events"),
        (1.5, 10, "abnormal_events"),
    ],
)
def test_invalid_counts_are_refused(abn: int, den: int, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        quantify_mrd(abn, den)
    assert err.value.field == field


def test_laboratory_limits() -> None:
    crit = with_limits(AML_ELN2021, lod_events=10, lloq_events=30)
    r = quantify_mrd(10, 1_000_000, crit)
    assert r.detected and not r.quantifiable
    with pytest.raises(ValidationError):
        with_limits(AML_ELN2021, lod_events=40, lloq_events=30)


def test_flag_sentences_read_as_numbers_and_cite_once() -> None:
    """The README's tube (236 of 15,598 CD45+ events) printed 'sensitivity reached
    0.003205539171688678035645595589 (LLOQ 50 / 15598)' and each flag's citation twice (in the
    sentence and in the flag's fields, which the CLI appends). Sentences now carry numbers by
    the one number rule and no citation; a fraction threshold reads as a percentage."""
    flags = {f.code: f for f in quantify_mrd(236, 15598, AML_ELN2021).flags}
    assert flags[FlagCode.BELOW_TARGET_SENSITIVITY].message == (
        "sensitivity reached 0.003206 (LLOQ 50 / 15,598) does not meet the target <= 0.0001"
    )
    assert flags[FlagCode.TOO_FEW_EVENTS].message == (
        "15,598 denominator events; a negative result needs > 500,000"
    )
    below = {f.code: f for f in quantify_mrd(83, 600_000, AML_ELN2021).flags}
    assert below[FlagCode.DETECTABLE_BELOW_THRESHOLD].message.startswith(
        "abnormal population detected at 0.01383 % (below the positivity threshold >= 0.1 %)"
    )
    for f in [*flags.values(), *below.values()]:
        assert f.rule not in f.message and f.source not in f.message, f.message
