"""One public JSON shape per resource: a result and a timeline read the same from the API and
the CLI."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from trephine.cli.main import app

runner = CliRunner()


def _invoke(args: list[str], user: str = "test-researcher", url: str | None = None) -> Any:
    """The CLI as the account ``user`` (the database has accounts: TREPHINE_USER decides)."""
    from trephine.settings import get_settings

    if url is not None:
        from trephine.store.database import Database
        from trephine.testing.accounts import ensure_user

        database = Database(url)
        ensure_user(database, user.removeprefix("test-"))
        database.dispose()
    get_settings.cache_clear()
    try:
        return runner.invoke(app, args, env={"TREPHINE_USER": user})
    finally:
        get_settings.cache_clear()


def _cli_json(url: str, *args: str) -> Any:
    result = _invoke([*args, "--json", "--database-url", url])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_results_show_json_is_the_api_result_for_the_same_record(demo: Any) -> None:
    amended = [(sp, r) for sp in demo.cohort for r in sp.results if r.amendment is not None]
    sp, res = amended[0]
    timeline = demo.client.get(f"/api/v1/patients/{sp.patient.external_id}/timeline").json()
    compared = 0
    for api_result in timeline["results"]:
        shown = _cli_json(demo.url, "results", "show", api_result["id"])
        assert shown["result"] == api_result
        compared += 1
        if api_result["specimen"] == res.specimen and api_result["history"]:
            # An amended result: the earlier version is in both, in the same shape.
            assert shown["result"]["history"][0]["state"] == "superseded"
    assert compared > 3
    listed = {
        r["id"]: r
        for r in _cli_json(demo.url, "results", "list", "--patient", sp.patient.external_id)
    }
    for api_result in timeline["results"]:
        # A list row is the same shape; only the history (a second read) is left out.
        assert listed[api_result["id"]] == {**api_result, "history": []}


def test_patients_show_json_is_the_api_timeline(demo: Any) -> None:
    for sp in demo.cohort[:3]:
        patient = sp.patient.external_id
        api = demo.client.get(f"/api/v1/patients/{patient}/timeline").json()
        assert _cli_json(demo.url, "patients", "show", patient) == api


def test_patients_list_json_is_the_api_patient_list(demo: Any) -> None:
    """``patients list --json`` prints the page ``GET /api/v1/patients`` serves, for the same
    query (filters, sort, paging)."""
    pairs = [
        ((), ""),
        (("--limit", "7", "--offset", "3"), "?limit=7&offset=3"),
        (
            ("--diagnosis", "AML", "--sort", "last_biopsy", "--desc"),
            "?diagnosis=AML&sort=last_biopsy&order=desc",
        ),
        (("--search", "DEMO-000"), "?q=DEMO-000"),
    ]
    for options, query in pairs:
        api = demo.client.get(f"/api/v1/patients{query}").json()
        cli = _cli_json(demo.url, "patients", "list", *options)
        assert cli == api
        assert cli["items"], query  # a comparison of two empty pages would prove little


def _assess_all(demo: Any) -> None:
    """The demo's criteria calls and alerts, as ``trephine demo`` makes them after loading
    (idempotent: a second run stores nothing)."""
    assessed = _invoke(["assess", "--all", "--database-url", demo.url], "test-lab", demo.url)
    assert assessed.exit_code == 0, assessed.stderr


def test_alerts_list_json_is_the_api_alert_list(demo: Any) -> None:
    _assess_all(demo)
    for options, query in [
        ((), ""),
        (("--all",), "?status=all"),
        (("--status", "withdrawn"), "?status=withdrawn"),
    ]:
        api = demo.client.get(f"/api/v1/alerts{query}").json()
        assert _cli_json(demo.url, "alerts", "list", *options) == api
    assert demo.client.get("/api/v1/alerts").json()["items"]
    patient = demo.client.get("/api/v1/alerts").json()["items"][0]["patient"]
    api = demo.client.get(f"/api/v1/alerts?patient={patient}").json()
    assert _cli_json(demo.url, "alerts", "list", "--patient", patient) == api


def test_assess_json_lists_calls_and_alerts_as_the_api_does(demo: Any) -> None:
    """Re-assessing a demo patient stores nothing new; what it prints is each call as ``GET
    /patients/{id}/assessments`` lists it and each alert as ``GET /alerts`` does."""
    _assess_all(demo)
    alerts = demo.client.get("/api/v1/alerts").json()["items"]
    patient = alerts[0]["patient"]
    run = _invoke(["assess", patient, "--json", "--database-url", demo.url], "test-lab", demo.url)
    assert run.exit_code == 0, run.stderr
    shown = json.loads(run.stdout)
    api = demo.client.get(f"/api/v1/patients/{patient}/assessments").json()["items"]
    by_id = {a["id"]: a for a in api}
    assert shown["new_assessments"] == 0 and shown["assessments"]
    assert all(a == by_id[a["id"]] for a in shown["assessments"])
    api_alerts = {a["id"]: a for a in alerts if a["patient"] == patient}
    assert shown["alerts"] and all(a == api_alerts[a["id"]] for a in shown["alerts"])
