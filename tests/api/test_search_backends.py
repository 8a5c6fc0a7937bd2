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


def _latest_responses(session: Any, *, current_only: bool = True) -> dict[str, str]:
    """The reference for the list's latest response, from the stored calls: per patient, the
    latest day's relapse or progression (confirmed or to confirm), else its response call,
    among the calls current on the patient page (``current_only``:
    :func:`trephine.services.assessments.current_assessments`: the latest row per date, call
    kind, rule set and edition, a superseded response never). ``current_only=False`` is the
    reference as it was, every stored row counted: it agreed only while no call had been
    re-assessed (an amended-away relapse)."""
    from trephine.assess.story import SUPERSEDED, supersedes_response

    rows = session.execute(
        select(
            PatientRow.external_id,
            AssessmentRow.assessed_on,
            AssessmentRow.call_kind,
            AssessmentRow.ruleset,
            AssessmentRow.criteria_edition,
            AssessmentRow.category,
            AssessmentRow.flags,
            AssessmentRow.id,
        )
        .join(PatientRow, PatientRow.id == AssessmentRow.patient_id)
        .where(AssessmentRow.call_kind.in_(("response", "relapse", "progression")))
        .order_by(AssessmentRow.id)
    ).all()
    if current_only:
        latest: dict[tuple[Any, ...], Any] = {}
        for row in rows:  # ordered by id: the last row of a key is its latest
            latest[tuple(row[:5])] = row
        rows = [r for r in latest.values() if SUPERSEDED not in (r.flags or [])]
    expected: dict[str, tuple[Any, int, int, str]] = {}
    for pid, day, kind, _, _, category, _, rid in rows:
        relapse = supersedes_response(kind, category)
        if kind != "response" and not relapse:
            continue
        key = (day, int(relapse), rid, category)
        expected[pid] = max(expected.get(pid, key), key)
    return {pid: key[3] for pid, key in expected.items()}


def test_a_relapse_is_the_latest_response_not_the_superseded_call(demo: Any) -> None:
    """One marrow, one story on the list too: a marrow called a relapse also has a response
    call (NO_RESPONSE for a relapse after CR), stored superseded. The list showed that call as
    'Latest response' (DEMO-0001: NO RESPONSE) while the patient page said relapse. So does a
    myeloma progression (confirmed or to confirm) over the response of its assessment."""
    from trephine.assess.story import SUPERSEDED

    db = open_database(demo.url)
    try:
        assess_all(db, "test-assess")
        with db.unit_of_work("test") as uow:
            superseded = uow.session.scalars(
                select(AssessmentRow.flags).where(AssessmentRow.call_kind == "response")
            ).all()
            assert any(SUPERSEDED in (flags or []) for flags in superseded)
            hits = search(uow, PatientQuery(limit=500)).items
            shown = {h.patient_id: h.latest_response for h in hits if h.latest_response}
            assert shown == _latest_responses(uow.session)
            relapsed = {pid for pid, c in shown.items() if c in SUPERSEDING_CATEGORIES}
            assert relapsed  # the demo has relapses whose marrow had a response call
            for category in sorted({shown[p] for p in relapsed}):
                found = search(uow, PatientQuery(limit=500, response=category)).items
                assert {h.patient_id for h in found} == {
                    p for p in relapsed if shown[p] == category
                }
    finally:
        db.dispose()


def test_a_relapse_amended_away_no_longer_is_the_latest_response(demo: Any) -> None:
    """A relapse whose marrow was amended (blasts corrected) and re-assessed: the day's relapse
    call is stored anew as not met and its response call anew, no longer superseded (calls are
    append-only; the old rows stay as history). The list and the patient page show the
    response; the reference that counted every stored row still said relapse."""
    from trephine.assess.story import SUPERSEDED

    db = open_database(demo.url)
    try:
        assess_all(db, "test-assess")
        with pytest.raises(_RollBack), db.unit_of_work("test") as uow:
            s = uow.session
            before = _latest_responses(s)
            pid = min(p for p, c in before.items() if c == "HEMATOLOGIC_RELAPSE")
            patient = s.scalar(select(PatientRow.id).where(PatientRow.external_id == pid))
            relapse = s.scalars(
                select(AssessmentRow)
                .where(
                    AssessmentRow.patient_id == patient,
                    AssessmentRow.call_kind == "relapse",
                    AssessmentRow.category == "HEMATOLOGIC_RELAPSE",
                )
                .order_by(AssessmentRow.assessed_on.desc())
            ).first()
            assert relapse is not None
            response = s.scalars(
                select(AssessmentRow).where(
                    AssessmentRow.patient_id == patient,
                    AssessmentRow.call_kind == "response",
                    AssessmentRow.assessed_on == relapse.assessed_on,
                )
            ).one()
            assert SUPERSEDED in response.flags

            def anew(row: AssessmentRow, **changed: Any) -> AssessmentRow:
                columns = AssessmentRow.__table__.columns
                fields = {c.key: getattr(row, c.key) for c in columns if c.key != "id"}
                return AssessmentRow(**{**fields, **changed})

            s.add(anew(relapse, category="NOT_MET", inputs_digest="amended-away"))
            s.flush()
            flags = [f for f in response.flags if f != SUPERSEDED]
            s.add(anew(response, flags=flags, inputs_digest="amended-away"))
            s.flush()
            s.expire_all()  # the patient row's kept facts, as the triggers left them

            hits = search(uow, PatientQuery(limit=500)).items
            shown = {h.patient_id: h.latest_response for h in hits if h.latest_response}
            assert shown[pid] == response.category != "HEMATOLOGIC_RELAPSE"
            assert shown == _latest_responses(s)
            # Counting every stored row, the old relapse still won its day.
            assert _latest_responses(s, current_only=False)[pid] == "HEMATOLOGIC_RELAPSE"
            raise _RollBack
    finally:
        db.dispose()
