"""Rules over a series of results: AML MRD relapse (ELN 2021 M11), sustained myeloma MRD
negativity (IMWG 2016), rising recipient chimerism (C7). Pure functions on dated values."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trephine import __version__
from trephine.criteria.model import Comparator, Evidence

DETECTED = frozenset({"POSITIVE", "LOW_LEVEL"})
M11 = "Heuser 2021 (ELN MRD, Blood 138:2753), M11 [R] (recalled, needs verification)"


@dataclass(frozen=True, slots=True)
class MrdSample:
    """One MRD result already classified by :data:`trephine.criteria.sets.eln2021_mrd.MRD`."""

    date: dt.date | None
    status: str
    level_pct: Decimal | None = None
    tissue: str | None = None
    method: str | None = None


@dataclass(frozen=True, slots=True)
class SeriesStep:
    """The state after one sample of a series, with the comparison that moved it."""

    date: dt.date | None
    state: str
    rule: str
    evidence: tuple[Evidence, ...]
    citation: str

    def explanation(self, ruleset: str, edition: str) -> dict[str, Any]:
        return {
            "ruleset": ruleset,
            "edition": edition,
            "category": self.state,
            "rule": self.rule,
            "evidence": [e.as_dict() for e in self.evidence],
            "missing": [],
            "citation": self.citation,
            "date": self.date.isoformat() if self.date else None,
            "software_version": __version__,
        }


def mrd_relapse_states(
    samples: Sequence[MrdSample], prior: MrdSample | None = None, log_rise: int = 1
) -> list[SeriesStep]:
    """MRD relapse after a CR_MRD− (conversion) or in MRD-LL (≥ ``log_rise`` log10 rise).

    The first qualifying sample gives ``MRD_RELAPSE_UNCONFIRMED``; the next consecutive sample
    from the same tissue that is still detectable confirms it; a negative one withdraws it.
    The rise is compared with the lowest earlier positive level as a ratio (≥ 10^k), so
    "exactly one log" is decided exactly, without a floating-point logarithm.
    """
    ordered = sorted(samples, key=lambda s: (s.date is None, s.date or dt.date.min))
    factor = Decimal(10) ** log_rise
    state, trigger_tissue = "NONE", None
    prev = prior
    lowest_positive: Decimal | None = None
    if prior is not None and prior.status == "LOW_LEVEL":
        lowest_positive = prior.level_pct
    steps: list[SeriesStep] = []
    for sample in ordered:
        detected = sample.status in DETECTED
        evidence: list[Evidence] = []
        rule = "MRD-NO-EVENT"
        if state == "MRD_RELAPSE_UNCONFIRMED":
            same = trigger_tissue is None or sample.tissue in (None, trigger_tissue)
            evidence.append(Evidence("status", sample.status, Comparator.EQ, "detected", detected))
            evidence.append(Evidence("tissue", sample.tissue, Comparator.EQ, trigger_tissue, same))
            if detected and same:
                state, rule = "MRD_RELAPSE_CONFIRMED", "MRD-CONFIRM"
            elif not detected:
                state, rule = "NONE", "MRD-NOT-CONFIRMED"
        elif state == "NONE" and detected and prev is not None:
            if prev.status == "NEGATIVE":
                evidence.append(
                    Evidence("previous_status", prev.status, Comparator.EQ, "NEGATIVE", True)
                )
                evidence.append(Evidence("status", sample.status, Comparator.EQ, "detected", True))
                state, rule, trigger_tissue = (
                    "MRD_RELAPSE_UNCONFIRMED",
                    "MRD-CONVERSION",
                    sample.tissue,
                )
            elif (
                prev.status == "LOW_LEVEL"
                and lowest_positive is not None
                and lowest_positive > 0
                and sample.level_pct is not None
            ):
                ratio = sample.level_pct / lowest_positive
                rise = ratio >= factor
                evidence.append(
                    Evidence("level_ratio_vs_lowest_positive", ratio, Comparator.GE, factor, rise)
                )
                if rise:
                    state, rule, trigger_tissue = (
                        "MRD_RELAPSE_UNCONFIRMED",
                        "MRD-LOG-RISE",
                        sample.tissue,
                    )
        if (
            detected
            and sample.level_pct is not None
            and (lowest_positive is None or sample.level_pct < lowest_positive)
        ):
            lowest_positive = sample.level_pct
        if not detected and sample.status == "NEGATIVE":
            lowest_positive = None
        steps.append(SeriesStep(sample.date, state, rule, tuple(evidence), M11))
        prev = sample
    return steps


@dataclass(frozen=True, slots=True)
class MmMrdPoint:
    date: dt.date
    marrow_negative: bool | None
    imaging_negative: bool | None


def sustained_mrd(points: Sequence[MmMrdPoint], min_days: int = 365) -> SeriesStep:
    """IMWG 2016 sustained MRD negativity: marrow and imaging negative ≥ ``min_days`` apart,
    no positive result in between [I: 365 days]."""
    ordered = sorted(points, key=lambda p: p.date)
    run_start: dt.date | None = None
    sustained = False
    evidence: list[Evidence] = []
    for point in ordered:
        negative = point.marrow_negative is True and point.imaging_negative is True
        if not negative:
            run_start, sustained = None, False
            continue
        if run_start is None:
            run_start = point.date
        days = Decimal((point.date - run_start).days)
        sustained = days >= min_days
        evidence = [
            Evidence(
                "days_between_negative_results", days, Comparator.GE, Decimal(min_days), sustained
            )
        ]
    if not ordered:
        state = "NOT_EVALUABLE"
    elif sustained:
        state = "SUSTAINED_MRD_NEGATIVE"
    elif run_start is not None:
        state = "MRD_NEGATIVE_NOT_YET_SUSTAINED"
    else:
        state = "MRD_POSITIVE"
    return SeriesStep(
        ordered[-1].date if ordered else None,
        state,
        f"IMWG16-SUSTAINED-{state}",
        tuple(evidence),
        "Kumar 2016 (IMWG, Lancet Oncol 17:e328), MRD criteria: sustained MRD-negative [V]; "
        "365-day reading [I]",
    )


def chimerism_trend(recipient_pct: Sequence[Decimal], assay: str, str_delta: Decimal) -> SeriesStep:
    """C7 [I]: rising recipient chimerism on two consecutive samples by at least the assay's
    reproducibility (STR: ``str_delta`` points; qPCR/dPCR: any rise above LOD)."""
    delta = str_delta if assay.upper() == "STR" else Decimal(0)
    comparator = Comparator.GE if delta > 0 else Comparator.GT
    rises = [b - a for a, b in itertools.pairwise(recipient_pct)]
    hits = [comparator.test(r, delta) for r in rises]
    increasing = any(a and b for a, b in itertools.pairwise(hits))
    evidence = tuple(
        Evidence(f"recipient_rise_{i + 1}", r, comparator, delta, h)
        for i, (r, h) in enumerate(zip(rises, hits, strict=True))
    )
    state = "INCREASING_MIXED_RECIPIENT_CHIMERISM" if increasing else "NO_SIGNIFICANT_INCREASE"
    return SeriesStep(
        None,
        state,
        "CHIM-C7",
        evidence,
        "Cells 2024;13:993 / EBMT handbook (S33), C6–C7 [I]: no published universal threshold",
    )
