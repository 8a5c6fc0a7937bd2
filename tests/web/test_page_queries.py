"""The pages cost a fixed number of SQL statements: no statement per therapy line, biopsy,
result, listed patient or listed alert (an N+1 coming back fails here)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


@contextmanager
def _counting(site: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def keep(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = site.client.app.state.database.engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def _statements(site: Any, path: str) -> int:
    with _counting(site) as seen:
        assert site.client.get(path).status_code == 200, path
    return len(seen)


def test_the_patient_page_and_timeline_cost_the_same_for_a_long_and_a_short_history(
    site: Any,
) -> None:
    def size(p: Any) -> tuple[int, int, int]:
        cycles = sum(len(t.cycles) for t in p.therapy_lines)
        return (len(p.therapy_lines) + cycles, len(p.visits), sum(1 for _ in p.results))

    # Two patients, the second with more therapy lines/cycles, visits and results.
    pairs = [
        (a, b)
        for a in site.cohort
        for b in site.cohort
        if all(x < y for x, y in zip(size(a), size(b), strict=True))
    ]
    short, long = max(pairs, key=lambda ab: size(ab[1])[0] - size(ab[0])[0])
    for path in ("/patients/{}", "/api/v1/patients/{}/timeline", "/api/v1/patients/{}"):
        counts = {_statements(site, path.format(p.patient.external_id)) for p in (short, long)}
        assert len(counts) == 1, (path, counts)


def test_the_alerts_page_costs_the_same_for_few_and_many_alerts(site: Any) -> None:
    assert _statements(site, "/alerts?status=acknowledged") == _statements(
        site, "/alerts?status=all"
    )


def test_the_patient_list_costs_the_same_for_one_and_many_patients(site: Any) -> None:
    one = site.cohort[0].patient.external_id
    # (Both pages end the list, so neither counts; test_search.py checks when a count runs.)
    assert _statements(site, f"/?q={one}") == _statements(site, "/")


def _plans(site: Any, path: str, marker: str) -> list[str]:
    """SQLite's plans of the statements containing ``marker`` that ``path`` runs."""
    seen: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    engine = site.client.app.state.database.engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        assert site.client.get(path).status_code == 200, path
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    plans = []
    with engine.connect() as conn:
        for statement, params in seen:
            if marker in statement:
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
                plans.append("\n".join(str(r[-1]) for r in rows))
    assert plans, (path, marker)
    return plans


def test_the_alerts_inbox_reads_its_page_in_date_order_without_sorting(site: Any) -> None:
    listed, counted = (
        _plans(site, "/alerts", "FROM alert JOIN patient")[0],
        _plans(site, "/alerts", "count(*)")[0],
    )
    assert "ix_alert_status_raised" in listed and "TEMP B-TREE" not in listed, listed
    assert "COVERING INDEX ix_alert_status_raised" in counted, counted
    # One patient's alerts are still read by the patient.
    patient = site.cohort[0].patient.external_id
    for plan in _plans(site, f"/patients/{patient}", "FROM alert"):
        assert "ix_alert_status_raised" not in plan, plan
