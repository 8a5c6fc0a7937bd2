"""Paired samples in words (the paired-samples page): the clonal comparison of one patient's
two sequenced specimens and the paired tests of stored measurements between two study visits.

Numbers follow :mod:`trephine.present.numbers`: computed values (medians, differences, p, q,
effect sizes) to four significant digits; a VAF as the percentage it was reported as (stored
as a fraction, shown ×100 at four significant digits, which keeps every reported digit).
Pure: it reads the analysis results, never the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trephine.present.numbers import format_value
from trephine.present.quantities import unit_text

if TYPE_CHECKING:
    from trephine.analysis.cohort.paired import SpecimenChange
    from trephine.analysis.microenvironment.paired import FeatureComparison
    from trephine.services.research import PairedSpecimens

STATUS_WORDS = {
    "persistent": "persisted",
    "cleared": "cleared",
    "emerging": "emerged",
    "not_detected": "was not detected in either",
}


def number(value: float | None) -> str:
    """A computed value for reading: four significant digits, a true minus sign."""
    if value is None:
        return "—"
    text = format_value(value)
    return "−" + text[1:] if text.startswith("-") else text


def feature_heading(feature: str, unit: str | None) -> str:
    """A compared feature as a table names it: ``microvessel density (vessels/mm2)``, but a
    population's share as it is, since its name says the unit already (``B cells (% of CD45+
    cells)``, not ``B cells (% of CD45+ cells) (%)``)."""
    shown = unit_text(unit)
    if not shown or (feature.endswith(")") and f"({shown} " in feature):
        return feature
    return f"{feature} ({shown})"


def signed(value: float) -> str:
    """A change: ``+21``, ``−0.73``, ``0``."""
    return number(value) if value <= 0 else "+" + number(value)


def vaf(value: float | None) -> str:
    """A VAF (a fraction) as the percentage reported: ``36.6 %``; not detected: ``—``."""
    return "—" if value is None else f"{number(100 * value)} %"


def day(value: float) -> str:
    d = int(value) if float(value).is_integer() else value
    return f"day {number(d)}"


def _mutation(c: SpecimenChange) -> str:
    return f"{c.gene} {c.mutation_id}"


def clonal_sentence(p: PairedSpecimens) -> str:
    """What changed between the two specimens, in one or two sentences."""
    groups: dict[str, list[SpecimenChange]] = {}
    for c in p.changes:
        groups.setdefault(c.status, []).append(c)
    parts = []
    for status in ("persistent", "cleared", "emerging"):
        found = groups.get(status, [])
        if not found:
            parts.append(f"none {STATUS_WORDS[status]}")
            continue
        items = []
        for c in found:
            if status == "persistent":
                items.append(f"{_mutation(c)}, {vaf(c.vaf_before)} → {vaf(c.vaf_after)}")
            elif status == "cleared":
                items.append(f"{_mutation(c)}, {vaf(c.vaf_before)} before")
            else:
                items.append(f"{_mutation(c)}, {vaf(c.vaf_after)} after")
        n = len(found)
        parts.append(f"{n} {STATUS_WORDS[status]} ({'; '.join(items)})")
    text = (
        f"Between {day(p.before_day)} and {day(p.after_day)} after diagnosis, of the mutations "
        f"found in either specimen: {', '.join(parts)}."
    )
    chip = sorted({c.gene for c in p.changes if c.chip})
    if chip:
        text += (
            f" {', '.join(chip)} may be clonal haematopoiesis rather than the leukaemia "
            "(ELN 2021: not an MRD marker)."
        )
    return text


def paired_test_sentence(c: FeatureComparison, labels: tuple[str, str], tested: int) -> str:
    """One measurement's paired test in words."""
    first, second = labels
    name = c.feature + (f" ({c.unit})" if c.unit else "")
    n = len(c.pairs)
    if c.test is None:
        return f"{name}: not tested, {c.not_tested} ({n} patient(s) with both values)."
    t = c.test
    higher = sum(1 for p in c.pairs if p.after > p.before)
    lower = sum(1 for p in c.pairs if p.after < p.before)
    same = n - higher - lower
    unit = f" {c.unit}" if c.unit else ""
    q = (
        ""
        if c.q_value is None
        else f"; adjusted for the {tested} measurements tested (Benjamini–Hochberg), "
        f"q = {number(c.q_value)}"
    )
    return (
        f"{name}: in {n} patients with a value at both visits, the median was "
        f"{number(t.median_before)}{unit} at {first} and {number(t.median_after)}{unit} at "
        f"{second} (median change {signed(t.median_difference)}); higher at the second visit "
        f"in {higher} of {n} patients, lower in {lower}"
        + (f", unchanged in {same}" if same else "")
        + f". Wilcoxon signed-rank test: p = {number(t.p_value)}{q}; effect size r = "
        f"{number(t.effect_size)}."
    )


def tested_count(results: Sequence[FeatureComparison]) -> int:
    return sum(1 for c in results if c.test is not None)
