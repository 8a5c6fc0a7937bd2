"""A stored result decodes to the same value from its JSON text (``json_text``, what the hot
reads select) as from the JSON objects the column type gives, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from trephine.store.codec import decode_result, encode_result, json_text
from trephine.store.database import Database
from trephine.store.tables import ResultRow
from trephine.testing.fixtures import load_demo_database


@pytest.fixture(scope="module")
def demo(module_database_url: str) -> Iterator[Database]:
    load_demo_database(module_database_url, 20, seed=3)
    database = Database(module_database_url)
    try:
        yield database
    finally:
        database.dispose()


def test_every_stored_result_decodes_the_same_from_its_text(demo: Database) -> None:
    with demo.unit_of_work("test") as uow:
        rows = (
            uow.session.connection()
            .execute(
                select(ResultRow.kind, ResultRow.value, json_text(ResultRow.value).label("text"))
            )
            .all()
        )
    assert len({r.kind for r in rows}) >= 10  # the demo's kinds, not one
    for r in rows:
        assert isinstance(r.text, str), r.kind  # PostgreSQL prints its JSONB as text
        from_text = decode_result(r.kind, r.text)
        assert from_text == decode_result(r.kind, r.value)
        # Equal Decimals may differ in digits (0.046, 0.0460): the encodings must match too.
        assert encode_result(from_text) == r.value


def test_a_result_text_edited_behind_trephines_back_is_refused() -> None:
    # The text path validates as the objects' path does (the domain's own checks included).
    with pytest.raises(ValueError, match="cells_counted"):
        decode_result(
            "differential", '{"counts": {"blasts": 3, "lymphocytes": 10}, "cells_counted": 500}'
        )
