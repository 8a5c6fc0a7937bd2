"""Mutation tracking on the real time axis: presence per specimen and an evolution status.

Two detection views are reported side by side, because they answer different questions:

* ``present`` — the explicit detection limit: VAF >= ``lod`` (what a lab report states);
* ``called`` — a depth-aware call: a one-sided binomial test of the alt reads against the
  sequencing error rate (``p < alpha``). A VAF of 2 % at depth 50 (1 read) is above a 1 % LOD but
  is not distinguishable from noise; the call says so. None when the depth is unknown.

Status, from the ``present`` flags in day order (first and last specimen of the patient):

=================  =========================================================================
``persistent``      present at the first and at the last specimen (``intermittent`` is set when
                    it dropped below the LOD in between: present → absent → present)
``cleared``         present at the first, absent at the last
``emerging``        absent at the first, present at the last
``transient``       absent at the first and the last, present in between
                    (absent → present → absent: it appeared and cleared again)
``not_detected``    never at or above the LOD
``single_sample``   only one specimen: no evolution can be stated
=================  =========================================================================

A mutation absent from a specimen's rows (not reported by the caller) counts as absent there,
with unknown depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

from trephine.analysis.clonal.records import CHIP_GENES, SampleInfo, VariantObservation
from trephine.errors import ValidationError


class Status(StrEnum):
    PERSISTENT = "persistent"
    CLEARED = "cleared"
    EMERGING = "emerging"
    TRANSIENT = "transient"
    NOT_DETECTED = "not_detected"
    SINGLE_SAMPLE = "single_sample"


@dataclass(frozen=True)
class Measurement:
    sample_id: str
    day: float
    vaf: float | None
    alt_count: int | None
    depth: int | None
    present: bool
    #: Depth-aware call (binomial test vs error rate); None when depth is unknown.
    called: bool | None
    p_value: float | None


@dataclass(frozen=True)
class TrackedMutation:
    patient_id: str
    mutation_id: str
    gene: str
    status: Status
    intermittent: bool
    chip: bool
    measurements: tuple[Measurement, ...]

    @property
    def mrd_informative(self) -> bool:
        """ELN 2021 M12: DTA (CHIP) mutations are not used as MRD markers."""
        return not self.chip


@dataclass(frozen=True)
class PatientSamples:
    patient_id: str
    samples: tuple[SampleInfo, ...]  # day order


def patient_samples(obs: Sequence[VariantObservation]) -> dict[str, PatientSamples]:
    """The specimens of each patient in day order (ties broken by sample id, for determinism)."""
    per: dict[str, dict[str, SampleInfo]] = {}
    for o in obs:
        per.setdefault(o.patient_id, {})[o.sample_id] = SampleInfo(
            o.sample_id, o.patient_id, o.day, o.purity
        )
    out: dict[str, PatientSamples] = {}
    for pid in sorted(per):
        ss = sorted(per[pid].values(), key=lambda s: (s.day, s.sample_id))
        out[pid] = PatientSamples(pid, tuple(ss))
    return out


def status_from_presence(present: Sequence[bool]) -> tuple[Status, bool]:
    """Status and the ``intermittent`` flag from day-ordered presence flags."""
    if len(present) == 0 or not any(present):
        return Status.NOT_DETECTED, False
    if len(present) == 1:
        return Status.SINGLE_SAMPLE, False
    first, last = present[0], present[-1]
    if first and last:
        return Status.PERSISTENT, not all(present)
    if first:
        return Status.CLEARED, False
    if last:
        return Status.EMERGING, False
    return Status.TRANSIENT, False


def track(
    obs: Sequence[VariantObservation],
    *,
    lod: float = 0.01,
    error_rate: float = 0.001,
    alpha: float = 0.01,
) -> list[TrackedMutation]:
    """Track every mutation of every patient; output sorted by (patient, mutation id)."""
    if not 0 < lod <= 1:
        raise ValidationError("lod", lod, "a VAF fraction in (0, 1]")
    if not 0 < error_rate < 1:
        raise ValidationError("error_rate", error_rate, "a fraction in (0, 1)")
    if not 0 < alpha < 1:
        raise ValidationError("alpha", alpha, "a probability in (0, 1)")
    samples = patient_samples(obs)
    by_mut: dict[tuple[str, str], dict[str, VariantObservation]] = {}
    for o in obs:
        by_mut.setdefault((o.patient_id, o.mutation_id), {})[o.sample_id] = o

    # One vectorised binomial survival call for every observation with counts: P(X >= alt).
    with_counts = [o for o in obs if o.alt_count is not None and o.depth is not None]
    alts = np.array([o.alt_count for o in with_counts], dtype=float)
    depths = np.array([o.depth for o in with_counts], dtype=float)
    pvals = stats.binom.sf(alts - 1, depths, error_rate) if len(with_counts) else np.array([])
    pval_of = {
        (o.patient_id, o.sample_id, o.mutation_id): float(p)
        for o, p in zip(with_counts, pvals, strict=True)
    }

    out: list[TrackedMutation] = []
    for (pid, mid), per_sample in sorted(by_mut.items()):
        ms: list[Measurement] = []
        gene = next(iter(per_sample.values())).gene
        for s in samples[pid].samples:
            ob = per_sample.get(s.sample_id)
            if ob is None:
                ms.append(Measurement(s.sample_id, s.day, None, None, None, False, None, None))
                continue
            p = pval_of.get((pid, s.sample_id, mid))
            ms.append(
                Measurement(
                    s.sample_id,
                    s.day,
                    ob.vaf,
                    ob.alt_count,
                    ob.depth,
                    present=ob.vaf >= lod,
                    called=None if p is None else bool(p < alpha),
                    p_value=p,
                )
            )
        status, intermittent = status_from_presence([m.present for m in ms])
        out.append(
            TrackedMutation(
                pid, mid, gene, status, intermittent, gene.upper() in CHIP_GENES, tuple(ms)
            )
        )
    return out
