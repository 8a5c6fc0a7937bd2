"""``trephine.testing`` is a pytest plugin that loads in a plain install (no Hypothesis)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest_plugins = ["pytester"]

# Runs a child interpreter in which importing Hypothesis fails, as in an install without the
# ``dev`` extra.
_WITHOUT_HYPOTHESIS = """
import sys
sys.modules["hypothesis"] = None  # import hypothesis -> ImportError
import importlib
for name in {modules!r}:
    importlib.import_module(name)
print("ok")
"""


def _run_without_hypothesis(*modules: str) -> subprocess.CompletedProcess[str]:
    code = _WITHOUT_HYPOTHESIS.format(modules=list(modules))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_plugin_and_fixtures_import_without_hypothesis() -> None:
    done = _run_without_hypothesis(
        "trephine.testing", "trephine.testing.plugin", "trephine.testing.fixtures"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_strategies_without_hypothesis_say_what_to_install() -> None:
    done = _run_without_hypothesis("trephine.testing.strategies")
    assert done.returncode != 0
    assert "pip install 'trephine[dev]'" in done.stderr


def test_the_plugin_is_declared_under_pytest11() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = project["project"]["entry-points"]["pytest11"]
    assert entry_points == {"trephine": "trephine.testing.plugin"}


def test_plugin_fixtures_in_a_project_of_their_own(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        from trephine.services import patients

        def test_database(trephine_database):
            with trephine_database.unit_of_work("t") as uow:
                assert patients.list_patients(uow) == []

        def test_demo(trephine_demo):
            assert trephine_demo.report.patients_created == 20
            assert trephine_demo.url.startswith("sqlite:///")
        """
    )
    # -p loads the plugin by module whether or not the entry point is installed; -p no:trephine
    # keeps an installed entry point from registering the same module a second time. No other
    # installed plugin is loaded (PYTEST_DISABLE_PLUGIN_AUTOLOAD): the project has only this one,
    # and the child no longer imports hypothesis, schemathesis, zarr, anyio and xdist for
    # nothing (5.0 s of CPU for the child before, 1.7 s after, on the loaded machine).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess(
        "-p", "no:trephine", "-p", "trephine.testing.plugin", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
