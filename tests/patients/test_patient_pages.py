"""The patient pages: own record only, before/after advice, results only after release."""

from __future__ import annotations

from fastapi.testclient import TestClient

from patients.conftest import Portal
from trephine.api.app import create_app
from trephine.services import audit
from trephine.store.database import Database
from trephine.testing.accounts import TEST_PASSWORD, client_as, sign_in


def _patient_client(portal: Portal, name: str) -> TestClient:
    client = TestClient(create_app(portal.url))
    sign_in(client, name, TEST_PASSWORD)
    return client


def test_patient_lands_on_their_own_pages_and_sees_before_and_after(portal: Portal) -> None:
    pid = portal.accounts["pat-one"]
    procedure = portal.procedures[pid][0]
    with _patient_client(portal, "pat-one") as client:
        home = client.get("/my")
        assert home.status_code == 200
        assert f"/my/procedures/{procedure}/before" in home.text
        before = client.get(f"/my/procedures/{procedure}/before")
        assert before.status_code == 200
        assert "Why you are having this test" in before.text
        assert "10 to 20 minutes" in before.text
        after = client.get(f"/my/procedures/{procedure}/after")
        assert after.status_code == 200
        assert 'class="callout"' in after.text and "When to call us" in after.text
        assert "38 °C or higher" in after.text
        # The clinician pages stay closed to a patient.
        assert client.get(f"/patients/{pid}", follow_redirects=False).status_code == 403
        assert client.get("/api/v1/patients").status_code == 403


def test_another_patients_procedure_is_404_and_audited(portal: Portal) -> None:
    other = portal.procedures[portal.accounts["pat-two"]][0]
    with _patient_client(portal, "pat-one") as client:
        for stage in ("before", "after", "results"):
            answer = client.get(f"/my/procedures/{other}/{stage}")
            assert answer.status_code == 404
        assert client.get("/my/procedures/999999/before").status_code == 404
        assert client.get("/my/plans/999999/before").status_code == 404
    database = Database(portal.url)
    with database.unit_of_work("test") as uow:
        refused = [
            e
            for e in audit.events(uow, entity="procedure", entity_id=other)
            if e.action == "refused"
        ]
    database.dispose()
    assert len(refused) == 3 and all(e.actor == "pat-one" for e in refused)


def test_results_show_only_after_a_clinician_releases_them(portal: Portal) -> None:
    pid = portal.accounts["pat-one"]
    procedure = portal.procedures[pid][-1]
    with _patient_client(portal, "pat-one") as client:
        waiting = client.get(f"/my/procedures/{procedure}/results")
        assert waiting.status_code == 200
        assert "not ready to view yet" in waiting.text
        assert "Questions to ask your doctor" not in waiting.text
    app = create_app(portal.url)
    with client_as(app, "clinician") as clinician:
        answer = clinician.post(f"/procedures/{procedure}/release", follow_redirects=False)
        assert answer.status_code == 303
        again = clinician.post(f"/procedures/{procedure}/release", follow_redirects=False)
        assert again.status_code == 409
        # A clinician has no patient pages.
        assert clinician.get("/my").status_code == 403
    with client_as(app, "lab") as lab:
        assert lab.post(f"/procedures/{procedure}/release").status_code == 403
    with _patient_client(portal, "pat-one") as client:
        shown = client.get(f"/my/procedures/{procedure}/results")
        assert shown.status_code == 200
        assert "not ready to view yet" not in shown.text
        assert "Questions to ask your doctor" in shown.text
        assert "Words we use" in shown.text
    database = Database(portal.url)
    with database.unit_of_work("test") as uow:
        released = [
            e
            for e in audit.events(uow, entity="procedure", entity_id=procedure)
            if e.action == "release"
        ]
    database.dispose()
    assert [e.actor for e in released] == ["test-clinician"]


def test_a_corrected_result_says_so_on_the_results_page(portal: Portal) -> None:
    """clinical-systems.md §7 PF9: amended results are clearly labelled. The page showed the
    current version of an amended result as if it had never changed."""
    from trephine.domain.results import AspirateDifferential
    from trephine.services import results as results_service
    from trephine.services.patients import patient_record

    pid = portal.accounts["pat-two"]
    procedure = portal.procedures[pid][0]
    database = Database(portal.url)
    with database.unit_of_work("test") as uow:
        record = patient_record(uow, pid)
        stored = next(p for p in record.procedures if p.id == procedure)
        accessions = {s.specimen.accession for s in stored.specimens}
        first = next(
            r
            for r in record.results
            if r.accession in accessions and isinstance(r.value, AspirateDifferential)
        )
    with database.unit_of_work("dr.amend") as uow:
        value = first.value
        assert isinstance(value, AspirateDifferential)
        counts = dict(value.counts)
        taken, given = [c for c, n in counts.items() if n > 0][:2]
        counts[taken] -= 1  # one cell read again as another class
        counts[given] += 1
        recount = type(value)(**{**value.__dict__, "counts": counts})
        results_service.amend_result(uow, first.id, recount, "recount of the slide")
    database.dispose()
    app = create_app(portal.url)
    with client_as(app, "clinician") as clinician:
        clinician.post(f"/procedures/{procedure}/release", follow_redirects=False)
    with _patient_client(portal, "pat-two") as client:
        shown = client.get(f"/my/procedures/{procedure}/results")
    assert shown.status_code == 200
    assert "Marrow cell count (corrected)" in shown.text
    assert "This result was corrected after it was first reported." in shown.text
