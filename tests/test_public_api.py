"""The curated public API in ``trephine/__init__.py``: lazy, documented, and every name real."""

from __future__ import annotations

import subprocess
import sys

import pytest

import trephine
from testdata import REPO_ROOT

PUBLIC = [name for name in trephine.__all__ if name != "__version__"]
DOC = (REPO_ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")


def test_the_api_covers_reading_gating_mrd_criteria_and_the_database() -> None:
    wanted = {"read_fcs", "read_gatingml", "apply_strategy", "quantify_from_masks"}
    assert wanted | {"evaluate", "open_database"} <= set(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_exported_name_resolves_and_is_documented(name: str) -> None:
    value = getattr(trephine, name)
    assert (value.__doc__ or "").strip(), f"trephine.{name} has no docstring"
    assert f"`trephine.{name}(" in DOC, f"docs/python-api.md does not mention trephine.{name}"


def test_all_lists_exactly_the_lazy_names() -> None:
    assert sorted(trephine.__all__) == sorted(["__version__", *trephine._PUBLIC])


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'read_fsc'"):
        _ = trephine.read_fsc  # type: ignore[attr-defined]
    assert "read_fcs" in dir(trephine)


def test_import_trephine_loads_nothing_heavy() -> None:
    code = (
        "import sys, trephine\n"
        "heavy = [m for m in ('numpy', 'sqlalchemy', 'trephine.io.fcs', 'trephine.services')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
        "trephine.read_fcs\n"
        "print('numpy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True"]


def test_the_api_gates_the_example_tube_like_the_command_line(tmp_path: object) -> None:
    fcs = trephine.read_fcs(REPO_ROOT / "examples/flow/tube.fcs")
    strategy = trephine.read_gatingml(REPO_ROOT / "examples/flow/strategy.xml")
    gated = trephine.apply_strategy(strategy, trephine.FcsEvents(fcs))
    counts = {gate: int(mask.sum()) for gate, mask in gated.memberships.items()}
    mrd = trephine.quantify_from_masks(gated.memberships, "CD45pos", "CD34pos_CD117pos")
    assert mrd.abnormal_events == counts["CD34pos_CD117pos"]
    assert mrd.denominator_events == counts["CD45pos"]
    assert trephine.ruleset("ELN2022") is trephine.rulesets()["ELN2022"]
