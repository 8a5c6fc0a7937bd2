"""A synthetic AML patient for ``trephine assess`` tests (services, CLI, API, web).

P1: AML diagnosed on ``D0``; 7+3 induction (two intensive courses); diagnostic marrow with 62 %
blasts; day-30 marrow in CR with NPM1 MRD not detected. Tests add later marrows with
:func:`biopsy` and :func:`marrow_items`. Myeloma results: :func:`pp` (a paraprotein) and
:func:`pc_diff` (a differential with plasma cells); CLL: :func:`flow` (a flow MRD result) and
:func:`cll_marrow_and_blood_mrd` (a marrow and a blood MRD result of one date). Everything here
is synthetic.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from trephine.domain import (
    Patient,
    Procedure,
    Sex,
    Site,
    Specimen,
    SpecimenType,
)
from trephine.domain import quantity as q
from trephine.domain.patient import Diagnosis, Disease
from trephine.domain.quantity import Qualifier, Quantity
from trephine.domain.results import (
    FREE_LIGHT_CHAIN,
    SERUM_M_PROTEIN,
    URINE_M_PROTEIN,
    AspirateDifferential,
    BloodCount,
    CellClass,
    CoreFindings,
    Extramedullary,
    FlowMethod,
    FlowMRD,
    Immunofixation,
    LightChain,
    MolecularMRD,
    Paraprotein,
    PlasmacytomaStatus,
)
from trephine.domain.therapy import Cycle, Intensity, TherapyIntent, TherapyLine
from trephine.services import assessments, procedures, results
from trephine.services import patients as patient_service
from trephine.store.database import Database
from trephine.testing.report_seed import differential as diff

D0 = dt.date(2025, 1, 6)


def at(days: int) -> dt.datetime:
    return dt.datetime.combine(D0 + dt.timedelta(days=days), dt.time(9), tzinfo=dt.UTC)


def blood(anc: str = "2.0", plt: str = "150", circulating: str = "0") -> BloodCount:
    return BloodCount(
        anc=q.ANC.parse(anc),
        platelets=q.PLATELETS.parse(plt),
        circulating_blasts=q.percent("circulating_blasts").parse(circulating),
    )


def npm1(ratio: str) -> MolecularMRD:
    return MolecularMRD("NPM1", q.Measure("ratio", "%", Decimal(0), Decimal(10**5)).parse(ratio))


def biopsy(db: Database, day: int, n: int, items: list[Any]) -> dict[str, int]:
    """One marrow procedure with aspirate, core and blood; ``items`` = (specimen letter, value)."""
    ids: dict[str, int] = {}
    with db.unit_of_work("lab") as uow:
        proc, _ = procedures.record_procedure(
            uow, "P1", Procedure(at(day), Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, "P1", Specimen(f"A{n}", SpecimenType.ASPIRATE, at(day), spicules=True), proc
        )
        procedures.add_specimen(
            uow, "P1", Specimen(f"C{n}", SpecimenType.TREPHINE_CORE, at(day)), proc
        )
        procedures.add_specimen(
            uow, "P1", Specimen(f"B{n}", SpecimenType.PERIPHERAL_BLOOD, at(day)), proc
        )
        for letter, value in items:
            stored, _ = results.record_result(uow, f"{letter}{n}", value, verify=True)
            ids[type(value).__name__] = stored.id
    return ids


def marrow_items(blasts: int, mrd: str | None = None) -> list[Any]:
    items: list[Any] = [
        ("A", diff(blasts)),
        ("B", blood()),
        ("C", CoreFindings(cellularity=q.percent("cellularity").parse("40"))),
        ("C", Extramedullary("skin", present=False)),
    ]
    if mrd is not None:
        items.append(("A", npm1(mrd)))
    return items


def seed_aml_patient(database: Database) -> Database:
    """P1: AML, 7+3 × 2, diagnostic marrow 62 % blasts, day-30 CR with NPM1 not detected."""
    with database.unit_of_work("seed") as uow:
        patient_service.register_patient(uow, Patient("P1", Sex.FEMALE, 1960))
        patient_service.add_diagnosis(uow, "P1", Diagnosis(Disease.AML, D0))
        patient_service.add_therapy_line(
            uow,
            "P1",
            TherapyLine(
                1,
                "7+3",
                TherapyIntent.INDUCTION,
                Intensity.INTENSIVE,
                D0 + dt.timedelta(days=2),
                cycles=(Cycle(1, D0 + dt.timedelta(days=2)), Cycle(2, D0 + dt.timedelta(days=32))),
            ),
        )
    biopsy(database, 0, 0, [("A", diff(310))])  # diagnosis: 62 % blasts
    biopsy(database, 30, 1, marrow_items(5, mrd="not detected"))  # 1 % blasts: CR, NPM1 neg.
    return database


def pp(
    serum: str | None,
    *,
    urine: str | None = None,
    kappa_mg_l: str | None = None,
    lambda_mg_l: str | None = None,
    ife: Immunofixation | None = Immunofixation.POSITIVE,
) -> Paraprotein:
    """IgG kappa paraprotein; FLC given in mg/L as analysers report them."""
    flc = FREE_LIGHT_CHAIN
    return Paraprotein(
        "IgG kappa",
        serum_m_protein=None if serum is None else SERUM_M_PROTEIN.parse(serum),
        urine_m_protein=None if urine is None else URINE_M_PROTEIN.parse(urine),
        involved_light_chain=LightChain.KAPPA,
        involved_flc=None if kappa_mg_l is None else flc.quantity(Decimal(kappa_mg_l), "mg/L"),
        uninvolved_flc=None if lambda_mg_l is None else flc.quantity(Decimal(lambda_mg_l), "mg/L"),
        serum_ife=ife,
        urine_ife=ife,
        plasmacytoma=PlasmacytomaStatus.ABSENT,
    )


def pc_diff(plasma_cells: int) -> AspirateDifferential:
    return AspirateDifferential(
        {
            CellClass.PLASMA_CELL: plasma_cells,
            CellClass.NEUTROPHIL: 300 - plasma_cells,
            CellClass.ERYTHROBLAST: 150,
            CellClass.LYMPHOCYTE: 50,
        },
        cells_counted=500,
    )


def flow(events: int, abnormal: int | None, *, lloq: str = "0.005") -> FlowMRD:
    """A flow MRD result (DfN): ``abnormal`` of ``events`` events (None: not detected)."""
    if abnormal is None:
        mrd = Quantity(None, "%", Qualifier.NOT_DETECTED, lod=Decimal("0.002"), lloq=Decimal(lloq))
    else:
        pct = Decimal(abnormal) * 100 / Decimal(events)
        mrd = Quantity(pct, "%", lod=Decimal("0.002"), lloq=Decimal(lloq))
    return FlowMRD(mrd, FlowMethod.DFN, events_acquired=events, abnormal_events=abnormal)


def cll_marrow_and_blood_mrd(db: Database) -> dict[str, int]:
    """A CLL patient P1 (iwCLL 2018) with a marrow and a blood flow MRD result of one date (day
    200: the aspirate 49 of 500,000 events, undetectable MRD4; the blood 200 of 500,000, MRD
    positive), assessed; the result ids by specimen letter ("A" marrow, "B" blood)."""
    with db.unit_of_work("seed") as uow:
        patient_service.register_patient(uow, Patient("P1", Sex.MALE, 1950))
        patient_service.add_diagnosis(uow, "P1", Diagnosis(Disease.CLL, D0))
    marrow = biopsy(db, 200, 1, [("A", flow(500_000, 49))])
    with db.unit_of_work("lab") as uow:
        stored, _ = results.record_result(uow, "B1", flow(500_000, 200), verify=True)
    with db.unit_of_work("t") as uow:
        assessments.assess_patient(uow, "P1")
    return {"A": marrow["FlowMRD"], "B": stored.id}


def myeloma_progressing(db: Database, *, assess: bool = True) -> int:
    """A myeloma patient P1 (IMWG 2016) whose last of three paraprotein assessments meets PD once
    (to confirm), assessed (unless ``assess`` is false): baseline with 15 % marrow plasma cells,
    VGPR at day 100 (the nadir), then +0.7 g/dL at day 200 (its result id returned).
    ``myeloma_progression_confirmed`` adds the next PD."""
    with db.unit_of_work("seed") as uow:
        patient_service.register_patient(uow, Patient("P1", Sex.MALE, 1955))
        patient_service.add_diagnosis(uow, "P1", Diagnosis(Disease.MYELOMA, D0))
    biopsy(db, 0, 0, [("A", pc_diff(150)), ("B", pp("2.5", urine="450"))])
    biopsy(db, 100, 1, [("B", pp("0.2", urine="40"))])  # VGPR, the nadir
    (day_200,) = biopsy(db, 200, 2, [("B", pp("0.9", urine="40"))]).values()  # PD (still PR)
    if assess:
        with db.unit_of_work("t") as uow:
            assessments.assess_patient(uow, "P1")
    return day_200


def myeloma_progression_confirmed(db: Database, *, assess: bool = True) -> None:
    """The next paraprotein assessment of :func:`myeloma_progressing` meets PD again
    (confirmed), assessed (unless ``assess`` is false)."""
    biopsy(db, 260, 3, [("B", pp("1.2", urine="40"))])  # PD again: confirmed
    if assess:
        with db.unit_of_work("t") as uow:
            assessments.assess_patient(uow, "P1")
