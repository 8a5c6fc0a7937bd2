"""Patient search's SQL on SQLite and PostgreSQL alike: the response categories read through
their index, the open-alerts filter, a sort on a per-patient fact, and totals with and without
a count."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from trephine.services import open_database
from trephine.services.assessments import assess_all
from trephine.services.patient_search import PatientQuery, response_categories, search
from trephine.store.tables import AlertRow, AssessmentRow, PatientRow


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
            assert response_categories(uow) == stored
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
