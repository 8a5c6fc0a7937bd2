"""The PostgreSQL test parameter: skipped when the server is down, a failure when it is required."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET = "tests/store/test_store_migrations.py::test_migrations_up_from_empty_and_down"


def run_against_dead_server(require: bool) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # Port 1 on loopback: nothing listens, the connection is refused at once.
        "TREPHINE_TEST_POSTGRES_URL": "postgresql+psycopg://postgres@127.0.0.1:1/test",
        "TREPHINE_REQUIRE_POSTGRES": "1" if require else "0",
        # Only the plugins the project's own conftest needs: not hypothesis, schemathesis, zarr,
        # anyio and xdist, whose imports were most of the child's cost (5.4 s of CPU a run on
        # the loaded machine, 1.6 s without them).
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            TARGET,
            "-k",
            "postgresql",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_unreachable_postgres_is_skipped_unless_required() -> None:
    relaxed = run_against_dead_server(require=False)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert "1 skipped" in relaxed.stdout and "not reachable" in relaxed.stdout

    strict = run_against_dead_server(require=True)
    assert strict.returncode != 0
    assert "TREPHINE_REQUIRE_POSTGRES=1" in strict.stdout
