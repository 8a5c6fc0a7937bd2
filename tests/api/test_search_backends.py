"""Patient search's SQL on SQLite and PostgreSQL alike: the response categories read through
their index, the open-alerts filter, a sort on a per-patient fact, and totals with and without
a count."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from trephine.criteria.categories import SUPERSEDING_CATEGORIES
from trephine.services import open_database
from trephine.services.assessments import assess_all
from trephine.services.patient_search import PatientQuery, response_categories, search
from trephine.store.tables import (
    AlertRow,
    AssessmentRow,
    DiagnosisRow,
    PatientIdentityRow,
    PatientRow,
)


def test_search_answers_the_same_on_both_backends(demo: Any) -> None:
    db = open_database(demo.url)
    try:
        assess_all(db, "test-assess")
        with db.unit_of_work("test") as uow:
            s = uow.session
            stored = list(
                s.scalars(
                    select(AssessmentRow.category)
                    .where(AssessmentRow.call_kind == "response")
                    .distinct()
                    .order_by(AssessmentRow.category)
                )
            )
            assert len(stored) > 1
            relapsed = set(
                s.scalars(
                    select(AssessmentRow.category).where(
                        AssessmentRow.call_kind.in_(("relapse", "progression"))
                    )
                )
            )
            choices = sorted({*stored, *(relapsed & SUPERSEDING_CATEGORIES)})
            assert response_categories(uow) == choices and len(choices) > len(stored)
            everyone = set(s.scalars(select(PatientRow.external_id)))
            alerted = set(
                s.scalars(
                    select(PatientRow.external_id)
                    .join(AlertRow, AlertRow.patient_id == PatientRow.id)
                    .where(AlertRow.acknowledged_at.is_(None), AlertRow.withdrawn_at.is_(None))
                )
            )
            assert alerted and alerted != everyone

            def ids(**kw: Any) -> list[str]:
                return [h.patient_id for h in search(uow, PatientQuery(limit=500, **kw)).items]

            assert set(ids(open_alerts=True)) == alerted
            assert set(ids(open_alerts=False)) == everyone - alerted
            latest = search(uow, PatientQuery(limit=500, sort="last_biopsy", descending=True))
            days = [h.last_biopsy for h in latest.items if h.last_biopsy is not None]
            assert days == sorted(days, reverse=True) and len(latest.items) == len(everyone)
            n = len(everyone)
            for kw in ({"limit": 3}, {"limit": 500}, {"limit": 3, "offset": n - 1}):
                assert search(uow, PatientQuery(**kw)).total == n  # type: ignore[arg-type]
            assert search(uow, PatientQuery(limit=1, open_alerts=True)).total == len(alerted)
    finally:
        db.dispose()


class _RollBack(Exception):
    pass


def test_id_text_and_diagnosis_totals_answer_the_same_on_both_backends(demo: Any) -> None:
    """The id search folds case on both backends (SQLite by LIKE itself, PostgreSQL by
    lower()), and a diagnosis total counts each patient once, even one diagnosed twice."""
    db = open_database(demo.url)
    try:
        # The open alerts below are the assessments' (re-running adds nothing): assessed here,
        # so this test does not depend on another having run first on the same worker.
        assess_all(db, "test-assess")
        with pytest.raises(_RollBack), db.unit_of_work("test") as uow:
            s = uow.session
            everyone = sorted(s.scalars(select(PatientRow.external_id)))
            part = everyone[1][-3:]  # e.g. "002": the end of one id
            wanted = [e for e in everyone if part in e.lower()]
            for text in (part, everyone[1].lower(), everyone[1].upper(), everyone[1]):
                found = [
                    h.patient_id for h in search(uow, PatientQuery(text=text, limit=500)).items
                ]
                assert found == [e for e in wanted if text.lower() in e.lower()], text
            assert search(uow, PatientQuery(text="%", limit=500)).items == ()  # no wildcard
            # Names (identified search only) fold case the same way; an MRN matches exactly.
            who, name, mrn = s.execute(
                select(PatientRow.external_id, PatientIdentityRow.name, PatientIdentityRow.mrn)
                .join(PatientIdentityRow, PatientIdentityRow.patient_id == PatientRow.id)
                .order_by(PatientRow.external_id)
            ).first()  # type: ignore[misc]
            surname = name.split(",")[0]
            for text in (surname, surname.lower(), surname.upper(), mrn):
                found = search(uow, PatientQuery(text=text, identified=True, limit=500)).items
                assert who in [h.patient_id for h in found], text
                assert not search(uow, PatientQuery(text=text, limit=500)).items, text
            assert not search(uow, PatientQuery(text=mrn.lower(), identified=True)).items

            aml = list(
                s.execute(
                    select(DiagnosisRow)
                    .where(DiagnosisRow.disease == "AML")
                    .order_by(DiagnosisRow.id)
                ).scalars()
            )
            patients_with_aml = {d.patient_id for d in aml}
            assert len(patients_with_aml) > 2
            first = aml[0]
            s.add(  # a second AML diagnosis (a relapse re-diagnosed) of one patient
                DiagnosisRow(
                    patient_id=first.patient_id,
                    disease="AML",
                    classification=first.classification,
                    diagnosed_on=first.diagnosed_on + dt.timedelta(days=400),
                    genetics=[],
                )
            )
            s.flush()
            for limit in (1, 500):  # with a count, and a page that tells the total itself
                hits = search(uow, PatientQuery(diagnosis="AML", limit=limit))
                assert hits.total == len(patients_with_aml), limit
            together = search(uow, PatientQuery(diagnosis="AML", open_alerts=True, limit=1))
            both = search(uow, PatientQuery(diagnosis="AML", open_alerts=True, limit=500))
            assert together.total == len(both.items) > 0
            raise _RollBack
    finally:
        db.dispose()


def test_a_relapse_is_the_latest_response_not_the_superseded_call(demo: Any) -> None:
    """One marrow, one story on the list too: a marrow called a relapse also has a response
    call (NO_RESPONSE for a relapse after CR), stored superseded. The list showed that call as
    'Latest response' (DEMO-0001: NO RESPONSE) while the patient page said relapse. So does a
    myeloma progression (confirmed or to confirm) over the response of its assessment."""
    from trephine.assess.story import SUPERSEDED, supersedes_response

    db = open_database(demo.url)
    try:
        assess_all(db, "test-assess")
        with db.unit_of_work("test") as uow:
            rows = uow.session.execute(
                select(
                    PatientRow.external_id,
                    AssessmentRow.assessed_on,
                    AssessmentRow.call_kind,
                    AssessmentRow.category,
                    AssessmentRow.flags,
                    AssessmentRow.id,
                )
                .join(PatientRow, PatientRow.id == AssessmentRow.patient_id)
                .where(AssessmentRow.call_kind.in_(("response", "relapse", "progression")))
            ).all()
            expected: dict[str, tuple[Any, int, int, str]] = {}
            superseded = 0
            for pid, day, kind, category, flags, rid in rows:
                relapse = supersedes_response(kind, category)
                if kind != "response" and not relapse:
                    continue
                superseded += kind == "response" and SUPERSEDED in (flags or [])
                key = (day, int(relapse), rid, category)
                expected[pid] = max(expected.get(pid, key), key)
            hits = search(uow, PatientQuery(limit=500)).items
            shown = {h.patient_id: h.latest_response for h in hits if h.latest_response}
            assert shown == {pid: key[3] for pid, key in expected.items()}
            relapsed = {pid for pid, c in shown.items() if c in SUPERSEDING_CATEGORIES}
            assert relapsed and superseded  # the demo has relapses whose marrow had a response call
            for category in sorted({shown[p] for p in relapsed}):
                found = search(uow, PatientQuery(limit=500, response=category)).items
                assert {h.patient_id for h in found} == {
                    p for p in relapsed if shown[p] == category
                }
    finally:
        db.dispose()
