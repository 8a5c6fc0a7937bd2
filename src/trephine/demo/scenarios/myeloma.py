"""Myeloma: VRd, autologous transplant, paraprotein and flow MRD."""

from __future__ import annotations

from trephine.demo.builder import Builder, recovered_counts
from trephine.demo.values import blood_count, days_after, dec, pct_of
from trephine.domain.patient import Classification, Disease, GeneticStatus
from trephine.domain.procedure import Indication
from trephine.domain.results import (
    FREE_LIGHT_CHAIN,
    INFILTRATE,
    SERUM_M_PROTEIN,
    URINE_M_PROTEIN,
    CellClass,
    Immunofixation,
    LightChain,
    Paraprotein,
    PlasmacytomaStatus,
)
from trephine.domain.therapy import DonorType, Intensity, TherapyIntent, Transplant


def myeloma(b: Builder) -> None:
    r = b.rng
    b.diagnose(
        Disease.MYELOMA,
        "IgG kappa multiple myeloma",
        (
            ("t(4;14)", GeneticStatus.NOT_DETECTED, None),
            ("del(17p)", GeneticStatus.NOT_DETECTED, None),
        ),
        classification=Classification.IMWG_2014,
    )
    pc0 = r.uniform(25, 70)
    serum0 = r.uniform(2.5, 5.5)  # g/dL: measurable disease (IMWG: ≥ 1 g/dL)
    b.marrow(
        b.diagnosed_on,
        Indication.DIAGNOSIS,
        blasts=0.4,
        cells={CellClass.PLASMA_CELL: pc0},
        cellularity=r.uniform(50, 85),
        counts=blood_count(r.uniform(1.8, 4.0), r.uniform(120, 260), r.uniform(8.5, 11.0)),
        core_extra={
            # kappa-restricted: clonal by IHC (IMWG: > 4:1 on >= 100 plasma cells)
            "plasma_cell_kappa_lambda": dec(25, 0),
            "plasma_cells_assessed": 300,
            "infiltrate_type": "plasma cells, CD138+, kappa-restricted",
            "infiltrate": pct_of(INFILTRATE, pc0 + r.uniform(-5, 10), 0),
        },
        blood_extra=(
            _paraprotein(serum0, r.uniform(200, 900), r.uniform(200, 1500), r.uniform(5, 15), True),
        ),
    )
    start = days_after(b.diagnosed_on, r.randint(7, 21))
    end = b.line(
        "VRd (bortezomib, lenalidomide, dexamethasone)",
        TherapyIntent.INDUCTION,
        Intensity.INTENSIVE,
        start,
        cycles=4,
        cycle_days=21,
        dosing_days=14,
    )
    transplant = days_after(end, r.randint(35, 70))
    b.line(
        "melphalan 200 mg/m² + autologous transplant",
        TherapyIntent.CONSOLIDATION,
        Intensity.INTENSIVE,
        days_after(transplant, -2),
        cycles=1,
        cycle_days=1,
        dosing_days=1,
    )
    # After 4 × VRd: ≥ 90 % fall in serum M, urine M < 100 mg/24 h — VGPR.
    b.blood(
        days_after(end, r.randint(3, 10)),
        _paraprotein(
            serum0 * r.uniform(0.03, 0.08), r.uniform(20, 80), r.uniform(20, 40), 10, True
        ),
    )
    b.cellular.append(Transplant(transplant, DonorType.AUTOLOGOUS, Intensity.INTENSIVE))
    b.line(
        "lenalidomide maintenance",
        TherapyIntent.MAINTENANCE,
        Intensity.LESS_INTENSIVE,
        days_after(transplant, r.randint(90, 110)),
        cycles=12,
        cycle_days=28,
        dosing_days=21,
        ongoing=True,
    )
    # Day +100 marrow with NGF MRD at 10^-5 (IMWG 2016: ≥ 2 × 10^6 cells, sensitivity 10^-5).
    # MRD-negative patients are in CR (IFE negative, normal FLC); the others stay in VGPR and
    # progress by the 1-year marrow (serum M ≥ 0.5 g/dL and ≥ 25 % above the nadir).
    mrd_neg = r.random() < 0.6
    nadir = r.uniform(0.1, 0.3)
    b.marrow(
        days_after(transplant, r.randint(95, 110)),
        Indication.MRD,
        blasts=0.3,
        cells={CellClass.PLASMA_CELL: r.uniform(0.5, 2) if mrd_neg else r.uniform(2, 6)},
        cellularity=r.uniform(30, 55),
        counts=recovered_counts(b),
        # Marrow plasma-cell clonality by IHC (sCR needs none): polyclonal once MRD-negative.
        core_extra={
            "plasma_cell_kappa_lambda": dec(1.4 if mrd_neg else 9.5, 1),
            "plasma_cells_assessed": 200,
        },
        extra=(b.flow(None if mrd_neg else r.uniform(0.002, 0.05), events=3_000_000),),
        blood_extra=(
            _paraprotein(0, 0, r.uniform(10, 18), r.uniform(9, 14), False)
            if mrd_neg
            else _paraprotein(nadir, r.uniform(0, 60), r.uniform(20, 35), 10, True),
        ),
    )
    b.marrow(
        days_after(transplant, r.randint(350, 380)),
        Indication.MRD,
        blasts=0.3,
        cells={CellClass.PLASMA_CELL: r.uniform(0.3, 1.5) if mrd_neg else r.uniform(3, 12)},
        cellularity=r.uniform(30, 55),
        counts=recovered_counts(b),
        # Marrow plasma-cell clonality by IHC (sCR needs none): polyclonal once MRD-negative.
        core_extra={
            "plasma_cell_kappa_lambda": dec(1.4 if mrd_neg else 9.5, 1),
            "plasma_cells_assessed": 200,
        },
        extra=(b.flow(None if mrd_neg else r.uniform(0.05, 1.0), events=3_000_000),),
        blood_extra=(
            _paraprotein(0, 0, r.uniform(10, 18), r.uniform(9, 14), False)
            if mrd_neg
            else _paraprotein(
                nadir + r.uniform(0.7, 1.5), r.uniform(50, 150), r.uniform(60, 200), 10, True
            ),
        ),
    )


def _paraprotein(
    serum_g_dl: float, urine_mg_24h: float, kappa_mg_l: float, lambda_mg_l: float, ife: bool
) -> Paraprotein:
    """IgG kappa paraprotein of one date; FLC given in mg/L as analysers report them (stored in
    mg/dL, the unit of the IMWG thresholds)."""
    positive = Immunofixation.POSITIVE if ife else Immunofixation.NEGATIVE
    return Paraprotein(
        "IgG kappa",
        serum_m_protein=SERUM_M_PROTEIN.quantity(dec(serum_g_dl, 2)),
        urine_m_protein=URINE_M_PROTEIN.quantity(dec(urine_mg_24h, 0)),
        involved_light_chain=LightChain.KAPPA,
        involved_flc=FREE_LIGHT_CHAIN.quantity(dec(kappa_mg_l, 1), "mg/L"),
        uninvolved_flc=FREE_LIGHT_CHAIN.quantity(dec(lambda_mg_l, 1), "mg/L"),
        serum_ife=positive,
        urine_ife=positive,
        plasmacytoma=PlasmacytomaStatus.ABSENT,
    )
