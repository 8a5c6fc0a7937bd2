"""JSON encoding of domain values for JSON columns, via pydantic's dataclass support.

Decimals are written as strings so the reported digits survive (``0.010`` stays ``0.010``);
decoding re-runs each dataclass's ``__post_init__``, so a row edited behind Trephine's back
fails validation when read instead of flowing on silently.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from pydantic import TypeAdapter

from trephine.domain.patient import GeneticFinding
from trephine.domain.results import RESULT_TYPES, ResultKind, ResultValue


@cache
def _adapter(kind: ResultKind) -> TypeAdapter[Any]:
    return TypeAdapter(RESULT_TYPES[kind])


def encode_result(value: ResultValue) -> dict[str, Any]:
    return cast(dict[str, Any], _adapter(value.kind).dump_python(value, mode="json"))


def decode_result(kind: str, data: dict[str, Any]) -> ResultValue:
    return cast(ResultValue, _adapter(ResultKind(kind)).validate_python(data))


_GENETICS: TypeAdapter[tuple[GeneticFinding, ...]] = TypeAdapter(tuple[GeneticFinding, ...])


def encode_genetics(findings: tuple[GeneticFinding, ...]) -> list[Any]:
    return cast(list[Any], _GENETICS.dump_python(findings, mode="json"))


def decode_genetics(data: list[Any]) -> tuple[GeneticFinding, ...]:
    return _GENETICS.validate_python(data)
