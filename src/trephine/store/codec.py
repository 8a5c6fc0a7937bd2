"""JSON encoding of domain values for JSON columns, via pydantic's dataclass support.

Decimals are written as strings so the reported digits survive (``0.010`` stays ``0.010``);
decoding re-runs each dataclass's ``__post_init__``, so a row edited behind Trephine's back
fails validation when read instead of flowing on silently.

A hot read (a patient's record, the list's marrow values) selects the column as its JSON text
(:func:`json_text`) and decodes that text straight into the value: pydantic parses and
validates in one pass: 13-16 µs a result of the 1,000-patient benchmark cohort against 21-26 µs
for ``json.loads`` and then validating the objects it built. Same value either way
(``tests/store/test_codec.py`` decodes every kind of a demo cohort both ways).
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import Text
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import ColumnElement, Label

from trephine.domain.patient import GeneticFinding
from trephine.domain.results import RESULT_TYPES, ResultKind, ResultValue


@cache
def _adapter(kind: ResultKind) -> TypeAdapter[Any]:
    return TypeAdapter(RESULT_TYPES[kind])


def encode_result(value: ResultValue) -> dict[str, Any]:
    return cast(dict[str, Any], _adapter(value.kind).dump_python(value, mode="json"))


def decode_result(kind: str, data: dict[str, Any] | str | bytes) -> ResultValue:
    """The value stored as ``data``: the column's JSON as objects, or as its text
    (:func:`json_text`)."""
    adapter = _adapter(ResultKind(kind))
    if isinstance(data, str | bytes):
        return cast(ResultValue, adapter.validate_json(data))
    return cast(ResultValue, adapter.validate_python(data))


def json_text(column: ColumnElement[Any]) -> Label[str]:
    """``column`` (a JSON column) read as its JSON text, under its own name, for
    :func:`decode_result`: SQLite stores the text itself; PostgreSQL prints its JSONB."""
    return sql_cast(column, Text).label(column.key)


_GENETICS: TypeAdapter[tuple[GeneticFinding, ...]] = TypeAdapter(tuple[GeneticFinding, ...])


def encode_genetics(findings: tuple[GeneticFinding, ...]) -> list[Any]:
    return cast(list[Any], _GENETICS.dump_python(findings, mode="json"))


def decode_genetics(data: list[Any]) -> tuple[GeneticFinding, ...]:
    return _GENETICS.validate_python(data)
