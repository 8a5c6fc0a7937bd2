"""``json.dumps`` with fixed options, made once.

``json.dumps(value, **options)`` builds a ``JSONEncoder`` and then, for every container it is
given, a new C encoder; for the small objects Trephine hashes and stores by the hundred
thousand (audit details, call explanations, JSON columns) that set-up costs as much as the
encoding. :func:`dumps_with` makes the C encoder once. The text is the same, character for
character, as ``json.dumps`` with the same options gives: stored digests and the audit hash
chain depend on it (tests/test_jsontext.py compares them).
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any


def dumps_with(
    *,
    sort_keys: bool = False,
    separators: tuple[str, str] = (", ", ": "),
    ensure_ascii: bool = True,
    allow_nan: bool = True,
    default: Callable[[Any], Any] | None = None,
) -> Callable[[Any], str]:
    """The function ``lambda value: json.dumps(value, **options)``, made once.

    A value that cannot be encoded raises what ``json.dumps`` raises (``TypeError``,
    ``ValueError`` for NaN when ``allow_nan`` is false, a circular reference).
    """
    base = json.JSONEncoder(
        sort_keys=sort_keys,
        separators=separators,
        ensure_ascii=ensure_ascii,
        allow_nan=allow_nan,
        default=default,
    )
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return base.encode
    string: Callable[[str], str] = (
        json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    )
    item_separator, key_separator = separators
    # What JSONEncoder.iterencode passes for a one-shot encoding, in its order.
    markers: dict[int, Any] = {}
    chunks = make(
        markers,
        base.default,
        string,
        None,
        key_separator,
        item_separator,
        sort_keys,
        False,
        allow_nan,
    )
    return _Dumps(chunks, markers, string)


class _Dumps:
    """One made-once encoder as a callable object, not a closure: psycopg caches the JSON
    dumper of a serializer by the function itself only when it has no closure (with one, it
    logs "using a closure in a dumps/loads function may cause a resource leak" for every new
    connection and makes its dumper again)."""

    __slots__ = ("_chunks", "_markers", "_string")

    def __init__(
        self,
        chunks: Callable[[Any, int], Any],
        markers: dict[int, Any],
        string: Callable[[str], str],
    ) -> None:
        self._chunks, self._markers, self._string = chunks, markers, string

    def __call__(self, value: Any) -> str:
        if isinstance(value, str):
            return self._string(value)
        try:
            return "".join(self._chunks(value, 0))
        except BaseException:
            self._markers.clear()  # an encoding that failed half-way leaves its containers marked
            raise
