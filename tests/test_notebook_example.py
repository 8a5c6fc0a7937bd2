"""The notebook API: it acts as an account like every CLI command (the user named or the owner
of an API token; refused without one once accounts exist, or for a role without records:read),
every frame is audited as that account with its role and client ``notebook``, frames respect
the role (a researcher sees pseudonyms only, never identity), and the worked example notebook
(docs/notebooks/km_by_mrd.py) runs on a demo database and agrees with ``trephine cohort
analyse``."""

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
from trephine.demo import SyntheticPatient
from trephine.errors import Forbidden, NotAuthenticated, ValidationError
from trephine.services import accounts, audit
from trephine.services.accounts import ensure_demo_accounts
from trephine.services.assessments import assess_all
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.testing.fixtures import load_demo_database

NOTEBOOK = REPO_ROOT / "docs" / "notebooks" / "km_by_mrd.py"


DEMO: list[SyntheticPatient] = []


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('nb') / 'demo.db'}"
    DEMO[:] = load_demo_database(url, 20, seed=7).cohort
    db = Database(url)
    assess_all(db, "demo-assess")
    with db.unit_of_work("setup") as uow:
        ensure_demo_accounts(uow)
    db.dispose()
    yield url


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", "notebook-test-key-0123456789")
    for name in ("TREPHINE_USER", "TREPHINE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _reads(url: str, user: str) -> list[audit.AuditEvent]:
    db = Database(url)
    try:
        with db.unit_of_work("test") as uow:
            return audit.reads(uow, user=user)
    finally:
        db.dispose()


def test_researcher_frames_are_pseudonymised_and_tidy(demo_url: str) -> None:
    with trephine.connect(demo_url, user="demo-researcher") as db:
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
        # No identity for a role that may not see it: no name, MRN or birth date of anyone.
        for sp in DEMO:
            assert sp.identity.name not in text and sp.identity.mrn not in text
            if sp.identity.birth_date is not None:
                assert sp.identity.birth_date.isoformat() not in text
    assert set(results["kind"]) == {"flow_mrd"} and "unit" in results.columns
    assert "collected_day" in results.columns and results.attrs["units"]["collected_day"]
    assert set(variants["gene"]) == {"FLT3"}


def test_every_frame_is_audited_as_the_account_with_its_role_and_client(demo_url: str) -> None:
    before = len(_reads(demo_url, "demo-researcher"))
    with trephine.connect(demo_url, user="demo-researcher") as db:
        db.patients()
        db.results(kind="flow_mrd")
    events = _reads(demo_url, "demo-researcher")[before:]
    shown = [e for e in events if str(e.detail.get("what", "")).startswith("notebook:")]
    assert [e.detail["what"] for e in shown] == [
        "notebook: patients of all patients",
        "notebook: results of all patients",
    ]
    for e in shown:
        assert e.action == "query" and e.actor == "demo-researcher"
        assert e.detail["role"] == "researcher" and e.detail["client"] == "notebook"
        assert e.detail["view"] == "pseudonymised"
        assert sorted(e.detail["patients"]) == sorted(sp.patient.external_id for sp in DEMO)


def test_identified_roles_see_record_ids(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREPHINE_USER", "demo-clinician")
    get_settings.cache_clear()
    with trephine.connect(demo_url) as db:
        assert db.role == "clinician"
        ids = db.patients()["patient_id"]
    assert ids.str.startswith("DEMO-").all()
    (last,) = _reads(demo_url, "demo-clinician")[-1:]
    assert last.detail["view"] == "identified" and last.detail["client"] == "notebook"


def test_an_api_token_proves_the_account_and_its_use_is_audited(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(demo_url)
    with db.unit_of_work("test-setup") as uow:
        raw, _ = accounts.create_token(uow, "demo-researcher", 1)
    db.dispose()
    monkeypatch.setenv("TREPHINE_TOKEN", raw)
    get_settings.cache_clear()
    with trephine.connect(demo_url) as nb:
        assert (nb.user, nb.role) == ("demo-researcher", "researcher")
    with trephine.connect(demo_url, token=raw, user="demo-researcher") as nb:
        assert nb.user == "demo-researcher"
    with pytest.raises(ValidationError, match="the token's account"):
        trephine.connect(demo_url, token=raw, user="demo-clinician")
    db = Database(demo_url)
    with db.unit_of_work("test") as uow:
        uses = [e for e in audit.events(uow, "token") if e.action == "token-use"]
    db.dispose()
    assert uses[-1].detail["client"] == "notebook" and uses[-1].detail["user"] == "demo-researcher"


@pytest.mark.parametrize(
    ("how", "refusal"),
    [
        ({}, NotAuthenticated),
        ({"token": "trephine_not-a-real-token-at-all"}, NotAuthenticated),
        ({"user": "nobody-here"}, NotAuthenticated),
        ({"user": "demo-patient"}, Forbidden),
    ],
    ids=["no-account", "wrong-token", "unknown-user", "role-without-records-read"],
)
def test_no_account_a_wrong_one_or_a_role_without_permission_is_refused(
    demo_url: str, how: dict[str, str], refusal: type[Exception]
) -> None:
    before = len(_reads(demo_url, "demo-patient"))
    with pytest.raises(refusal):
        trephine.connect(demo_url, **how)
    assert len(_reads(demo_url, "demo-patient")) == before


def test_without_accounts_the_embedded_user_reads_the_pseudonymised_view(
    database: Database,
) -> None:
    load_demo_database(database.url, 2, seed=3)
    with trephine.connect(database.url) as nb:
        assert nb.role is None and nb.user == get_settings().cli_user
        frame = nb.patients()
    assert len(frame) == 2 and frame.attrs["view"] == "safe-harbor"
    with database.unit_of_work("test") as uow:
        (shown,) = [e for e in audit.reads(uow) if e.detail.get("client") == "notebook"]
    assert shown.actor == get_settings().cli_user and shown.detail["role"] == "(no accounts)"


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
