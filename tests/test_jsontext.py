"""``trephine.jsontext.dumps_with`` gives the text ``json.dumps`` gives with the same options:
stored JSON cells, call digests and the audit hash chain are made with it."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import pytest

from trephine.jsontext import dumps_with

VALUES: list[Any] = [
    {"b": 1, "a": [1.5, 2.0, -0.0, 1e-320, 10**30], "c": None, "d": True, "é": 'ünï \u2028 "q"'},
    {"nested": {"z": [{"y": (1, 2)}, []], "a": {}}, "text": "line\nbreak\t\\ / \x00"},
    ["top", "level", {"k": "v"}, 3, False],
    "just text ✓",
    42,
    3.25,
    None,
    {"emoji": "🩸", "cjk": "骨髓", "bom": "\ufeff"},
]
OPTIONS: list[dict[str, Any]] = [
    {},
    {"sort_keys": True, "default": str},
    {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "allow_nan": False},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_the_same_text_as_json_dumps(options: dict[str, Any]) -> None:
    dumps = dumps_with(**options)
    for value in VALUES:
        assert dumps(value) == json.dumps(value, **options)
        assert dumps(value) == json.dumps(value, **options)  # made once, used again


def test_the_same_refusals_and_usable_after_one() -> None:
    strict = dumps_with(sort_keys=True, separators=(",", ":"), allow_nan=False)
    with pytest.raises(ValueError, match="JSON compliant"):
        strict({"x": [math.nan]})
    plain = dumps_with()
    with pytest.raises(TypeError, match="Decimal is not JSON serializable"):
        plain({"kept": {"inner": [Decimal("1.0")]}})
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular reference"):
        plain(loop)
    # A failure half-way leaves nothing behind: the same containers encode afterwards.
    holder: dict[str, Any] = {"inner": [1, dt.date(2024, 1, 2)]}
    with pytest.raises(TypeError):
        plain(holder)
    holder["inner"][1] = 2
    assert plain(holder) == json.dumps(holder) == '{"inner": [1, 2]}'


def test_a_callable_object_psycopg_can_cache() -> None:
    # psycopg keys its JSON dumper cache on the serializer and, for a function with a closure,
    # logs "using a closure in a dumps/loads function may cause a resource leak" on every new
    # connection instead (psycopg/types/json.py _get_adapter_key): no code, no closure here.
    dumps = dumps_with()
    assert not hasattr(dumps, "__code__") and not hasattr(dumps, "__closure__")
    assert hash(dumps) == hash(dumps)
