"""Small invariant helpers shared by the domain dataclasses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from trephine.errors import ValidationError


def require_text(name: str, value: str, max_length: int = 200) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(name, value, "non-empty text")
    if len(value) > max_length:
        raise ValidationError(name, value, f"at most {max_length} characters")


def require_range(
    name: str, value: Decimal | int | None, low: Decimal | int, high: Decimal | int
) -> None:
    if value is None:
        return
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError(name, value, f"{low}–{high}")
    if value < low or value > high:
        raise ValidationError(name, value, f"{low}–{high}")


def require_order(
    start_name: str, start: dt.date | None, end_name: str, end: dt.date | None
) -> None:
    if start is not None and end is not None and end < start:
        raise ValidationError(end_name, end, f"on or after {start_name} ({start})")


def require_utc(name: str, value: dt.datetime) -> None:
    """Instants are stored in UTC; a naive datetime is ambiguous and refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(name, value, "a timezone-aware date-time")
