"""Every response showing a patient's record is an audit event (spec §6.5 F2, H5), and identity
(name, MRN, birth date) never reaches a researcher, in any page or API response (issue 9 §2-3)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from trephine.api.app import create_app
from trephine.api.deps import declared_routes
from trephine.cli.main import app as cli
from trephine.demo import SyntheticPatient
from trephine.services import audit
from trephine.testing.accounts import client_as, ensure_user
from trephine.testing.fixtures import load_demo_database


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FastAPI, list[SyntheticPatient]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reads') / 'reads.db'}"
    loaded = load_demo_database(url, 6, seed=21)
    app = create_app(url)
    yield app, loaded.cohort
    app.state.database.dispose()


def _reads(app: FastAPI, **narrow: str) -> list[audit.AuditEvent]:
    with app.state.database.unit_of_work("t") as uow:
        return audit.reads(uow, **narrow)  # type: ignore[arg-type]


def test_patient_reads_and_lists_are_audited_with_user_role_client_and_view(
    site: tuple[FastAPI, list[SyntheticPatient]],
) -> None:
    app, cohort = site
    pid = cohort[1].patient.external_id
    before = len(_reads(app))
    with client_as(app, "researcher") as client:
        for path in (
            f"/api/v1/patients/{pid}",
            f"/api/v1/patients/{pid}/timeline",
            f"/api/v1/patients/{pid}/assessments",
            f"/patients/{pid}",
        ):
            assert client.get(path).status_code == 200, path
        assert client.get("/api/v1/patients?limit=3").status_code == 200
        assert client.get("/api/v1/patients/NOPE/timeline").status_code == 404
    everything = _reads(app)[before:]
    # The services' own record reads carry the request's role and client too.
    assert {e.detail["role"] for e in everything} == {"researcher"}
    events = [e for e in everything if e.action in ("view", "query")]
    assert [(e.action, e.detail["what"]) for e in events] == [
        ("view", "patient"),
        ("view", "timeline"),
        ("view", "assessments"),
        ("view", "patient page"),
        ("query", "patient list"),
    ]  # nothing for the 404: no record was shown
    for e in events:
        assert e.actor == "test-researcher"
        assert e.detail["role"] == "researcher" and e.detail["view"] == "pseudonymised"
        assert e.detail["client"] == "testclient"
    assert {e.entity_id for e in events[:4]} == {pid}
    assert len(events[4].detail["patients"]) == 3
    with client_as(app, "clinician") as client:
        assert client.get(f"/patients/{pid}").status_code == 200
    last = _reads(app, user="test-clinician")[-1]
    assert (last.action, last.detail["view"], last.entity_id) == ("view", "identified", pid)


@pytest.fixture
def cli_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Act on the command line as ``test-<role>`` (TREPHINE_USER; the database has accounts)."""
    from trephine.settings import get_settings

    def act(name: str) -> None:
        monkeypatch.setenv("TREPHINE_USER", name)
        get_settings.cache_clear()

    yield act
    monkeypatch.delenv("TREPHINE_USER", raising=False)
    get_settings.cache_clear()


def test_audit_list_reads_and_verify_cover_them(
    site: tuple[FastAPI, list[SyntheticPatient]], cli_user: Callable[[str], None]
) -> None:
    app, cohort = site
    cli_user(ensure_user(app.state.database, "admin"))
    pid = cohort[2].patient.external_id
    with client_as(app, "lab") as client:
        assert client.get(f"/api/v1/patients/{pid}/timeline").status_code == 200
        assert client.get("/api/v1/patients?limit=50").status_code == 200
    url = app.state.database.url
    runner = CliRunner()
    out = runner.invoke(
        cli,
        [
            "audit",
            "list",
            "--reads",
            "--user",
            "test-lab",
            "--patient",
            pid,
            "--json",
            "--database-url",
            url,
        ],
    )
    assert out.exit_code == 0, out.stderr
    shown = json.loads(out.stdout)
    assert [(e["action"], e["detail"].get("what")) for e in shown] == [
        ("read", None),  # the services' read of the record
        ("view", "timeline"),
        ("query", "patient list"),
    ]
    other = runner.invoke(
        cli, ["audit", "list", "--reads", "--user", "nobody", "--json", "--database-url", url]
    )
    assert json.loads(other.stdout) == []
    refused = runner.invoke(cli, ["audit", "list", "--patient", pid, "--database-url", url])
    assert refused.exit_code == 2 and "--reads" in refused.stderr
    verify = runner.invoke(cli, ["audit", "verify", "--json", "--database-url", url])
    checks = {c["name"]: c for c in json.loads(verify.stdout)["checks"]}
    (read_check,) = [c for n, c in checks.items() if n.startswith("every audited read")]
    assert read_check["passed"] is True


def test_no_researcher_response_contains_identity(
    site: tuple[FastAPI, list[SyntheticPatient]], cli_user: Callable[[str], None]
) -> None:
    app, cohort = site
    secrets = set()
    for sp in cohort:
        secrets |= {sp.identity.name, sp.identity.mrn}
        if sp.identity.birth_date is not None:
            secrets.add(sp.identity.birth_date.isoformat())
    pid = cohort[0].patient.external_id
    with client_as(app, "researcher") as client:
        bodies = {}
        for route in declared_routes(app):
            if route.static or "GET" not in route.methods:
                continue
            path = route.path.replace("{patient_id}", pid)
            if "{" in path:
                continue
            bodies[path] = client.get(path).text
        for sp in cohort:
            p = sp.patient.external_id
            for path in (
                f"/api/v1/patients/{p}",
                f"/api/v1/patients/{p}/timeline",
                f"/patients/{p}",
            ):
                bodies[path] = client.get(path).text
        # Searching by a name or an MRN finds nobody for a researcher.
        for text in (cohort[0].identity.name, cohort[0].identity.mrn):
            for path in (f"/api/v1/patients?q={quote(text)}", f"/?q={quote(text)}"):
                # The search box shows back what the researcher typed; nothing else may match.
                bodies[path] = (
                    client.get(path).text.replace(text, "").replace(text.replace(",", "&#44;"), "")
                )
            assert client.get(f"/api/v1/patients?q={quote(text)}").json()["total"] == 0
    # The command line's --json outputs, as the researcher (TREPHINE_USER).
    cli_user(ensure_user(app.state.database, "researcher"))
    url = app.state.database.url
    runner = CliRunner()
    result_id = runner.invoke(cli, ["results", "list", "--ids", "--database-url", url]).stdout
    for args in (
        ["patients", "list", "--json"],
        ["patients", "show", pid, "--json"],
        ["patients", "show", pid],
        ["results", "list", "--json"],
        ["results", "show", result_id.split()[0], "--json"],
        ["alerts", "list", "--all", "--json"],
        ["assess", pid, "--json"],
    ):
        out = runner.invoke(cli, [*args, "--database-url", url])
        assert out.exit_code == 0, f"{args}: {out.stderr}"
        bodies["trephine " + " ".join(args)] = out.stdout
    assert len(bodies) > 27
    leaks = [(path, s) for path, body in bodies.items() for s in secrets if s in body]
    assert leaks == []
    with client_as(app, "clinician") as client:  # the test can see identity where it is shown
        assert cohort[0].identity.mrn in client.get(f"/?q={quote(cohort[0].identity.mrn)}").text
