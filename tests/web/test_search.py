"""Patient search: filters, sorting and paging in SQL (a fixed number of queries per page),
the disease-relevant marrow value, identity search only for roles that may, and the pages."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import case, event, func, insert, or_, select, true
from sqlalchemy.orm import aliased

from trephine.api.app import create_app
from trephine.criteria.categories import RELAPSE_CATEGORIES, SUPERSEDING_CATEGORIES
from trephine.demo import SyntheticPatient
from trephine.domain.patient import PatientIdentity
from trephine.errors import ValidationError
from trephine.services import _rows, open_database, patients
from trephine.services.assessments import assess_all
from trephine.services.patient_search import PatientQuery, response_categories, search
from trephine.store.database import Database
from trephine.store.tables import (
    AlertRow,
    AssessmentRow,
    DiagnosisRow,
    PatientRow,
    ProcedureRow,
)
from trephine.testing.accounts import client_as
from trephine.testing.fixtures import load_demo_database


class Cohort(NamedTuple):
    url: str
    cohort: list[SyntheticPatient]
    db: Database
    client: TestClient
    who: str
    identity: PatientIdentity


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cohort]:
    url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'demo.db'}"
    loaded = load_demo_database(url, 24, seed=5)
    db = open_database(url)
    assess_all(db, "test-assess")
    who = loaded.cohort[2].patient.external_id
    with db.unit_of_work("test") as uow:
        identity = patients.patient_identity(uow, who)
    assert identity is not None
    with client_as(create_app(url), "researcher") as client:
        yield Cohort(url, loaded.cohort, db, client, who, identity)
    db.dispose()


def ids(html: str) -> list[str]:
    return re.findall(r'<tr data-patient-id="([^"]+)"', html)


def _search(c: Cohort, **kw: Any) -> Any:
    with c.db.unit_of_work("test") as uow:
        return search(uow, PatientQuery(**kw))


def _statements(c: Cohort, **kw: Any) -> int:
    n = 0

    def count(*_: Any) -> None:
        nonlocal n
        n += 1

    event.listen(c.db.engine, "before_cursor_execute", count)
    try:
        _search(c, **kw)
    finally:
        event.remove(c.db.engine, "before_cursor_execute", count)
    return n


def test_a_page_costs_the_same_number_of_queries_whatever_its_size(cohort: Cohort) -> None:
    # The old list read every patient and then one more query per listed patient.
    assert _statements(cohort, limit=2) == _statements(cohort, limit=20) <= 4


def test_a_page_that_ends_the_list_tells_the_total_without_a_count(cohort: Cohort) -> None:
    n = len(cohort.cohort)
    # The page's ids, its facts and marrow values; the count only when the page is full.
    assert _statements(cohort, limit=n + 1) == _statements(cohort, limit=2) - 1
    myeloma = sum("myeloma" in {str(d.disease) for d in p.diagnoses} for p in cohort.cohort)
    assert 0 < myeloma < n
    for kw, total in (
        ({"limit": n + 5}, n),
        ({"limit": n}, n),
        ({"limit": 5, "offset": 5}, n),
        ({"limit": 5, "offset": n - 3}, n),
        ({"limit": 5, "offset": n}, n),
        ({"limit": 5, "offset": n + 7}, n),
        ({"limit": 1, "diagnosis": "myeloma"}, myeloma),
        ({"limit": 50, "diagnosis": "myeloma"}, myeloma),
        ({"limit": 50, "text": "no such patient"}, 0),
    ):
        assert _search(cohort, **kw).total == total, kw


def _plan(c: Cohort, marker: str, read: Any = None, **kw: Any) -> str:
    """SQLite's query plan of the statement containing ``marker`` run by ``read(uow)`` (by
    default the search of ``kw``)."""
    seen: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(c.db.engine, "before_cursor_execute", keep)
    try:
        if read is None:
            _search(c, **kw)
        else:
            with c.db.unit_of_work("test") as uow:
                read(uow)
    finally:
        event.remove(c.db.engine, "before_cursor_execute", keep)
    statement, params = next((s, p) for s, p in seen if marker in s)
    with c.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
    return "\n".join(str(r[-1]) for r in rows)


def test_the_latest_marrow_values_are_read_by_patient_not_by_state(cohort: Cohort) -> None:
    # With "state IN (current states)" SQLite read the state index (nearly every result of the
    # cohort) instead of the listed patients' results: 88 ms a page at 10,000 patients. Ranking
    # every differential and core of the page with row_number() read and sorted them all, values
    # included (3.3 ms a page at 10,000); the newest current one of each patient and kind is
    # found by walking the patient's index backwards, with no sort.
    plan = _plan(cohort, "result.value", limit=20)
    assert "ix_result_patient_kind_date" in plan and "ix_result_state" not in plan, plan
    assert "CORRELATED SCALAR SUBQUERY" in plan and "TEMP B-TREE" not in plan, plan


def test_open_alerts_and_last_biopsy_are_read_from_the_patient_row_by_index(
    cohort: Cohort,
) -> None:
    # Migration 0026 keeps both on the patient row. As correlated sub-queries, "open alerts,
    # last biopsy first" computed both for every patient before its LIMIT: at 10,000 demo
    # patients 7.1 ms for the page's ids and 3.1 ms for the count (0.7 and 0.3 at 1,000).
    page = _plan(cohort, "ORDER BY", limit=2, open_alerts=True, sort="last_biopsy", descending=True)
    assert "ix_patient_last_biopsy" in page and "TEMP B-TREE" not in page, page
    assert "alert" not in page and "procedure" not in page, page
    for open_alerts in (True, False):
        counted = _plan(cohort, "count(", limit=2, open_alerts=open_alerts)
        assert "COVERING INDEX ix_patient_open_alert_count" in counted, counted
        assert "alert " not in counted and "SUBQUERY" not in counted, counted


def test_the_kept_facts_are_what_the_procedures_and_alerts_say(cohort: Cohort) -> None:
    """The list's last biopsy and open alerts (kept by triggers) against the procedures and
    alerts themselves, for every patient of the demo cohort."""
    with cohort.db.engine.connect() as conn:
        kept = {
            r.external_id: (r.last_biopsy_at, r.open_alert_count)
            for r in conn.execute(select(PatientRow))
        }
        biopsies = dict(
            conn.execute(
                select(ProcedureRow.patient_id, func.max(ProcedureRow.performed_at)).group_by(
                    ProcedureRow.patient_id
                )
            ).all()
        )
        open_alerts = dict(
            conn.execute(
                select(AlertRow.patient_id, func.count())
                .where(AlertRow.acknowledged_at.is_(None), AlertRow.withdrawn_at.is_(None))
                .group_by(AlertRow.patient_id)
            ).all()
        )
        ids = dict(conn.execute(select(PatientRow.external_id, PatientRow.id)).all())
    assert sum(1 for _, n in kept.values() if n) >= 3  # the demo raises alerts
    for external_id, pid in ids.items():
        assert kept[external_id] == (biopsies.get(pid), open_alerts.get(pid, 0)), external_id


def test_the_response_filter_choices_are_read_from_the_index(cohort: Cohort) -> None:
    # One probe of the partial index of response categories per category, never a scan.
    plan = _plan(cohort, "categories", read=response_categories)
    assert plan.count("USING INDEX ix_assessment_response_category") == 2, plan
    assert "SCAN assessment" not in plan, plan
    # And no other query is planned on it: calls of some patients are read by the patients
    # (0023's (call_kind, category) index had taken the research timelines' plan).
    with cohort.db.engine.connect() as conn:
        by_patients = "\n".join(
            str(r[-1])
            for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM assessment"
                " WHERE patient_id IN (?, ?, ?) AND call_kind IN (?, ?) AND category IN (?, ?)",
                (1, 2, 3, "response", "mrd", "CR", "PR"),
            )
        )
    assert "ix_assessment_response_category" not in by_patients, by_patients
    assert "ix_assessment_relapse_category" not in by_patients, by_patients
    assert "patient_id=?" in by_patients, by_patients
    # The relapse and progression categories (they stand in for a later response): one probe
    # of the relapse calls' partial index (0027) and one of the progression calls' (0029)
    # each, never a scan of the calls.
    relapses = _plan(cohort, "call_kind = 'relapse'", read=response_categories)
    for kind in ("relapse", "progression"):
        probes = relapses.count(f"USING INDEX ix_assessment_{kind}_category")
        assert probes == len(SUPERSEDING_CATEGORIES), relapses
    assert "SCAN assessment" not in relapses, relapses
    with cohort.db.unit_of_work("test") as uow:
        stored = set(
            uow.session.scalars(
                select(AssessmentRow.category).where(AssessmentRow.call_kind == "response")
            )
        )
        relapsed = set(
            uow.session.scalars(
                select(AssessmentRow.category).where(
                    AssessmentRow.call_kind.in_(("relapse", "progression"))
                )
            )
        )
        assert relapsed & RELAPSE_CATEGORIES, relapsed  # the demo has relapses
        assert relapsed - RELAPSE_CATEGORIES  # and calls that are none (continued remission)
        assert response_categories(uow) == sorted(stored | (relapsed & SUPERSEDING_CATEGORIES))


def test_paging_sorting_and_total(cohort: Cohort) -> None:
    everyone = sorted(p.patient.external_id for p in cohort.cohort)
    page = _search(cohort, limit=5, offset=5)
    assert page.total == len(everyone)
    assert [h.patient_id for h in page.items] == everyone[5:10]
    backwards = _search(cohort, limit=24, descending=True)
    assert [h.patient_id for h in backwards.items] == everyone[::-1]
    by_biopsy = _search(cohort, limit=24, sort="last_biopsy", descending=True).items
    days = [h.last_biopsy for h in by_biopsy if h.last_biopsy is not None]
    assert days == sorted(days, reverse=True) and len(days) >= 20


class _RollBack(Exception):
    pass


def test_sorting_by_a_fact_puts_patients_without_it_last_either_way(cohort: Cohort) -> None:
    """Two patients without diagnosis, biopsy or response call (registered in a transaction
    rolled back at the end) come last in either direction, ids breaking ties."""
    from trephine.domain import Patient, Sex

    everyone = len(cohort.cohort) + 2
    facts = {
        "diagnosis": lambda h: h.diagnosis,
        "last_biopsy": lambda h: h.last_biopsy,
        "response": lambda h: h.latest_response,
        "alerts": lambda h: h.open_alerts,
    }
    with pytest.raises(_RollBack), cohort.db.unit_of_work("test") as uow:
        for bare in ("ZZ-BARE-2", "ZZ-BARE-1"):
            patients.register_patient(uow, Patient(bare, Sex.FEMALE, 1970))
        for sort, fact in facts.items():
            for descending in (False, True):
                query = PatientQuery(limit=everyone, sort=sort, descending=descending)  # type: ignore[arg-type]
                hits = search(uow, query).items
                assert len(hits) == everyone
                keys = [fact(h) for h in hits]
                known = [k for k in keys if k is not None]
                if sort != "alerts":  # a count: 0, never missing
                    assert len(known) == everyone - 2, sort
                    assert [h.patient_id for h in hits[-2:]] == ["ZZ-BARE-1", "ZZ-BARE-2"]
                assert keys == known + [None] * (len(keys) - len(known)), (sort, descending)
                assert known == sorted(known, reverse=descending), (sort, descending)
                if sort != "last_biopsy":  # a day may hold two biopsy times
                    for a, b in itertools.pairwise(hits):
                        if fact(a) == fact(b):
                            assert a.patient_id < b.patient_id, (sort, descending)
        raise _RollBack


def test_latest_diagnosis_and_response_are_read_from_the_patient_row_by_index(
    cohort: Cohort,
) -> None:
    # Migration 0028 keeps both on the patient row. As correlated sub-queries they were
    # computed for every matching patient before the page's LIMIT: at 10,000 demo patients
    # "/?sort=response" took 200 ms, "/?response=CR" 159 ms, "/?sort=diagnosis" 37 ms.
    for sort in ("diagnosis", "response"):
        for descending in (False, True):
            page = _plan(cohort, "ORDER BY", limit=2, sort=sort, descending=descending)
            index = f"ix_patient_latest_{sort}{'_desc' if descending else ''}"
            assert f"INDEX {index}" in page and "TEMP B-TREE" not in page, page
            assert "assessment" not in page and "diagnosis " not in page, page
    for sort in ("id", "response"):
        filtered = _plan(cohort, "ORDER BY", limit=2, response="CR", sort=sort)
        assert "ix_patient_latest_response" in filtered and "(latest_response=?)" in filtered
        assert "TEMP B-TREE" not in filtered and "assessment" not in filtered, filtered
    # The facts of the page are read from the listed rows, no sub-query of calls or diagnoses.
    facts = _plan(cohort, "patient.birth_year", limit=2)
    assert "assessment" not in facts and "diagnosis" not in facts, facts


def _kept_and_reference(conn: Any, *, current_only: bool = True) -> list[Any]:
    """Per patient: the list's latest diagnosis and response (kept by triggers), and the
    sub-queries the search computed before migration 0028, over the calls current on the
    patient page (``current_only``: no later row of the same patient, date, call kind, rule set
    and edition, :func:`trephine.services.assessments.current_assessments`; without it, every
    stored row, as the reference was until a relapse amended away showed it wrong)."""
    relapse = _rows.relapse_call(or_to_confirm=True)
    diagnosis = (
        select(DiagnosisRow.disease)
        .where(DiagnosisRow.patient_id == PatientRow.id)
        .order_by(DiagnosisRow.diagnosed_on.desc(), DiagnosisRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    later = aliased(AssessmentRow)
    current = ~(
        select(later.id)
        .where(
            later.patient_id == AssessmentRow.patient_id,
            later.assessed_on == AssessmentRow.assessed_on,
            later.call_kind == AssessmentRow.call_kind,
            later.ruleset == AssessmentRow.ruleset,
            later.criteria_edition == AssessmentRow.criteria_edition,
            later.id > AssessmentRow.id,
        )
        .exists()
    )
    response = (
        select(AssessmentRow.category)
        .where(
            AssessmentRow.patient_id == PatientRow.id,
            or_(AssessmentRow.call_kind == "response", relapse),
            current if current_only else true(),
        )
        .order_by(
            AssessmentRow.assessed_on.desc(), case((relapse, 0), else_=1), AssessmentRow.id.desc()
        )
        .limit(1)
        .scalar_subquery()
    )
    return list(
        conn.execute(
            select(
                PatientRow.external_id,
                PatientRow.latest_diagnosis,
                PatientRow.latest_response,
                diagnosis,
                response,
            )
        ).all()
    )


def test_the_kept_latest_diagnosis_and_response_are_what_the_rows_say(cohort: Cohort) -> None:
    """The list's latest diagnosis and response (kept by triggers) against the sub-queries the
    search computed before migration 0028, for every patient of the demo cohort."""
    with cohort.db.engine.connect() as conn:
        rows = _kept_and_reference(conn)
    assert len(rows) == len(cohort.cohort)
    kept = [(r[1], r[2]) for r in rows]
    # The demo has diagnoses, response calls and relapses (a relapse stands in for a response).
    assert all(d for d, _ in kept) and {r for _, r in kept} & set(RELAPSE_CATEGORIES), kept
    assert {r for _, r in kept} & {"CR", "PR", "NO_RESPONSE"}, kept
    for r in rows:
        assert (r[1], r[2]) == (r[3], r[4]), r[0]


def test_the_kept_latest_response_of_a_relapse_amended_away_is_the_current_call(
    cohort: Cohort,
) -> None:
    """A relapse whose marrow was amended and re-assessed: the day's relapse call stored anew
    as not met, its response call anew (calls are append-only). The kept latest response is
    that response call, and so is the reference over current calls; the reference over every
    stored row (as it was) still found the old relapse. Rolled back: the cohort is shared."""
    with cohort.db.engine.connect() as conn, conn.begin() as transaction:
        relapsed = [r for r in _kept_and_reference(conn) if r[2] == "HEMATOLOGIC_RELAPSE"]
        assert relapsed, "the demo cohort has a haematologic relapse"
        who = relapsed[0][0]
        patient = conn.scalar(select(PatientRow.id).where(PatientRow.external_id == who))
        columns = [c for c in AssessmentRow.__table__.columns if c.key != "id"]
        day = conn.scalar(
            select(func.max(AssessmentRow.assessed_on)).where(
                AssessmentRow.patient_id == patient,
                AssessmentRow.call_kind == "relapse",
                AssessmentRow.category == "HEMATOLOGIC_RELAPSE",
            )
        )
        for kind, category in (("relapse", "NOT_MET"), ("response", None)):
            old = conn.execute(
                select(*columns).where(
                    AssessmentRow.patient_id == patient,
                    AssessmentRow.assessed_on == day,
                    AssessmentRow.call_kind == kind,
                )
            ).one()
            values = {**old._mapping, "inputs_digest": "amended-away", "flags": []}
            if category is not None:
                values["category"] = category
            conn.execute(insert(AssessmentRow).values(**values))
        rows = {r[0]: r for r in _kept_and_reference(conn)}
        response = rows[who][2]
        assert response not in (None, "HEMATOLOGIC_RELAPSE")
        assert all((r[1], r[2]) == (r[3], r[4]) for r in rows.values()), rows[who]
        stale = {r[0]: r for r in _kept_and_reference(conn, current_only=False)}
        assert stale[who][4] == "HEMATOLOGIC_RELAPSE" != response
        transaction.rollback()


def test_filters_diagnosis_alerts_response_and_biopsy_dates(cohort: Cohort) -> None:
    myeloma = {
        p.patient.external_id
        for p in cohort.cohort
        if "myeloma" in {str(d.disease) for d in p.diagnoses}
    }
    assert {h.patient_id for h in _search(cohort, diagnosis="myeloma", limit=50).items} == myeloma
    alerted = _search(cohort, open_alerts=True, limit=50).items
    quiet = _search(cohort, open_alerts=False, limit=50).items
    assert alerted and all(h.open_alerts > 0 for h in alerted)
    assert all(h.open_alerts == 0 for h in quiet)
    assert len(alerted) + len(quiet) == len(cohort.cohort)
    cr = _search(cohort, response="CR", limit=50).items
    assert cr and all(h.latest_response == "CR" for h in cr)
    all_days = sorted(h.last_biopsy for h in _search(cohort, limit=50).items if h.last_biopsy)
    middle = all_days[len(all_days) // 2]
    later = _search(cohort, biopsy_from=middle, limit=50).items
    assert later and all(h.last_biopsy is not None and h.last_biopsy >= middle for h in later)
    earlier = _search(cohort, biopsy_to=middle - dt.timedelta(days=1), limit=50).items
    assert len(later) + len(earlier) == len(all_days)


def test_the_marrow_value_is_the_one_that_tells_the_disease_story(cohort: Cohort) -> None:
    labels = {h.diagnosis: h.marrow_label for h in _search(cohort, limit=50).items}
    assert labels["AML"] == "Marrow blasts"
    assert labels["myeloma"] == "Marrow plasma cells"
    assert labels["CLL"] == "Marrow lymphocytes"
    assert labels["aplastic anemia"] == "Cellularity"


def test_each_listed_marrow_value_is_the_newest_current_one_of_its_kind(
    cohort: Cohort, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against each patient's record: the list's value (and its date) is the newest current
    result of the disease's kind, and its blasts the newest differential's. Only a patient
    whose value comes from a core has a core decoded (decoding is most of the list's cost)."""
    import trephine.services.patient_search as patient_search

    decoded: list[str] = []
    decode = patient_search.decode_result

    def counting(kind: str, data: Any) -> Any:
        decoded.append(kind)
        return decode(kind, data)

    monkeypatch.setattr(patient_search, "decode_result", counting)
    hits = _search(cohort, limit=50).items
    cores_needed = 0
    with cohort.db.unit_of_work("test") as uow:
        for hit in hits:
            record = patients.patient_record(uow, hit.patient_id)
            measure = patient_search.marrow_measure(hit.diagnosis)

            latest, diff = (
                max(
                    (r for r in record.results if r.kind == kind),
                    key=lambda r: (r.collected_on, r.id),
                    default=None,
                )
                for kind in (measure.kind, "differential")
            )
            if measure.kind == "core" and latest is not None:
                cores_needed += 1
            value = None if latest is None else patient_search.marrow_value(measure, latest.value)
            assert hit.marrow_value == value, hit.patient_id
            assert hit.marrow_on == (None if value is None else latest.collected_on)
            blasts = (
                None
                if diff is None
                else patient_search.marrow_value(patient_search.BLASTS, diff.value)
            )
            assert hit.last_blasts == blasts, hit.patient_id
    assert cores_needed > 0  # the cohort lists an aplastic anaemia with a core
    assert decoded.count("core") == cores_needed


def test_identity_search_only_when_identified(cohort: Cohort) -> None:
    who, name, mrn = cohort.who, cohort.identity.name, cohort.identity.mrn
    assert _search(cohort, text=name.upper()).total == 0
    assert _search(cohort, text=mrn).total == 0
    hit = _search(cohort, text=name.upper(), identified=True).items
    assert [h.patient_id for h in hit] == [who] and hit[0].mrn == mrn
    assert [h.patient_id for h in _search(cohort, text=mrn, identified=True).items] == [who]
    # A part of an id finds the patient for anyone; no identity comes back unasked.
    found = _search(cohort, text=who[-3:]).items
    assert who in [h.patient_id for h in found] and all(h.name is None for h in found)


def test_bad_queries_are_refused_naming_the_field(cohort: Cohort) -> None:
    for kw, field in (
        ({"limit": 0}, "limit"),
        ({"sort": "name"}, "sort"),
        ({"diagnosis": "flu"}, "diagnosis"),
        ({"biopsy_from": dt.date(2024, 2, 1), "biopsy_to": dt.date(2024, 1, 1)}, "biopsy_from"),
    ):
        with pytest.raises(ValidationError) as e:
            _search(cohort, **kw)
        assert e.value.field == field


def test_the_page_searches_filters_sorts_and_pages(cohort: Cohort) -> None:
    c = cohort.client
    r = c.get("/", params={"diagnosis": "AML", "sort": "last_biopsy", "order": "desc"})
    assert r.status_code == 200
    aml = ids(r.text)
    assert aml and all(
        h.diagnosis == "AML" for h in _search(cohort, diagnosis="AML", limit=50).items
    )
    assert 'aria-sort="descending"' in r.text
    # The sort links keep the filter and flip the direction.
    assert "diagnosis=AML&amp;sort=last_biopsy&amp;order=asc" in r.text
    assert re.search(
        r'<span class="what">Marrow blasts</span> <span class="num">\d+(\.\d)? %</span>', r.text
    )
    # Research view: the search box offers the id only, and identity text finds nobody.
    assert "Patient id, name or MRN" not in r.text
    assert ids(c.get("/", params={"q": cohort.identity.name}).text) == []
    bad = c.get("/", params={"biopsy_from": "yesterday"})
    assert bad.status_code == 422 and "biopsy_from" in bad.text


def test_an_identified_role_sees_and_searches_identity(cohort: Cohort) -> None:
    with client_as(create_app(cohort.url), "clinician") as clinician:
        r = clinician.get("/", params={"q": cohort.identity.mrn})
    assert ids(r.text) == [cohort.who]
    assert cohort.identity.mrn in r.text and "Patient id, name or MRN" in r.text


def test_api_list_uses_the_same_search(cohort: Cohort) -> None:
    body = cohort.client.get(
        "/api/v1/patients", params={"diagnosis": "myeloma", "limit": 50}
    ).json()
    assert body["total"] == len(body["items"]) >= 1
    row = body["items"][0]
    assert row["marrow"]["label"] == "Marrow plasma cells" and row["marrow"]["value"]["unit"] == "%"
    assert isinstance(row["open_alerts"], int)
    desc = cohort.client.get("/api/v1/patients", params={"order": "desc", "limit": 3}).json()
    assert [i["id"] for i in desc["items"]] == sorted(
        (p.patient.external_id for p in cohort.cohort), reverse=True
    )[:3]
    assert cohort.client.get("/api/v1/patients", params={"sort": "name"}).status_code == 422
