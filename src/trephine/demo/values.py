"""Number helpers of the demo cohort: rounding, blood counts, differentials."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from trephine.domain import quantity as q
from trephine.domain.quantity import Quantity
from trephine.domain.results import (
    AspirateDifferential,
    BloodCount,
    CellClass,
    TransfusionDependence,
)
from trephine.errors import ValidationError

# ----------------------------------------------------------------------- number helpers


def dec(x: float, places: int = 1) -> Decimal:
    """A float rounded half-up to ``places`` decimals, as a Decimal with that precision."""
    return Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def pct_of(measure: q.Measure, x: float, places: int = 1) -> Quantity:
    return measure.quantity(dec(min(max(x, 0.0), 100.0), places))


def blood_count(anc: float, plt: float, hb: float, *, blasts: float = 0.0) -> BloodCount:
    anc = max(anc, 0.01)
    # ANC is most of the WBC in a recovered count and a small part in lymphocytic aplasia.
    wbc = anc + max(0.3, anc * 0.35) + (blasts / 100.0) * anc * 2
    return BloodCount(
        wbc=q.WBC.quantity(dec(wbc, 2)),
        anc=q.ANC.quantity(dec(anc, 2)),
        platelets=q.PLATELETS.quantity(dec(max(plt, 1.0), 0)),
        hemoglobin=q.HEMOGLOBIN.quantity(dec(min(max(hb, 4.0), 17.5), 1)),
        # Always recorded, 0 when none are seen: a lab report states the blood film result,
        # and ELN 2022 CR needs "no circulating blasts" to be known, not assumed.
        circulating_blasts=q.percent("circulating_blasts").quantity(dec(blasts, 0)),
        transfusion_dependence=(
            TransfusionDependence.BOTH
            if plt < 20 and hb < 8
            else TransfusionDependence.PLATELETS
            if plt < 20
            else TransfusionDependence.RED_CELLS
            if hb < 8
            else TransfusionDependence.NONE
        ),
    )


#: Background composition of a nucleated marrow differential (approximate adult reference
#: proportions, criteria spec §"normal differential"): the fixed classes are placed first and
#: the remainder is shared out in these proportions.
_BACKGROUND: Mapping[CellClass, float] = {
    CellClass.PROMYELOCYTE: 3.0,
    CellClass.MYELOCYTE: 12.0,
    CellClass.METAMYELOCYTE: 12.0,
    CellClass.BAND: 12.0,
    CellClass.NEUTROPHIL: 14.0,
    CellClass.EOSINOPHIL: 2.5,
    CellClass.BASOPHIL: 0.2,
    CellClass.MONOCYTE: 1.5,
    CellClass.PROERYTHROBLAST: 1.0,
    CellClass.ERYTHROBLAST: 24.0,
    CellClass.LYMPHOCYTE: 14.0,
    CellClass.PLASMA_CELL: 1.3,
}


def differential(
    rng: random.Random, fixed_percent: Mapping[CellClass, float], cells: int = 500
) -> AspirateDifferential:
    """A differential of ``cells`` nucleated cells with the given classes at the given %.

    The other classes share the remainder in :data:`_BACKGROUND` proportions, jittered a little
    so no two counts are identical; the counts always add up to ``cells``.
    """
    counts: dict[CellClass, int] = {
        cls: round(cells * pct / 100.0) for cls, pct in fixed_percent.items()
    }
    remainder = cells - sum(counts.values())
    if remainder < 0:
        raise ValidationError("fixed_percent", dict(fixed_percent), "percentages summing ≤ 100")
    background = {c: w * rng.uniform(0.8, 1.2) for c, w in _BACKGROUND.items() if c not in counts}
    total_w = sum(background.values())
    shares = {c: int(remainder * w / total_w) for c, w in background.items()}
    # Hand the cells lost to rounding down to the largest classes, so the sum is exact.
    leftover = remainder - sum(shares.values())
    for c in sorted(background, key=background.__getitem__, reverse=True)[:leftover]:
        shares[c] += 1
    counts.update(shares)
    return AspirateDifferential(counts=counts, cells_counted=cells)


def log_jitter(rng: random.Random, x: float, spread: float = 0.25) -> float:
    """Multiply by a log-normal factor: lab values scatter multiplicatively."""
    return x * (10 ** rng.gauss(0.0, spread))


def sig_figs(value: Decimal, digits: int = 2) -> Decimal:
    """Round to ``digits`` significant figures, as MRD values are reported."""
    if value == 0:
        return value
    exponent = value.adjusted() - digits + 1
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)


def days_after(start: dt.date, n: int) -> dt.date:
    return start + dt.timedelta(days=n)
