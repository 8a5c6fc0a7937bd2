"""The alerts API and inbox page are filtered and paged by the database (issue 9 §5-6): a page
costs the same queries whatever the number of alerts, pages do not overlap, and the totals and
states agree with the unpaged list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event


@pytest.fixture(scope="module", autouse=True)
def assessed(demo: Any) -> None:
    """Raise the cohort's alerts (what `trephine assess --all` does after `trephine demo`)."""
    from trephine.services.assessments import assess_all
    from trephine.store.database import Database

    database = Database(demo.url)
    try:
        assess_all(database, "test-assess")
    finally:
        database.dispose()


def _all(demo: Any, status: str) -> list[dict[str, object]]:
    body = demo.client.get(f"/api/v1/alerts?status={status}&limit=500").json()
    assert body["total"] == len(body["items"])
    return list(body["items"])


def test_pages_are_slices_of_the_whole_list_in_every_state(demo: Any) -> None:
    everything = _all(demo, "all")
    assert len(everything) >= 4, "the demo cohort raises alerts"
    paged: list[object] = []
    for offset in range(0, len(everything), 3):
        body = demo.client.get(f"/api/v1/alerts?status=all&limit=3&offset={offset}").json()
        assert (body["limit"], body["offset"], body["total"]) == (3, offset, len(everything))
        paged += [a["id"] for a in body["items"]]
    assert paged == [a["id"] for a in everything]
    open_ = _all(demo, "open")
    assert all(a["acknowledged_at"] is None and a["withdrawn_at"] is None for a in open_)
    for status, field in (("acknowledged", "acknowledged_at"), ("withdrawn", "withdrawn_at")):
        assert all(a[field] is not None for a in _all(demo, status))
    states = sum(len(_all(demo, s)) for s in ("open", "acknowledged", "withdrawn"))
    assert states == len(everything)


def test_bad_paging_is_refused_with_the_error_shape(demo: Any) -> None:
    for query in ("limit=0", "limit=501", "offset=-1", "status=closed"):
        response = demo.client.get(f"/api/v1/alerts?{query}")
        assert response.status_code == 422, query
        assert response.json()["error"]["code"], query


def test_a_page_costs_the_same_queries_however_long_the_list(demo: Any) -> None:
    engine = demo.client.app.state.database.engine  # type: ignore[attr-defined]
    counts = []
    for limit in (1, 500):
        statements: list[str] = []

        def seen(*args: object, sink: list[str] = statements) -> None:
            sink.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", seen)
        try:
            assert demo.client.get(f"/api/v1/alerts?status=all&limit={limit}").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        counts.append(len([s for s in statements if "alert" in s.lower()]))
    assert counts[0] == counts[1]


def test_the_inbox_page_says_which_slice_it_shows(demo: Any) -> None:
    total = len(_all(demo, "all"))
    page = demo.client.get("/alerts?status=all").text
    shown = re.search(r'id="alert-count">([^<]+)<', page)
    assert shown is not None
    expected = f"{total} alerts" if total <= 50 else f"1–50 of {total} alerts"
    assert shown.group(1).strip() == expected
    if total > 50:
        assert 'rel="next"' in page
    beyond = demo.client.get(f"/alerts?status=all&offset={total}").text
    assert 'rel="prev"' in beyond or total == 0
