"""The lab's pages (issue 10 §1-§2) through the app as a lab user: order → collect → receive →
enter a differential (refused when wrong, with the field named; a form saved and resumed) →
sign out with the password re-entered (a wrong one signs nothing) → amend with a reason, the
superseded version shown beside the new one; the Wilson intervals as the server computes them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from trephine.analysis.stats import wilson
from trephine.api.app import create_app
from trephine.api.deps import CSRF_FIELD
from trephine.services import orders, signatures
from trephine.testing.accounts import TEST_PASSWORD, client_as
from trephine.testing.fixtures import load_demo_database


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path_factory.mktemp('lab') / 'lab.db'}"
    load_demo_database(url, 6, seed=5)
    app = create_app(url)
    yield app
    app.state.database.dispose()


def _csrf(html: str) -> str:
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def _procedure_with_aspirate(app: FastAPI) -> tuple[str, int, str]:
    """A new marrow (procedure and aspirate) for a demo patient, nothing recorded on it yet."""
    import datetime as dt

    from trephine.domain import Procedure, Site, Specimen, SpecimenType
    from trephine.services import patients, procedures

    at = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
    with app.state.database.unit_of_work("t") as uow:
        patient = patients.list_patients(uow)[0].patient_id
        proc, _ = procedures.record_procedure(
            uow, patient, Procedure(at, Site.POSTERIOR_ILIAC_CREST)
        )
        procedures.add_specimen(
            uow, patient, Specimen("LAB-T-1", SpecimenType.ASPIRATE, at, first_pull=True), proc
        )
    return patient, proc, "LAB-T-1"


COUNTS = {
    "blasts": "24",
    "promyelocytes": "10",
    "myelocytes": "40",
    "metamyelocytes": "30",
    "bands": "20",
    "neutrophils": "120",
    "eosinophils": "6",
    "monocytes": "10",
    "proerythroblasts": "10",
    "erythroblasts": "150",
    "lymphocytes": "70",
    "plasma_cells": "10",
}  # 500 cells; myeloid 250, erythroid 160


def test_order_track_enter_sign_and_amend(app: FastAPI) -> None:
    patient, procedure, accession = _procedure_with_aspirate(app)
    with client_as(app, "lab") as lab:
        page = lab.get(f"/lab/orders?patient={patient}")
        assert page.status_code == 200 and f"procedure-{procedure}" in page.text
        token = _csrf(page.text)
        made = lab.post(
            "/lab/orders",
            data={
                CSRF_FIELD: token,
                "procedure_id": str(procedure),
                "patient": patient,
                "study": ["morphology", "flow-mrd"],
                "indication": "day 28 response",
            },
            follow_redirects=True,
        )
        assert made.status_code == 200 and "2 studies" in made.text
        with app.state.database.unit_of_work("t") as uow:
            order = orders.order_of_procedure(uow, procedure)
        assert order is not None
        morph = next(s for s in order.studies if s.study == "morphology")
        # Receiving before collection is refused with the allowed steps named; nothing changes.
        refused = lab.post(f"/lab/studies/{morph.id}/receive", data={CSRF_FIELD: token})
        assert refused.status_code == 409
        assert "allowed from ordered: collect, cancel" in refused.text
        for step, data in (("collect", {"specimen": accession}), ("receive", {}), ("start", {})):
            moved = lab.post(
                f"/lab/studies/{morph.id}/{step}",
                data={CSRF_FIELD: token, **data},
                follow_redirects=False,
            )
            assert moved.status_code == 303, (step, moved.text[:500])
        study_page = lab.get(f"/lab/studies/{morph.id}")
        assert "in progress" in study_page.text and f"/lab/entry/{accession}/differential" in (
            study_page.text
        )
        worklist = lab.get("/lab/worklist?section=morphology")
        assert f'data-study-id="{morph.id}"' in worklist.text

        entry = f"/lab/entry/{accession}/differential"
        form_page = lab.get(entry)
        assert form_page.status_code == 200 and "lab-entry.js" in form_page.text
        # A form saved half-way comes back as typed.
        kept = lab.post(entry, data={CSRF_FIELD: token, "intent": "draft", "blasts": "7"})
        assert kept.status_code == 200 and "Form saved at" in kept.text
        resumed = lab.get(entry)
        assert 'value="7"' in resumed.text and "Resumed the form saved by test-lab" in resumed.text
        # A bad count is refused on its field, the importer's words, nothing recorded.
        bad = lab.post(entry, data={CSRF_FIELD: token, "intent": "save", **COUNTS, "blasts": "x"})
        assert bad.status_code == 422
        assert 'href="#f-blasts"' in bad.text and "whole number" in bad.text
        saved = lab.post(
            entry, data={CSRF_FIELD: token, "intent": "save", **COUNTS}, follow_redirects=False
        )
        assert saved.status_code == 303, re.findall(r"<li>.*?</li>", saved.text)[:5]
        result_url = saved.headers["location"]
        result_id = int(result_url.rsplit("/", 1)[1])
        shown = lab.get(result_url)
        ci = wilson(24, 500)
        assert 'Blasts <strong id="server-blasts">4.8 %</strong>' in shown.text
        assert f"{ci.lower * 100:.1f}–{ci.upper * 100:.1f} %" in shown.text
        assert "M:E 1.6:1" in shown.text  # 250 myeloid / 160 erythroid = 1.5625
        assert 'id="sign-form"' in shown.text
        # A wrong password signs nothing.
        wrong = lab.post(
            f"/results/{result_id}/sign", data={CSRF_FIELD: token, "password": "not it at all"}
        )
        assert wrong.status_code == 422 and "nothing was signed" in wrong.text
        signed = lab.post(
            f"/results/{result_id}/sign",
            data={CSRF_FIELD: token, "password": TEST_PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        with app.state.database.unit_of_work("t") as uow:
            sigs = signatures.signatures_of_result(uow, result_id)
            study_now = orders.get_study(uow, morph.id)
        assert [(s.signer, s.meaning, s.method, s.valid) for s in sigs] == [
            ("test-lab", "verified", "password", True)
        ]
        assert study_now.state == "reported" and study_now.steps[-1].by == "test-lab"
        page = lab.get(f"/results/{result_id}")
        assert (
            "Electronically signed by test-lab on" in page.text and "meaning: verified" in page.text
        )
        assert 'id="amend-form"' in page.text and 'id="sign-form"' not in page.text
        # Amend one count (and the total follows) with a reason and the password.
        amended_counts = {**COUNTS, "blasts": "29", "neutrophils": "115"}
        no_reason = lab.post(
            f"/results/{result_id}/amend",
            data={CSRF_FIELD: token, **amended_counts, "reason": " ", "password": TEST_PASSWORD},
        )
        assert no_reason.status_code == 422 and "reason" in no_reason.text
        amended = lab.post(
            f"/results/{result_id}/amend",
            data={
                CSRF_FIELD: token,
                **amended_counts,
                "reason": "recount of the blast fraction",
                "password": TEST_PASSWORD,
            },
            follow_redirects=False,
        )
        assert amended.status_code == 303, amended.text[:800]
        new_page = lab.get(amended.headers["location"])
        assert "Versions side by side" in new_page.text
        assert "recount of the blast fraction" in new_page.text
        assert new_page.text.count('class="changed"') == 2  # blasts and neutrophils
        assert ">superseded<" in new_page.text and ">amended<" in new_page.text


def test_researchers_read_but_cannot_sign_or_enter(app: FastAPI) -> None:
    with client_as(app, "researcher") as researcher:
        assert researcher.get("/lab/worklist").status_code == 200
        assert researcher.get("/lab/turnaround").status_code == 200
        assert researcher.get("/lab/entry/X/differential").status_code == 403
