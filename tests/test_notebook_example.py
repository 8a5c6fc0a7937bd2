"""The notebook API: frames respect the role (a researcher sees pseudonyms only), and the worked
example notebook (docs/notebooks/km_by_mrd.py) runs on a demo database and agrees with
``trephine cohort analyse``."""

from __future__ import annotations

import json
import os
import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trephine
from testdata import REPO_ROOT
from trephine.cli.main import app
from trephine.services.accounts import ensure_demo_accounts
from trephine.services.assessments import assess_all
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.testing.fixtures import load_demo_database

NOTEBOOK = REPO_ROOT / "docs" / "notebooks" / "km_by_mrd.py"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('nb') / 'demo.db'}"
    load_demo_database(url, 20, seed=7)
    db = Database(url)
    assess_all(db, "demo-assess")
    with db.unit_of_work("setup") as uow:
        ensure_demo_accounts(uow)
    db.dispose()
    yield url


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", "notebook-test-key-0123456789")
    monkeypatch.delenv("TREPHINE_USER", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_researcher_frames_are_pseudonymised_and_tidy(demo_url: str) -> None:
    with trephine.connect(demo_url) as db:
        assert db.role == "researcher"
        patients = db.patients()
        results = db.results(kind="flow_mrd")
        calls = db.assessments(call_kind="response")
        variants = db.variants(gene="FLT3")
    assert len(patients) == 20 and patients.attrs["view"] == "safe-harbor"
    for frame in (patients, results, calls, variants):
        assert not frame.empty
        assert frame["patient_id"].str.fullmatch(r"P[0-9a-f]{16}").all()
        assert not any(isinstance(v, dict | list) for v in frame.to_numpy().ravel())
        text = frame.to_csv()
        assert "DEMO-" not in text
    assert set(results["kind"]) == {"flow_mrd"} and "unit" in results.columns
    assert "collected_day" in results.columns and results.attrs["units"]["collected_day"]
    assert set(variants["gene"]) == {"FLT3"}


def test_identified_roles_see_record_ids(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with trephine.connect(demo_url, user="demo-clinician") as db:
        assert db.role == "clinician"
        ids = db.patients()["patient_id"]
    assert ids.str.startswith("DEMO-").all()


def test_the_example_notebook_reproduces_km_by_mrd(
    demo_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TREPHINE_DATABASE_URL", demo_url)
    monkeypatch.setenv("KM_FIGURE", str(tmp_path / "km.png"))
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(NOTEBOOK), run_name="__main__")
    out = capsys.readouterr().out
    assert (tmp_path / "km.png").stat().st_size > 1000
    # The database has accounts, so the command line acts as one (docs/security.md).
    monkeypatch.setenv("TREPHINE_USER", "demo-researcher")
    get_settings.cache_clear()
    r = CliRunner().invoke(
        app,
        [
            "cohort",
            "analyse",
            "aml-demo",
            "--landmark-day",
            "60",
            "--window",
            "30",
            "--json",
            "--database-url",
            demo_url,
        ],
    )
    assert r.exit_code == 0, r.stderr
    km = json.loads(r.stdout)["landmark"]["relapse_free_survival_by_mrd"]
    assert km and km["groups"]
    for group, g in km["groups"].items():
        assert f"MRD {group}: n {g['n']}, relapses {g['events']}," in out
    if "logrank" in km:
        assert f"log-rank chi-square {km['logrank']['statistic']:.2f}" in out
    assert os.environ["TREPHINE_DATABASE_URL"] == demo_url
