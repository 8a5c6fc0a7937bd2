"""Cancelled drafts are not public: the timeline leaves them out instead of failing on them."""

from __future__ import annotations

import datetime as dt

from trephine.api.app import create_app
from trephine.domain import (
    AspirateDifferential,
    CellClass,
    Patient,
    PatientIdentity,
    Procedure,
    Sex,
    Site,
    Specimen,
    SpecimenType,
)
from trephine.services import patients, procedures, results
from trephine.store.database import Database
from trephine.testing.accounts import client_as

BIOPSY_AT = dt.datetime(2024, 3, 4, 9, 30, tzinfo=dt.UTC)


def _differential(blasts: int) -> AspirateDifferential:
    return AspirateDifferential(
        {
            CellClass.BLAST: blasts,
            CellClass.NEUTROPHIL: 350 - blasts,
            CellClass.ERYTHROBLAST: 100,
            CellClass.LYMPHOCYTE: 50,
        },
        500,
    )


def test_a_cancelled_draft_never_reaches_the_timeline(database: Database) -> None:
    with database.unit_of_work("seed") as uow:
        patients.register_patient(
            uow,
            Patient("SYN-C1", Sex.FEMALE, 1961),
            PatientIdentity("Synthetic Person", "MRN-C1", dt.date(1961, 5, 6)),
        )
        proc_id, _ = procedures.record_procedure(
            uow, "SYN-C1", Procedure(BIOPSY_AT, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow,
            "SYN-C1",
            Specimen("A-C1", SpecimenType.ASPIRATE, BIOPSY_AT, first_pull=True),
            proc_id,
        )
    # Entered in error and withdrawn, then the right count entered, signed out and amended: the
    # cancelled draft shares the result's natural key, so it sits among the result's versions.
    with database.unit_of_work("tech") as uow:
        wrong, _ = results.record_result(uow, "A-C1", _differential(90))
        results.cancel_result(uow, wrong.id, "wrong specimen")
    with database.unit_of_work("tech") as uow:
        right, _ = results.record_result(uow, "A-C1", _differential(30))
        results.verify_result(uow, right.id)
    with database.unit_of_work("dr.amend") as uow:
        results.amend_result(uow, right.id, _differential(35), "recount")

    with client_as(create_app(database.url), "researcher") as client:
        response = client.get("/api/v1/patients/SYN-C1/timeline")
    assert response.status_code == 200, response.text
    shown = response.json()["results"]
    states = [r["state"] for r in shown] + [h["state"] for r in shown for h in r["history"]]
    assert "cancelled" not in states
    # The withdrawn draft took version 1 of the chain; only the public versions are listed.
    assert [(r["state"], r["version"]) for r in shown] == [("amended", 3)]
    assert [(h["state"], h["version"]) for h in shown[0]["history"]] == [("superseded", 2)]
