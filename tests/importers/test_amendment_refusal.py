"""A refused amendment value is worded without command-line syntax (the CLI adds ``--set``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trephine.domain.results import FlowMethod, FlowMRD, Quantity
from trephine.importers.amendment import Assignment, AssignmentRefused, amended_value


def test_refusal_names_field_value_and_allowed_without_cli_syntax() -> None:
    old = FlowMRD(Quantity(Decimal("0.08"), "%"), FlowMethod.LAIP)
    with pytest.raises(AssignmentRefused) as caught:
        amended_value(old, [Assignment("mrd", "abc", unit="%")])
    exc = caught.value
    assert (exc.field, exc.value) == ("mrd", "abc")
    assert "--set" not in str(exc)
    assert str(exc).startswith("field mrd, value 'abc' refused: ")
    assert "'abc' is not allowed" in exc.reason and "allowed:" in exc.reason
