"""Procedure pages: a clinician plans, fills the checklist (apixaban, platelets 18) and sees
REVIEW_REQUIRED with both reasons, records consent and the procedure; other roles read or are
refused; refusals re-render the form with the located message; reads are audited."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
from fastapi import FastAPI

from trephine.api.app import create_app
from trephine.services import audit, open_database
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database


class Site(NamedTuple):
    url: str
    app: FastAPI
    patient: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path_factory.mktemp('procedures') / 'demo.db'}"
    loaded = load_demo_database(url, 6, seed=5)
    yield Site(url, create_app(url), loaded.cohort[0].patient.external_id)


def _form_client(site: Site, role: str):  # type: ignore[no-untyped-def]
    c = client_as(site.app, role)
    token = c.headers.pop("X-CSRF-Token")
    return c, token


def test_clinician_records_checklist_consent_and_procedure(site: Site) -> None:
    c, token = _form_client(site, "clinician")
    with c:
        r = c.post(
            "/procedures",
            data={
                "csrf_token": token,
                "patient_id": site.patient,
                "planned_for": "2026-12-03T09:00",
                "indication": "suspected leukaemia",
                "operator": "dr.lee",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        plan_url = r.headers["location"]
        r = c.post(
            f"{plan_url}/checklist",
            data={
                "csrf_token": token,
                "med_name": ["apixaban", "", "", ""],
                "med_class": ["", "", "", ""],
                "med_last_dose": ["2026-12-02T20:00", "", "", ""],
                "platelets": "18",
                "sedation": "local",
                "fasting": "light meal",
            },
        )
        assert r.status_code == 200
        assert 'data-decision="REVIEW_REQUIRED"' in r.text
        assert 'data-code="PLATELETS_LOW"' in r.text and 'data-code="ANTICOAGULANT"' in r.text
        assert "Not reported: INR (not required" in r.text  # it read 'Not reported: inr'
        # The list of plans says the decision in words, as the plan page does, not its code.
        listed = c.get("/procedures")
        assert "Review required before the procedure</span>" in listed.text
        assert ">REVIEW_REQUIRED<" not in listed.text
        refused = c.post(
            f"{plan_url}/done", data={"csrf_token": token, "performed_at": "2026-12-03T09:10"}
        )
        assert refused.status_code == 422 and "without consent" in refused.text
        r = c.post(
            f"{plan_url}/consent",
            data={
                "csrf_token": token,
                "consented_at": "2026-12-03T08:30",
                "leaflet_version": "2026-1",
                "risks": ["pain", "bruising or bleeding", "infection"],
                "signature": "written",
                "given_by": "patient",
            },
        )
        assert (
            r.status_code == 200 and 'id="consent-record"' in r.text and "test-clinician" in r.text
        )
        r = c.post(
            f"{plan_url}/done",
            data={
                "csrf_token": token,
                "performed_at": "2026-12-03T09:10",
                "needle": "Jamshidi 11G",
                "side": "left",
            },
        )
        assert (
            r.status_code == 200 and 'id="procedure-record"' in r.text and "Jamshidi 11G" in r.text
        )
        r = c.post(
            f"{plan_url}/complication",
            data={
                "csrf_token": token,
                "kind": "hematoma",
                "severity": "mild",
                "outcome": "resolved",
            },
        )
        assert "hematoma (bleeding, mild, resolved)" in r.text
        report = c.get("/procedures/report?by=needle")
        assert report.status_code == 200 and "Jamshidi 11G" in report.text and "Bain" in report.text
    plan_id = int(plan_url.rsplit("/", 1)[1])
    db = open_database(site.url)
    with db.unit_of_work("t") as uow:
        reads = audit.reads(uow, patient=site.patient)
    db.dispose()
    assert any(e.detail.get("what") == "procedure plan" for e in reads), plan_id


def test_bad_form_values_are_named_and_nothing_is_written(site: Site) -> None:
    c, token = _form_client(site, "clinician")
    with c:
        r = c.post(
            "/procedures",
            data={
                "csrf_token": token,
                "patient_id": site.patient,
                "planned_for": "soon",
                "indication": "MRD",
            },
        )
        assert r.status_code == 422 and "planned_for: &#39;soon&#39; is not allowed" in r.text
        r = c.post(
            "/procedures",
            data={
                "csrf_token": token,
                "patient_id": site.patient,
                "planned_for": "2026-12-04T09:00",
                "indication": "MRD",
            },
            follow_redirects=False,
        )
        plan_url = r.headers["location"]
        r = c.post(
            f"{plan_url}/checklist",
            data={"csrf_token": token, "platelets": "many", "sedation": "local"},
        )
        assert (
            r.status_code == 422
            and "platelets: &#39;many&#39; is not allowed; allowed: a number" in r.text
        )
        assert 'id="no-checklist"' in r.text
        r = c.post(f"{plan_url}/checklist", data={"csrf_token": token, "sedation": "general"})
        assert r.status_code == 422 and "escort: a value is required" in r.text


@pytest.mark.parametrize("role", ["researcher", "lab", "admin"])
def test_other_roles_read_but_may_not_write(site: Site, role: str) -> None:
    c, token = _form_client(site, role)
    with c:
        page = c.get("/procedures?status=all")
        assert page.status_code == 200 and 'id="plan-form"' not in page.text
        r = c.post(
            "/procedures",
            data={
                "csrf_token": token,
                "patient_id": site.patient,
                "planned_for": "2026-12-04T09:00",
                "indication": "MRD",
            },
        )
        assert r.status_code == 403


def test_patient_sees_no_procedure_page(site: Site) -> None:
    with client_as(site.app, "patient") as c:
        assert c.get("/procedures", follow_redirects=False).status_code == 403
        assert c.get("/procedures/report", follow_redirects=False).status_code == 403
