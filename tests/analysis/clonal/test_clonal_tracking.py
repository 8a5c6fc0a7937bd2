"""Presence, status and the depth-aware call; AML1 status counts (Ding 2012)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from clonal_datasets import aml1_observations

from trephine.analysis.clonal.records import VariantObservation
from trephine.analysis.clonal.tracking import Status, status_from_presence, track
from trephine.errors import ValidationError


@pytest.mark.parametrize(
    ("presence", "status", "intermittent"),
    [
        ([True, True, True], Status.PERSISTENT, False),
        ([True, False, True], Status.PERSISTENT, True),
        ([True, True, False], Status.CLEARED, False),
        ([False, False, True], Status.EMERGING, False),
        ([False, True, False], Status.TRANSIENT, False),
        ([False, True, False, True, False], Status.TRANSIENT, False),
        ([False, False], Status.NOT_DETECTED, False),
        ([True], Status.SINGLE_SAMPLE, False),
    ],
)
def test_status_table(presence: list[bool], status: Status, intermittent: bool) -> None:
    assert status_from_presence(presence) == (status, intermittent)


def _obs(
    sample: str, day: float, vaf: float, alt: int | None, depth: int | None, gene: str = "FLT3"
) -> VariantObservation:
    return VariantObservation("P1", sample, day, gene, f"{gene}_m", alt, depth, vaf)


def test_lod_boundary_and_depth_aware_call() -> None:
    obs = [
        _obs("S1", 0, 0.01, 1, 100),  # exactly at the LOD: present; 1 read at depth 100: no call
        _obs("S2", 30, 0.0099, 99, 10000),  # just below the LOD, but 99 reads: called
        _obs("S3", 60, 0.2, None, None),  # VAF only: call unknown
    ]
    (m,) = track(obs, lod=0.01, error_rate=0.001)
    assert [x.present for x in m.measurements] == [True, False, True]
    assert [x.called for x in m.measurements] == [False, True, None]
    assert m.status is Status.PERSISTENT and m.intermittent


def test_real_days_order_not_row_order() -> None:
    obs = [_obs("late", 400, 0.3, 30, 100), _obs("early", 10, 0.0, 0, 100)]
    (m,) = track(obs)
    assert [x.sample_id for x in m.measurements] == ["early", "late"]
    assert m.status is Status.EMERGING


def test_unreported_sample_counts_as_absent() -> None:
    obs = [
        _obs("S1", 0, 0.3, 30, 100),
        VariantObservation("P1", "S2", 90, "NPM1", "other", 0, 100, 0.0),
    ]
    flt3 = next(m for m in track(obs) if m.gene == "FLT3")
    assert flt3.status is Status.CLEARED
    assert flt3.measurements[1].vaf is None and flt3.measurements[1].called is None


@pytest.mark.parametrize("gene", ["DNMT3A", "TET2", "ASXL1", "tet2"])
def test_chip_genes_are_flagged_and_not_mrd_informative(gene: str) -> None:
    (m,) = track([_obs("S1", 0, 0.3, 30, 100, gene=gene)])
    assert m.chip and not m.mrd_informative


def test_invalid_lod_is_refused() -> None:
    with pytest.raises(ValidationError, match="lod"):
        track([_obs("S1", 0, 0.3, 30, 100)], lod=1.5)


@pytest.mark.shared_data
@pytest.mark.parametrize(("lod", "expected"), [(0.01, (312, 62, 4)), (0.05, (309, 65, 4))])
def test_aml1_status_counts(real_data: Path, lod: float, expected: tuple[int, int, int]) -> None:
    obs, _ = aml1_observations(real_data)
    counts = Counter(m.status for m in track(obs, lod=lod))
    assert (counts[Status.PERSISTENT], counts[Status.EMERGING], counts[Status.CLEARED]) == expected
    assert sum(counts.values()) == 378
