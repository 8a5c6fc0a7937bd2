"""Research pages through the app (no browser): who sees record ids and who pseudonyms, reads
and downloads audited, an identified export refused to a researcher, the zip holds the export."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from trephine.api.app import create_app
from trephine.demo.study import STUDY, ensure_demo_study
from trephine.domain.cohort import CohortDefinition
from trephine.services import cohorts
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.store.tables import AuditEventRow
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database

RECORD_ID = re.compile(r"DEMO-\d{4}")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    mp = pytest.MonkeyPatch()
    mp.setenv("TREPHINE_EXPORT_KEY", "a-research-pages-key-0123456789")
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path_factory.mktemp('research') / 'r.db'}"
    load_demo_database(url, 20, seed=7)
    db = Database(url)
    with db.unit_of_work("setup") as uow:
        ensure_demo_study(uow)
        cohorts.define(uow, "ind", CohortDefinition(study=STUDY))
    db.dispose()
    app = create_app(url)
    yield app
    app.state.database.dispose()
    mp.undo()
    get_settings.cache_clear()


def _events(app: FastAPI, action: str) -> list[AuditEventRow]:
    with app.state.database.unit_of_work("t") as uow:
        return list(
            uow.session.scalars(select(AuditEventRow).where(AuditEventRow.action == action))
        )


def test_researcher_sees_pseudonyms_clinician_record_ids(app: FastAPI) -> None:
    with client_as(app, "researcher") as c:
        page = c.get("/research/cohorts/ind?by=arm")
        study = c.get(f"/research/studies/{STUDY}")
    assert page.status_code == 200 and study.status_code == 200
    for r in (page, study):
        assert not RECORD_ID.search(r.text)
        assert re.search(r"P[0-9a-f]{16}", r.text)
    assert "7-plus-3" in page.text  # grouped by arm
    with client_as(app, "clinician") as c:
        page = c.get("/research/cohorts/ind")
    assert RECORD_ID.search(page.text)
    views = [
        e.detail.get("view") for e in _events(app, "query") if "page" in e.detail.get("what", "")
    ]
    assert "pseudonymised" in views and "identified" in views


def test_export_download_is_audited_and_identified_only_with_identity(app: FastAPI) -> None:
    with client_as(app, "researcher") as c:
        refused = c.post(
            "/research/cohorts/ind/export", data={"format": "csv", "deidentify": "none"}
        )
        assert refused.status_code == 403
        form = c.get("/research/cohorts/ind/export")
        assert 'value="none"' not in form.text
        got = c.post(
            "/research/cohorts/ind/export", data={"format": "redcap", "deidentify": "safe-harbor"}
        )
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
    assert "redcap_records.csv" in names and "redcap_data_dictionary.csv" in names
    blob = b"".join(zipfile.ZipFile(io.BytesIO(got.content)).read(n) for n in names)
    assert not RECORD_ID.search(blob.decode())
    exports = _events(app, "export")
    assert exports and exports[-1].detail["format"] == "redcap"
    assert exports[-1].detail["level"] == "safe-harbor"
    assert set(exports[-1].detail["files"]) == set(names)


def _cohort_identities_and_dates(app: FastAPI) -> tuple[set[str], set[str]]:
    """Every enrolled patient's record id, name (and its parts), MRN and birth date, and every
    date of their records (procedures, specimens, results, diagnoses, therapy, enrolment)."""
    from trephine.store.tables import (
        CellularTherapyRow,
        DiagnosisRow,
        PatientIdentityRow,
        PatientRow,
        ProcedureRow,
        ResultRow,
        SpecimenRow,
        StudyEnrolmentRow,
        TherapyLineRow,
    )

    identities: set[str] = set()
    dates: set[object] = set()
    with app.state.database.unit_of_work("t") as uow:
        s = uow.session
        pids = set(s.scalars(select(StudyEnrolmentRow.patient_id)))
        for ext, name, mrn, born in s.execute(
            select(
                PatientRow.external_id,
                PatientIdentityRow.name,
                PatientIdentityRow.mrn,
                PatientIdentityRow.birth_date,
            )
            .join(PatientIdentityRow, PatientIdentityRow.patient_id == PatientRow.id)
            .where(PatientRow.id.in_(pids))
        ):
            identities |= {ext, name, mrn, *(p.strip() for p in name.split(","))}
            dates.add(born)
        for column, owner in (
            (ProcedureRow.performed_at, ProcedureRow.patient_id),
            (SpecimenRow.collected_at, SpecimenRow.patient_id),
            (ResultRow.collected_on, ResultRow.patient_id),
            (DiagnosisRow.diagnosed_on, DiagnosisRow.patient_id),
            (TherapyLineRow.start, TherapyLineRow.patient_id),
            (CellularTherapyRow.given_on, CellularTherapyRow.patient_id),
            (StudyEnrolmentRow.enrolled_on, StudyEnrolmentRow.patient_id),
            (StudyEnrolmentRow.consent_on, StudyEnrolmentRow.patient_id),
        ):
            dates |= set(s.scalars(select(column).where(owner.in_(pids))))
    texts: set[str] = set()
    for d in dates:
        if d is None:
            continue
        day = d.date() if isinstance(d, dt.datetime) else d
        texts |= {day.isoformat(), day.strftime("%d %b %Y"), day.strftime("%d/%m/%Y")}
        texts |= {f"{day:%B} {day.day}, {day.year}", f"{day.day} {day:%B} {day.year}"}
    return {i for i in identities if i}, texts


def test_study_page_shows_a_researcher_no_date_name_or_mrn_of_the_cohort(app: FastAPI) -> None:
    """The study page as a researcher: days from diagnosis instead of dates (Safe Harbor),
    pseudonyms instead of record ids; none of the enrolled patients' exact dates, names, MRNs,
    birth dates or record ids anywhere in the HTML. A clinician sees the dates."""
    identities, dates = _cohort_identities_and_dates(app)
    assert identities and dates
    with client_as(app, "researcher") as c:
        page = c.get(f"/research/studies/{STUDY}")
    assert page.status_code == 200
    found = [v for v in identities | dates if v in page.text]
    assert not found, found
    assert not re.search(r"\d{4}-\d{2}-\d{2}", page.text)
    assert re.search(r"biopsy on day \d+", page.text) and "days from the patient" in page.text
    with client_as(app, "clinician") as c:
        page = c.get(f"/research/studies/{STUDY}")
    assert any(d in page.text for d in dates) and RECORD_ID.search(page.text)


def _enrolled(app: FastAPI) -> tuple[list[str], list[str]]:
    """Record ids enrolled on the demo study, and those not."""
    from trephine.store.tables import PatientRow, StudyEnrolmentRow

    with app.state.database.unit_of_work("t") as uow:
        on = set(
            uow.session.scalars(
                select(PatientRow.external_id).join(
                    StudyEnrolmentRow, StudyEnrolmentRow.patient_id == PatientRow.id
                )
            )
        )
        every = list(uow.session.scalars(select(PatientRow.external_id).order_by(PatientRow.id)))
    return sorted(on), [p for p in every if p not in on]


def test_enrolment_form_errors_next_to_fields_nothing_saved_then_enrols(app: FastAPI) -> None:
    from trephine.store.tables import StudyEnrolmentRow

    _, free = _enrolled(app)
    url = f"/research/studies/{STUDY}/enrol"
    with client_as(app, "researcher") as c:
        assert c.get(url).status_code == 403  # studies:enrol names a record: clinicians only
        assert c.post(url, data={"patient_id": free[0]}).status_code == 403
    with client_as(app, "clinician") as c:
        form = c.get(url)
        assert form.status_code == 200 and 'name="csrf_token"' in form.text
        before = len(_events(app, "create"))
        bad = c.post(
            url,
            data={"patient_id": "", "arm": "no-such-arm", "enrolled_on": "2021-13-40"},
        )
        assert bad.status_code == 422
        for field in ("patient_id", "enrolled_on", "research_consent"):
            assert f'id="err-{field}"' in bad.text, field
            assert f'aria-describedby="err-{field}"' in bad.text, field
        assert "Nothing was saved" in bad.text and "2021-13-40" in bad.text
        # Every field right but the arm: the service's error lands next to the arm.
        arm = c.post(
            url,
            data={
                "patient_id": free[0],
                "arm": "no-such-arm",
                "enrolled_on": "2021-03-01",
                "research_consent": "yes",
            },
        )
        assert arm.status_code == 422 and 'id="err-arm"' in arm.text
        unknown = c.post(
            url,
            data={
                "patient_id": "NO-SUCH-PATIENT",
                "arm": "7-plus-3",
                "enrolled_on": "2021-03-01",
                "research_consent": "no",
            },
        )
        assert unknown.status_code == 422 and 'id="err-patient_id"' in unknown.text
        assert len(_events(app, "create")) == before  # all or nothing: nothing written
        foreign = c.post(
            url,
            data={"patient_id": free[0], "arm": "7-plus-3", "enrolled_on": "2021-03-01"},
            headers={"X-CSRF-Token": "forged"},
        )
        assert foreign.status_code == 403
        ok = c.post(
            url,
            data={
                "patient_id": free[0],
                "arm": "7-plus-3",
                "enrolled_on": "2021-03-01",
                "research_consent": "yes",
                "consent_on": "2021-02-27",
            },
            follow_redirects=False,
        )
        assert ok.status_code == 303 and ok.headers["location"].endswith("?done=enrolled")
        page = c.get(ok.headers["location"])
        assert "Patient enrolled" in page.text and free[0] in page.text
    with app.state.database.unit_of_work("t") as uow:
        rows = list(uow.session.scalars(select(StudyEnrolmentRow)))
    made = [e for e in _events(app, "create") if e.entity == "study enrolment"]
    assert made[-1].entity_id == f"{STUDY}/{free[0]}" and made[-1].actor == "test-clinician"
    assert any(r.consent_on is not None and r.research_consent for r in rows)


def test_map_form_overrides_the_window_with_who_when_and_why(app: FastAPI) -> None:
    from trephine.services import studies

    on, _ = _enrolled(app)
    patient = on[0]
    url = f"/research/studies/{STUDY}/patients/{patient}/map"
    with client_as(app, "researcher") as c:
        assert c.get(url).status_code == 403
    with app.state.database.unit_of_work("t") as uow:
        mine = studies.enrolment_biopsies(uow, STUDY, patient)
        others = [
            b
            for p in on[1:]
            for b in studies.enrolment_biopsies(uow, STUDY, p)
            if b.procedure_id not in {m.procedure_id for m in mine}
        ]
    assert mine and others
    with client_as(app, "clinician") as c:
        page = c.get(url)
        assert page.status_code == 200 and 'id="map-form"' in page.text
        assert f"procedure {mine[-1].procedure_id} on" in page.text and "no-history" in page.text
        empty = c.post(url, data={"visit": "", "procedure": "", "reason": " "})
        assert empty.status_code == 422
        for field in ("visit", "procedure", "reason"):
            assert f'id="err-{field}"' in empty.text, field
        wrong = c.post(
            url,
            data={
                "visit": "end_of_induction",
                "procedure": str(others[0].procedure_id),
                "reason": "x",
            },
        )
        assert wrong.status_code == 422 and 'id="err-procedure"' in wrong.text
        assert f"a procedure of patient {patient}" in wrong.text
        ok = c.post(
            url,
            data={
                "visit": "end_of_induction",
                "procedure": str(mine[-1].procedure_id),
                "reason": "day 28 marrow was a dry tap",
            },
            follow_redirects=False,
        )
        assert ok.status_code == 303
        after = c.get(ok.headers["location"])
        assert "Visit mapped by hand" in after.text and 'id="history"' in after.text
        assert "day 28 marrow was a dry tap" in after.text and "test-clinician" in after.text
    with app.state.database.unit_of_work("t") as uow:
        view = studies.view(uow, STUDY)
    (e,) = [e for e in view.enrolments if e.record == patient]
    (v,) = [s for s in e.visits if s.visit == "end_of_induction"]
    assert (v.how, v.procedure_id) == ("hand", mine[-1].procedure_id)
    (mapped,) = [m for m in _events(app, "map") if m.entity_id.startswith(f"{STUDY}/{patient}")]
    assert mapped.actor == "test-clinician" and mapped.detail["reason"].startswith("day 28")
    reads = [e.detail.get("what") for e in _events(app, "view") if e.entity_id == patient]
    assert f"study visits {STUDY}" in reads


def test_paired_page_clonal_comparison_and_paired_tests_in_numbers_and_words(
    app: FastAPI,
) -> None:
    """The paired-samples page as a researcher: each two-specimen clonal comparison and the
    paired tests between two visits, the numbers as the CLI computes them (four significant
    digits), a sentence per measurement, no record id, accession or date; audited."""
    from trephine.present.deidentify import Deidentifier, Level
    from trephine.present.paired import number
    from trephine.services import research

    identities, dates = _cohort_identities_and_dates(app)
    with client_as(app, "researcher") as c:
        page = c.get("/research/cohorts/ind/paired?before=screening&after=end_of_induction")
        bad = c.get("/research/cohorts/ind/paired?before=screening&after=no_such_visit")
    assert page.status_code == 200, page.text[:400]
    assert bad.status_code == 422 and "no_such_visit" in bad.text
    key = get_settings().export_key
    assert key is not None
    deid = Deidentifier(Level.SAFE_HARBOR, key.get_secret_value().encode())
    with app.state.database.unit_of_work("t") as uow:
        ev = cohorts.evaluate(uow, "ind")
        pairs, _ = research.paired_specimens(uow, ev, deid)
        tests, _ = research.paired_visits(
            uow, ev, deid, before="screening", after="end_of_induction"
        )
    assert pairs and tests
    for p in pairs:
        assert p.patient in page.text and p.before in page.text
        for m in p.changes:
            if m.vaf_after is not None:
                assert f"{number(100 * m.vaf_after)} %" in page.text
    tested = [t for t in tests if t.test is not None]
    assert tested
    for t in tested:
        assert t.test is not None and t.q_value is not None
        assert f"p = {number(t.test.p_value)}" in page.text
        assert f"q = {number(t.q_value)}" in page.text
    assert page.text.count("<li>") >= len(tests) and "Wilcoxon signed-rank" in page.text
    found = [v for v in identities | dates if v in page.text]
    assert not found and not RECORD_ID.search(page.text), found
    assert not re.search(r"\d{4}-\d{2}-\d{2}", page.text)
    queries = [e.detail for e in _events(app, "query") if "paired page" in e.detail["what"]]
    assert queries and queries[-1]["view"] == "pseudonymised"


def test_microenvironment_page_compares_before_and_after_therapy_as_the_cli_does(
    app: FastAPI,
) -> None:
    """Issue 14 §5 on the research pages: populations and measurements before vs after the
    first therapy line, the numbers of ``microenv compare`` (same service, same tests), the
    paired-lines plot, pseudonyms for a researcher and record ids for a clinician; audited."""
    from trephine.analysis.microenvironment.paired import compare
    from trephine.present.paired import number
    from trephine.services.microenvironment import niche_by_patient, paired_features

    with app.state.database.unit_of_work("t") as uow:
        features, read = paired_features(uow)
    expected = compare(features)
    tested = [c for c in expected if c.test is not None]
    assert read and tested  # the demo's AML immune panels before and after induction
    with client_as(app, "researcher") as c:
        page = c.get("/research/microenvironment")
        index = c.get("/research")
        bad = c.get("/research/microenvironment?measure=percent_of_everything")
        none = c.get("/research/microenvironment?diagnosis=CML")
    assert page.status_code == 200, page.text[:400]
    assert 'id="microenvironment-link"' in index.text
    assert bad.status_code == 422 and "percent_of_parent" in bad.text
    assert none.status_code == 200 and 'id="no-pairs"' in none.text
    assert 'id="paired-lines"' in page.text and "data:image/svg+xml;base64," in page.text
    for comparison in tested:
        assert comparison.test is not None and comparison.q_value is not None
        assert comparison.feature in page.text
        # A share's name says its unit once: 'B cells (% of CD45+ cells)', never '... (%)'.
        if comparison.feature.endswith(")"):
            assert f"{comparison.feature} (" not in page.text, comparison.feature
        assert f">{number(comparison.test.p_value)}<" in page.text
        assert f">{number(comparison.q_value)}<" in page.text
        assert f">{number(comparison.test.effect_size)}<" in page.text
    assert not RECORD_ID.search(page.text)
    assert re.search(r"P[0-9a-f]{16}", page.text)
    with client_as(app, "clinician") as c:
        identified = c.get("/research/microenvironment?measure=percent_of_total")
    assert identified.status_code == 200
    assert set(RECORD_ID.findall(identified.text)) <= set(read) | {"DEMO-0012"}
    assert RECORD_ID.search(identified.text)
    # The aplastic-anaemia niche over time, in days from diagnosis (no date for anyone).
    with app.state.database.unit_of_work("t") as uow:
        niche, niche_read = niche_by_patient(uow)
    assert niche and 'id="niche-1"' in page.text
    for _, rows in niche:
        for row in rows:
            assert f"day {row['day']}<" in page.text
            for value in row["values"].values():
                assert f">{value}<" in page.text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", page.text)
    assert set(niche_read) <= set(RECORD_ID.findall(identified.text))
    queries = [
        e.detail
        for e in _events(app, "query")
        if e.detail.get("what") == "microenvironment comparison page"
    ]
    assert {q["view"] for q in queries} >= {"pseudonymised", "identified"}
