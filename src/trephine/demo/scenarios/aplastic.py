"""Aplastic anaemia on immunosuppression."""

from __future__ import annotations

from trephine.demo.builder import Builder, aplastic_nadir, residual_cells, with_reticulocytes
from trephine.demo.values import blood_count, days_after, dec, pct_of
from trephine.domain.patient import Disease
from trephine.domain.procedure import Indication
from trephine.domain.results import FERRITIN, PNH_CLONE, BloodCount, CellClass, IronStudies
from trephine.domain.therapy import Intensity, TherapyIntent


def aplastic_anemia(b: Builder) -> None:
    r = b.rng
    b.diagnose(Disease.APLASTIC_ANEMIA, "severe aplastic anaemia (Camitta)", (), None)
    # Drawn in the same order as before the residual-cell estimate existed (cells, then
    # cellularity, then counts), so the rest of the cohort is unchanged.
    cells = {CellClass.LYMPHOCYTE: r.uniform(40, 65), CellClass.PLASMA_CELL: r.uniform(3, 8)}
    b.marrow(
        b.diagnosed_on,
        Indication.DIAGNOSIS,
        blasts=0.2,
        cells=cells,
        cellularity=r.uniform(3, 15),
        counts=with_reticulocytes(aplastic_nadir(b)),
        core_extra=residual_cells(cells),
    )
    start = days_after(b.diagnosed_on, r.randint(5, 14))
    b.line(
        "hATG + ciclosporin + eltrombopag",
        TherapyIntent.CURATIVE,
        Intensity.NOT_APPLICABLE,
        start,
        cycles=1,
        cycle_days=180,
        dosing_days=180,
    )
    responder = r.random() < 0.7
    for months, cell in ((3, (15, 30)), (6, (20, 40)), (12, (25, 50))):
        cellularity = r.uniform(*cell) if responder else r.uniform(3, 12)
        counts = (
            blood_count(
                0.4 * months / 3 + r.uniform(0, 0.6), 25 * months / 3 + r.uniform(0, 40), 9.5
            )
            if responder
            else aplastic_nadir(b)
        )
        counts = with_reticulocytes(counts)
        if months == 6:
            # Iron status with the 6-month count (issue 13 §3), from values already drawn.
            iron = IronStudies(ferritin=FERRITIN.quantity(dec(900 if responder else 2400, 0)))
            b.blood(days_after(start, 30 * months), counts, iron)
        else:
            on = days_after(start, 30 * months + r.randint(-5, 5))
            cells = {CellClass.LYMPHOCYTE: r.uniform(15, 35) if responder else r.uniform(40, 60)}
            b.marrow(
                on,
                Indication.RESPONSE_ASSESSMENT,
                blasts=0.3,
                cells=cells,
                cellularity=cellularity,
                counts=counts,
                core_extra=residual_cells(cells),
            )
    # A PNH clone appears after immunosuppression in some (clonal evolution, BSH 2016).
    if r.random() < 0.25:
        b.blood(
            days_after(start, 390 + r.randint(0, 30)),
            BloodCount(pnh_clone=pct_of(PNH_CLONE, r.uniform(1, 15))),
        )
