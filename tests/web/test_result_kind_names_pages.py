"""A result kind reads the same on every page (domain/result_kinds): the lab's entry form and
result page, the study page's "reported by" line, and the patient timeline that the clinician
reads. Before, the lab said "Aspirate differential" / "Flow cytometry MRD" where the timeline
said "Marrow differential" / "Flow MRD (LAIP)", and the study page said "flow mrd"."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi import FastAPI

from trephine.api.app import create_app
from trephine.domain import Procedure, Site, Specimen, SpecimenType
from trephine.domain.quantity import Quantity
from trephine.domain.results import FlowMethod, FlowMRD
from trephine.services import orders, patients, procedures, results
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database

AT = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str, int, int]]:
    """A demo database with one more marrow: a signed-out flow MRD on its aspirate, ordered as
    the flow-mrd study. Yields the app, the patient, the result and the study."""
    url = f"sqlite:///{tmp_path_factory.mktemp('kinds') / 'kinds.db'}"
    load_demo_database(url, 2, seed=3)
    app = create_app(url)
    with app.state.database.unit_of_work("t") as uow:
        patient = patients.list_patients(uow)[0].patient_id
        proc, _ = procedures.record_procedure(
            uow, patient, Procedure(AT, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow,
            patient,
            Specimen("KIND-1-A", SpecimenType.ASPIRATE, AT, first_pull=True),
            proc,
        )
        order = orders.order_studies(uow, proc, ["flow-mrd"], at=AT)
        stored, _ = results.record_result(
            uow,
            "KIND-1-A",
            FlowMRD(Quantity(Decimal("0.35"), "%"), FlowMethod.LAIP),
            verify=True,
        )
    yield app, patient, stored.id, order.studies[0].id
    app.state.database.dispose()


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_every_page_names_a_kind_the_same_way(site: tuple[FastAPI, str, int, int]) -> None:
    app, patient, result_id, study_id = site
    with client_as(app, "lab") as lab:
        result_page = _text(lab.get(f"/results/{result_id}").text)
        entry = _text(lab.get("/lab/entry/KIND-1-A/differential").text)
        study = _text(lab.get(f"/lab/studies/{study_id}").text)
    with client_as(app, "clinician") as clinician:
        timeline = _text(clinician.get(f"/patients/{patient}").text)
    assert "Flow cytometry MRD" in result_page
    assert "Aspirate differential" in entry
    assert "Reported by a signed-out flow cytometry MRD result on its specimen" in study
    assert "Flow cytometry MRD (LAIP)" in timeline
    # The demo patient's marrows carry differentials: the timeline names them as the lab does.
    assert "Aspirate differential" in timeline
    for old in ("Flow MRD", "Marrow differential", "flow mrd", "flow_mrd"):
        for page in (result_page, entry, study, timeline):
            assert old not in page, old
